"""Shrink a covering array: drop a row, then repair by local search until every goal tuple is back.

The move is the one of TCA (Lin et al., "TCA: an efficient two-mode meta-heuristic algorithm for
combinatorial test generation", ASE 2015): pick an uncovered tuple and write it into the row where that
costs least (newly covered minus newly lost tuples), scored for all rows at once with numpy. Recently
changed cells are tabu. All budgets count iterations, never seconds, so results depend on the seed only.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from compiler.plan.covering.space import Allowed, TupleSpace

TABU_TENURE = 2  # steps a changed cell stays frozen; 1 cycles, 8 freezes too much (bench/coverage.py)
MAX_CONSTRAINT_CHECKS = 8  # rows tried per move when `allowed` rejects the best ones
# The search budget is in cost units of about a microsecond each on the 2-core dev machine: a step costs
# a fixed overhead, plus a share per (row x interaction it touches x tuple position), plus a share per
# tuple for the scan of uncovered tuples. About 0.35 s per array, whatever its shape: twice that found
# the same sizes for 3^4, 3^13, 4^15, 5^10, 2^100 and 4^8 (t=3), two rows fewer for 10^20 (186, not 188)
# and one for 3^10 t=3 (54, not 55); a cold `dsc plan` of a 2^100 space spent 0.4 s of its 1.1 s here.
SEARCH_COST = 350_000
STEP_COST_FIXED, STEP_COST_PER_CELL, STEP_COST_PER_TUPLE = 50.0, 0.004, 0.0025
MAX_SEARCH_STEPS = 40_000
PHASE_STEPS_PER_TUPLE = 20  # steps allowed to repair one row deletion, per goal tuple


class _TupleMove(NamedTuple):
    """A goal tuple as `cover` writes it: its cells, the interactions they touch, its negatives."""

    dims: np.ndarray
    values: np.ndarray
    inter: np.ndarray
    digit_mults: np.ndarray
    n_negative: int


class RowSearch:
    """Rows, their tuple ids and how often each tuple is covered, kept consistent under moves."""

    def __init__(
        self,
        space: TupleSpace,
        goal: np.ndarray,
        rows: np.ndarray,
        fixed: np.ndarray,
        n_included: int,
        allowed: Allowed | None,
        rng: np.random.Generator,
    ) -> None:
        self.space, self.goal, self.allowed, self.rng = space, goal, allowed, rng
        self.rows = rows.copy()
        self.fixed = fixed.copy()  # (n_rows, n_dims) cells an include row pins
        self.removable = np.arange(len(rows)) >= n_included
        self.ids = space.ids_of(self.rows)
        # Rows covering each tuple, plus 2 for tuples outside the goal: 0 marks a goal tuple no row covers,
        # 1 one that exactly one row covers. A move then updates one array, not three.
        self.level = np.bincount(self.ids.ravel(), minlength=space.n_tuples + 1).astype(np.int32)
        self.level[~goal] += 2
        self.n_uncovered = int(np.count_nonzero(self.level == 0))
        # The uncovered goal tuples in id order, kept up to date by `cover` (a scan of every tuple's level
        # per step was a fifth of the search on a 100-dimension space); None: rebuild on the next read.
        self._uncovered: list[int] | None = None
        self.n_negative = space.negative[np.arange(space.n_dims), self.rows].sum(-1)
        self.tabu = np.zeros(rows.shape, dtype=np.int64)  # step until which a cell may not change
        self._touched: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._tuples: dict[int, _TupleMove] = {}  # per goal tuple: what `cover` needs, decoded once
        # Without negatives every row holds none, and without include rows no cell is pinned: `cover`
        # then skips those checks (they would always pass), which leaves its choices unchanged.
        self.has_negative, self.has_fixed = bool(space.negative.any()), bool(self.fixed.any())

    def remove_row(self) -> None:
        """Drop the removable row that alone covers the fewest goal tuples."""
        alone = (self.level[self.ids] == 1).sum(1)
        score = np.where(self.removable, alone + self.rng.random(len(alone)) * 0.5, np.inf)
        row = int(np.argmin(score))
        self.level[self.ids[row]] -= 1
        self.n_uncovered += int(alone[row])
        keep = np.arange(len(self.rows)) != row
        self.rows, self.ids, self.fixed = self.rows[keep], self.ids[keep], self.fixed[keep]
        self.removable, self.n_negative = self.removable[keep], self.n_negative[keep]
        self.tabu = self.tabu[keep]
        self._uncovered = None

    def cover(self, tuple_id: int, step: int, best_uncovered: int) -> None:
        """Write the tuple into the row where it costs least (a tabu cell only if that sets a record)."""
        move = self._tuples.get(tuple_id)
        if move is None:
            move = self._tuples[tuple_id] = self._tuple_move(tuple_id)
        dims, values, inter, digit_mults = move.dims, move.values, move.inter, move.digit_mults
        old_values = self.rows.take(dims, 1)
        moved = old_values != values
        shift = (values - old_values) @ digit_mults  # (rows, touched); mixed radix: 0 iff unchanged
        changes = shift != 0
        old_ids = self.ids.take(inter, 1)  # take and sum(dtype=) are the fast forms of [:, inter] and sum
        new_ids = old_ids + shift
        level = self.level
        anew = level.take(new_ids) == 0
        covered_anew = anew.sum(1, dtype=np.int64)
        delta = covered_anew - ((level.take(old_ids) == 1) & changes).sum(1, dtype=np.int64)
        tabu = ((self.tabu.take(dims, 1) > step) & moved).any(1)
        ok = ~tabu | (delta > self.n_uncovered - best_uncovered)  # a tabu move only if it sets a record
        if self.has_negative:
            negative = self.space.negative
            n_negative = self.n_negative - negative[dims, old_values].sum(1) + move.n_negative
            ok &= n_negative <= 1
        if self.has_fixed:
            ok &= ~(self.fixed[:, dims] & moved).any(1)
        score = np.where(ok, delta + self.rng.random(len(delta)) * 0.5, -np.inf)
        row = self._pick_row(score, dims, values)
        if row is None:
            return
        # Distinct ids (one per interaction); where the row keeps its tuple, old == new and the two cancel.
        row_old, row_new = old_ids[row], new_ids[row]
        now_covered = row_new[anew[row]].tolist()
        level[row_old] -= 1
        level[row_new] += 1
        if self._uncovered is not None:
            self._track(now_covered, row_old[level.take(row_old) == 0].tolist())
        self.n_uncovered -= int(delta[row])
        self.ids[row, inter] = new_ids[row]
        self.rows[row, dims] = values
        if self.has_negative:
            self.n_negative[row] = n_negative[row]
        self.tabu[row, dims[moved[row]]] = step + TABU_TENURE

    def _track(self, now_covered: list[int], now_uncovered: list[int]) -> None:
        """Keep the sorted list of uncovered tuples in step with one move."""
        uncovered = self._uncovered
        assert uncovered is not None
        for tuple_id in now_covered:
            del uncovered[bisect_left(uncovered, tuple_id)]
        for tuple_id in now_uncovered:
            insort(uncovered, tuple_id)

    def _tuple_move(self, tuple_id: int) -> _TupleMove:
        # Decoded with scalars: `space.decode` is vectorised for many ids and costs more for one.
        space = self.space
        key = int(space.offsets.searchsorted(tuple_id, "right")) - 1
        local = tuple_id - int(space.offsets[key])
        cells = [
            (dim, local // mult % int(space.levels[dim]))
            for dim, mult in zip(space.dims[key].tolist(), space.mults[key].tolist(), strict=True)
            if mult > 0
        ]
        dims = np.array([d for d, _ in cells], dtype=np.int64)
        values = np.array([v for _, v in cells], dtype=np.int64)
        inter, digit_mults = self._interactions_touching(key, dims)
        n_negative = sum(bool(space.negative[d, v]) for d, v in cells) if self.has_negative else 0
        return _TupleMove(dims, values, inter, digit_mults, n_negative)

    def _pick_row(self, score: np.ndarray, dims: np.ndarray, values: np.ndarray) -> int | None:
        if self.allowed is None:
            row = int(np.argmax(score))
            return row if score[row] > -np.inf else None
        for row in np.argsort(-score, kind="stable")[:MAX_CONSTRAINT_CHECKS].tolist():
            if score[row] == -np.inf:
                break
            candidate = self.rows[row].copy()
            candidate[dims] = values
            if self.allowed(_as_mapping(candidate)) is not False:
                return int(row)
        return None

    def _interactions_touching(self, key: int, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interactions holding any of the tuple's dimensions (interaction `key`'s), and each dimension's
        radix in them."""
        if key not in self._touched:
            space = self.space
            # Sorted distinct interactions without the dummy, as np.unique gives them, but cheaper.
            member = np.zeros(space.n_inter + 1, dtype=bool)
            member[space.by_dim.take(dims, 0)] = True
            inter = member[:-1].nonzero()[0]
            is_dim = space.dims.take(inter, 0) == dims[:, None, None]
            digit_mults = (space.mults.take(inter, 0) * is_dim).sum(-1)  # (tuple dims, touched)
            self._touched[key] = (inter, digit_mults)
        return self._touched[key]

    def is_free(self, row: int, dim: int) -> bool:
        """True when no goal tuple through this cell depends on this row alone."""
        inter = self.space.by_dim[dim]
        return not (self.level[self.ids[row, inter[inter < self.space.n_inter]]] == 1).any()

    def set_cell(self, row: int, dim: int, value: int) -> bool:
        """Change one cell if the row stays valid (True), leaving coverage counts consistent."""
        negative, old = self.space.negative, self.rows[row, dim]
        if self.n_negative[row] - negative[dim, old] + negative[dim, value] > 1:
            return False
        candidate = self.rows[row].copy()
        candidate[dim] = value
        if self.allowed is not None and self.allowed(_as_mapping(candidate)) is False:
            return False
        inter = self.space.by_dim[dim]
        inter = inter[inter < self.space.n_inter]
        shift = (value - old) * (self.space.mults[inter] * (self.space.dims[inter] == dim)).sum(1)
        old_ids, new_ids = self.ids[row, inter], self.ids[row, inter] + shift
        level = self.level
        self.n_uncovered += int((level[old_ids] == 1).sum()) - int((level[new_ids] == 0).sum())
        level[old_ids] -= 1
        level[new_ids] += 1
        self.ids[row, inter] = new_ids
        self.rows[row] = candidate
        self.n_negative[row] += int(negative[dim, value]) - int(negative[dim, old])
        self._uncovered = None
        return True

    def random_uncovered(self) -> int:
        if self._uncovered is None:
            self._uncovered = (self.level == 0).nonzero()[0].tolist()  # flatnonzero without its layers
        uncovered = self._uncovered
        return uncovered[int(self.rng.integers(len(uncovered)))]


def shrink_rows(
    space: TupleSpace,
    goal: np.ndarray,
    rows: np.ndarray,
    fixed: np.ndarray,
    n_included: int,
    allowed: Allowed | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """The smallest complete array found: remove a row, repair, repeat until a repair fails."""
    search = RowSearch(space, goal, rows, fixed, n_included, allowed, rng)
    budget = min(MAX_SEARCH_STEPS, int(SEARCH_COST / _step_cost(space, len(rows))))
    phase_budget = PHASE_STEPS_PER_TUPLE * int(goal.sum())
    # A row holds one tuple per interaction, so no array is shorter than its fullest interaction.
    inter_of_goal = np.searchsorted(space.offsets, np.flatnonzero(goal), side="right") - 1
    lower_bound = max(n_included, int(np.bincount(inter_of_goal).max(initial=1)))
    best = search.rows.copy()
    step = 0
    while step < budget and len(search.rows) > lower_bound and search.removable.any():
        search.remove_row()
        phase_end = min(budget, step + phase_budget)
        best_uncovered = search.n_uncovered
        while search.n_uncovered > 0 and step < phase_end:
            search.cover(search.random_uncovered(), step, best_uncovered)
            best_uncovered = min(best_uncovered, search.n_uncovered)
            step += 1
        if search.n_uncovered > 0:
            break
        best = search.rows.copy()
    return best


def _step_cost(space: TupleSpace, n_rows: int) -> float:
    first = space.dims[0][space.mults[0] > 0]
    # Distinct interactions (the dummy included), as len(np.unique(...)) counts them; np.unique would
    # import numpy.ma, 5-10 ms of a cold `dsc plan`.
    touched = int(np.count_nonzero(np.bincount(space.by_dim[first].ravel())))
    cells = n_rows * touched * len(first)
    return STEP_COST_FIXED + STEP_COST_PER_CELL * cells + STEP_COST_PER_TUPLE * space.n_tuples


def fill_free_cells(
    space: TupleSpace,
    goal: np.ndarray,
    rows: np.ndarray,
    fixed: np.ndarray,
    log_weights: np.ndarray,
    allowed: Allowed | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Redraw, by value weight, every cell whose goal tuples are all covered by another row too."""
    search = RowSearch(space, goal, rows, fixed, len(rows), allowed, rng)
    for row, dim in np.argwhere(~fixed).tolist():
        if search.is_free(row, dim):
            keys = log_weights[dim] + rng.gumbel(size=log_weights.shape[1])
            # Take the first valid value in a weighted random order; the current one is valid.
            for value in np.argsort(-keys, kind="stable").tolist():
                if value == search.rows[row, dim] or search.set_cell(row, dim, value):
                    break
    return search.rows


def _as_mapping(row: np.ndarray) -> MappingProxyType[int, int]:
    return MappingProxyType(dict(enumerate(row.tolist())))
