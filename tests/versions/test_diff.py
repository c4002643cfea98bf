"""diff_rows and format_diff: what changed between two versions, per strategy and per cell."""

from __future__ import annotations

from compiler.plan.cases import plan_cases
from compiler.screen.decisions import Decision, apply_decisions
from compiler.spec.compose import Project, load_spec
from compiler.versions.diff import diff_rows, format_diff
from tests.rowmaker import make_row


def test_a_replaced_row_is_removed_and_added(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    rows = [make_row(plan.spec, case) for case in plan.cases[:6]]
    replacement = make_row(
        plan.spec, plan.cases[1], text="A different request about the same cell, reworded."
    )
    diff = diff_rows(rows[:5], [rows[0], replacement, rows[2], rows[3], rows[5]])
    assert {r.id for r in diff.added} == {replacement.id, rows[5].id}
    assert {r.id for r in diff.removed} == {rows[1].id, rows[4].id}
    assert not diff.reviewed and not diff.empty
    text = format_diff(diff, "a", "b", markdown=False)
    assert text.splitlines()[0].startswith("a -> b: ")
    markdown = format_diff(diff, "a", "b", markdown=True)
    assert markdown.startswith("### dsc diff `a` -> `b`")


def test_the_same_rows_in_another_order_are_no_change(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    rows = [make_row(plan.spec, case) for case in plan.cases[:6]]
    assert diff_rows(rows, list(reversed(rows))).empty


def test_a_review_decision_is_its_own_kind_of_change(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    row = make_row(plan.spec, plan.cases[0])
    approved = apply_decisions(row, {row.id: Decision(row.id, "approved", "ana")})
    assert approved is not None
    diff = diff_rows([row], [approved])
    assert not diff.added and not diff.removed and len(diff.reviewed) == 1
