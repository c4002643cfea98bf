"""Selection: exactly `size` rows from the survivors, balanced per strategy and per cell (pure)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from compiler.plan.cases import Plan
from compiler.plan.space import Cell, cell_label
from compiler.screen.dedupe import Candidate


@dataclass(frozen=True)
class Shortfall:
    strategy: str
    cell: str  # human label, e.g. "intent=refund, difficulty=hard"
    wanted: int
    got: int


@dataclass(frozen=True)
class Selection:
    rows: tuple[Candidate, ...]
    per_strategy: tuple[tuple[str, int, int], ...]  # (strategy, target, selected)
    short: tuple[Shortfall, ...]  # (strategy, cell) pairs that got fewer rows than planned
    missing: int  # size - selected (0 unless too few rows survived)


def _balanced_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Round-robin over cells: every cell's first sample, then every cell's second, ... (plan order within)."""
    rank: Counter[Cell] = Counter()
    keyed = []
    for candidate in candidates:
        assert candidate.case is not None
        cell = candidate.case.cell
        keyed.append((rank[cell], candidate.case.round, candidate.case.index, candidate))
        rank[cell] += 1
    keyed.sort(key=lambda item: item[:3])
    return [item[3] for item in keyed]


def select_rows(plan: Plan, survivors: Sequence[Candidate]) -> Selection:
    """Pick `size` rows: each strategy up to its target, then the others borrow what a strategy lacks."""
    size = plan.spec.size
    chosen: list[Candidate] = []
    by_strategy: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in survivors:
        if candidate.case is not None:
            by_strategy[candidate.case.strategy].append(candidate)
    quotas = dict(plan.targets)
    leftovers: list[Candidate] = []
    per_strategy = []
    for strategy, quota in quotas.items():
        ordered = _balanced_order(by_strategy.get(strategy, []))
        chosen.extend(ordered[:quota])
        leftovers.extend(ordered[quota:])
        per_strategy.append((strategy, quota, min(quota, len(ordered))))
    # strategies that fell short lend their room to the others, in balanced order
    if len(chosen) < size and leftovers:
        chosen.extend(_balanced_order(leftovers)[: size - len(chosen)])
    return Selection(
        tuple(chosen), tuple(per_strategy), _shortfalls(plan, chosen), max(0, size - len(chosen))
    )


def _shortfalls(plan: Plan, chosen: Sequence[Candidate]) -> tuple[Shortfall, ...]:
    wanted: Counter[tuple[str, Cell]] = Counter((c.strategy, c.cell) for c in plan.cases if c.primary)
    got: Counter[tuple[str, Cell]] = Counter(
        (c.case.strategy, c.case.cell) for c in chosen if c.case is not None
    )
    short = [
        Shortfall(strategy, cell_label(cell), n, got[(strategy, cell)])
        for (strategy, cell), n in wanted.items()
        if got[(strategy, cell)] < n
    ]
    return tuple(sorted(short, key=lambda s: (s.strategy, s.cell)))
