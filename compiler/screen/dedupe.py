"""Exact and near-duplicate pruning of candidate rows (pure: no I/O).

Candidates arrive in priority order (curated, then production, then earlier versions, then new rows
in plan order); the first row of every duplicate cluster survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

    from compiler.screen.checks import CheckResult
else:  # polars costs 0.3 s to import; `dsc plan` reaches this module but needs no frame
    from compiler.core.lazy import polars as pl

from compiler.core.rows import Row
from compiler.plan.cases import CaseSpec
from compiler.screen.near.exact import (
    SMALL_ROWS,
    SmallDuplicates,
    find_exact_duplicates_small,
    find_near_duplicates_small,
)

if TYPE_CHECKING:
    from compiler.screen.near.index import Duplicates
from compiler.spec.model import ShingleKind


@dataclass(frozen=True)
class Candidate:
    row: Row
    case: CaseSpec | None  # None for rows that did not come from the plan (curated, production)
    checks: tuple[CheckResult, ...] | None = None  # `row_checks` of this very row, when already run


@dataclass(frozen=True)
class Drop:
    id: str
    kept_id: str
    similarity: float
    reason: str  # exact | near | existing:<source or version>


@dataclass(frozen=True)
class DedupeResult:
    survivors: tuple[Candidate, ...]
    drops: tuple[Drop, ...]


def compared_text(row: Row, on: Sequence[str]) -> str:
    return "\n".join(str(row.inputs.get(name, "")) for name in on)


def find_near(
    texts: list[str], threshold: float, shingle: ShingleKind = "word", ngram: int | None = None
) -> SmallDuplicates | Duplicates:
    """Near-duplicate clusters: exact pairwise Jaccard for a few texts, the MinHash kernels for many."""
    if len(texts) <= SMALL_ROWS:
        return find_near_duplicates_small(texts, threshold, shingle, ngram)
    from compiler.screen.near.index import find_near_duplicates
    from compiler.screen.near.warm import announce_first_compile

    announce_first_compile()
    texts_series = pl.Series("text", texts, dtype=pl.String)
    return find_near_duplicates(texts_series, threshold, shingle=shingle, ngram=ngram)


def find_exact(texts: list[str]) -> np.ndarray:
    """Exact-duplicate `kept_of`, without the kernels (and their numba import) for a few texts."""
    if len(texts) <= SMALL_ROWS:
        return find_exact_duplicates_small(texts)
    from compiler.screen.near.index import find_exact_duplicates
    from compiler.screen.near.warm import announce_first_compile

    announce_first_compile()
    return find_exact_duplicates(pl.Series("text", texts, dtype=pl.String))


def drop_exact_duplicates(candidates: Sequence[Candidate]) -> DedupeResult:
    """Drop rows whose id (content hash) was already seen, keeping the first: one hash pass in polars."""
    ids = pl.Series("id", [c.row.id for c in candidates], dtype=pl.String)
    first = ids.is_first_distinct().to_list()
    survivors: list[Candidate] = []
    drops: list[Drop] = []
    for candidate, is_first in zip(candidates, first, strict=True):
        if is_first:
            survivors.append(candidate)
        else:
            drops.append(Drop(candidate.row.id, candidate.row.id, 1.0, "exact"))
    return DedupeResult(tuple(survivors), tuple(drops))


def drop_near_duplicates(
    candidates: Sequence[Candidate],
    threshold: float,
    on: Sequence[str],
    *,
    shingle: ShingleKind = "word",
    ngram: int | None = None,
) -> DedupeResult:
    """Collapse rows whose compared inputs are near-duplicates (MinHash + LSH), keeping the first."""
    found = find_near([compared_text(c.row, on) for c in candidates], threshold, shingle, ngram)
    survivors: list[Candidate] = []
    drops: list[Drop] = []
    for i, candidate in enumerate(candidates):
        kept = int(found.kept_of[i])
        if kept == i:
            survivors.append(candidate)
        else:
            drops.append(
                Drop(
                    candidate.row.id,
                    candidates[kept].row.id,
                    round(float(found.similarity[i]), 4),
                    "exact" if int(found.kind[i]) == 1 else "near",
                )
            )
    return DedupeResult(tuple(survivors), tuple(drops))


@dataclass(frozen=True)
class ExistingRow:
    """A row of existing coverage that new rows must not duplicate: curated rows, earlier versions."""

    label: str  # regression | golden | production | <version id>
    row: Row


def drop_existing_duplicates(
    candidates: Sequence[Candidate],
    existing: Sequence[ExistingRow],
    near: float | None,
    on: Sequence[str],
    *,
    shingle: ShingleKind = "word",
    ngram: int | None = None,
) -> DedupeResult:
    """Drop candidates whose compared inputs duplicate (exactly or nearly) a row of existing coverage.

    Existing rows come first in priority order and are never dropped; a candidate that *is* an existing
    row (same id) continues it and is kept, so recompiling an unchanged config stays unchanged.
    """
    anchors = existing_anchors(candidates, existing)
    if not anchors:
        return DedupeResult(tuple(candidates), ())
    texts = [compared_text(e.row, on) for e in anchors] + [compared_text(c.row, on) for c in candidates]
    if near is None:
        kept_of = find_exact(texts)
        similarity = [1.0] * len(texts)
    else:
        found = find_near(texts, near, shingle, ngram)
        kept_of, similarity = found.kept_of, found.similarity.tolist()
    survivors: list[Candidate] = []
    drops: list[Drop] = []
    for offset, candidate in enumerate(candidates):
        index = len(anchors) + offset
        root = int(kept_of[index])
        if root < len(anchors):
            anchor = anchors[root]
            drops.append(
                Drop(
                    candidate.row.id,
                    anchor.row.id,
                    round(float(similarity[index]), 4),
                    f"existing:{anchor.label}",
                )
            )
        else:
            survivors.append(candidate)
    return DedupeResult(tuple(survivors), tuple(drops))


def existing_anchors(candidates: Sequence[Candidate], existing: Sequence[ExistingRow]) -> list[ExistingRow]:
    """The existing rows candidates must not duplicate: not the rows this run regenerates or edits again."""
    if not existing or not candidates:
        return []
    # rows this run regenerates (as themselves, or as their reviewed edit) continue existing rows
    current = {c.row.id for c in candidates} | {
        str(c.row.provenance.get("origin") or c.row.provenance["edited_from"])
        for c in candidates
        if c.row.provenance.get("origin") or c.row.provenance.get("edited_from")
    }
    # an earlier edit of the same generated row (same origin) is this row's past, not a duplicate of it
    return [
        e
        for e in existing
        if e.row.id not in current
        and str(e.row.provenance.get("origin") or e.row.provenance.get("edited_from") or "") not in current
    ]


def drop_duplicates(
    candidates: Sequence[Candidate],
    near: float | None,
    on: Sequence[str],
    existing: Sequence[ExistingRow] = (),
    *,
    shingle: ShingleKind = "word",
    ngram: int | None = None,
) -> DedupeResult:
    """Duplicates of existing coverage first, then exact duplicates (same content id), then near-duplicates."""
    against = drop_existing_duplicates(candidates, existing, near, on, shingle=shingle, ngram=ngram)
    exact = drop_exact_duplicates(against.survivors)
    if near is None or not exact.survivors:
        return DedupeResult(exact.survivors, against.drops + exact.drops)
    near_result = drop_near_duplicates(exact.survivors, near, on, shingle=shingle, ngram=ngram)
    return DedupeResult(near_result.survivors, against.drops + exact.drops + near_result.drops)
