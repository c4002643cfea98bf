"""The automatic checks every generated row passes before selection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from compiler.core.rows import Row
from compiler.plan.cases import plan_cases
from compiler.screen.checks import hard_failure, run_checks
from compiler.spec.compose import Project, load_spec
from compiler.spec.model import Spec
from tests.rowmaker import make_row


@pytest.fixture
def spec_and_row(project: Project) -> tuple[Spec, Row]:
    plan = plan_cases(load_spec(["size=20"], project))
    return plan.spec, make_row(plan.spec, plan.cases[0])


def test_a_well_formed_row_passes_every_check(spec_and_row: tuple[Spec, Row]) -> None:
    spec, row = spec_and_row
    results = run_checks(spec, row, duplicates=2)
    assert [r.name for r in results] == ["schema", "expected", "context", "duplicate"]
    assert all(r.passed for r in results) and hard_failure(results) is None
    assert results[-1].detail == "kept over 2 duplicates"


@pytest.mark.parametrize(
    ("column", "value", "check"),
    [
        pytest.param("verdict", "maybe", "schema", id="enum-value-not-declared"),
        pytest.param("must_include", "refund", "schema", id="list-given-a-string"),
        pytest.param("expected_behavior", "   ", "expected", id="empty-text"),
    ],
)
def test_a_broken_expected_column_is_a_hard_failure(
    spec_and_row: tuple[Spec, Row], column: str, value: object, check: str
) -> None:
    spec, row = spec_and_row
    assert column in row.expected
    broken = replace(row, expected={**row.expected, column: value})
    failed = hard_failure(run_checks(spec, broken))
    assert failed is not None and failed.name == check


def test_expected_text_that_copies_the_input_fails(spec_and_row: tuple[Spec, Row]) -> None:
    spec, row = spec_and_row
    first_input = next(iter(row.inputs.values()))
    text_columns = [c.name for c in spec.columns if c.type == "text"]
    broken = replace(row, expected={**row.expected, text_columns[0]: first_input})
    failed = hard_failure(run_checks(spec, broken))
    assert failed is not None and failed.name == "expected" and "copies an input" in failed.detail


def test_a_missing_required_input_fails_the_context_check(spec_and_row: tuple[Spec, Row]) -> None:
    spec, row = spec_and_row
    required = next(v.name for v in spec.prompt.variables if v.required)
    broken = replace(row, inputs={**row.inputs, required: ""})
    failed = hard_failure(run_checks(spec, broken))
    assert failed is not None and failed.name == "context"
