"""Review decisions as values: what a decision is and what it does to a row (the log lives in versions/)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from compiler.core.rows import Row, compute_row_id


@dataclass(frozen=True)
class Decision:
    id: str
    status: str  # approved | rejected | edited (= approved with edits)
    reviewer: str
    reason: str = ""
    edits: Mapping[str, Any] = field(default_factory=dict)  # {"expected.verdict": "refuse"}
    version: str = ""  # the version the reviewer read the row in (audit only; decisions follow the id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "status": self.status,
                "reviewer": self.reviewer,
                "reason": self.reason,
                "edits": dict(self.edits),
                **({"version": self.version} if self.version else {}),
            },
            ensure_ascii=False,
            sort_keys=True,
        )


def apply_edits(row: Row, edits: Mapping[str, Any]) -> Row:
    """The row with `inputs.x` / `expected.y` replaced, re-hashed to its new id; `provenance.origin` keeps the
    id of the generated row it came from, so an edited row's history reads as one row."""
    inputs = dict(row.inputs)
    expected = dict(row.expected)
    for path, value in edits.items():
        part, _, name = path.partition(".")
        (inputs if part == "inputs" else expected)[name] = value
    new_id = compute_row_id(row.source, row.strategy, row.variant, row.cell, inputs, expected)
    return replace(
        row,
        id=new_id,
        inputs=inputs,
        expected=expected,
        provenance={**row.provenance, "origin": origin_id(row)},
    )


def origin_id(row: Row) -> str:
    """The id of the generated (or curated) row this row descends from: itself unless it was edited."""
    return str(row.provenance.get("origin") or row.provenance.get("edited_from") or row.id)


def apply_decisions(row: Row, decisions: Mapping[str, Decision]) -> Row | None:
    """The row as its review left it: None when rejected, edited and re-hashed when edited."""
    for _ in range(3):  # an edited row may itself have been approved or edited again
        decision = decisions.get(row.id)
        if decision is None:
            return row
        if decision.status == "rejected":
            return None
        if decision.status == "edited" and decision.edits:
            edited = apply_edits(row, decision.edits)
            row = replace(edited, review_status="edited")
            if edited.id == decision.id:
                return row
            continue
        return replace(row, review_status=decision.status)
    return row
