"""Review decisions: the log beside the datasets, applied to rows, and `--set` edits type-checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.core.errors import UsageError
from compiler.plan.cases import plan_cases
from compiler.screen.decisions import Decision, apply_decisions
from compiler.spec.compose import Project, load_spec
from compiler.versions.review import append_decisions, load_decisions, parse_assignment
from tests.rowmaker import make_row

COLUMNS = {
    "verdict": {"type": "enum", "values": ["answer", "refuse"]},
    "needs_human": {"type": "bool"},
    "attempts": {"type": "int"},
    "must_include": {"type": "list"},
    "expected_behavior": {"type": "text"},
}


def test_the_last_decision_for_an_id_wins_and_survives_a_torn_line(tmp_path: Path) -> None:
    append_decisions("d", [Decision("a" * 32, "approved", "ana")], tmp_path)
    path = tmp_path / "d.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # a kill or an editor lost the final newline
    append_decisions("d", [Decision("a" * 32, "rejected", "bo", "not plausible")], tmp_path)
    decisions = load_decisions("d", tmp_path)
    assert decisions["a" * 32].status == "rejected" and decisions["a" * 32].reviewer == "bo"


def test_a_damaged_line_is_one_error_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"id": "x", "status": "approved"}\nnot json\n')
    with pytest.raises(UsageError, match=r"d\.jsonl:2: not valid JSON .*; fix or remove the line"):
        load_decisions("d", tmp_path)


def test_rejected_rows_vanish_and_edits_rehash(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    row = make_row(plan.spec, plan.cases[0])
    assert apply_decisions(row, {row.id: Decision(row.id, "rejected", "ana")}) is None
    edited = apply_decisions(
        row, {row.id: Decision(row.id, "edited", "ana", edits={"expected.verdict": "refuse"})}
    )
    assert edited is not None and edited.expected["verdict"] == "refuse" and edited.id != row.id
    assert edited.review_status == "edited" and edited.provenance["origin"] == row.id
    assert apply_decisions(row, {}) == row


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("expected.verdict=refuse", ("expected.verdict", "refuse"), id="enum"),
        pytest.param("expected.needs_human=true", ("expected.needs_human", True), id="bool"),
        pytest.param("expected.must_include=[a, b]", ("expected.must_include", ["a", "b"]), id="list"),
        pytest.param(
            "expected.expected_behavior=says no", ("expected.expected_behavior", "says no"), id="text"
        ),
        pytest.param("inputs.customer_message=hi", ("inputs.customer_message", "hi"), id="input"),
    ],
)
def test_assignments_are_typed_by_their_column(text: str, expected: tuple[str, object]) -> None:
    assert parse_assignment(text, ["customer_message"], COLUMNS) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("expected.verdict=maybe", "give one of answer, refuse", id="enum-value"),
        pytest.param("expected.attempts=two", "is an int column; give a whole number", id="int-article"),
        pytest.param("expected.verdit=refuse", "did you mean `verdict`", id="typo"),
        pytest.param(
            "verdict=refuse", "is an evaluator column; write --set expected.verdict=refuse", id="no-part"
        ),
        pytest.param(
            "customer_message=hi", "is an input; write --set inputs.customer_message=hi", id="bare-input"
        ),
        pytest.param("mood=grumpy", "write inputs.<variable>=<value>", id="neither"),
    ],
)
def test_bad_assignments_say_how_to_fix_them(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_assignment(text, ["customer_message"], COLUMNS)


def test_the_version_may_come_first_as_in_review_list(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.main import main

    assert main(["compile", "size=12", "strategies.adversarial=0"]) == 0
    version = next((project.conf_dir.parent / "outputs" / "support_bot").glob("*/manifest.json")).parent
    row_id = (version / "cases.jsonl").read_text().split('"id": "', 1)[1][:8]
    capsys.readouterr()
    assert main(["review", "approve", str(version), row_id]) == 0
    assert main(["review", "edit", str(version), row_id, "--set", "expected.expected_behavior=ok"]) == 0
    out = capsys.readouterr().out
    assert out.count(f"1 row of support_bot/{version.name}") == 2
    statuses = [d.status for d in load_decisions("support_bot", project.conf_dir.parent / "reviews").values()]
    assert statuses == ["edited"]
    assert main(["review", "edit", str(version), row_id, row_id, "--set", "expected.x=1"]) == 2
    assert main(["review", "approve", str(version), row_id, "--version", str(version)]) == 2
    err = capsys.readouterr().err
    assert "review edit takes one row id, got 2" in err and "give the version once" in err
    reviews = (project.conf_dir.parent / "reviews" / "support_bot.jsonl").read_bytes()
    assert main(["review", "reject", str(version), "--reason", "off topic"]) == 2  # the row id forgotten
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "names a version but no row; give the row ids after it" in err
    assert (project.conf_dir.parent / "reviews" / "support_bot.jsonl").read_bytes() == reviews


def test_an_approved_production_row_stays_approved_in_the_next_version(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # the approval was logged and `promote` counted it, but the next version wrote the row as `pending`
    import json

    from compiler.cli.main import main

    def rows(version: Path) -> list[dict]:
        return [json.loads(line) for line in (version / "cases.jsonl").read_text().splitlines()]

    assert main(["compile", "size=30"]) == 0
    first = next((project.conf_dir.parent / "outputs" / "support_bot").glob("*/manifest.json")).parent
    production = [r["id"] for r in rows(first) if r["source"] == "production"]
    synthetic = next(r["id"] for r in rows(first) if r["source"] == "synthetic")
    assert production
    assert main(["review", "approve", str(first), production[0][:12], synthetic[:12]]) == 0
    assert main(["compile", "size=30"]) == 0
    capsys.readouterr()
    second = next(
        p.parent
        for p in (project.conf_dir.parent / "outputs" / "support_bot").glob("*/manifest.json")
        if p.parent != first
    )
    status = {r["id"]: r["review_status"] for r in rows(second)}
    assert status[production[0]] == "approved" and status[synthetic] == "approved"
    assert all(status[i] == "pending" for i in production[1:])
    pending = sum(1 for s in status.values() if s == "pending")
    assert main(["promote", str(second), "--to", "regression"]) == 2
    assert f"{pending} rows are still pending review" in capsys.readouterr().err
