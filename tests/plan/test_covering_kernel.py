"""The row search gives the very arrays of its reference: the implementation before it was sped up.

`reference_optimize.py` is optimize.py as it was (commit ed1552b); any change to the search's choices,
its random draws or its budget shows here as a different array, so speed-ups cannot move plan bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from compiler.plan.covering import array as covering
from compiler.plan.covering import optimize
from compiler.plan.covering.array import CoveringArray, build_covering_array
from tests.plan import reference_optimize


def _forbid(pairs: tuple[tuple[tuple[int, int], ...], ...]):  # type: ignore[no-untyped-def]
    def allowed(partial: Mapping[int, int]) -> bool | None:
        if any(all(partial.get(d) == v for d, v in cells) for cells in pairs):
            return False
        return None

    return allowed


SPACES: dict[str, dict[str, object]] = {
    "wide two-valued": {"weights": [[1.0, 1.0]] * 40, "strength": 2, "seed": 1},
    "mixed weights": {
        "weights": [[1.0, 2.0, 0.5], [1.0] * 5, [3.0, 1.0], [1.0] * 4, [1.0] * 6],
        "strength": 2,
    },
    "strength 3": {"weights": [[1.0] * 3] * 7, "strength": 3, "seed": 7},
    "negatives": {
        "weights": [[1.0] * 4, [1.0] * 3, [1.0] * 3, [1.0] * 4, [1.0] * 2],
        "strength": 2,
        "negative": [frozenset({3}), frozenset({2}), frozenset(), frozenset({0}), frozenset()],
        "seed": 3,
    },
    "include and group": {
        "weights": [[1.0] * 3] * 6,
        "strength": 2,
        "groups": [([0, 1, 2], 3)],
        "include": [{0: 1, 3: 2}, {5: 0}],
        "seed": 5,
    },
    "constraints": {
        "weights": [[1.0] * 3] * 6,
        "strength": 2,
        "allowed": _forbid((((0, 0), (1, 1)), ((2, 2), (3, 0)), ((4, 1), (5, 1)))),
        "seed": 11,
    },
}


def _build(kwargs: dict[str, object]) -> CoveringArray:
    kwargs = dict(kwargs)
    return build_covering_array(kwargs.pop("weights"), kwargs.pop("strength"), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(SPACES))
def test_row_search_gives_the_reference_arrays(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _build(SPACES[name])
    monkeypatch.setattr(covering, "shrink_rows", reference_optimize.shrink_rows)
    # the same budget on both sides: the comparison is of the search's choices, and the budget is a setting
    monkeypatch.setattr(reference_optimize, "SEARCH_COST", optimize.SEARCH_COST)
    monkeypatch.setattr(covering, "fill_free_cells", reference_optimize.fill_free_cells)
    reference = _build(SPACES[name])
    assert fast.rows == reference.rows
    assert (fast.required, fast.covered, fast.excluded) == (
        reference.required,
        reference.covered,
        reference.excluded,
    )


def test_reference_is_not_the_kernel_under_test() -> None:
    """The comparison above would be empty if both sides ran the same code."""
    assert reference_optimize.RowSearch is not covering.fill_free_cells.__globals__["RowSearch"]
