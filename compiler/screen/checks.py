"""Automatic checks on every generated row; a failed hard check keeps the row out of the selection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compiler.core.columns import column_type
from compiler.core.rows import Row
from compiler.spec.model import Column, Spec

HARD_CHECKS = ("schema", "expected", "context")
_SPACE = re.compile(r"\W+")


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


def _typed(column: Column, value: Any) -> bool:
    return column_type(column.type).accepts(value, column.values)


def check_schema(spec: Spec, row: Row) -> CheckResult:
    bad = [c.name for c in spec.columns if c.name not in row.expected or not _typed(c, row.expected[c.name])]
    return CheckResult("schema", not bad, f"missing or mistyped: {', '.join(bad)}" if bad else "ok")


def _words(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


def check_expected(spec: Spec, row: Row) -> CheckResult:
    """Clear expected behaviour: every text column says something and does not merely repeat an input."""
    inputs = {_words(str(v)) for v in row.inputs.values() if v}
    for column in spec.columns:
        if column.type != "text":
            continue
        value = row.expected.get(column.name)
        if not isinstance(value, str) or not value.strip():
            return CheckResult("expected", False, f"{column.name} is empty")
        if _words(value) in inputs:
            return CheckResult("expected", False, f"{column.name} copies an input")
    return CheckResult("expected", True, "ok")


def check_context(spec: Spec, row: Row) -> CheckResult:
    """Enough context to score: required inputs present, every input within the configured length."""
    low, high = spec.checks.min_input_chars, spec.checks.max_input_chars
    for variable in spec.prompt.variables:
        value = str(row.inputs.get(variable.name) or "")
        if variable.required and not value.strip():
            return CheckResult("context", False, f"{variable.name} is empty")
        if value and not low <= len(value) <= high:
            return CheckResult(
                "context", False, f"{variable.name} has {len(value)} chars, outside [{low}, {high}]"
            )
    return CheckResult("context", True, "ok")


def run_checks(
    spec: Spec, row: Row, duplicates: int = 0, extra: Sequence[CheckResult] = ()
) -> tuple[CheckResult, ...]:
    """All checks of one row in a fixed order; `duplicates` is how many rows collapsed into it."""
    return with_duplicates(row_checks(spec, row), duplicates, extra)


def row_checks(spec: Spec, row: Row) -> tuple[CheckResult, ...]:
    """The checks that depend on the row alone (run as answers arrive, before dedupe is known)."""
    return (check_schema(spec, row), check_expected(spec, row), check_context(spec, row))


def with_duplicates(
    checks: Sequence[CheckResult], duplicates: int, extra: Sequence[CheckResult] = ()
) -> tuple[CheckResult, ...]:
    """`row_checks`' results followed by the duplicate count and any extra results: `run_checks`' order."""
    duplicate = CheckResult(
        "duplicate", True, f"kept over {duplicates} duplicates" if duplicates else "unique"
    )
    return (*checks, duplicate, *extra)


def hard_failure(results: Sequence[CheckResult]) -> CheckResult | None:
    return next((r for r in results if not r.passed and r.name in HARD_CHECKS), None)
