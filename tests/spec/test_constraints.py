"""The constraint language: parsed (never eval-ed), three-valued on partial cells."""

from __future__ import annotations

import pytest

from compiler.spec.constraints import ConstraintSyntaxError, parse_constraint

CASES = [
    pytest.param("a == 'x'", {"a": "x"}, True, id="equals"),
    pytest.param("a != x", {"a": "x"}, False, id="not-equals-bare-word"),
    pytest.param("a in ['x', 'y']", {"a": "y"}, True, id="in-list"),
    pytest.param("a not in [x, y]", {"a": "z"}, True, id="not-in-list"),
    pytest.param("a == x -> b == y", {"a": "x", "b": "z"}, False, id="implication-violated"),
    pytest.param("a == x -> b == y", {"a": "w", "b": "z"}, True, id="implication-vacuous"),
    pytest.param("not (a == x or b == y) and c == z", {"a": "q", "b": "q", "c": "z"}, True, id="precedence"),
    pytest.param("a == x -> b == y -> c == z", {"a": "x", "b": "y", "c": "q"}, False, id="right-associative"),
    pytest.param("a == '~neg'", {"a": "~neg"}, True, id="negative-value"),
]


@pytest.mark.parametrize(("text", "cell", "expected"), CASES)
def test_constraints_evaluate_like_logic(text: str, cell: dict[str, str], expected: bool) -> None:
    assert parse_constraint(text).evaluate(cell) is expected


def test_partial_cells_are_undecided_until_they_can_be_decided() -> None:
    constraint = parse_constraint("a == x -> b == y")
    assert constraint.evaluate({}) is None
    assert constraint.evaluate({"a": "w"}) is True  # vacuously satisfied whatever b is
    assert constraint.evaluate({"a": "x"}) is None
    assert constraint.evaluate({"b": "y"}) is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a ==",
        "a = x",
        "== x",
        "a in [x",
        "(a == x",
        "a == x b == y",
        "__import__('os') == x",
        "a == x ->",
    ],
)
def test_malformed_constraints_do_not_parse(text: str) -> None:
    with pytest.raises(ConstraintSyntaxError):
        parse_constraint(text)
