"""diff_rows and format_diff: what changed between two versions, per strategy and per cell."""

from __future__ import annotations

from dataclasses import replace

from compiler.plan.cases import plan_cases
from compiler.spec.compose import Project, load_spec
from compiler.versions.diff import diff_rows, format_diff
from tests.rowmaker import make_row


def test_added_removed_and_changed_rows(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    rows = [make_row(plan.spec, case) for case in plan.cases[:6]]
    old = rows[:5]
    changed = make_row(plan.spec, plan.cases[1], text="A different request about the same cell, reworded.")
    new = [rows[0], changed, rows[2], rows[3], rows[5]]
    diff = diff_rows(old, new)
    assert (rows[1], changed) in diff.changed  # same source, strategy and cell: one changed row
    added = {r.id for r in diff.added} | {n.id for o, n in diff.changed if o is not rows[1]}
    removed = {r.id for r in diff.removed} | {o.id for o, n in diff.changed if o is not rows[1]}
    assert added == {rows[5].id} and removed == {rows[4].id}
    text = format_diff(diff, "a", "b", markdown=False)
    assert text.splitlines()[0].startswith("a -> b: ")
    markdown = format_diff(diff, "a", "b", markdown=True)
    assert (
        markdown.startswith("### dsc diff `a` -> `b`")
        and "| strategy | added | removed | changed |" in markdown
    )


def test_the_same_rows_in_another_order_are_no_change(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    rows = [make_row(plan.spec, case) for case in plan.cases[:6]]
    assert diff_rows(rows, list(reversed(rows))).empty


def test_a_cell_with_keys_in_another_order_is_the_same_cell(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    row = make_row(plan.spec, plan.cases[0])
    reordered = replace(row, cell=dict(reversed(list(row.cell.items()))))
    edited = make_row(plan.spec, plan.cases[0], text="Another wording of the first request, for the diff.")
    diff = diff_rows([reordered], [edited])
    assert len(diff.changed) == 1 and not diff.added and not diff.removed
