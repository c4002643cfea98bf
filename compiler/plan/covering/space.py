"""The tuple space of a covering problem: every value tuple of every interaction gets an integer id.

An interaction is a set of dimensions that must be covered together (a t-combination or a group's
combination). Its tuples are numbered in mixed radix after an offset, so a row maps to one tuple id per
interaction with a single vectorised gather. Every per-tuple array has one extra slot at index
`n_tuples`, a sentinel that padding points at and that is never part of the goal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

Allowed = Callable[[Mapping[int, int]], bool | None]


@dataclass(frozen=True, eq=False)
class TupleSpace:
    """Interactions, their tuple ids, and the dimension -> interaction index (arrays are read-only)."""

    levels: np.ndarray  # (n_dims,) number of values per dimension
    negative: np.ndarray  # (n_dims, max_level) True where the value is negative
    dims: np.ndarray  # (n_inter + 1, t_max) dimensions of each interaction, padded; last row is a dummy
    mults: np.ndarray  # (n_inter + 1, t_max) mixed-radix weight per position, 0 on padding
    offsets: np.ndarray  # (n_inter + 1,) id of each interaction's first tuple; the dummy's is n_tuples
    by_dim: np.ndarray  # (n_dims, max_degree) interactions holding each dimension, padded with the dummy
    search_order: tuple[tuple[int, ...], ...]  # per dimension: positive values first, for complete_row

    @property
    def n_dims(self) -> int:
        return len(self.levels)

    @property
    def n_inter(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tuples(self) -> int:
        return int(self.offsets[-1])

    def ids_of(self, rows: np.ndarray) -> np.ndarray:
        """Tuple id per interaction for each row: (..., n_dims) -> (..., n_inter)."""
        dims, mults = self.dims[:-1], self.mults[:-1]
        return self.offsets[:-1] + (rows[..., dims] * mults).sum(-1)

    def decode(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dimensions, values and a real-position mask (False on padding) of each tuple id."""
        inter = np.searchsorted(self.offsets, ids, side="right") - 1
        mults = self.mults[inter]
        dims = self.dims[inter]
        local = (ids - self.offsets[inter])[..., None]
        values = (local // np.maximum(mults, 1)) % self.levels[dims]
        real = mults > 0
        return dims, np.where(real, values, 0), real

    def cells_of(self, tuple_id: int) -> dict[int, int]:
        """The tuple as a partial row, dimension -> value."""
        dims, values, real = self.decode(np.array([tuple_id]))
        return {int(d): int(v) for d, v, r in zip(dims[0], values[0], real[0], strict=True) if r}

    def goal_mask(self) -> np.ndarray:
        """Tuples a row can hold as far as negatives go (at most one negative value); sentinel False."""
        goal = np.ones(self.n_tuples + 1, dtype=bool)
        goal[-1] = False
        if not self.negative.any():
            return goal
        dims, values, real = self.decode(np.arange(self.n_tuples))
        n_negative = (self.negative[dims, values] & real).sum(-1)
        goal[:-1] = n_negative <= 1
        return goal


def build_space(
    levels: Sequence[int],
    strength: int,
    groups: Sequence[tuple[Sequence[int], int]],
    negative: np.ndarray,
) -> TupleSpace:
    """Index every t-combination of dimensions plus every group combination (duplicates once)."""
    n_dims = len(levels)
    combos = dict.fromkeys(itertools.combinations(range(n_dims), strength))
    for group_dims, group_strength in groups:
        combos.update(dict.fromkeys(itertools.combinations(sorted(group_dims), group_strength)))
    t_max = max(len(c) for c in combos)
    dims = np.zeros((len(combos) + 1, t_max), dtype=np.int64)
    real = np.zeros_like(dims, dtype=bool)
    for row, combo in enumerate(combos):
        dims[row, : len(combo)] = combo
        real[row, : len(combo)] = True
    level_arr = np.asarray(levels, dtype=np.int64)
    sizes_per_pos = np.where(real, level_arr[dims], 1)
    # mults[:, j] = product of the levels after position j (mixed radix, last position fastest).
    suffix = np.cumprod(sizes_per_pos[:, ::-1], axis=1)[:, ::-1]
    mults = np.where(real, np.concatenate([suffix[:, 1:], np.ones((len(dims), 1), np.int64)], 1), 0)
    sizes = np.where(real.any(1), suffix[:, 0], 0)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)[:-1]
    inter_of, pos_of = np.nonzero(real)
    dim_of = dims[inter_of, pos_of]
    order = np.argsort(dim_of, kind="stable")
    per_dim = np.split(inter_of[order], np.searchsorted(dim_of[order], np.arange(1, n_dims)))
    dummy = len(combos)
    by_dim = np.full((n_dims, max(len(p) for p in per_dim)), dummy, dtype=np.int64)
    for dim, members in enumerate(per_dim):
        by_dim[dim, : len(members)] = members
    arrays = (level_arr, negative, dims, mults, offsets, by_dim)
    for array in arrays:
        array.flags.writeable = False
    search_order = tuple(
        tuple(np.argsort(negative[d, : levels[d]], kind="stable").tolist()) for d in range(n_dims)
    )
    return TupleSpace(*arrays, search_order)


def complete_row(
    partial: Mapping[int, int], space: TupleSpace, allowed: Allowed | None
) -> tuple[int, ...] | None:
    """The first valid full row extending `partial` (depth-first, pruned by `allowed`), else None."""
    negative = space.negative
    assignment = dict(partial)
    view = MappingProxyType(assignment)
    n_negative = sum(bool(negative[d, v]) for d, v in assignment.items())
    if n_negative > 1 or (allowed is not None and allowed(view) is False):
        return None
    free = [d for d in range(space.n_dims) if d not in assignment]
    # forced[pos]: dimensions from `pos` on with only negative values; each spends the row's negative.
    forced = [0] * (len(free) + 1)
    for pos in reversed(range(len(free))):
        dim = free[pos]
        forced[pos] = forced[pos + 1] + bool(negative[dim, : space.levels[dim]].all())
    tried = [0] * (len(free) + 1)  # per depth: how many values of its dimension were tried
    used = [n_negative] * (len(free) + 1)  # per depth: negatives in the assignment so far
    pos = 0
    while pos >= 0:  # iterative depth-first search, so hundreds of dimensions do not hit the stack
        if pos == len(free):
            return tuple(assignment[d] for d in range(space.n_dims))
        dim, options = free[pos], space.search_order[free[pos]]
        if used[pos] + forced[pos] > 1:
            tried[pos] = len(options)
        while tried[pos] < len(options):
            value = options[tried[pos]]
            tried[pos] += 1
            is_negative = int(negative[dim, value])
            if used[pos] + is_negative > 1:
                continue
            assignment[dim] = value
            if allowed is None or allowed(view) is not False:
                used[pos + 1], tried[pos + 1] = used[pos] + is_negative, 0
                break
            del assignment[dim]
        if dim in assignment:
            pos += 1
        else:
            pos -= 1
            if pos >= 0:
                del assignment[free[pos]]
    return None
