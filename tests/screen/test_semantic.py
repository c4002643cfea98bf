"""Semantic dedupe: exact and ANN matching of embeddings, keep-first, idempotent, monotone, drops with scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.core.rows import Row
from compiler.screen.dedupe import Candidate, ExistingRow
from compiler.screen.near.hashing import embed_with_hashing
from compiler.screen.semantic import drop_semantic_duplicates, find_semantic_duplicates

SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def planted_vectors(seed: int, clusters: int = 40, dims: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around random centres (cosine to the centre >= ~0.97), shuffled; returns them and labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims))
    labels = np.repeat(np.arange(clusters), rng.integers(1, 6, clusters))
    vectors = centres[labels] / np.linalg.norm(centres[labels], axis=1, keepdims=True)
    vectors = vectors + rng.normal(scale=0.02, size=vectors.shape)
    order = rng.permutation(len(labels))
    vectors = vectors[order] / np.linalg.norm(vectors[order], axis=1, keepdims=True)
    return vectors.astype(np.float32), labels[order]


@pytest.mark.parametrize("exact_rows", [10_000, 0], ids=["exact", "ann"])
@pytest.mark.parametrize("seed", [0, 1], ids=["seed0", "seed1"])
def test_planted_clusters_keep_their_first_row(exact_rows: int, seed: int) -> None:
    vectors, labels = planted_vectors(seed)
    found = find_semantic_duplicates(vectors, 0.9, exact_rows=exact_rows)
    first = {label: int(np.flatnonzero(labels == label)[0]) for label in set(labels.tolist())}
    expected = [-1 if first[label] == row else first[label] for row, label in enumerate(labels.tolist())]
    assert found.dup_of.tolist() == expected
    dropped = found.dup_of >= 0
    scores = np.einsum("ij,ij->i", vectors[dropped], vectors[found.dup_of[dropped]])
    assert found.similarity[dropped] == pytest.approx(scores, abs=1e-5)
    assert (found.similarity[dropped] >= 0.9).all()


def test_ann_and_exact_matching_agree_on_a_larger_set() -> None:
    vectors, _ = planted_vectors(5, clusters=600)
    exact = find_semantic_duplicates(vectors, 0.9)
    ann = find_semantic_duplicates(vectors, 0.9, exact_rows=0)
    assert (ann.dup_of >= 0).sum() == pytest.approx((exact.dup_of >= 0).sum(), rel=0.01)
    assert ((ann.dup_of >= 0) == (exact.dup_of >= 0)).mean() >= 0.99


@SLOW
@given(seed=st.integers(0, 10_000), threshold=st.sampled_from([0.5, 0.8, 0.9, 0.99]))
def test_deduping_the_survivors_again_drops_nothing(seed: int, threshold: float) -> None:
    vectors, _ = planted_vectors(seed, clusters=12)
    survivors = vectors[find_semantic_duplicates(vectors, threshold).dup_of < 0]
    assert (find_semantic_duplicates(survivors, threshold).dup_of < 0).all()


@SLOW
@given(seed=st.integers(0, 10_000), low=st.floats(0.3, 0.9), step=st.floats(0.0, 0.1))
def test_a_higher_threshold_never_drops_more_rows(seed: int, low: float, step: float) -> None:
    vectors, _ = planted_vectors(seed, clusters=12)
    loose = find_semantic_duplicates(vectors, low).dup_of >= 0
    strict = find_semantic_duplicates(vectors, low + step).dup_of >= 0
    assert not (strict & ~loose).any()
    assert not loose[0] and not strict[0]  # the first row always stays


def test_a_drop_names_a_kept_row_when_it_matches_one() -> None:
    # b ~ a and c ~ b, c !~ a: c names b (dropped), the only earlier row it is alike
    a, b = np.array([1.0, 0.0], dtype=np.float32), np.array([0.8, 0.6], dtype=np.float32)
    c = np.array([0.28, 0.96], dtype=np.float32)
    found = find_semantic_duplicates(np.stack([a, b, c]), 0.75)
    assert found.dup_of.tolist() == [-1, 0, 1]
    d = np.array([0.96, 0.28], dtype=np.float32)  # alike a and b: names a, the kept one
    found = find_semantic_duplicates(np.stack([a, b, d]), 0.75)
    assert found.dup_of.tolist() == [-1, 0, 0]


def candidate(text: str) -> Candidate:
    return Candidate(Row.build("synthetic", "direct", None, {}, {"customer_message": text}, {}, {}), None)


def test_rewordings_drop_with_reason_semantic_and_their_score() -> None:
    texts = [
        "How do I get a refund for my order?",
        "My order arrived broken, what now?",
        "Order refund: how do I get one for my order",  # the first, reworded
        "How can I change the delivery address?",
    ]
    result = drop_semantic_duplicates(
        [candidate(t) for t in texts], 0.6, ["customer_message"], embed_with_hashing
    )
    assert [c.row.inputs["customer_message"] for c in result.survivors] == [texts[0], texts[1], texts[3]]
    (drop,) = result.drops
    assert (drop.reason, drop.kept_id) == ("semantic", result.survivors[0].row.id)
    assert 0.6 <= drop.similarity <= 1.0


def test_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError):
        find_semantic_duplicates(np.eye(3, dtype=np.float32), 0.0)


REFUND = "How do I get a refund for my order?"
REWORDED = "Order refund: how do I get one for my order"  # cosine with REFUND >= 0.6 under the local embedder


def existing(label: str, text: str) -> ExistingRow:
    return ExistingRow(label, candidate(text).row)


def test_a_paraphrase_of_an_existing_row_drops_against_it() -> None:
    old = existing("3f2a91c0d4e5", REFUND)
    new = [candidate("How can I change the delivery address?"), candidate(REWORDED)]
    result = drop_semantic_duplicates(new, 0.6, ["customer_message"], embed_with_hashing, [old])
    assert [c.row.id for c in result.survivors] == [new[0].row.id]
    (drop,) = result.drops
    assert (drop.id, drop.kept_id, drop.reason) == (
        new[1].row.id,
        old.row.id,
        "existing:3f2a91c0d4e5:semantic",
    )
    assert 0.6 <= drop.similarity <= 1.0
    # Without the existing row the same candidates are all kept; with a strict threshold too.
    assert len(drop_semantic_duplicates(new, 0.6, ["customer_message"], embed_with_hashing).drops) == 0
    strict = drop_semantic_duplicates(new, 0.99, ["customer_message"], embed_with_hashing, [old])
    assert len(strict.survivors) == 2


def test_existing_rows_are_never_dropped_and_a_chain_through_a_candidate_reaches_them() -> None:
    golden = existing("golden", REFUND)
    regression = existing("regression", REFUND + " Thanks")  # a paraphrase of the golden row: stays
    first, second = candidate(REWORDED), candidate(REWORDED + " please")
    result = drop_semantic_duplicates(
        [first, second], 0.6, ["customer_message"], embed_with_hashing, [golden, regression]
    )
    assert result.survivors == ()
    assert {d.id for d in result.drops} == {first.row.id, second.row.id}
    assert all(d.reason.startswith("existing:") and d.reason.endswith(":semantic") for d in result.drops)
    assert {d.kept_id for d in result.drops} <= {golden.row.id, regression.row.id}


def test_a_candidate_that_continues_an_existing_row_is_not_its_duplicate() -> None:
    again = candidate(REFUND)  # this run regenerates the earlier version's row: same id
    result = drop_semantic_duplicates(
        [again, candidate(REWORDED)], 0.6, ["customer_message"], embed_with_hashing, [existing("v1", REFUND)]
    )
    assert [c.row.id for c in result.survivors] == [again.row.id]
    assert [d.reason for d in result.drops] == ["semantic"]


def test_the_report_names_a_semantic_drop_against_existing_rows_with_its_cosine() -> None:
    from compiler.report.examples import _score, is_duplicate, reason_label

    drop = {"reason": "existing:golden:semantic", "similarity": 0.93}
    assert (reason_label(drop["reason"]), _score(drop), is_duplicate(drop)) == (
        "already in golden (semantic)",
        "cosine 0.930",
        True,
    )
    assert _score({"reason": "existing:golden", "similarity": 0.9}) == "Jaccard 0.900"
