"""The test space: dimension values, weights, constraints, negative values, and the cells to plan."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import xxhash

from compiler.spec import Spec

Cell = tuple[tuple[str, str], ...]  # ((dimension, value), ...) in the spec's dimension order

ENUMERATE_LIMIT = 20_000  # enumerate every cell up to this many combinations, sample beyond


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
    """The cells a plan draws from, in priority order."""

    positive: tuple[Cell, ...]  # cells without a negative value: every strategy may use them
    negative: tuple[Cell, ...]  # cells with exactly one negative value: negative-capable strategies only
    strength: int
    required_tuples: int
    excluded_tuples: int
    array_rows: int = 0  # the covering array's rows lead `positive` and `negative`

    def for_strategy(self, negative_capable: bool, offset: int = 0) -> tuple[Cell, ...]:
        """The cells a strategy cycles through; positives rotated by `offset` so strategies share coverage."""
        shift = offset % len(self.positive) if self.positive else 0
        positive = self.positive[shift:] + self.positive[:shift]
        if not negative_capable or not self.negative:
            return positive
        # negative cells first: only negative-capable strategies can cover their tuples
        return self.negative + positive


def _value_names(spec: Spec, *, negative: bool) -> list[list[str]]:
    return [[v.name for v in d.values if v.weight > 0 and (negative or not v.negative)] for d in spec.dimensions]


def enumerate_cells(spec: Spec) -> list[Cell]:
    """Every valid cell (at most one negative value), or an empty list when the space is too large."""
    names = _value_names(spec, negative=True)
    if math.prod(len(n) for n in names) > ENUMERATE_LIMIT:
        return []
    dims = [d.name for d in spec.dimensions]
    cells = []
    for combo in itertools.product(*names):
        cell = tuple(zip(dims, combo, strict=True))
        if is_valid(spec, cell):
            cells.append(cell)
    return cells


def _weighted_order(spec: Spec, cells: Iterable[Cell]) -> list[Cell]:
    """Seeded weighted random order (Efraimidis-Spirakis keys), deterministic in any process."""
    keyed = []
    for cell in cells:
        weight = cell_weight(spec, cell)
        key = math.log(unit_hash(spec.seed, "cell", cell)) / weight if weight > 0 else -math.inf
        keyed.append((-key, cell))
    keyed.sort()
    return [cell for _, cell in keyed]


def _sample_cells(spec: Spec, count: int) -> list[Cell]:
    """Weighted seeded sampling of distinct valid cells for spaces too large to enumerate."""
    names = _value_names(spec, negative=True)
    dims = spec.dimensions
    seen: set[Cell] = set()
    cells: list[Cell] = []
    attempt = 0
    while len(cells) < count and attempt < count * 50:
        attempt += 1
        values = []
        for d_index, dim in enumerate(dims):
            options = [v for v in dim.values if v.name in names[d_index]]
            total = sum(v.weight for v in options)
            pick = unit_hash(spec.seed, "sample", attempt, dim.name) * total
            for value in options:
                pick -= value.weight
                if pick <= 0:
                    break
            values.append((dim.name, value.name))
        cell = tuple(values)
        if cell not in seen and is_valid(spec, cell):
            seen.add(cell)
            cells.append(cell)
    return cells


def count_tuples(cells: Iterable[Cell], strength: int,
                 groups: Sequence[tuple[Sequence[str], int]] = ()) -> set[tuple[tuple[str, str], ...]]:
    """The t-tuples of dimension values that a set of cells covers (plus those of higher-strength groups)."""
    covered: set[tuple[tuple[str, str], ...]] = set()
    for cell in cells:
        covered.update(itertools.combinations(cell, strength))
        for names, group_strength in groups:
            covered.update(itertools.combinations([(d, v) for d, v in cell if d in names], group_strength))
    return covered


def _array_for(spec: Spec) -> tuple[list[Cell], int, int]:
    """The t-wise covering array of the space as cells, with required and excluded tuple counts."""
    from compiler.covering import build_covering_array
    from compiler.errors import ConfigError

    dims = spec.dimensions
    values = [[v for v in d.values if v.weight > 0] for d in dims]
    index = {d.name: i for i, d in enumerate(dims)}

    def allowed(partial: Mapping[int, int]) -> bool | None:
        return spec.allows({dims[d].name: values[d][v].name for d, v in partial.items()})

    include = []
    for row in spec.coverage.include:
        include.append({index[d]: [v.name for v in values[index[d]]].index(value) for d, value in row})
    try:
        array = build_covering_array(
            [[v.weight for v in vs] for vs in values], spec.coverage.strength,
            groups=[([index[d] for d in names], strength) for names, strength in spec.coverage.groups],
            include=include,
            negative=[frozenset(i for i, v in enumerate(vs) if v.negative) for vs in values],
            allowed=allowed if spec.constraints else None, seed=spec.seed)
    except ValueError as exc:
        raise ConfigError(f"coverage.include: {exc}; change the row or the constraint it violates") from exc
    cells = [tuple((dims[d].name, values[d][v].name) for d, v in enumerate(row)) for row in array.rows]
    return cells, array.required, len(array.excluded)


_ARRAYS: dict[str, tuple[list[Cell], int, int]] = {}


def _cached_array(spec: Spec) -> tuple[list[Cell], int, int]:
    """Arrays depend on the space, not on size: a size sweep or a top-up round reuses them."""
    key = repr((spec.dimensions, [c.text for c in spec.constraints], spec.coverage, spec.seed))
    if key not in _ARRAYS:
        _ARRAYS[key] = _array_for(spec)
    return _ARRAYS[key]


def plan_cells(spec: Spec, wanted: int) -> CellPlan:
    """The covering array's cells first (negative rows apart), then weighted extra cells up to `wanted`."""
    array, required, excluded = _cached_array(spec)
    positive = [c for c in array if negatives_in(c) == 0]
    negative = [c for c in array if negatives_in(c) == 1]
    if len(positive) < wanted:
        seen = set(array)
        extra = [c for c in _sample_cells(spec, 4 * wanted) if c not in seen and negatives_in(c) == 0]
        positive.extend(extra[: wanted - len(positive)])
    return CellPlan(tuple(positive), tuple(negative), spec.coverage.strength, required, excluded,
                    array_rows=len(array))


def _all_tuples(spec: Spec, strength: int) -> int:
    """How many t-tuples a space without constraints would have (two negatives never count)."""
    total = 0
    for dims in itertools.combinations(spec.dimensions, strength):
        for combo in itertools.product(*[[v.name for v in d.values if v.weight > 0] for d in dims]):
            if sum(1 for v in combo if v.startswith("~")) <= 1:
                total += 1
    return total


def cell_dict(cell: Cell) -> dict[str, str]:
    return dict(cell)


def cell_label(cell: Cell | Mapping[str, str]) -> str:
    items = cell.items() if isinstance(cell, Mapping) else cell
    return ", ".join(f"{d}={v}" for d, v in items)
