"""The test space: dimension values, weights, constraints, negative values, and the cells to plan."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import xxhash

from compiler.core.cells import Cell
from compiler.core.errors import ConfigError
from compiler.plan.arrays import recall_array, remember_array
from compiler.spec.model import Spec


def unit_hash(*parts: object) -> float:
    """A deterministic uniform number in (0, 1) from its parts (xxhash, stable across processes)."""
    digest = xxhash.xxh3_64_intdigest("\x1f".join(map(str, parts)).encode())
    return (digest + 0.5) / 2.0**64


def cell_weight(spec: Spec, cell: Cell) -> float:
    """Product of the value weights of a cell."""
    weight = 1.0
    for dim_name, value in cell:
        found = spec.dimension(dim_name).value(value)
        weight *= found.weight if found else 0.0
    return weight


def negatives_in(cell: Cell) -> int:
    return sum(1 for _, value in cell if value.startswith("~"))


def is_valid(spec: Spec, cell: Cell) -> bool:
    return spec.allows(dict(cell)) is not False and negatives_in(cell) <= 1


@dataclass(frozen=True)
class CellPlan:
    """The cells a plan draws from: the covering array first, then weighted draws for extra rows."""

    array: tuple[Cell, ...]  # the t-wise covering array of the space
    extra_positive: tuple[Cell, ...]  # weighted draws without negative values, for rows beyond the array
    extra_any: tuple[Cell, ...]  # weighted draws with at most one negative value (negative-capable only)
    strength: int
    required_tuples: int
    excluded_tuples: int

    @property
    def array_rows(self) -> int:
        return len(self.array)

    @property
    def positive(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.array if negatives_in(c) == 0)

    @property
    def negative(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.array if negatives_in(c) == 1)

    def for_strategy(self, negative_capable: bool, offset: int = 0) -> tuple[Cell, ...]:
        """The cells a strategy takes in order: the array rows from `offset` on (the strategies before it
        took the ones before: each row is planned once, so the rows beyond the array follow the weights),
        then weighted draws. Negative array rows come first for negative-capable strategies, since only they
        can cover those tuples."""
        positive = self.positive[offset:]
        if negative_capable:
            return self.negative + positive + _rotate(self.extra_any, offset)
        return positive + _rotate(self.extra_positive, offset)


def _rotate(cells: tuple[Cell, ...], offset: int) -> tuple[Cell, ...]:
    shift = offset % len(cells) if cells else 0
    return cells[shift:] + cells[:shift]


def draw_cells(spec: Spec, count: int, *, allow_negative: bool, salt: str) -> list[Cell]:
    """`count` valid cells drawn by value weight (seeded, deterministic). While most cells are drawn once, a
    cell is drawn again only now and then (a repeat is kept with probability 1 / (1 + r / m^3): r its draws so
    far, m the mean draws per distinct cell), so a few heavy cells do not fill a small plan with copies of
    one case; as m grows the draws follow the weights alone."""
    dims = spec.dimensions
    options = [[v for v in d.values if v.weight > 0 and (allow_negative or not v.negative)] for d in dims]
    cells: list[Cell] = []
    drawn: Counter[Cell] = Counter()
    attempt = 0
    while len(cells) < count and attempt < count * 100 + 1000:
        attempt += 1
        values = []
        for dim, choices in zip(dims, options, strict=True):
            pick = unit_hash(spec.seed, salt, attempt, dim.name) * sum(v.weight for v in choices)
            chosen = choices[-1]
            for value in choices:
                pick -= value.weight
                if pick <= 0:
                    chosen = value
                    break
            values.append((dim.name, chosen.name))
        cell = tuple(values)
        mean = len(cells) / len(drawn) if drawn else 1.0
        if drawn[cell] and unit_hash(spec.seed, salt, attempt, "again") * (1 + drawn[cell] / mean**3) > 1:
            continue
        if is_valid(spec, cell):
            drawn[cell] += 1
            cells.append(cell)
    return cells


def count_tuples(
    cells: Iterable[Cell], strength: int, groups: Sequence[tuple[Sequence[str], int]] = ()
) -> set[tuple[tuple[str, str], ...]]:
    """The t-tuples of dimension values that a set of cells covers (plus those of higher-strength groups)."""
    covered: set[tuple[tuple[str, str], ...]] = set()
    for cell in cells:
        covered.update(itertools.combinations(cell, strength))
        for names, group_strength in groups:
            covered.update(itertools.combinations([(d, v) for d, v in cell if d in names], group_strength))
    return covered


def _array_for(spec: Spec, seeds: Sequence[Cell] = ()) -> tuple[list[Cell], int, int]:
    """The t-wise covering array of the space as cells, with required and excluded tuple counts.

    Negative values take part only when some strategy can carry them; otherwise no case could ever
    cover their tuples. `seeds` (valid full cells, PICT's seeding rows) are kept as they are, after the
    user's `coverage.include` rows; the array only adds rows for the tuples they leave uncovered.
    """

    from compiler.plan.covering.array import build_covering_array  # numpy: only when an array is built

    dims = spec.dimensions
    with_negatives = any(s.negative for s in spec.strategies)
    values = [[v for v in d.values if v.weight > 0 and (with_negatives or not v.negative)] for d in dims]
    index = {d.name: i for i, d in enumerate(dims)}

    def allowed(partial: Mapping[int, int]) -> bool | None:
        return spec.allows({dims[d].name: values[d][v].name for d, v in partial.items()})

    include = []
    for row in spec.coverage.include:
        include.append({index[d]: [v.name for v in values[index[d]]].index(value) for d, value in row})
    for cell in seeds:
        include.append({index[d]: [v.name for v in values[index[d]]].index(value) for d, value in cell})
    try:
        array = build_covering_array(
            [[v.weight for v in vs] for vs in values],
            spec.coverage.strength,
            groups=[([index[d] for d in names], strength) for names, strength in spec.coverage.groups],
            include=include,
            negative=[frozenset(i for i, v in enumerate(vs) if v.negative) for vs in values],
            allowed=allowed if spec.constraints else None,
            seed=spec.seed,
        )
    except ValueError as exc:
        raise ConfigError(f"coverage.include: {exc}; change the row or the constraint it violates") from exc
    cells = [tuple((dims[d].name, values[d][v].name) for d, v in enumerate(row)) for row in array.rows]
    return cells, array.required, len(array.excluded)


_ARRAYS: dict[str, tuple[list[Cell], int, int]] = {}


def _cached_array(spec: Spec, seeds: Sequence[Cell] = ()) -> tuple[list[Cell], int, int]:
    """Arrays depend on the space, not on size: a size sweep, a top-up round or the next run (from
    `<journal_dir>/arrays/`) reuses them."""
    key = repr(
        (
            spec.dimensions,
            [c.text for c in spec.constraints],
            spec.coverage,
            spec.seed,
            any(s.negative for s in spec.strategies),
            tuple(seeds),
        )
    )
    if key not in _ARRAYS:
        found = recall_array(spec.journal_dir, key)
        _ARRAYS[key] = found if found is not None else _array_for(spec, seeds)
        if found is None:
            remember_array(spec.journal_dir, key, _ARRAYS[key])
    return _ARRAYS[key]


def seed_cell(spec: Spec, cell: Iterable[tuple[str, str]]) -> Cell | None:
    """A recorded cell in this space's dimension order, or None when the space no longer holds it (a
    dimension or value gone, a value of weight 0, a negative no strategy can carry, a constraint)."""
    values = dict(cell)
    if set(values) != {d.name for d in spec.dimensions}:
        return None
    with_negatives = any(s.negative for s in spec.strategies)
    for dim in spec.dimensions:
        found = dim.value(values[dim.name])
        if found is None or found.weight <= 0 or (found.negative and not with_negatives):
            return None
    ordered = tuple((d.name, values[d.name]) for d in spec.dimensions)
    return ordered if is_valid(spec, ordered) else None


def plan_cells(spec: Spec, wanted: int, seeds: Sequence[Cell] = ()) -> CellPlan:
    """The covering array (seeded with `seeds`, see `_array_for`), plus `wanted` weighted draws for the rows
    beyond it."""
    array, required, excluded = _cached_array(spec, tuple(dict.fromkeys(seeds)))
    extra = max(0, wanted - sum(1 for c in array if negatives_in(c) == 0))
    return CellPlan(
        tuple(array),
        tuple(draw_cells(spec, extra, allow_negative=False, salt="extra")),
        tuple(draw_cells(spec, extra, allow_negative=True, salt="extra-any")),
        spec.coverage.strength,
        required,
        excluded,
    )
