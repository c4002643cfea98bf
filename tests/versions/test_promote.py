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


def test_a_promoted_production_row_compiles_as_a_regression_row(project: Project) -> None:
    # production rows hold only the input their trace had: with a second required variable, the promoted
    # row made the next compile stop ("lacks input column order_context")
    from compiler.cli.main import main
    from tests.conftest import edit

    dataset = project.conf_dir / "dataset" / "support_bot.yaml"
    edit(dataset, 'may be empty.", required: false}', 'may be empty."}')
    assert main(["compile", "size=30"]) == 0
    first = next((project.conf_dir.parent / "outputs" / "support_bot").glob("*/manifest.json")).parent
    rows = [json.loads(line) for line in (first / "cases.jsonl").read_text().splitlines()]
    production = next(r for r in rows if r["source"] == "production")
    assert production["inputs"]["order_context"] == ""
    assert main(["review", "approve", str(first), production["id"][:12]]) == 0
    assert main(["promote", str(first), "--to", "regression", "--allow-pending"]) == 0
    promoted = json.loads((project.conf_dir.parent / "datasets/support_bot/regression.jsonl").read_text())
    assert promoted["provenance"]["trace_id"] == production["provenance"]["trace_id"]
    assert main(["compile", "size=30"]) == 0
    newest = max(
        (project.conf_dir.parent / "outputs" / "support_bot").glob("*/manifest.json"),
        key=lambda p: p.stat().st_mtime_ns,
    ).parent
    sources = [json.loads(line)["source"] for line in (newest / "cases.jsonl").read_text().splitlines()]
    assert "regression" in sources
