"""Covering arrays: every required tuple is covered, rows are valid, exclusions are exact, seeds repeat."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compiler.plan.covering.array import CoveringArray, build_covering_array

Cells = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Problem:
    """A small covering problem; its `allowed` rejects any row holding one of the forbidden combinations."""

    levels: tuple[int, ...]
    strength: int
    groups: tuple[tuple[tuple[int, ...], int], ...] = ()
    negative: tuple[frozenset[int], ...] = ()
    forbidden: tuple[Cells, ...] = ()
    include: tuple[dict[int, int], ...] = ()

    def allowed(self, partial: Mapping[int, int]) -> bool | None:
        if any(all(partial.get(d) == v for d, v in cells) for cells in self.forbidden):
            return False
        return True if len(partial) == len(self.levels) else None

    def build(self, seed: int = 0) -> CoveringArray:
        return build_covering_array(
            [[1.0] * n for n in self.levels],
            self.strength,
            groups=self.groups,
            include=self.include,
            negative=self.negative,
            allowed=self.allowed if self.forbidden else None,
            seed=seed,
        )

    def is_valid(self, row: Sequence[int]) -> bool:
        n_negative = sum(row[d] in values for d, values in enumerate(self.negative))
        return n_negative <= 1 and self.allowed(dict(enumerate(row))) is not False

    def goal_tuples(self) -> tuple[set[Cells], set[Cells]]:
        """(required, impossible) tuples by brute force over every full row."""
        valid_rows = [r for r in itertools.product(*map(range, self.levels)) if self.is_valid(r)]
        combos = dict.fromkeys(itertools.combinations(range(len(self.levels)), self.strength))
        for dims, strength in self.groups:
            combos.update(dict.fromkeys(itertools.combinations(sorted(dims), strength)))
        required: set[Cells] = set()
        impossible: set[Cells] = set()
        for dims in combos:
            held = {tuple(row[d] for d in dims) for row in valid_rows}
            for values in itertools.product(*(range(self.levels[d]) for d in dims)):
                if sum(v in self.negative[d] for d, v in zip(dims, values, strict=True) if self.negative) > 1:
                    continue
                (required if values in held else impossible).add(tuple(zip(dims, values, strict=True)))
        return required, impossible


def covered_by(rows: Sequence[Sequence[int]], cells: Cells) -> bool:
    return any(all(row[d] == v for d, v in cells) for row in rows)


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    n_dims = draw(st.integers(2, 6))
    strength = draw(st.integers(1, min(3, n_dims)))
    levels = tuple(draw(st.lists(st.integers(1, 4 if strength < 3 else 3), min_size=n_dims, max_size=n_dims)))

    def draw_cells(size: int) -> Cells:
        dims = draw(st.lists(st.integers(0, n_dims - 1), min_size=size, max_size=size, unique=True))
        return tuple((d, draw(st.integers(0, levels[d] - 1))) for d in dims)

    negative: tuple[frozenset[int], ...] = ()
    if draw(st.booleans()):
        negative = tuple(frozenset(draw(st.sets(st.integers(0, n - 1), max_size=n))) for n in levels)
    forbidden = tuple(
        draw_cells(draw(st.integers(2, min(3, n_dims)))) for _ in range(draw(st.integers(0, 4)))
    )
    groups: tuple[tuple[tuple[int, ...], int], ...] = ()
    if draw(st.booleans()):
        dims = tuple(draw(st.sets(st.integers(0, n_dims - 1), min_size=1, max_size=min(3, n_dims))))
        groups = ((dims, draw(st.integers(1, len(dims)))),)
    include = tuple(dict(draw_cells(draw(st.integers(0, 2)))) for _ in range(draw(st.integers(0, 2))))
    return Problem(levels, strength, groups, negative, forbidden, include)


def is_completable(problem: Problem, partial: Mapping[int, int]) -> bool:
    rows = itertools.product(*map(range, problem.levels))
    return any(problem.is_valid(r) and all(r[d] == v for d, v in partial.items()) for r in rows)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_random_problem_covers_every_possible_tuple_with_valid_rows(problem: Problem) -> None:
    assume(all(is_completable(problem, partial) for partial in problem.include))
    result = problem.build()
    required, impossible = problem.goal_tuples()
    assert all(problem.is_valid(row) for row in result.rows)
    assert result.required == result.covered == len(required)
    assert all(covered_by(result.rows, cells) for cells in required)
    assert set(result.excluded) == impossible
    assert len(result.excluded) == len(impossible)


@settings(max_examples=30, deadline=None)
@given(problems(), st.integers(0, 2**32))
def test_same_seed_gives_same_rows(problem: Problem, seed: int) -> None:
    assume(all(is_completable(problem, partial) for partial in problem.include))
    assert problem.build(seed) == problem.build(seed)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_include_rows_come_first_in_order(problem: Problem) -> None:
    assume(problem.include and all(is_completable(problem, partial) for partial in problem.include))
    rows = problem.build().rows
    for row, partial in zip(rows, problem.include, strict=False):
        assert all(row[d] == v for d, v in partial.items())


def test_same_seed_gives_same_rows_in_another_process() -> None:
    code = (
        "from compiler.plan.covering.array import build_covering_array as b;"
        "print(b([[1.0, 2.0, 3.0]] * 6 + [[1.0] * 4] * 3, 3, negative=[frozenset({0})] * 9, seed=7).rows)"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={"PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_each_negative_pairs_with_every_positive_and_rows_hold_one_negative() -> None:
    levels = (4, 3, 3, 5)
    negative = (frozenset({3}), frozenset({2}), frozenset(), frozenset({0, 4}))
    rows = Problem(levels, 2, negative=negative).build(seed=3).rows
    assert all(sum(row[d] in negative[d] for d in range(4)) <= 1 for row in rows)
    for (d1, _), (d2, n2) in itertools.permutations(enumerate(levels), 2):
        for v1, v2 in itertools.product(negative[d1], set(range(n2)) - negative[d2]):
            assert covered_by(rows, ((d1, v1), (d2, v2)))


def test_forbidden_pair_never_appears_and_is_reported_excluded() -> None:
    problem = Problem((3, 3, 3, 3), 2, forbidden=(((0, 1), (2, 2)),))
    result = problem.build()
    assert not covered_by(result.rows, ((0, 1), (2, 2)))
    assert result.excluded == (((0, 1), (2, 2)),)
    assert result.required == result.covered == 6 * 9 - 1


def test_tuple_only_a_chain_of_constraints_rules_out_is_excluded() -> None:
    # 0=1 forces 1=1, 1=1 forbids 2=0: the pair (0=1, 2=0) never appears in a valid row, though
    # no single constraint mentions it.
    problem = Problem((2, 2, 2), 2, forbidden=(((0, 1), (1, 0)), ((1, 1), (2, 0))))
    result = problem.build()
    assert ((0, 1), (2, 0)) in result.excluded
    assert set(result.excluded) == problem.goal_tuples()[1]


def test_group_is_covered_at_its_own_strength() -> None:
    problem = Problem((3,) * 6, 2, groups=(((0, 2, 5), 3),))
    rows = problem.build().rows
    for values in itertools.product(range(3), repeat=3):
        assert covered_by(rows, tuple(zip((0, 2, 5), values, strict=True)))
    assert len(rows) >= 27


@pytest.mark.parametrize("levels", [(2, 5, 3), (1, 4), (6,)], ids=["mixed", "with-single-value", "one-dim"])
def test_strength_one_shows_each_value_once_at_least(levels: tuple[int, ...]) -> None:
    rows = Problem(levels, 1).build().rows
    assert len(rows) == max(levels)
    assert all({row[d] for row in rows} == set(range(n)) for d, n in enumerate(levels))


def test_free_cells_follow_weights() -> None:
    # 25 rows for the 5x5 group; dimension 2 needs only 3 of them, the rest are free and weighted.
    result = build_covering_array([[1.0] * 5, [1.0] * 5, [100.0, 1.0, 1.0]], 1, groups=[([0, 1], 2)], seed=5)
    third = [row[2] for row in result.rows]
    assert len(third) == 25 and set(third) == {0, 1, 2}
    assert third.count(0) >= 20


@pytest.mark.parametrize(
    ("levels", "at_most"),
    [((3,) * 4, 11), ((2,) * 100, 15), ((3,) * 13, 18)],
    ids=["3^4-below-pict-12", "2^100-below-pict-16", "3^13-below-pict-19"],
)
def test_pairwise_needs_fewer_rows_than_pict(levels: tuple[int, ...], at_most: int) -> None:
    result = Problem(levels, 2).build(seed=1)
    assert result.covered == result.required
    assert len(result.rows) <= at_most


def test_no_valid_row_excludes_everything() -> None:
    result = build_covering_array([[1.0] * 2] * 3, 2, allowed=lambda partial: False)
    assert result.rows == ()
    assert result.required == result.covered == 0
    assert len(result.excluded) == 3 * 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strength": 0}, "strength 0"),
        ({"strength": 4}, "strength 4"),
        ({"weights": [[1.0], []]}, "weights"),
        ({"weights": [[1.0, 0.0], [1.0]]}, "weights"),
        ({"groups": [([0, 0], 2)]}, r"groups\[0\]"),
        ({"groups": [([0, 1], 3)]}, r"groups\[0\]"),
        ({"include": [{0: 5}]}, r"include\[0\]"),
        ({"negative": [frozenset({0})]}, "negative"),
        ({"negative": [frozenset({2})] * 3}, r"negative\[0\]"),
        ({"include": [{0: 0, 1: 0}], "negative": [frozenset({0})] * 3}, r"include\[0\].*cannot be completed"),
    ],
    ids=[
        "strength-zero",
        "strength-above-dims",
        "empty-dimension",
        "zero-weight",
        "group-repeats-dim",
        "group-strength-too-high",
        "include-value-out-of-range",
        "negative-wrong-length",
        "negative-value-out-of-range",
        "include-with-two-negatives",
    ],
)
def test_invalid_input_raises_value_error(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"weights": [[1.0, 1.0]] * 3, "strength": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        build_covering_array(**arguments)  # type: ignore[arg-type]
