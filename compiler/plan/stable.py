"""Stable plans: a config change keeps what it can of the parent version's plan (pure, no I/O).

The parent's covering array seeds the new one (PICT's seeding rows), so the array only grows rows for
tuples the seeds leave uncovered. Every parent case whose strategy, variant and cell still exist keeps its
slot, so its prompt, its journalled answer, its row id and its review decision carry over. New cases are
planned only for the new array rows and for room the parent did not have. With an unchanged config the
seeded plan is the parent's plan, case for case.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from compiler.core.cells import Cell
from compiler.plan.cases import CaseSpec, Plan, case_seed, plan_cases, split_by_weight, strategy_variants
from compiler.plan.space import negatives_in, plan_cells, seed_cell
from compiler.spec.model import Spec, Strategy


@dataclass(frozen=True)
class SeedCase:
    strategy: str
    variant: str | None
    cell: Cell
    slot: int
    primary: bool


@dataclass(frozen=True)
class PlanSeed:
    """What a version records of its plan: the covering array and the first-round cases."""

    array: tuple[Cell, ...]
    cases: tuple[SeedCase, ...]


def plan_stable(spec: Spec, seed: PlanSeed | None) -> Plan:
    """The plan for `spec`, keeping what it can of `seed` (the parent's plan); `plan_cases` without one."""
    if seed is None or not seed.cases:
        return plan_cases(spec)
    seeds = [c for c in (seed_cell(spec, cell) for cell in seed.array) if c is not None]
    cells = plan_cells(spec, spec.size, seeds)
    seeded = set(seeds)
    new_rows = [c for c in cells.array if c not in seeded]
    targets = split_by_weight(spec.size, [s.weight for s in spec.strategies])
    planned = [math.ceil(t * spec.overgenerate) for t in targets]
    # cells beyond the array are weighted draws: a kept case drawn from the old weights stays only while
    # the new weights still draw its cell, so a weight change moves the mix (and only that much)
    draws = _weighted_draws(spec)
    kept = {
        s.name: _keep_drawn(spec, _surviving(spec, s, seed.cases), seeded, draws[s.name])
        for s in spec.strategies
    }
    # new rows displace kept cases only in proportion to their share of the array: when `size` is below
    # the array's rows, the parent did not cover every tuple either, and the new tuples get a fair share
    room = sum(
        max(0, t - sum(c.primary for c in kept[s.name]))
        for s, t in zip(spec.strategies, targets, strict=True)
    )
    fair = round(spec.size * len(new_rows) / len(cells.array)) if cells.array else 0
    new_rows = new_rows[: max(room, fair)]
    assigned = _assign_new_rows(spec.strategies, targets, kept, new_rows)
    used_array = {c.cell for cases in kept.values() for c in cases if c.primary} | set(new_rows)
    fresh = [c for c in cells.array if c not in used_array]
    cases: list[CaseSpec] = []
    offset = 0
    for strategy, target, n_planned in zip(spec.strategies, targets, planned, strict=True):
        primary = _primaries(spec, strategy, kept[strategy.name], assigned[strategy.name], target, seeded)
        need = target - len(primary)
        if need > 0:
            pool = [c for c in fresh if strategy.negative or negatives_in(c) == 0]
            taken = pool[:need]
            fresh = [c for c in fresh if c not in taken]
            taken += draws[strategy.name][: need - len(taken)]
            extra = cells.extra_any if strategy.negative else cells.extra_positive
            taken += _rotate(extra, offset)[: need - len(taken)]
            primary += _with_variants(spec, strategy, primary, taken)
        offset += target
        extras = [c for c in kept[strategy.name] if not c.primary][: max(0, n_planned - target)]
        extras += _more_extras(primary, extras, n_planned - target - len(extras))
        cases.extend(_numbered(spec, strategy.name, primary, extras, len(cases)))
    return Plan(
        spec, cells, tuple((s.name, t) for s, t in zip(spec.strategies, targets, strict=True)), tuple(cases)
    )


def _surviving(spec: Spec, strategy: Strategy, cases: Sequence[SeedCase]) -> list[SeedCase]:
    """The parent's cases of this strategy whose variant and cell the space still holds, in plan order."""
    variants = set(strategy_variants(spec, strategy))
    kept = []
    for case in cases:
        if case.strategy != strategy.name or case.variant not in variants:
            continue
        cell = seed_cell(spec, case.cell)
        if cell is not None and (strategy.negative or negatives_in(cell) == 0):
            kept.append(SeedCase(case.strategy, case.variant, cell, case.slot, case.primary))
    return kept


def _weighted_draws(spec: Spec) -> dict[str, list[Cell]]:
    """Per strategy, the cells a plan from scratch gives it beyond the covering array, in plan order."""
    fresh = plan_cases(spec)
    array = set(fresh.cells.array)
    draws: dict[str, list[Cell]] = {s.name: [] for s in spec.strategies}
    for case in fresh.cases:
        if case.primary and case.cell not in array:
            draws[case.strategy].append(case.cell)
    return draws


def _expected_pairs(spec: Spec, draws: int) -> dict[tuple[str, str], int]:
    """How many of `draws` weighted draws hold each positive value, rounded up: what the weights ask for."""
    expected = {}
    for dim in spec.dimensions:
        values = [v for v in dim.values if v.weight > 0 and not v.negative]
        total = sum(v.weight for v in values)
        for v in values:
            expected[(dim.name, v.name)] = math.ceil(draws * v.weight / total) if total else 0
    return expected


def _keep_drawn(spec: Spec, kept: list[SeedCase], seeded: set[Cell], draws: list[Cell]) -> list[SeedCase]:
    """Kept cases minus primaries on drawn cells whose values the new weights draw less often (each value
    keeps as many drawn cases as a plan from scratch draws, plus one); `draws` is left holding the drawn
    cells still to plan, the values under their quota first."""
    quota = Counter(pair for cell in draws for pair in cell)
    for pair, expected in _expected_pairs(spec, len(draws)).items():  # the weights, not one sample's luck
        quota[pair] = max(quota[pair], expected)
    used: Counter[tuple[str, str]] = Counter()
    out = []
    for case in kept:
        if case.primary and case.cell not in seeded:
            if any(used[pair] >= quota[pair] + 1 for pair in case.cell):
                continue
            used.update(case.cell)
        out.append(case)
    left = list(draws)
    for case in out:
        if case.primary and case.cell not in seeded and case.cell in left:
            left.remove(case.cell)
    under = [c for c in left if all(used[pair] < quota[pair] for pair in c)]
    draws[:] = under + [c for c in left if c not in under]
    return out


def _assign_new_rows(
    strategies: Sequence[Strategy],
    targets: Sequence[int],
    kept: dict[str, list[SeedCase]],
    rows: Sequence[Cell],
) -> dict[str, list[Cell]]:
    """New array rows go to the strategy with the most room left (negative rows only to strategies that
    may carry a negative value), so that the new tuples reach the dataset."""
    room = {
        s.name: t - sum(c.primary for c in kept[s.name]) for s, t in zip(strategies, targets, strict=True)
    }
    share = {s.name: t for s, t in zip(strategies, targets, strict=True)}
    assigned: dict[str, list[Cell]] = {s.name: [] for s in strategies}
    for row in rows:
        eligible = [s for s in strategies if share[s.name] > 0 and (s.negative or negatives_in(row) == 0)]
        if not eligible:
            continue
        best = max(eligible, key=lambda s: (room[s.name], share[s.name] - len(assigned[s.name])))
        assigned[best.name].append(row)
        room[best.name] -= 1
    return assigned


def _primaries(
    spec: Spec,
    strategy: Strategy,
    kept: Sequence[SeedCase],
    new_rows: Sequence[Cell],
    target: int,
    seeded: set[Cell],
) -> list[SeedCase]:
    """Kept primary cases, minus the most redundant ones when new rows need their room, plus the new rows."""
    primary = [c for c in kept if c.primary]
    new_rows = list(new_rows)[:target]
    surplus = len(primary) + len(new_rows) - target
    if surplus > 0:
        seen: Counter[Cell] = Counter()
        rank = []
        for position, case in enumerate(primary):
            seen[case.cell] += 1
            # weighted draws first, then repeated samples of a cell, then the latest cases
            rank.append((case.cell in seeded, seen[case.cell] == 1, position))
        drop = {position for *_, position in sorted(rank)[:surplus]}
        primary = [c for i, c in enumerate(primary) if i not in drop]
    return primary + _with_variants(spec, strategy, primary, new_rows)


def _with_variants(
    spec: Spec, strategy: Strategy, primary: Sequence[SeedCase], cells: Sequence[Cell]
) -> list[SeedCase]:
    """New primary cases for `cells`, each with the variant (persona, tactic) used least so far."""
    variants = strategy_variants(spec, strategy)
    used = Counter(c.variant for c in primary)
    cases: list[SeedCase] = []
    for cell in cells:
        variant = min(variants, key=lambda v: (used[v], variants.index(v)))
        used[variant] += 1
        cases.append(SeedCase(strategy.name, variant, cell, -1, True))
    return cases


def _more_extras(primary: Sequence[SeedCase], extras: Sequence[SeedCase], count: int) -> list[SeedCase]:
    """Overgeneration samples: primaries without an extra sample first, then round after round."""
    if count <= 0 or not primary:
        return []
    have = Counter((c.variant, c.cell) for c in extras)
    order = sorted(range(len(primary)), key=lambda i: (have[(primary[i].variant, primary[i].cell)], i))
    more: list[SeedCase] = []
    while len(more) < count:
        for i in order[: count - len(more)]:
            more.append(SeedCase(primary[i].strategy, primary[i].variant, primary[i].cell, -1, False))
    return more


def _numbered(
    spec: Spec, strategy: str, primary: Sequence[SeedCase], extras: Sequence[SeedCase], start: int
) -> list[CaseSpec]:
    """Cases with plan indices; a kept case keeps its slot, a new one takes the lowest slot still free."""
    taken: dict[tuple[str | None, Cell], set[int]] = {}
    for case in [*primary, *extras]:
        if case.slot >= 0:
            taken.setdefault((case.variant, case.cell), set()).add(case.slot)
    cases: list[CaseSpec] = []
    for case in [*primary, *extras]:
        slot = case.slot
        if slot < 0:
            used = taken.setdefault((case.variant, case.cell), set())
            slot = next(n for n in range(len(used) + 1) if n not in used)
            used.add(slot)
        seed = case_seed(spec, strategy, case.variant, case.cell, slot)
        cases.append(
            CaseSpec(start + len(cases), strategy, case.variant, case.cell, slot, seed, case.primary)
        )
    return cases


def _rotate(cells: Sequence[Cell], offset: int) -> list[Cell]:
    shift = offset % len(cells) if cells else 0
    return list(cells[shift:]) + list(cells[:shift])


def seed_of(plan: Plan) -> PlanSeed:
    """What a version records of its plan, to seed the next one."""
    return PlanSeed(
        tuple(plan.cells.array),
        tuple(SeedCase(c.strategy, c.variant, c.cell, c.slot, c.primary) for c in plan.cases if c.round == 0),
    )
