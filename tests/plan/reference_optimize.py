"""Reference for tests/plan/test_covering_kernel.py: optimize.py as of ed1552b, before the speed-up.

Do not edit: the covering kernel must keep producing this implementation's arrays byte for byte.
Its original docstring follows.

The move is the one of TCA (Lin et al., "TCA: an efficient two-mode meta-heuristic algorithm for
combinatorial test generation", ASE 2015): pick an uncovered tuple and write it into the row where that
costs least (newly covered minus newly lost tuples), scored for all rows at once with numpy. Recently
changed cells are tabu. All budgets count iterations, never seconds, so results depend on the seed only.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from compiler.plan.covering.space import Allowed, TupleSpace

TABU_TENURE = 2  # steps a changed cell stays frozen; 1 cycles, 8 freezes too much (bench/coverage.py)
MAX_CONSTRAINT_CHECKS = 8  # rows tried per move when `allowed` rejects the best ones
# The search budget is in cost units of about a microsecond each on the 2-core dev machine: a step costs
# a fixed overhead, plus a share per (row x interaction it touches x tuple position), plus a share per
# tuple for the scan of uncovered tuples. About 0.7 s per array, whatever its shape; the bench cases
# lose at most a row against a budget three times larger.
SEARCH_COST = 700_000
STEP_COST_FIXED, STEP_COST_PER_CELL, STEP_COST_PER_TUPLE = 50.0, 0.004, 0.0025
MAX_SEARCH_STEPS = 40_000
PHASE_STEPS_PER_TUPLE = 20  # steps allowed to repair one row deletion, per goal tuple


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
        self.counts = np.bincount(self.ids.ravel(), minlength=space.n_tuples + 1)
        self.uncovered = goal & (self.counts == 0)  # goal tuples no row covers
        self.unique = goal & (self.counts == 1)  # goal tuples exactly one row covers
        self.n_uncovered = int(self.uncovered.sum())
        self.n_negative = space.negative[np.arange(space.n_dims), self.rows].sum(-1)
        self.tabu = np.zeros(rows.shape, dtype=np.int64)  # step until which a cell may not change
        self._touched: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _recount(self, ids: np.ndarray, change: int) -> None:
        self.counts[ids] += change
        self.uncovered[ids] = self.goal[ids] & (self.counts[ids] == 0)
        self.unique[ids] = self.goal[ids] & (self.counts[ids] == 1)

    def remove_row(self) -> None:
        """Drop the removable row that alone covers the fewest goal tuples."""
        alone = self.unique[self.ids].sum(1)
        score = np.where(self.removable, alone + self.rng.random(len(alone)) * 0.5, np.inf)
        row = int(np.argmin(score))
        self._recount(self.ids[row], -1)
        self.n_uncovered += int(alone[row])
        keep = np.arange(len(self.rows)) != row
        self.rows, self.ids, self.fixed = self.rows[keep], self.ids[keep], self.fixed[keep]
        self.removable, self.n_negative = self.removable[keep], self.n_negative[keep]
        self.tabu = self.tabu[keep]

    def cover(self, tuple_id: int, step: int, best_uncovered: int) -> None:
        """Write the tuple into the row where it costs least (a tabu cell only if that sets a record)."""
        dims, values, real = self.space.decode(np.array([tuple_id]))
        dims, values = dims[0][real[0]], values[0][real[0]]
        inter, digit_mults = self._interactions_touching(tuple_id, dims)
        old_values = self.rows[:, dims]
        shift = (values - old_values) @ digit_mults  # (rows, touched); mixed radix: 0 iff unchanged
        old_ids = self.ids[:, inter]
        new_ids = old_ids + shift
        delta = self.uncovered[new_ids].sum(1) - (self.unique[old_ids] & (shift != 0)).sum(1)
        moved = old_values != values
        negative = self.space.negative
        n_negative = self.n_negative - negative[dims, old_values].sum(1) + negative[dims, values].sum()
        ok = ~(self.fixed[:, dims] & moved).any(1) & (n_negative <= 1)
        tabu = ((self.tabu[:, dims] > step) & moved).any(1)
        ok &= ~tabu | (self.n_uncovered - delta < best_uncovered)
        score = np.where(ok, delta + self.rng.random(len(delta)) * 0.5, -np.inf)
        row = self._pick_row(score, dims, values)
        if row is None:
            return
        changed = shift[row] != 0
        self._recount(old_ids[row, changed], -1)
        self._recount(new_ids[row, changed], +1)
        self.n_uncovered -= int(delta[row])
        self.ids[row, inter] = new_ids[row]
        self.rows[row, dims] = values
        self.n_negative[row] = n_negative[row]
        self.tabu[row, dims[moved[row]]] = step + TABU_TENURE

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

    def _interactions_touching(self, tuple_id: int, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interactions holding any of the tuple's dimensions, and each dimension's radix in them."""
        key = int(np.searchsorted(self.space.offsets, tuple_id, side="right")) - 1
        if key not in self._touched:
            inter = np.unique(self.space.by_dim[dims].ravel())
            inter = inter[inter < self.space.n_inter]
            is_dim = self.space.dims[inter][None, :, :] == dims[:, None, None]
            digit_mults = (self.space.mults[inter][None] * is_dim).sum(-1)  # (tuple dims, touched)
            self._touched[key] = (inter, digit_mults)
        return self._touched[key]

    def is_free(self, row: int, dim: int) -> bool:
        """True when no goal tuple through this cell depends on this row alone."""
        inter = self.space.by_dim[dim]
        return not self.unique[self.ids[row, inter[inter < self.space.n_inter]]].any()

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
        self.n_uncovered += int(self.unique[old_ids].sum()) - int(self.uncovered[new_ids].sum())
        self._recount(old_ids, -1)
        self._recount(new_ids, +1)
        self.ids[row, inter] = new_ids
        self.rows[row] = candidate
        self.n_negative[row] += int(negative[dim, value]) - int(negative[dim, old])
        return True

    def random_uncovered(self) -> int:
        uncovered = np.flatnonzero(self.uncovered)
        return int(uncovered[self.rng.integers(len(uncovered))])


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
    touched = len(np.unique(space.by_dim[first]))
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
