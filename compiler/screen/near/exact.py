"""Near-duplicate clustering of a few rows by exact Jaccard over every pair that shares a shingle.

Below `SMALL_ROWS` texts this costs milliseconds, where the MinHash kernels cost a numba import (~2 s)
and, with no `__pycache__`, ~30 s of JIT compilation on first use. It computes what the kernels
approximate, with their definitions: the same word or character shingles and 32-bit shingle hashes
(`index.shingle_text`, `index.hash_shingle`), the same rule (a row is dropped when an earlier row's Jaccard
reaches the threshold, matched to a kept row whenever one matches), and no LSH misses. Nothing here imports
numba.
"""

from __future__ import annotations

import functools
import math
import string
import struct
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from compiler.screen.near.bytehash import hash_bytes
from compiler.spec.model import SHINGLE_NGRAM

SMALL_ROWS = 2000  # texts; above this the MinHash + LSH kernels are cheaper than counting shared shingles
_ASCII_PUNCTUATION = frozenset(string.punctuation)
# Words and character n-grams repeat across rows: remembered, a hash costs a lookup (the pure-Python hash ~1 us).
_hash_bytes = functools.lru_cache(maxsize=1 << 16)(hash_bytes)


@dataclass(frozen=True)
class SmallDuplicates:
    """Cluster assignment of every row, with the fields of `index.Duplicates`."""

    kept_of: np.ndarray  # int64: index of the cluster's kept row; a kept row points at itself
    kind: np.ndarray  # uint8: 0 kept, 1 exact duplicate of the kept row, 2 near duplicate
    dup_of: np.ndarray  # int64: the earlier row it matched (a kept one whenever it matched one); -1 kept
    similarity: np.ndarray  # float32: Jaccard with the kept row; 1.0 exact, 0.0 kept
    empty: int  # null or whitespace-only rows: always kept, never merged


def _punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] == "P" or char in _ASCII_PUNCTUATION


def _strip_punctuation(word: str) -> str:
    start, end = 0, len(word)
    while start < end and _punctuation(word[start]):
        start += 1
    while end > start and _punctuation(word[end - 1]):
        end -= 1
    return word[start:end]


def shingle_hashes(text: str, shingle: str = "word", ngram: int | None = None) -> frozenset[int]:
    """The set of 32-bit shingle hashes the kernels compare (NFC, lowercase, edge punctuation off)."""
    ngram = SHINGLE_NGRAM[shingle] if ngram is None else ngram
    words = [
        w for w in (_strip_punctuation(w) for w in unicodedata.normalize("NFC", text).lower().split()) if w
    ]
    if not words:
        return frozenset()
    if shingle == "char":
        joined = " ".join(words)
        span = min(ngram, len(joined))
        return frozenset(_hash_bytes(joined[i : i + span].encode()) for i in range(len(joined) - span + 1))
    word_hashes = [_hash_bytes(w.encode()) for w in words]
    span = min(ngram, len(words))
    if span == 1:  # a unigram is its word's hash
        return frozenset(word_hashes)
    return frozenset(
        hash_bytes(struct.pack(f"<{span}I", *word_hashes[i : i + span])) for i in range(len(words) - span + 1)
    )


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def find_exact_duplicates_small(texts: Sequence[str | None]) -> np.ndarray:
    """int64 `kept_of` for identical strings: the lowest index with the same text (blank rows keep)."""
    first: dict[str, int] = {}
    kept_of = np.arange(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        if not _blank(text):
            assert text is not None
            kept_of[i] = first.setdefault(text, i)
    return kept_of


def _similar_earlier(sets: Sequence[frozenset[int]], threshold: float) -> Iterator[dict[int, float]]:
    """For each set in turn, every earlier set whose Jaccard with it reaches the threshold, with that Jaccard.

    A prefix-filter join: with every set's shingles ordered rarest first, two sets at Jaccard >= t share
    one of the first |x| - ceil(t |x|) + 1 shingles of each, so only those prefixes are indexed and probed,
    and the length filter (t |x| <= |y| <= |x| / t) drops the rest before the exact count. The common
    shingles (a unigram such as "the") sit at the end of every set and are never probed, which keeps a
    corpus that shares them linear where counting every shared shingle was quadratic.
    """
    frequency: Counter[int] = Counter(h for shingles in sets for h in shingles)
    index: dict[int, list[int]] = defaultdict(list)
    for j, shingles in enumerate(sets):
        size = len(shingles)
        ordered = sorted(shingles, key=lambda h: (frequency[h], h))
        # the overlap a match needs at least, rounded down a hair so float error never shortens the prefix
        prefix = size - max(1, math.ceil(threshold * size - 1e-9)) + 1 if size else 0
        candidates: set[int] = set()
        for h in ordered[:prefix]:
            candidates.update(index[h])
            index[h].append(j)
        found: dict[int, float] = {}
        for i in candidates:
            other = len(sets[i])
            if other < threshold * size - 1e-9 or size < threshold * other - 1e-9:
                continue  # too short or too long to reach the threshold
            shared = len(shingles & sets[i])
            jaccard = shared / (other + size - shared)
            if jaccard >= threshold:
                found[i] = jaccard
        yield found


def find_near_duplicates_small(
    texts: Sequence[str | None], threshold: float, shingle: str = "word", ngram: int | None = None
) -> SmallDuplicates:
    """A row is a near-duplicate when an earlier row's Jaccard reaches the threshold; it names a kept row
    among its matches when there is one (the most similar, then the earliest), else its earliest match."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    n = len(texts)
    exact_of = find_exact_duplicates_small(texts)
    blank = np.array([_blank(t) for t in texts], dtype=bool)
    reps = [i for i in range(n) if exact_of[i] == i and not blank[i]]
    sets = [shingle_hashes(str(texts[i]), shingle, ngram) for i in reps]
    match = [-1] * len(reps)
    score = [0.0] * len(reps)
    for j, earlier in enumerate(_similar_earlier(sets, threshold)):
        hits = [(earlier[i], i) for i in sorted(earlier)]
        if hits:
            kept = [(jaccard, i) for jaccard, i in hits if match[i] == -1]
            jaccard, i = max(kept, key=lambda h: (h[0], -h[1])) if kept else hits[0]
            match[j], score[j] = i, jaccard
    root = list(range(len(reps)))
    for k in range(len(reps)):
        if match[k] >= 0:
            root[k] = root[match[k]]
    kept_of = np.arange(n, dtype=np.int64)
    dup_of = np.full(n, -1, dtype=np.int64)
    kind = np.zeros(n, dtype=np.uint8)
    similarity = np.zeros(n, dtype=np.float32)
    position = {r: k for k, r in enumerate(reps)}
    for i in range(n):
        if blank[i]:
            continue
        k = position[int(exact_of[i])]
        kept_of[i] = reps[root[k]]
        if kept_of[i] == i:
            continue
        if exact_of[i] != i:  # an exact copy of an earlier row: it goes where that row goes
            kind[i], similarity[i], dup_of[i] = 1, 1.0, int(exact_of[i])
            if kept_of[i] != exact_of[i]:
                kind[i], similarity[i], dup_of[i] = 2, score[k], reps[match[k]]
        else:
            kind[i], similarity[i], dup_of[i] = 2, score[k], reps[match[k]]
    return SmallDuplicates(
        kept_of=kept_of, kind=kind, dup_of=dup_of, similarity=similarity, empty=int(blank.sum())
    )
