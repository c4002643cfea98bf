"""Greedy construction: add the best of a batch of candidate rows until every goal tuple is covered.

AETG-style (Cohen et al., "The AETG system", IEEE TSE 1997): each candidate starts from an uncovered
tuple, then fills the other dimensions one by one in random order, each with the value that completes the
most uncovered tuples together with the cells already set (ties broken at random in proportion to value
weight, so cells no tuple needs follow the weights). All candidates of a batch are scored in one numpy
pass per dimension. Under constraints every candidate keeps a witness, a valid full row extending its
partial row, so it never paints itself into a corner; a tuple whose search for a witness fails is
excluded from the goal, which makes exclusion exact and lazy.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from compiler.plan.covering.space import Allowed, TupleSpace, complete_row

# Candidate rows per greedy step: up to 32, fewer when one step scores many (interaction, value) cells.
# The local search makes up for fewer candidates: 8 or 64 end within a row or two of each other.
MAX_CANDIDATES, CANDIDATE_CELLS = 32, 8_000


class GreedyBuilder:
    """Adds one row at a time: the best of a batch of candidates, each grown from an uncovered tuple."""

    def __init__(
        self,
        space: TupleSpace,
        log_weights: np.ndarray,
        allowed: Allowed | None,
        rng: np.random.Generator,
    ) -> None:
        self.space, self.log_weights, self.allowed, self.rng = space, log_weights, allowed, rng
        # Without constraints, and with a positive value in every dimension, any partial row holding at
        # most one negative extends to a valid row, so no search for witnesses is needed.
        all_negative = [space.negative[d, :n].all() for d, n in enumerate(space.levels)]
        self.needs_search = allowed is not None or any(all_negative)
        degree, t_max = space.by_dim.shape[1], space.dims.shape[1]
        self.n_candidates = max(
            4, min(MAX_CANDIDATES, CANDIDATE_CELLS // (degree * log_weights.shape[1] * t_max))
        )
        self._index_partners()
        self.goal = space.goal_mask()
        self.open = self.goal.copy()  # goal tuples no row covers yet
        self.rows: list[np.ndarray] = []
        self.excluded: list[int] = []

    def add_include(self, partial: dict[int, int]) -> bool:
        """Complete an include row greedily and add it; False when no valid completion exists."""
        witness = self._witness(partial)
        if witness is None:
            return False
        self._add(self._grow([partial] * self.n_candidates, [witness] * self.n_candidates))
        return True

    def add_best_row(self) -> bool:
        """Add the best candidate row; False when no goal tuple is left open."""
        starts: list[dict[int, int]] = []
        witnesses: list[tuple[int, ...] | None] = []
        while not starts:
            open_ids = np.flatnonzero(self.open)
            if len(open_ids) == 0:
                return False
            for tuple_id in self.rng.choice(open_ids, min(self.n_candidates, len(open_ids)), replace=False):
                cells = self.space.cells_of(int(tuple_id))
                witness = self._witness(cells)
                if witness is None:
                    self.goal[tuple_id] = self.open[tuple_id] = False
                    self.excluded.append(int(tuple_id))
                    continue
                starts.append(cells)
                witnesses.append(witness)
        self._add(self._grow(starts, witnesses))
        return True

    def _witness(self, partial: dict[int, int]) -> tuple[int, ...] | None:
        """A valid full row extending `partial`; `()` stands for "exists" when no search is needed."""
        if self.needs_search:
            return complete_row(partial, self.space, self.allowed)
        return () if sum(bool(self.space.negative[d, v]) for d, v in partial.items()) <= 1 else None

    def _patch_witness(self, witness: tuple[int, ...], dim: int, value: int) -> tuple[int, ...] | None:
        """The witness with one cell changed, if that is still a valid row (one call, no search)."""
        row = witness[:dim] + (value,) + witness[dim + 1 :]
        negative = self.space.negative
        if negative[dim, value] and any(negative[d, v] for d, v in enumerate(witness) if d != dim):
            return None
        if self.allowed is not None and self.allowed(MappingProxyType(dict(enumerate(row)))) is False:
            return None
        return row

    def _add(self, row: np.ndarray) -> None:
        self.open[self.space.ids_of(row)] = False
        self.rows.append(row)

    def _grow(self, starts: list[dict[int, int]], witnesses: list[tuple[int, ...] | None]) -> np.ndarray:
        """Fill every candidate dimension by dimension (random order), then keep the best candidate."""
        space = self.space
        n_cand, n_dims = len(starts), space.n_dims
        values = np.zeros((n_cand, n_dims), dtype=np.int64)
        assigned = np.zeros((n_cand, n_dims), dtype=bool)
        for cand, start in enumerate(starts):
            values[cand, list(start)] = list(start.values())
            assigned[cand, list(start)] = True
        order = np.argsort(self.rng.random((n_cand, n_dims)) - assigned, axis=1)
        cand_idx = np.arange(n_cand)
        has_negative = np.count_nonzero(space.negative[np.arange(n_dims), values] & assigned, axis=1) > 0
        for step in range(n_dims):
            dim = order[:, step]
            active = ~assigned[cand_idx, dim]
            if not active.any():
                continue
            keys = self._value_keys(values, assigned, has_negative, dim)
            if self.needs_search:
                chosen = self._choose_valid(keys, values, assigned, dim, active, witnesses)
            else:
                chosen = keys.argmax(1)
            values[cand_idx[active], dim[active]] = chosen[active]
            assigned[cand_idx[active], dim[active]] = True
            has_negative |= active & space.negative[dim, chosen]
        gains = self.open[space.ids_of(values)].sum(1)
        return values[int(np.argmax(gains))]

    def _index_partners(self) -> None:
        """Per (dimension, interaction holding it): the other dimensions, their radix, and its own."""
        space = self.space
        inter_dims, inter_mults = space.dims[space.by_dim], space.mults[space.by_dim]
        is_self = (inter_dims == np.arange(space.n_dims)[:, None, None]) & (inter_mults > 0)
        others = np.argsort(is_self, axis=-1, kind="stable")[..., :-1]  # self (if any) sorts last
        self.partner_dims = np.take_along_axis(inter_dims, others, -1)  # (n_dims, degree, t_max - 1)
        self.partner_mults = np.take_along_axis(inter_mults, others, -1)
        self.own_mults = (inter_mults * is_self).sum(-1)  # (n_dims, degree)
        self.base_offsets = space.offsets[space.by_dim]

    def _value_keys(
        self, values: np.ndarray, assigned: np.ndarray, has_negative: np.ndarray, dim: np.ndarray
    ) -> np.ndarray:
        """(candidate, value) -> newly covered tuples, ties broken at random in proportion to weight."""
        n_cand, n_dims = values.shape
        flat = (np.arange(n_cand) * n_dims)[:, None]
        flat_values, flat_assigned = values.ravel(), assigned.ravel()
        base = self.base_offsets.take(dim, 0)  # (cand, degree); take is the fast form of [dim]
        complete = np.ones(base.shape, dtype=bool)
        for pos in range(self.partner_dims.shape[-1]):
            cells = flat + self.partner_dims[dim, :, pos]
            mults = self.partner_mults[dim, :, pos]
            complete &= flat_assigned.take(cells) | (mults == 0)
            base = base + flat_values.take(cells) * mults
        base = np.where(complete, base, self.space.n_tuples)
        own_mults = np.where(complete, self.own_mults.take(dim, 0), 0)
        value_range = np.arange(self.log_weights.shape[1])[None, :, None]
        ids = np.minimum(base[:, None, :] + own_mults[:, None, :] * value_range, self.space.n_tuples)
        gains = self.open.take(ids).sum(-1)  # (cand, value); the contiguous axis sums fastest
        banned = self.space.negative[dim] & has_negative[:, None]
        noise = self.rng.gumbel(size=gains.shape)
        return np.where(banned, -np.inf, gains * 1e4 + self.log_weights[dim] + noise)

    def _choose_valid(
        self,
        keys: np.ndarray,
        values: np.ndarray,
        assigned: np.ndarray,
        dim: np.ndarray,
        active: np.ndarray,
        witnesses: list[tuple[int, ...] | None],
    ) -> np.ndarray:
        """The best value per candidate whose partial row still extends to a valid row."""
        chosen = keys.argmax(1)
        for cand in np.flatnonzero(active).tolist():
            d, witness = int(dim[cand]), witnesses[cand]
            assert witness is not None
            for value in np.argsort(-keys[cand], kind="stable").tolist():
                # The witness's own value always extends (to the witness), so the loop ends there.
                if value == witness[d]:
                    break
                if keys[cand, value] == -np.inf:
                    continue
                found = self._patch_witness(witness, d, value)
                if found is None:
                    partial = {int(k): int(values[cand, k]) for k in np.flatnonzero(assigned[cand])}
                    found = complete_row(partial | {d: value}, self.space, self.allowed)
                if found is not None:
                    witnesses[cand] = found
                    break
            chosen[cand] = value
        return chosen
