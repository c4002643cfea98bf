"""Pure planning: spec -> the list of case specs to generate (strategy, variant, cell, slot, seed)."""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import xxhash

from compiler.core.cells import Cell
from compiler.plan.space import CellPlan, cell_weight, count_tuples, plan_cells, unit_hash
from compiler.spec.constraints import has_satisfying_cell
from compiler.spec.model import Spec, Strategy


@dataclass(frozen=True)
class CaseSpec:
    index: int  # plan order
    strategy: str
    variant: str | None  # persona id, tactic id, or None
    cell: Cell
    slot: int  # nth sample of this (strategy, variant, cell): overgeneration asks for distinct samples
    seed: int
    primary: bool  # counts towards the target; False for overgeneration extras
    round: int = 0  # 0 for the first pass, n for the nth top-up round


@dataclass(frozen=True)
class Plan:
    spec: Spec
    cells: CellPlan
    targets: tuple[tuple[str, int], ...]  # rows wanted per strategy in the final dataset
    cases: tuple[CaseSpec, ...]

    def target(self, strategy: str) -> int:
        return dict(self.targets)[strategy]

    def covered_tuples(self) -> int:
        """Required tuples that the primary cases cover (what the final dataset covers if each survives)."""
        return self._covered_tuples

    @functools.cached_property
    def _covered_tuples(self) -> int:  # `dsc plan` asks three times; on 2^100 cells each count is 0.06 s
        cells = (c.cell for c in self.cases if c.primary)
        return len(count_tuples(cells, self.cells.strength, self.spec.coverage.groups))

    def ruled_out_warning(self) -> str | None:
        """A warning naming dimension values the constraints leave no cell for: declared with a weight, yet no
        case can ever carry them (most often two constraints that contradict each other)."""
        seen = {pair for cell in self.cells.array for pair in cell}
        out = [
            (d, v)
            for d in self.spec.dimensions
            for v in d.values
            if v.weight > 0 and (d.name, v.name) not in seen and not _feasible(self.spec, d.name, v.name)
        ]
        if not out:
            return None
        named = ", ".join(f"{d.name}={v.name}" for d, v in out)
        dims = {d.name for d, _ in out}
        which = [
            f"constraints[{i}]"
            for i, c in enumerate(self.spec.constraints)
            if any(compare.dim in dims for compare in c.comparisons())
        ]
        return (
            f"the constraints leave no cell for {named}: no case will carry "
            f"{'it' if len(out) == 1 else 'them'}; check {', '.join(which) or 'the constraints'}, or drop the value"
        )

    def coverage_warning(
        self, fixed: int = 0, size_for: Callable[[int], int | None] | None = None
    ) -> str | None:
        """A warning when `size` is too small for every required tuple to reach the dataset. `fixed` curated
        and production rows took part of the user's size (this plan's size is the synthetic rest), and
        `size_for(n)` is the size that leaves n synthetic rows."""
        missing = self.cells.required_tuples - self.covered_tuples()
        if missing <= 0 or self.spec.size == 0:  # no synthetic rows planned: curated rows fill the dataset
            return None
        enough = size_that_covers(self.spec)
        fix = f"size={enough} covers them all" if enough else "raise the weight of the adversarial strategy"
        why = f"the covering array has {self.cells.array_rows} rows"
        negative = [s.name for s in self.spec.strategies if s.negative]
        if enough and enough > self.cells.array_rows and negative and self.cells.negative:
            share = sum(s.weight for s in self.spec.strategies if s.negative) / sum(
                s.weight for s in self.spec.strategies
            )
            why += (
                f"; its {len(self.cells.negative)} rows with a negative value go only to {', '.join(negative)}, "
                f"{share:.0%} of size"
            )
        if fixed and enough:  # the user's size holds the rows that join as they are: say the size to write
            total = size_for(enough) if size_for is not None else None
            fix = f"size={total} covers them all" if total else "lower the curated and production quotas"
            return (
                f"size {self.spec.size + fixed} leaves {missing} of {self.cells.required_tuples} required "
                f"{self.cells.strength}-wise tuples uncovered: {fixed} of its rows are curated and production "
                f"rows, and its {self.spec.size} synthetic rows need {enough}; {fix} ({why})"
            )
        return (
            f"size {self.spec.size} leaves {missing} of {self.cells.required_tuples} required "
            f"{self.cells.strength}-wise tuples uncovered; {fix} ({why})"
        )


def _feasible(spec: Spec, dim: str, value: str) -> bool:
    """Whether some cell holding dim=value (and positive values elsewhere) satisfies every constraint."""
    choices = [
        (d.name, [value] if d.name == dim else [v.name for v in d.values if not v.negative and v.weight > 0])
        for d in spec.dimensions
    ]
    return has_satisfying_cell(choices, spec.constraints)


def split_by_weight(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder apportionment: integer counts summing to `total`, proportional to weights."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    quotas = [total * w / weight_sum for w in weights]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def case_seed(spec: Spec, strategy: str, variant: str | None, cell: Cell, slot: int) -> int:
    text = f"{spec.seed}\x1f{strategy}\x1f{variant}\x1f{cell}\x1f{slot}"
    return xxhash.xxh3_64_intdigest(text.encode()) & 0x7FFF_FFFF


def strategy_variants(spec: Spec, strategy: Strategy) -> list[str | None]:
    """The balanced, seeded rotation of personas or tactics for a strategy."""
    if strategy.name == "persona":
        ids = [p.id for p in spec.personas]
    elif strategy.name == "adversarial":
        ids = [t.id for t in spec.tactics]
    else:
        return [None]
    return sorted(ids, key=lambda i: unit_hash(spec.seed, strategy.name, i))


def _assign_cells(spec: Spec, cells: Sequence[Cell], count: int) -> list[Cell]:
    """`count` cells: each cell once in order, then the rest by cell weight."""
    if not cells or count <= 0:
        return []
    rotated = list(cells)
    if count <= len(rotated):
        return rotated[:count]
    extra = split_by_weight(count - len(rotated), [cell_weight(spec, c) for c in rotated])
    assigned = list(rotated)
    for cell, n in zip(rotated, extra, strict=True):
        assigned.extend([cell] * n)
    return assigned


def expand_strategy(
    spec: Spec, strategy: Strategy, cells: Sequence[Cell], target: int, planned: int
) -> list[tuple[str | None, Cell, bool]]:
    """(variant, cell, primary) for one strategy: `target` primary cases, then extras up to `planned`."""
    assigned = _assign_cells(spec, cells, target)
    variants = strategy_variants(spec, strategy)
    primary = [(variants[i % len(variants)], cell, True) for i, cell in enumerate(assigned)]
    extras = [(v, c, False) for v, c, _ in itertools.islice(itertools.cycle(primary), planned - target)]
    return primary + extras if primary else []


def plan_cases(spec: Spec) -> Plan:
    """The whole plan: strategy targets by weight (largest remainder), cells, variants and slots."""
    targets = split_by_weight(spec.size, [s.weight for s in spec.strategies])
    planned = [math.ceil(t * spec.overgenerate) for t in targets]
    cell_plan = plan_cells(spec, spec.size)
    slots: Counter[tuple[str, str | None, Cell]] = Counter()
    cases: list[CaseSpec] = []
    offset = 0
    for strategy, target, n_planned in zip(spec.strategies, targets, planned, strict=True):
        cells = cell_plan.for_strategy(strategy.negative, offset)
        for variant, cell, primary in expand_strategy(spec, strategy, cells, target, n_planned):
            key = (strategy.name, variant, cell)
            slot = slots[key]
            slots[key] += 1
            seed = case_seed(spec, strategy.name, variant, cell, slot)
            cases.append(CaseSpec(len(cases), strategy.name, variant, cell, slot, seed, primary))
        offset += target - (min(target, len(cell_plan.negative)) if strategy.negative else 0)
    return Plan(
        spec,
        cell_plan,
        tuple((s.name, t) for s, t in zip(spec.strategies, targets, strict=True)),
        tuple(cases),
    )


def size_that_covers(spec: Spec, limit: int = 100_000) -> int | None:
    """The smallest size above `spec.size` whose plan covers every required tuple (doubling, then bisection)."""
    from dataclasses import replace

    def covers(size: int) -> bool:
        plan = plan_cases(replace(spec, size=size))
        return plan.covered_tuples() >= plan.cells.required_tuples

    low, high = max(spec.size, 1), max(spec.size, 1) * 2
    while not covers(high):
        low, high = high, high * 2
        if high > limit:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if covers(middle) else (middle, high)
    return high


def plan_top_up(
    plan: Plan,
    short: Sequence[tuple[str, str | None, Cell, int]],
    round_no: int,
    start_slots: Counter[tuple[str, str | None, Cell]],
) -> list[CaseSpec]:
    """New samples (fresh slots) for the (strategy, variant, cell) triples that fell short."""
    cases: list[CaseSpec] = []
    index = len(plan.cases) + round_no * 1_000_000
    for strategy, variant, cell, missing in short:
        for _ in range(missing):
            key = (strategy, variant, cell)
            slot = start_slots[key]
            start_slots[key] += 1
            seed = case_seed(plan.spec, strategy, variant, cell, slot)
            cases.append(CaseSpec(index, strategy, variant, cell, slot, seed, primary=False, round=round_no))
            index += 1
    return cases
