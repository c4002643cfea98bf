"""promote_rows: approved rows become durable curated rows, once each, with their provenance."""

from __future__ import annotations

import json
from pathlib import Path

from compiler.plan.cases import plan_cases
from compiler.screen.decisions import Decision
from compiler.spec.compose import Project, load_spec
from compiler.versions.promote import PromotionTarget, promote_rows
from tests.rowmaker import make_row


def test_only_approved_rows_are_promoted_once(project: Project, tmp_path: Path) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    rows = [make_row(plan.spec, case) for case in plan.cases[:4]]
    decisions = {
        rows[0].id: Decision(rows[0].id, "approved", "ana", "realistic"),
        rows[1].id: Decision(rows[1].id, "rejected", "ana", "not plausible"),
        rows[2].id: Decision(rows[2].id, "edited", "bo", edits={"expected.verdict": "refuse"}),
    }
    to = PromotionTarget(dataset="support_bot", version="v1", target="regression", status="approved")
    first = promote_rows(rows, decisions, to, tmp_path)
    assert first.path == tmp_path / "support_bot" / "regression.jsonl"
    lines = [json.loads(line) for line in first.path.read_text().splitlines()]
    assert len(lines) == 2 and first.added == 2 and first.pending == 1
    assert {line["source"] for line in lines} == {"regression"}
    assert {line["provenance"]["row_id"] for line in lines} == {rows[0].id, rows[2].id}
    assert any(line["expected"]["verdict"] == "refuse" for line in lines)
    again = promote_rows(rows, decisions, to, tmp_path)
    assert again.already_there == 2 and again.added == 0 and len(again.path.read_text().splitlines()) == 2
