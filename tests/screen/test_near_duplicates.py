"""Duplicate clustering: planted clusters found, distinct texts kept, first row kept, stable and exact."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.screen.near import identical
from compiler.screen.near.index import (
    find_blank_rows,
    find_exact_duplicates,
    find_near_duplicates,
    hash_shingle,
    shingle_text,
)

VOCABULARY = [f"w{i}" for i in range(300)] + ["café", "naïve", "über", "“quoted”", "don't", "(aside)"]
TRICKY_WORDS = [
    "Café", "cafe\u0301", "CAFÉ!", "ΟΔΟΣ", "Σοφία", "İstanbul", "ǅemal", "ß", "“quote”", "don't", "—",
    "...", "x\u00a0y", "tab\tsep", "e\u0301\u0300", "한국어", "\u1100\u1161", "Ⅻ", "ﬁne", "🙂", "a.b", "",
    "E\u0301", "NAI\u0308VE", "q\u0301", "e\u0301!", "'\u0301", "e\u0323\u0301", "\u0301x", "I\u0307",
    "A\u030a", "\u212b", "u\u0308\u0304", "o\u0301\u00e9",
]  # fmt: skip
# LSH misses a pair now and then (seed 815 at thresholds 0.6 / 0.7: a pair at Jaccard 0.75 shared no band at
# 0.6, which 24 bands of 4 rows allow about once in 10,000 such pairs), so the properties hold for the corpora
# a fixed seed draws, not for every one a random draw may find: derandomized, as Hypothesis' CI profile is
SLOW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
SHINGLINGS = [("word", 1), ("char", 3), ("word", 3)]
SHINGLING_IDS = ["word-1", "char-3", "word-3"]


def load_bench_corpus():  # type: ignore[no-untyped-def]
    """bench/near_corpus.py: planted word edits, typos, reorders and hard negatives, labelled by the edit."""
    path = Path(__file__).resolve().parents[2] / "bench" / "near_corpus.py"
    spec = importlib.util.spec_from_file_location("bench_near_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pairwise_precision_recall(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    same_predicted = predicted[:, None] == predicted[None, :]
    same_truth = truth[:, None] == truth[None, :]
    upper = np.triu(np.ones_like(same_truth), k=1)
    both = int((same_predicted & same_truth & upper).sum())
    return both / max(int((same_predicted & upper).sum()), 1), both / max(int((same_truth & upper).sum()), 1)


def reference_jaccard(a: str, b: str, shingle: str = "word") -> float:
    left = {hash_shingle(s, shingle) for s in shingle_text(a, shingle)}  # type: ignore[arg-type]
    right = {hash_shingle(s, shingle) for s in shingle_text(b, shingle)}  # type: ignore[arg-type]
    return len(left & right) / len(left | right)


def planted_corpus(seed: int, clusters: int = 30) -> tuple[list[str], np.ndarray]:
    """40-word texts, each with exact copies and near copies (one word replaced, case and punctuation
    edited), in shuffled order; returns the texts and each row's planted cluster."""
    rng = random.Random(seed)
    rows: list[tuple[str, int]] = []
    for cluster in range(clusters):
        words = rng.choices(VOCABULARY, k=40)
        rows.append((" ".join(words), cluster))
        rows += [(" ".join(words), cluster)] * rng.randint(0, 2)
        for _ in range(rng.randint(1, 3)):
            edited = list(words)
            edited[rng.choice([0, 1, 38, 39, rng.randrange(40)])] = rng.choice(VOCABULARY)
            for at in rng.sample(range(40), 3):
                edited[at] = rng.choice(
                    [edited[at].upper(), edited[at].capitalize(), edited[at] + ",", "«" + edited[at]]
                )
            rows.append(("  ".join(edited) + rng.choice(["?", ".", "!"]), cluster))
    rng.shuffle(rows)
    return [text for text, _ in rows], np.array([cluster for _, cluster in rows])


def cluster_partition(kept_of: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for row, kept in enumerate(kept_of.tolist()):
        groups.setdefault(kept, set()).add(row)
    return {frozenset(group) for group in groups.values()}


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["seed0", "seed1", "seed2"])
def test_planted_near_duplicates_cluster_under_their_first_row(seed: int) -> None:
    texts, planted = planted_corpus(seed)
    found = find_near_duplicates(pl.Series(texts), 0.8)
    first_of_cluster = {
        cluster: int(np.flatnonzero(planted == cluster)[0]) for cluster in set(planted.tolist())
    }
    assert found.kept_of.tolist() == [first_of_cluster[c] for c in planted.tolist()]
    for row, kept in enumerate(found.kept_of.tolist()):
        if kept == row:
            assert (found.kind[row], found.similarity[row]) == (0, 0.0)
        elif texts[row] == texts[kept]:
            assert (found.kind[row], found.similarity[row]) == (1, 1.0)
        else:
            assert found.kind[row] == 2
            assert found.similarity[row] == pytest.approx(
                reference_jaccard(texts[row], texts[kept]), abs=1e-6
            )


@pytest.mark.parametrize(
    ("low", "high", "shingle", "ngram", "threshold", "least_precision", "least_recall"),
    [
        (20, 80, "word", 1, 0.85, 0.99, 0.98),
        (20, 80, "char", 3, 0.85, 0.99, 0.98),
        (8, 20, "word", 1, 0.8, 0.99, 0.92),
        (8, 20, "char", 3, 0.8, 0.99, 0.88),
    ],
    ids=["long-word-1", "long-char-3", "short-word-1", "short-char-3"],
)
def test_planted_edits_are_found_and_hard_negatives_kept_apart(
    low: int,
    high: int,
    shingle: str,
    ngram: int,
    threshold: float,
    least_precision: float,
    least_recall: float,
) -> None:
    corpus = load_bench_corpus().generate_corpus(3000, 11, low, high)
    found = find_near_duplicates(corpus["text"], threshold, shingle=shingle, ngram=ngram)  # type: ignore[arg-type]
    precision, recall = pairwise_precision_recall(found.kept_of, corpus["cluster"].to_numpy())
    assert precision >= least_precision
    assert recall >= least_recall
    negatives = corpus["kind"].to_numpy() == "negative"
    assert (found.kind[negatives] == 0).mean() >= 0.99  # a hard negative keeps its own row


def test_word_3_grams_miss_what_unigrams_find() -> None:
    """Why the default changed: one edited word costs a 3-gram set three shingles."""
    corpus = load_bench_corpus().generate_corpus(3000, 12, 20, 80)
    truth = corpus["cluster"].to_numpy()
    unigrams = find_near_duplicates(corpus["text"], 0.85)
    trigrams = find_near_duplicates(corpus["text"], 0.85, ngram=3)
    recall_1 = pairwise_precision_recall(unigrams.kept_of, truth)[1]
    recall_3 = pairwise_precision_recall(trigrams.kept_of, truth)[1]
    assert recall_1 >= 0.98 > 0.9 > recall_3


def test_texts_sharing_vocabulary_are_not_merged() -> None:
    rng = random.Random(5)
    originals = [rng.choices(VOCABULARY[:60], k=40) for _ in range(200)]  # 60 words: every text shares many
    rewrites = [words[:20] + rng.choices(VOCABULARY[:60], k=20) for words in originals]  # same first half
    texts = [" ".join(words) for words in originals + rewrites]
    assert max(reference_jaccard(a, b) for a, b in zip(texts[:200], texts[200:], strict=True)) < 0.8
    found = find_near_duplicates(pl.Series(texts), 0.8)
    assert found.kept_of.tolist() == list(range(len(texts)))


@pytest.mark.parametrize("shingle", ["word", "char"], ids=["word", "char"])
@SLOW
@given(data=st.data())
def test_similarity_is_the_jaccard_of_the_normalised_shingles(shingle: str, data: st.DataObject) -> None:
    pool = data.draw(st.lists(st.sampled_from(TRICKY_WORDS + VOCABULARY[:6]), min_size=3, max_size=8))
    texts = [" ".join(data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12))) for _ in range(6)]
    found = find_near_duplicates(pl.Series(texts), 0.3, shingle=shingle)  # type: ignore[arg-type]
    for row, matched in enumerate(found.dup_of.tolist()):
        if found.kind[row] == 2:
            assert found.similarity[row] == pytest.approx(
                reference_jaccard(texts[row], texts[matched], shingle)
            )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Hello, World! How are you today?", "hello world how are you today"),
        ("The  café\tis   open.", "the cafe\u0301 is open"),
        ("“Quoted” words (and asides)...", "quoted words and asides"),
        ("ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ", "οδος και σοφια"),
    ],
    ids=["case-punctuation", "whitespace-nfc", "quotes-brackets", "greek-final-sigma"],
)
def test_texts_differing_only_in_case_spacing_and_punctuation_are_near_duplicates(
    first: str, second: str
) -> None:
    found = find_near_duplicates(pl.Series([first, second]), 0.99)
    assert (found.kept_of[1], found.kind[1], found.similarity[1]) == (0, 2, 1.0)


@pytest.mark.parametrize(("shingle", "ngram"), SHINGLINGS[:2], ids=SHINGLING_IDS[:2])
@SLOW
@given(seed=st.integers(0, 10_000))
def test_clusters_do_not_depend_on_row_order_and_keep_their_first_row(
    shingle: str, ngram: int, seed: int
) -> None:
    # Under these shinglings every two rows of a planted cluster are alike (J >= 0.8), so which row comes
    # first cannot change the groups; word 3-grams make chains (A ~ B ~ C, A !~ C), which order does split.
    texts, _ = planted_corpus(seed, clusters=8)
    order = np.random.default_rng(seed).permutation(len(texts))
    found = find_near_duplicates(pl.Series(texts), 0.8, shingle=shingle, ngram=ngram)  # type: ignore[arg-type]
    shuffled = find_near_duplicates(pl.Series(texts)[order], 0.8, shingle=shingle, ngram=ngram)  # type: ignore[arg-type]
    back = {frozenset(int(order[row]) for row in group) for group in cluster_partition(shuffled.kept_of)}
    assert back == cluster_partition(found.kept_of)
    for group in cluster_partition(shuffled.kept_of):
        assert all(shuffled.kept_of[row] == min(group) for row in group)


@pytest.mark.parametrize(("shingle", "ngram"), SHINGLINGS, ids=SHINGLING_IDS)
@SLOW
@given(seed=st.integers(0, 10_000), threshold=st.sampled_from([0.5, 0.8, 0.95]))
def test_deduping_the_survivors_again_drops_nothing(
    shingle: str, ngram: int, seed: int, threshold: float
) -> None:
    texts, _ = planted_corpus(seed, clusters=8)
    measure = {"shingle": shingle, "ngram": ngram}
    survivors = pl.Series(texts).filter(
        pl.Series(find_near_duplicates(pl.Series(texts), threshold, **measure).kind == 0)  # type: ignore[arg-type]
    )
    again = find_near_duplicates(survivors, threshold, **measure)  # type: ignore[arg-type]
    assert again.kept_of.tolist() == list(range(len(survivors)))


@pytest.mark.parametrize(("shingle", "ngram"), SHINGLINGS, ids=SHINGLING_IDS)
@SLOW
@given(
    seed=st.integers(0, 10_000),
    thresholds=st.lists(
        st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9, 0.95]), min_size=2, max_size=2, unique=True
    ),
)
def test_a_higher_threshold_never_drops_more_rows(
    shingle: str, ngram: int, seed: int, thresholds: list[float]
) -> None:
    corpus = load_bench_corpus().generate_corpus(300, seed, 8, 40, vocab_size=2000)
    low, high = sorted(thresholds)
    texts = corpus["text"]
    loose = find_near_duplicates(texts, low, shingle=shingle, ngram=ngram)  # type: ignore[arg-type]
    strict = find_near_duplicates(texts, high, shingle=shingle, ngram=ngram)  # type: ignore[arg-type]
    # a row dropped at the strict threshold has an earlier row at least that alike: dropped at the loose one too
    assert not ((strict.kind > 0) & (loose.kind == 0)).any()
    assert (strict.similarity[strict.kind == 2] >= high).all()


def test_null_and_blank_rows_are_kept_and_counted() -> None:
    texts = pl.Series([None, "", "  ", "\n\t", None, "", "same text here", "same text here", "!!!", "!!!"])
    found = find_near_duplicates(texts, 0.5)
    assert found.kept_of.tolist() == [0, 1, 2, 3, 4, 5, 6, 6, 8, 8]
    assert found.empty == 6
    assert find_blank_rows(texts).tolist() == [True] * 6 + [False] * 4
    assert find_exact_duplicates(texts).tolist() == [0, 1, 2, 3, 4, 5, 6, 6, 8, 8]


@SLOW
@given(
    texts=st.lists(
        st.one_of(st.none(), st.sampled_from(["a", "A", "a ", "", " ", "b", "é", "e\u0301"])), max_size=40
    )
)
def test_exact_duplicates_group_identical_strings_only(texts: list[str | None]) -> None:
    first: dict[str, int] = {}
    expected = [i if not (t or "").strip() else first.setdefault(t, i) for i, t in enumerate(texts)]  # type: ignore[arg-type]
    assert find_exact_duplicates(pl.Series(texts, dtype=pl.String)).tolist() == expected


def test_exact_duplicates_check_bytes_not_just_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    def colliding_hashes(
        views: np.ndarray, views_address: int, buffer_addresses: np.ndarray, out: np.ndarray
    ) -> None:
        out[:] = 42

    monkeypatch.setattr(identical, "_hash_rows", colliding_hashes)
    texts = pl.Series(["alpha", "beta", "alpha", "gamma", "beta", "a much longer string than twelve bytes"])
    assert find_exact_duplicates(texts).tolist() == [0, 1, 0, 3, 1, 5]


def test_sliced_and_chunked_columns_give_the_same_clusters() -> None:
    texts, _ = planted_corpus(4, clusters=10)
    whole = pl.Series(["padding row one", "padding row two", *texts])
    chunked = pl.concat([pl.Series(texts[:7]), pl.Series(texts[7:])], rechunk=False)
    expected = find_near_duplicates(pl.Series(texts), 0.8).kept_of.tolist()
    assert chunked.n_chunks() == 2
    assert find_near_duplicates(chunked, 0.8).kept_of.tolist() == expected
    assert (find_near_duplicates(whole.slice(2), 0.8).kept_of).tolist() == expected


def test_a_large_cluster_of_near_duplicates_collapses_to_one_row() -> None:
    rng = random.Random(3)
    words = rng.choices(VOCABULARY, k=60)
    texts = []
    for _ in range(500):
        edited = list(words)
        edited[rng.choice([0, 59])] = rng.choice(VOCABULARY)
        texts.append(" ".join(edited))
    found = find_near_duplicates(pl.Series(texts), 0.8)
    assert set(found.kept_of.tolist()) == {0}


def test_results_are_the_same_in_another_process() -> None:
    texts, _ = planted_corpus(11)
    script = (
        "import json, sys, polars as pl\n"
        "from compiler.screen.near.index import find_near_duplicates\n"
        "found = find_near_duplicates(pl.Series(json.load(sys.stdin)), 0.8)\n"
        "print(json.dumps([found.kept_of.tolist(), found.kind.tolist(), found.similarity.tolist()]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(texts), capture_output=True, text=True, check=True,
        env=env, cwd=root,
    )  # fmt: skip
    found = find_near_duplicates(pl.Series(texts), 0.8)
    assert json.loads(done.stdout) == [found.kept_of.tolist(), found.kind.tolist(), found.similarity.tolist()]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0.0},
        {"threshold": 1.5},
        {"threshold": 0.8, "shingle": "line"},
        {"threshold": 0.8, "ngram": 0},
    ],
    ids=["zero", "above-one", "unknown-shingle", "zero-ngram"],
)
def test_bad_parameters_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        find_near_duplicates(pl.Series(["a b c"]), **kwargs)
