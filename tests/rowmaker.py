"""Rows a test can reason about: a planned case turned into a row without an LM (deterministic text)."""

from __future__ import annotations

from typing import Any

from compiler.core.rows import Row
from compiler.plan.cases import CaseSpec
from compiler.screen.dedupe import Candidate
from compiler.spec.model import Column, Spec


def expected_value(column: Column, index: int) -> Any:
    values = {
        "text": f"Answers request {index} with the policy and the next step, politely and precisely.",
        "list": [f"fact {index}"],
        "enum": column.values[index % len(column.values)] if column.values else "",
        "bool": index % 2 == 0,
        "int": index,
        "number": float(index),
    }
    return values[column.type]


def make_row(spec: Spec, case: CaseSpec, text: str | None = None) -> Row:
    """A synthetic row for this case; `text` replaces the generated request (to plant duplicates)."""
    words = " ".join(f"{d} {v}" for d, v in case.cell)
    message = (
        text or f"Request number {case.index} slot {case.slot}: {words}, with details {case.seed % 997}."
    )
    inputs = {
        v.name: (message if i == 0 else f"context {case.index}") for i, v in enumerate(spec.prompt.variables)
    }
    expected = {c.name: expected_value(c, case.index) for c in spec.columns}
    provenance = {"trace_id": None, "prompt_hash": "test", "lm": "test/rowmaker"}
    return Row.build("synthetic", case.strategy, case.variant, dict(case.cell), inputs, expected, provenance)


def make_candidates(spec: Spec, cases: tuple[CaseSpec, ...]) -> list[Candidate]:
    return [Candidate(make_row(spec, case), case) for case in cases]
