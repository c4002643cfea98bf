"""The small-input near-duplicate path: the kernels' definitions, computed exactly, without numba."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.screen.near.exact import (
    find_exact_duplicates_small,
    find_near_duplicates_small,
    shingle_hashes,
)
from compiler.screen.near.index import find_exact_duplicates, find_near_duplicates, hash_shingle, shingle_text
from compiler.spec.compose import PACKAGE_ROOT


def _corpus() -> list[str | None]:
    """Inputs of the committed example versions (not written for this test), with planted edits."""
    texts: list[str | None] = []
    for path in sorted((PACKAGE_ROOT / "outputs").glob("*/*/cases.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.append("\n".join(str(v) for v in json.loads(line)["inputs"].values()))
    planted = [t.replace(" the ", " a ", 1) + " Thanks!" for t in texts[:60] if t]
    return [*texts, *planted, *texts[:20], "", "   ", None]


@given(st.text(alphabet=st.sampled_from(list("ab cd,.!?«»—'\"ÉéΣς\t\nx-")), max_size=60))
@settings(max_examples=200, deadline=None)
def test_shingle_hashes_are_the_kernels_reference_hashes(text: str) -> None:
    assert shingle_hashes(text) == {hash_shingle(s) for s in shingle_text(text)}


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.85], ids=["0.5", "0.7", "0.85"])
def test_every_merge_the_kernels_make_is_made_with_the_same_similarity(threshold: float) -> None:
    texts = _corpus()
    small = find_near_duplicates_small(texts, threshold)
    kernel = find_near_duplicates(pl.Series(texts, dtype=pl.String), threshold)
    merged = np.flatnonzero(kernel.kept_of != np.arange(len(texts)))
    assert len(merged) > 20
    assert all(small.kept_of[i] == small.kept_of[kernel.kept_of[i]] for i in merged)  # same cluster
    same_root = merged[small.kept_of[merged] == kernel.kept_of[merged]]
    assert np.allclose(small.similarity[same_root], kernel.similarity[same_root], atol=1e-6)
    assert (small.kind[same_root] == kernel.kind[same_root]).all()
    assert small.empty == kernel.empty == 3
    assert (small.kept_of <= np.arange(len(texts))).all()  # every cluster keeps its lowest index


def test_exact_duplicates_match_the_kernel() -> None:
    texts = _corpus()
    expected = find_exact_duplicates(pl.Series(texts, dtype=pl.String))
    assert (find_exact_duplicates_small(texts) == expected).all()


def test_deduping_survivors_again_drops_nothing() -> None:
    texts = _corpus()
    first = find_near_duplicates_small(texts, 0.7)
    survivors = [t for i, t in enumerate(texts) if first.kept_of[i] == i]
    again = find_near_duplicates_small(survivors, 0.7)
    assert (again.kept_of == np.arange(len(survivors))).all()


def test_a_small_compile_never_imports_numba(tmp_path: Path) -> None:
    code = (
        "import sys; from compiler.screen.dedupe import find_near, find_exact; "
        "find_near(['a b c d', 'a b c d e', 'x y z'], 0.5); find_exact(['a', 'a']); "
        "print('numba' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.strip() == "False", done.stderr


_WORDS = [
    "a",
    "to",
    "the",
    "ünï",
    "straße",
    "eightbyt",
    "ninebytes",
    "sixteen-letters!",
    "x" * 17,
    "日本語の文",
]


@pytest.mark.parametrize(
    ("shingle", "ngram"), [("word", 1), ("word", 3), ("char", 5), ("char", 9)], ids=["w1", "w3", "c5", "c9"]
)
def test_the_kernel_hashes_every_shingle_as_the_reference_does(shingle: str, ngram: int) -> None:
    # Words and windows of 1 to 17+ bytes: the kernel reads 8 bytes at a time and masks the last read.
    from compiler.screen.near.sketch import sketch_texts

    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(_WORDS, size=int(rng.integers(1, 12)))) for _ in range(300)]
    one = np.ones(1, dtype=np.uint16)
    _, _, hashes, starts, counts = sketch_texts(
        pl.Series(texts), shingle == "word", ngram, one, one, np.ones(1, dtype=np.uint64), 1, 1
    )
    for i, text in enumerate(texts):
        kernel = set(hashes[starts[i] : starts[i] + counts[i]].tolist())
        assert kernel == shingle_hashes(text, shingle, ngram), text


def _all_pairs(texts: list[str | None], threshold: float, shingle: str, ngram: int) -> list[int]:
    """The definition, pair by pair: each distinct text's match among the earlier ones (-1: none), a kept
    one when any is alike (the most alike, then the earliest), else the earliest alike."""
    seen: dict[str, int] = {}
    reps = []
    for text in texts:
        if text is not None and text.strip() and text not in seen:
            seen[text] = len(reps)
            reps.append(shingle_hashes(text, shingle, ngram))
    match = [-1] * len(reps)
    for j, x in enumerate(reps):
        hits = []
        for i in range(j):
            shared = len(x & reps[i])
            jaccard = shared / (len(x) + len(reps[i]) - shared) if shared else 0.0
            if shared and jaccard >= threshold:
                hits.append((jaccard, i))
        kept = [h for h in hits if match[h[1]] == -1]
        if hits:
            match[j] = (max(kept, key=lambda h: (h[0], -h[1])) if kept else hits[0])[1]
    return match


@pytest.mark.parametrize(("shingle", "ngram"), [("word", 1), ("word", 3), ("char", 5)])
@given(
    words=st.lists(
        st.sampled_from(["the", "a", "refund", "order", "late", "my", "card", "x", "?"]), max_size=9
    ),
    edits=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 8)), min_size=1, max_size=30),
    threshold=st.sampled_from([0.3, 0.5, 0.7, 0.8, 0.85, 1.0]),
)
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
def test_the_prefix_filter_join_finds_every_pair_the_definition_does(
    shingle: str, ngram: int, words: list[str], edits: list[tuple[int, int]], threshold: float
) -> None:
    texts: list[str | None] = [" ".join(words)]
    for source, cut in edits:  # each text an edit of an earlier one: many look-alikes, common words
        base = (texts[source % len(texts)] or "").split()
        texts.append(" ".join(base[:cut] + ["the", f"w{source}"] + base[cut + 1 :]))
    texts.append(None)
    found = find_near_duplicates_small(texts, threshold, shingle, ngram)
    expected = _all_pairs(texts, threshold, shingle, ngram)
    distinct = [i for i, t in enumerate(texts) if t is not None and t.strip() and texts.index(t) == i]
    near = [int(found.dup_of[i]) if found.kind[i] == 2 else -1 for i in distinct]
    assert near == [distinct[m] if m >= 0 else -1 for m in expected]
