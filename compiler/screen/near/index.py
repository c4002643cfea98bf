"""Exact and near-duplicate clustering of a text column: MinHash + LSH in numba kernels over Arrow buffers.

Rows arrive in priority order, so a cluster always keeps its lowest index. Identical texts are grouped
first (`identical`: a 64-bit hash checked byte for byte); the remaining distinct texts are normalised,
shingled, hashed and sketched with `num_perm` affine permutations (`sketch`). LSH bands propose candidate
pairs and a pair matches only if the exact Jaccard of its shingle sets reaches the threshold (`lsh`); a row
is kept unless it matches an earlier row. Pure: no I/O.
"""

from __future__ import annotations

import functools
import struct
import unicodedata
from dataclasses import dataclass

import numba
import numpy as np
import polars as pl

from compiler.screen.near.bytehash import hash_bytes
from compiler.screen.near.chars import punctuation_chars
from compiler.screen.near.identical import blank_rows, identical_rows
from compiler.screen.near.lsh import link_band_buckets, match_earlier_rows, resolve_kept_rows
from compiler.screen.near.sketch import sketch_texts
from compiler.screen.near.views import StringViews, as_strings
from compiler.spec.model import SHINGLE_NGRAM, ShingleKind

DEFAULT_NGRAM: dict[str, int] = SHINGLE_NGRAM

_MAX_CHECKS = 16  # exact Jaccard checks per row and band bucket: bounds the work on a huge bucket
_MAX_STEPS = 256  # bucket members walked per row and band (a step costs one comparison of NUM_PERM bytes)
# MinHash permutations: every candidate is verified by its exact Jaccard, so the sketch only has to propose
# the pairs; at 1M short texts 96 found what 128 did less 21 rows of 484,782 (word unigrams at 0.8) for
# 30% less time (bench/dedupe.py prints the precision and recall of the default)
NUM_PERM = 96


@dataclass(frozen=True)
class Duplicates:
    """Cluster assignment of every row: the row it keeps, how it matched and how similar it is."""

    kept_of: np.ndarray  # int64: the kept row a dropped row's matches lead to; a kept row points at itself
    kind: np.ndarray  # uint8: 0 kept, 1 exact duplicate of the kept row, 2 near duplicate
    dup_of: np.ndarray  # int64: the earlier row it matched (a kept one whenever it matched one); -1 kept
    similarity: np.ndarray  # float32: Jaccard of the shingle sets with dup_of; 1.0 exact, 0.0 kept
    empty: int  # null or whitespace-only rows: always kept, never merged


def find_blank_rows(texts: pl.Series) -> np.ndarray:
    """Return a bool mask of null or whitespace-only rows."""
    texts = as_strings(texts)
    return blank_rows(texts, StringViews.of(texts))


def find_exact_duplicates(texts: pl.Series) -> np.ndarray:
    """Return int64 `kept_of` for identical strings: the lowest index with the same text (blank rows keep)."""
    texts = as_strings(texts)
    column = StringViews.of(texts)
    return identical_rows(texts, column, blank_rows(texts, column))


def find_near_duplicates(
    texts: pl.Series,
    threshold: float,
    *,
    shingle: ShingleKind = "word",
    ngram: int | None = None,
    num_perm: int = NUM_PERM,
    seed: int = 1,
) -> Duplicates:
    """Find exact and near-duplicate rows: a row is dropped when an earlier row's Jaccard reaches `threshold`.

    Rows come in priority order: the first of every group of look-alikes is kept. A dropped row names the
    earlier row it matched (a kept one whenever its candidates hold one), never a row it only reaches
    through a chain of look-alikes.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle not in DEFAULT_NGRAM:
        raise ValueError(f"shingle must be 'word' or 'char', got {shingle!r}")
    ngram = DEFAULT_NGRAM[shingle] if ngram is None else ngram
    if ngram < 1 or num_perm < 1:
        raise ValueError(f"ngram and num_perm must be positive, got {ngram} and {num_perm}")
    texts = as_strings(texts)
    n = len(texts)
    rows = np.arange(n, dtype=np.int64)
    column = StringViews.of(texts)
    blank = blank_rows(texts, column)
    exact_of = identical_rows(texts, column, blank)
    reps = np.flatnonzero((exact_of == rows) & ~blank)
    match, kept, rep_similarity = _cluster_near_duplicates(
        texts.gather(reps), threshold, shingle == "word", ngram, num_perm, seed
    )

    kept_of, kind, dup_of, similarity = _spread_to_rows(exact_of, reps, match, kept, rep_similarity)
    return Duplicates(
        kept_of=kept_of, kind=kind, dup_of=dup_of, similarity=similarity, empty=int(blank.sum())
    )


@numba.njit(cache=True, nogil=True)
def _spread_to_rows(exact_of, reps, match, kept, rep_similarity):
    """Every row's kept row, kind (0 kept, 1 exact, 2 near), matched row and similarity, from its distinct
    text's (reps[k] is the first row of distinct text k; blank rows have no distinct text and keep)."""
    n = exact_of.shape[0]
    rep_pos = np.full(n, -1, dtype=np.int64)
    for k in range(reps.shape[0]):
        rep_pos[reps[k]] = k
    kept_of = np.arange(n, dtype=np.int64)
    kind = np.zeros(n, dtype=np.uint8)
    dup_of = np.full(n, -1, dtype=np.int64)
    similarity = np.zeros(n, dtype=np.float32)
    for i in range(n):
        pos = rep_pos[exact_of[i]]
        if pos < 0:
            continue  # a blank row
        kept_of[i] = reps[kept[pos]]
        if kept_of[i] == i:
            continue
        if exact_of[i] == kept_of[i]:
            kind[i], dup_of[i], similarity[i] = 1, exact_of[i], 1.0
        else:
            kind[i], dup_of[i], similarity[i] = 2, reps[match[pos]], rep_similarity[pos]
    return kept_of, kind, dup_of, similarity


@functools.cache
def choose_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """Return (bands, rows per band) minimising the weighted LSH false-positive and false-negative areas."""
    # datasketch's integral with other weights: candidates are verified with the exact Jaccard, so a false
    # positive costs one set comparison while a false negative is a missed duplicate.
    fp_weight, fn_weight = 0.05, 0.95
    grid = np.linspace(0.0, 1.0, 2001)
    below, above = grid <= threshold, grid >= threshold
    best, best_error = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            hit = 1.0 - (1.0 - grid**rows) ** bands
            fp = float(np.trapezoid(hit[below], grid[below]))
            fn = float(np.trapezoid(1.0 - hit[above], grid[above]))
            if fp_weight * fp + fn_weight * fn < best_error:
                best, best_error = (bands, rows), fp_weight * fp + fn_weight * fn
    return best


def normalise_words(text: str) -> list[str]:
    """Return the words the kernel shingles: NFC, lowercase, split on whitespace, edge punctuation stripped."""
    punctuation = punctuation_chars()
    words = (word.strip(punctuation) for word in unicodedata.normalize("NFC", text).lower().split())
    return [word for word in words if word]


def shingle_text(text: str, shingle: ShingleKind = "word", ngram: int | None = None) -> list[str]:
    """Return the shingles of one text: the reference definition (slow) of what the kernel compares."""
    ngram = DEFAULT_NGRAM[shingle] if ngram is None else ngram
    words = normalise_words(text)
    units: list[str] | str = words if shingle == "word" else " ".join(words)
    joiner = " " if shingle == "word" else ""
    if not units:
        return []
    span = min(ngram, len(units))
    return [joiner.join(units[i : i + span]) for i in range(len(units) - span + 1)]


def hash_shingle(shingle: str, kind: ShingleKind = "word") -> int:
    """Return the 32-bit hash the kernel gives one shingle (reference definition, slow)."""
    if kind == "char":
        return hash_bytes(shingle.encode())
    # A unigram is its word's hash; a longer word shingle hashes its words' hashes, so each word's bytes
    # are hashed once, not ngram times.
    words = [hash_bytes(word.encode()) for word in shingle.split(" ")]
    return words[0] if len(words) == 1 else hash_bytes(struct.pack(f"<{len(words)}I", *words))


def make_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the seeded permutations (a odd, b; uint16), applied to a shingle hash's low 16 bits x as
    a*x+b mod 2**16."""
    # datasketch 2.0's "affine32" scheme at half the width, rather than a*x+b mod a Mersenne prime: an odd `a`
    # makes it a bijection, and it runs in SIMD lanes (the prime form measured ~5x slower here). 16-bit lanes
    # did the MinHash step of 880k texts in 0.1 s less than 32-bit ones (1.18 -> 1.07 s for all of sketching,
    # median of 7); two different shingles share a 16-bit value once in 65,536 pairs, which moves a pair's
    # Jaccard estimate by less than its sampling noise.
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 1 << 31, num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint16)
    b = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint16)
    return a, b


# --- near duplicates -------------------------------------------------------------------------------------


def _cluster_near_duplicates(
    texts: pl.Series, threshold: float, word_mode: bool, ngram: int, num_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each distinct text's matched earlier text (-1: none), its kept text, and their Jaccard."""
    m = len(texts)
    bands, band_rows = choose_bands(threshold, num_perm)
    a, b = make_permutations(num_perm, seed)
    mix = (np.random.default_rng(seed).integers(0, 1 << 63, num_perm, dtype=np.uint64) << np.uint64(1)) | 1
    keys, bits, shingles, starts, counts = sketch_texts(texts, word_mode, ngram, a, b, mix, bands, band_rows)
    prev = np.empty((bands, m), dtype=np.int32)
    head = np.empty((bands, m), dtype=np.int32)
    workers = numba.get_num_threads()
    link_band_buckets(keys, counts, min(bands, workers), prev, head)
    del keys
    least = agreement_needed(threshold, num_perm)
    match, similarity = match_earlier_rows(
        prev, head, shingles, starts, counts, bits, least, threshold, _MAX_CHECKS, _MAX_STEPS, workers
    )
    return match, resolve_kept_rows(match), similarity


def agreement_needed(threshold: float, num_perm: int) -> int:
    """How many of two rows' one-byte MinHash values must agree before their exact Jaccard is worth computing.

    A pair at Jaccard J agrees on each value with probability J + (1 - J) / 256; the bar sits four standard
    deviations below that at J = threshold (a pair at the threshold fails it about 3 times in 100,000).
    """
    p = threshold + (1.0 - threshold) / 256.0
    sd = (num_perm * p * (1.0 - p)) ** 0.5
    return max(0, int(np.floor(num_perm * p - 4.0 * sd)))
