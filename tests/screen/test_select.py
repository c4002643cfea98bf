"""select_rows: exactly `size` rows, each strategy up to its target, balanced over cells, shortfalls named."""

from __future__ import annotations

from collections import Counter

from compiler.plan.cases import plan_cases
from compiler.screen.select import select_rows
from compiler.spec.compose import Project, load_spec
from tests.rowmaker import make_candidates


def test_selects_size_rows_with_each_strategy_at_its_target(project: Project) -> None:
    plan = plan_cases(load_spec(["size=40"], project))
    selection = select_rows(plan, make_candidates(plan.spec, plan.cases))
    assert len(selection.rows) == 40 and selection.missing == 0
    got = Counter(c.case.strategy for c in selection.rows if c.case is not None)
    assert dict(got) == {name: target for name, target in plan.targets if target}
    assert selection.short == ()


def test_missing_strategy_lends_its_room_and_its_cells_are_short(project: Project) -> None:
    plan = plan_cases(load_spec(["size=40"], project))
    survivors = [c for c in make_candidates(plan.spec, plan.cases) if c.case and c.case.strategy != "persona"]
    selection = select_rows(plan, survivors)
    assert len(selection.rows) == 40  # overgeneration of the other strategies fills persona's room
    assert {s.strategy for s in selection.short} == {"persona"}
    assert all(s.got == 0 for s in selection.short)


def test_too_few_survivors_reports_the_missing_count(project: Project) -> None:
    plan = plan_cases(load_spec(["size=40"], project))
    survivors = make_candidates(plan.spec, plan.cases)[:25]
    selection = select_rows(plan, survivors)
    assert len(selection.rows) == 25 and selection.missing == 15


def test_selection_is_a_pure_function_of_its_inputs(project: Project) -> None:
    plan = plan_cases(load_spec(["size=30"], project))
    candidates = make_candidates(plan.spec, plan.cases)
    first = [c.row.id for c in select_rows(plan, candidates).rows]
    assert first == [c.row.id for c in select_rows(plan, list(candidates)).rows]
