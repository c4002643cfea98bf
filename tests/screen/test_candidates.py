"""screen_candidates: review decisions, then exact and near duplicates, then the checks, in that order."""

from __future__ import annotations

from dataclasses import replace

from compiler.plan.cases import plan_cases
from compiler.screen.candidates import screen_candidates
from compiler.screen.decisions import Decision
from compiler.screen.dedupe import Candidate, ExistingRow
from compiler.spec.compose import Project, load_spec
from tests.rowmaker import make_candidates, make_row


def test_rejected_duplicate_and_failing_rows_leave_with_their_reasons(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    spec = plan.spec
    candidates = make_candidates(spec, plan.cases[:6])
    copy_of_first = Candidate(
        make_row(spec, plan.cases[6], text=next(iter(candidates[0].row.inputs.values()))), plan.cases[6]
    )
    broken = replace(candidates[2].row, expected={**candidates[2].row.expected, "verdict": "maybe"})
    pool = [
        candidates[0],
        candidates[1],
        Candidate(broken, candidates[2].case),
        *candidates[3:],
        copy_of_first,
    ]
    decisions = {candidates[1].row.id: Decision(candidates[1].row.id, "rejected", "ana", "not plausible")}
    result = screen_candidates(spec, pool, decisions)
    reasons = {d.id: d.reason for d in result.drops}
    assert reasons[candidates[1].row.id] == "review:rejected"
    assert reasons[broken.id] == "check:schema"
    assert reasons[copy_of_first.row.id] in ("exact", "near")
    survivors = [c.row.id for c in result.survivors]
    assert survivors == [
        c.row.id for c in candidates if c.row.id not in (candidates[1].row.id, candidates[2].row.id)
    ]
    assert all(c.row.checks for c in result.survivors)  # checks are recorded on every surviving row


def test_rows_that_duplicate_existing_coverage_are_dropped(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    spec = plan.spec
    candidates = make_candidates(spec, plan.cases[:4])
    golden = replace(candidates[0].row, id="golden-row-with-the-same-request", source="golden")
    result = screen_candidates(spec, candidates, {}, [ExistingRow("golden", golden)])
    assert [(d.id, d.kept_id, d.reason) for d in result.drops] == [
        (candidates[0].row.id, golden.id, "existing:golden")
    ]
    assert len(result.survivors) == 3
    # a candidate that *is* the existing row (same id) continues it: recompiles stay unchanged
    again = screen_candidates(spec, candidates, {}, [ExistingRow("v1", candidates[0].row)])
    assert again.drops == () and len(again.survivors) == 4


def test_screening_is_idempotent_and_keeps_order(project: Project) -> None:
    plan = plan_cases(load_spec(["size=20"], project))
    candidates = make_candidates(plan.spec, plan.cases)
    once = screen_candidates(plan.spec, candidates, {})
    twice = screen_candidates(
        plan.spec, [Candidate(replace(c.row, checks=()), c.case) for c in once.survivors], {}
    )
    assert [c.row.id for c in twice.survivors] == [c.row.id for c in once.survivors]
    assert twice.drops == ()
