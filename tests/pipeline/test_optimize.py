"""`dsc optimize` (compiler/pipeline/optimize.py) and its metric (compiler/pipeline/metric.py), on the offline LM."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest

from compiler.cli.main import main
from compiler.generate.backends import open_lm
from compiler.generate.journal import Journal
from compiler.pipeline.compile import compile_dataset
from compiler.pipeline.metric import CaseMetric
from compiler.pipeline.optimize import optimize_program
from compiler.spec.compose import Project, load_spec

SMALL = ["~sources", "optimizer.trainset=8", "optimizer.valset=8"]


def test_optimize_saves_a_program_that_a_rerun_rebuilds_for_free(project: Project) -> None:
    first = optimize_program(SMALL, project=project)
    assert first.path == project.root / "programs" / "support_bot.json"
    state = json.loads(first.path.read_text())
    demos = state["write"]["demos"]
    assert first.demos == len(demos) > 0 and first.calls > 0
    assert all({"instruction", "case", "customer_message", "verdict"} <= set(d) for d in demos)
    assert 0 < first.before <= 1 and 0 < first.after <= 1
    saved = first.path.read_bytes()
    again = optimize_program(SMALL, project=project)  # every answer is in the journal: nothing is paid twice
    assert (again.calls, again.replayed > 0, again.path.read_bytes()) == (0, True, saved)
    assert (again.before, again.after) == (first.before, first.after)


def test_optimized_demos_raise_the_held_out_metric_and_poor_demos_lower_it(project: Project) -> None:
    # the offline LM follows its demos as a real LM does (offline/imitate.py): BootstrapFewShot keeps traces the
    # metric scored high, so the held-out cases written after them score higher than without demos ...
    optimized = optimize_program(SMALL, project=project)
    assert optimized.demos > 0 and optimized.after > optimized.before
    # ... and the same demos made poor (an expected behaviour unrelated to a two-word message) drag it down
    state = json.loads(optimized.path.read_text())
    for demo in state["write"]["demos"]:
        demo.update(customer_message="hello there", expected_behavior="Zzzz qqqq wwww vvvv.")
    (project.root / "programs" / "poor.json").write_text(json.dumps(state))
    poor = optimize_program(
        [*SMALL, "generator.state=programs/poor.json", "optimizer.out=programs/again.json"], project=project
    )
    assert poor.before < optimized.before < optimized.after


def test_a_version_compiled_with_the_program_names_it_and_its_hash(project: Project) -> None:
    optimize_program(SMALL, project=project)
    result = compile_dataset(
        ["~sources", "size=8", "generator.state=programs/support_bot.json", "out_dir=optimized"],
        project=project,
    )
    generator = json.loads((result.version.path / "manifest.json").read_text())["generator"]
    assert generator["state"] == "programs/support_bot.json" and len(generator["state_hash"]) == 16


def test_optimize_stops_cleanly_at_the_budget_and_resumes(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["optimize", *SMALL, "budget.max_calls=5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "budget.max_calls=5 reached" in err and len(err.splitlines()) == 1
    assert not (project.root / "programs").exists()
    assert main(["optimize", *SMALL]) == 0
    assert "optimized (bootstrap): programs/support_bot.json" in capsys.readouterr().out


def test_optimize_from_the_command_line_optimizes_the_dataset_named(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # the default dataset is support_bot: `dataset=` on the command line must reach the spec
    assert main(["optimize", "dataset=agent_tools", *SMALL[1:], "optimizer=gepa"]) == 0
    out = capsys.readouterr().out
    assert "optimized (gepa): programs/agent_tools.json" in out
    assert "dsc compile dataset=agent_tools generator.state=programs/agent_tools.json" in out
    assert not (project.root / "programs" / "support_bot.json").exists()


def test_too_few_planned_cases_is_one_line(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["optimize", "~sources", "size=6", "optimizer.trainset=20", "optimizer.valset=20"]) == 2
    err = capsys.readouterr().err.strip()
    assert "optimizer.trainset + optimizer.valset: 40 cases" in err and len(err.splitlines()) == 1
    assert "e.g. optimizer.trainset=" in err
    assert err.startswith("dsc: error: command-line override `optimizer.trainset=20`: ")  # not config.yaml


def test_a_plan_smaller_than_the_built_in_sizes_splits_what_it_has(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # `dsc init`'s example space (24 rows) could not be optimized with the defaults (24 + 24 cases)
    assert main(["optimize", "~sources", "size=20", "strategies.adversarial=0"]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if line.startswith("dsc: warning: ")]
    assert warning == [
        "dsc: warning: optimizer: the plan has 20 cases, fewer than the 24 + 24 the bootstrap optimizer "
        "trains and scores on by default; using 10 and 10 (set optimizer.trainset and optimizer.valset, or "
        "raise size)"
    ]
    assert "held-out metric on 10 planned cases" in captured.out and "(trained on 10)" in captured.out


def _metric(project: Project, tmp_path: Path, judge: bool = False) -> CaseMetric:
    spec = load_spec(["~sources"], project)
    return CaseMetric(spec, open_lm(spec.lm, Journal(tmp_path)), {}, judge=judge, feedback=True)


CASE = {
    "customer_message": "My order 4411 arrived with a cracked screen, can I get a refund or a replacement?",
    "order_context": "",
    "expected_behavior": "Offers a refund or a replacement under the 30-day policy and asks for a photo.",
    "must_include": ["30 days"],
    "verdict": "answer",
    "needs_human": False,
}


def test_the_metric_rewards_a_clean_new_case_and_says_what_cost_points(
    project: Project, tmp_path: Path
) -> None:
    metric = _metric(project, tmp_path)
    example = dspy.Example(instruction="i", case="{}").with_inputs("instruction", "case")
    clean = metric(example, dspy.Prediction(**CASE))
    assert clean.score == 1.0 and "passes every check" in clean.feedback
    repeat = metric(example, dspy.Prediction(**CASE))  # the same case again: a near-duplicate
    assert repeat.score == 0.5 and "reads like an earlier case" in repeat.feedback
    empty = metric(example, dspy.Prediction(**{**CASE, "customer_message": "", "expected_behavior": "x"}))
    assert empty.score == pytest.approx(2 / 3, abs=1e-5) and "check context failed" in empty.feedback
    broken = metric(example, dspy.Prediction(customer_message="only this"))
    assert broken.score == 0.0 and "lacks a field" in broken.feedback


def test_the_judge_scales_the_score_through_the_journal(project: Project, tmp_path: Path) -> None:
    metric = _metric(project, tmp_path, judge=True)
    example = dspy.Example(instruction="i", case="{}").with_inputs("instruction", "case")
    judged = metric(example, dspy.Prediction(**CASE))
    assert 0.5 <= judged.score <= 1.0 and "plausibility judge gave" in judged.feedback
    assert metric.handle.stats.calls == 1
