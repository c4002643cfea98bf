"""t-wise covering arrays with constraints, weights and negative values (a pure kernel, no I/O).

Semantics follow Microsoft PICT: every t-combination of dimensions (plus every group's combination at
the group's strength) must see every value tuple in some row, except tuples holding two or more negative
values (a row holds at most one) and tuples that no valid full row can hold under `allowed`, which are
reported in `excluded`. Three steps: `covering_greedy` builds rows AETG-style until every goal tuple is
covered, `covering_optimize` deletes rows and repairs the array by local search while an iteration
budget lasts, then redraws cells no tuple needs by value weight. `covering_space` numbers the tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compiler.plan.covering.greedy import GreedyBuilder
from compiler.plan.covering.optimize import fill_free_cells, shrink_rows
from compiler.plan.covering.space import TupleSpace, build_space


@dataclass(frozen=True)
class CoveringArray:
    """Rows of value indices, and how the goal tuples fared."""

    rows: tuple[tuple[int, ...], ...]  # each row: one value index per dimension
    required: int  # number of required t-tuples (the goal)
    covered: int  # how many of them the rows cover (== required unless impossible)
    excluded: tuple[tuple[tuple[int, int], ...], ...]  # impossible tuples, each ((dim, value), ...)


def build_covering_array(
    weights: Sequence[Sequence[float]],
    strength: int,
    *,
    groups: Sequence[tuple[Sequence[int], int]] = (),
    include: Sequence[Mapping[int, int]] = (),
    negative: Sequence[frozenset[int]] = (),
    allowed: Callable[[Mapping[int, int]], bool | None] | None = None,
    seed: int = 0,
) -> CoveringArray:
    """Few rows covering every required t-tuple; deterministic for the same inputs and seed."""
    levels = _check_inputs(weights, strength, groups, include, negative)
    negative_mask = np.zeros((len(levels), max(levels)), dtype=bool)
    for dim, values in enumerate(negative):
        negative_mask[dim, sorted(values)] = True
    space = build_space(levels, strength, groups, negative_mask)
    log_weights = _log_weights(weights, max(levels))
    rng = np.random.default_rng(seed)
    greedy = GreedyBuilder(space, log_weights, allowed, rng)
    for index, partial in enumerate(include):
        if not greedy.add_include(dict(partial)):
            raise ValueError(f"include[{index}] = {dict(partial)} cannot be completed into a valid row")
    while greedy.add_best_row():
        pass
    rows = np.array(greedy.rows, dtype=np.int64).reshape(-1, len(levels))
    fixed = np.zeros(rows.shape, dtype=bool)
    for index, partial in enumerate(include):
        fixed[index, list(partial)] = True
    if len(rows) > len(include):
        rows = shrink_rows(space, greedy.goal, rows, fixed, len(include), allowed, rng)
    rows = fill_free_cells(space, greedy.goal, rows, fixed[: len(rows)], log_weights, allowed, rng)
    counts = np.bincount(space.ids_of(rows).ravel(), minlength=space.n_tuples + 1)
    return CoveringArray(
        rows=tuple(tuple(row) for row in rows.tolist()),
        required=int(greedy.goal.sum()),
        covered=int((greedy.goal & (counts > 0)).sum()),
        excluded=tuple(_as_cells(space, tuple_id) for tuple_id in sorted(greedy.excluded)),
    )


def _check_inputs(
    weights: Sequence[Sequence[float]],
    strength: int,
    groups: Sequence[tuple[Sequence[int], int]],
    include: Sequence[Mapping[int, int]],
    negative: Sequence[frozenset[int]],
) -> list[int]:
    """Levels per dimension; raises ValueError on anything a validated spec cannot produce."""
    levels = [len(values) for values in weights]
    n_dims = len(levels)
    if n_dims == 0 or min(levels) == 0:
        raise ValueError("weights: need at least one dimension and one value per dimension")
    if not all(np.isfinite(w) and w > 0 for values in weights for w in values):
        raise ValueError("weights: every weight must be finite and > 0")
    if not 1 <= strength <= n_dims:
        raise ValueError(f"strength {strength} must be between 1 and the number of dimensions ({n_dims})")
    for index, (dims, group_strength) in enumerate(groups):
        if len(set(dims)) != len(dims) or not all(0 <= d < n_dims for d in dims):
            raise ValueError(f"groups[{index}]: dimensions {list(dims)} must be distinct, in 0..{n_dims - 1}")
        if not 1 <= group_strength <= len(dims):
            raise ValueError(f"groups[{index}]: strength {group_strength} must be between 1 and {len(dims)}")
    for index, partial in enumerate(include):
        if not all(0 <= d < n_dims and 0 <= v < levels[d] for d, v in partial.items()):
            raise ValueError(f"include[{index}] = {dict(partial)}: dimension or value index out of range")
    if negative and len(negative) != n_dims:
        raise ValueError(f"negative: expected one set per dimension ({n_dims}), got {len(negative)}")
    for dim, values in enumerate(negative):
        if not all(0 <= v < levels[dim] for v in values):
            raise ValueError(f"negative[{dim}] = {sorted(values)}: value index out of range")
    return levels


def _log_weights(weights: Sequence[Sequence[float]], width: int) -> np.ndarray:
    """Per dimension log(weight / max weight), clipped so one tiny weight cannot swamp a tie-break."""
    table = np.full((len(weights), width), -np.inf)
    for dim, values in enumerate(weights):
        w = np.asarray(values, dtype=np.float64)
        table[dim, : len(w)] = np.maximum(np.log(w / w.max()), -50.0)
    return table


def _as_cells(space: TupleSpace, tuple_id: int) -> tuple[tuple[int, int], ...]:
    return tuple(sorted(space.cells_of(tuple_id).items()))
