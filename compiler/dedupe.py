"""Exact and near-duplicate pruning of candidate rows (pure: no I/O).

Candidates arrive in priority order (curated, then production, then earlier versions, then new rows
in plan order); the first row of every duplicate cluster survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from compiler.plan import CaseSpec
from compiler.rows import Row


@dataclass(frozen=True)
class Candidate:
    row: Row
    case: CaseSpec | None  # None for rows that did not come from the plan (curated, production)


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


def drop_exact_duplicates(candidates: Sequence[Candidate]) -> DedupeResult:
    """Drop rows whose id (content hash) was already seen, keeping the first: one hash pass in polars."""
    ids = pl.Series("id", [c.row.id for c in candidates], dtype=pl.String)
    first = ids.is_first_distinct().to_list()
    kept_by_id: dict[str, str] = {}
    survivors: list[Candidate] = []
    drops: list[Drop] = []
    for candidate, is_first in zip(candidates, first, strict=True):
        if is_first:
            survivors.append(candidate)
            kept_by_id[candidate.row.id] = candidate.row.id
        else:
            drops.append(Drop(candidate.row.id, candidate.row.id, 1.0, "exact"))
    return DedupeResult(tuple(survivors), tuple(drops))


def drop_near_duplicates(candidates: Sequence[Candidate], threshold: float, on: Sequence[str]) -> DedupeResult:
    """Collapse rows whose compared inputs are near-duplicates (MinHash + LSH), keeping the first."""
    from compiler.near_duplicates import find_near_duplicates

    texts = pl.Series("text", [compared_text(c.row, on) for c in candidates], dtype=pl.String)
    found = find_near_duplicates(texts, threshold)
    survivors: list[Candidate] = []
    drops: list[Drop] = []
    for i, candidate in enumerate(candidates):
        kept = int(found.kept_of[i])
        if kept == i:
            survivors.append(candidate)
        else:
            drops.append(Drop(candidate.row.id, candidates[kept].row.id, round(float(found.similarity[i]), 4),
                              "exact" if int(found.kind[i]) == 1 else "near"))
    return DedupeResult(tuple(survivors), tuple(drops))


def drop_duplicates(candidates: Sequence[Candidate], near: float | None, on: Sequence[str]) -> DedupeResult:
    """Exact duplicates first (same content id), then near-duplicates of the compared inputs."""
    exact = drop_exact_duplicates(candidates)
    if near is None or not exact.survivors:
        return exact
    try:
        near_result = drop_near_duplicates(exact.survivors, near, on)
    except ImportError:  # near-duplicate kernel not available: exact only
        return exact
    return DedupeResult(near_result.survivors, exact.drops + near_result.drops)
