"""Stable plans: a small config change keeps the parent's cases, rows and review decisions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.cli.main import main
from compiler.pipeline.compile import compile_dataset
from compiler.plan.cases import plan_cases
from compiler.plan.stable import plan_stable, seed_of
from compiler.spec.compose import PACKAGE_ROOT, Project, load_spec
from compiler.versions.store import read_rows

FIXTURES = (
    Path(__file__).parents[1] / "fixtures" / "spaces"
)  # copies of the shared spaces, as users wrote them
SHARED = (
    PACKAGE_ROOT.parent / "shared" / "spaces"
)  # the newest copies, when the shared folder sits beside the clone
NEWCOMER = {p.name: p for p in sorted(FIXTURES.glob("*.yaml"))} | {
    p.name: p for p in sorted(SHARED.glob("*.yaml"))
}
SPACES = [p for p in sorted((PACKAGE_ROOT / "conf" / "dataset").glob("*.yaml"))] + [
    NEWCOMER[name] for name in sorted(NEWCOMER)
]
ADDED = "added_value"


def _space_ids() -> list[Any]:
    return [pytest.param(p, id=f"{p.parent.parent.name}-{p.stem}") for p in SPACES]


def _install(project: Project, source: Path) -> Path:
    """The space in the project's conf/dataset/, copied as it is written (plain keys, no Hydra directive)."""
    target = project.conf_dir / "dataset" / source.name
    if source.parent != target.parent:
        shutil.copyfile(source, target)
    return target


def _add_value(path: Path) -> str:
    """Add one value (weight 1) to the first dimension of the space; return that dimension's name."""
    data = yaml.safe_load(path.read_text())
    name, raw = next(iter(data["dimensions"].items()))
    values = raw["values"] if isinstance(raw, dict) and "values" in raw else raw
    if isinstance(values, list):
        values.append(ADDED)
    else:
        values[ADDED] = 1
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return str(name)


@pytest.mark.parametrize("source", _space_ids())
@pytest.mark.parametrize("size", [pytest.param(30, id="size30"), pytest.param(90, id="size90")])
def test_an_unchanged_config_seeded_with_its_own_plan_plans_the_same_cases(
    project: Project, source: Path, size: int
) -> None:
    _install(project, source)
    spec = load_spec([f"dataset={source.stem}", f"size={size}"], project)
    plan = plan_cases(spec)
    again = plan_stable(spec, seed_of(plan))
    assert again.cases == plan.cases and again.cells.array == plan.cells.array


@pytest.mark.parametrize("source", _space_ids())
def test_one_added_value_keeps_the_parents_cases(project: Project, source: Path) -> None:
    path = _install(project, source)
    before = plan_cases(load_spec([f"dataset={source.stem}"], project))
    dimension = _add_value(path)
    spec = load_spec([f"dataset={source.stem}"], project)
    after = plan_stable(spec, seed_of(before))
    key = lambda c: (c.strategy, c.variant, c.cell, c.slot)  # noqa: E731 - the identity of a case
    old = [key(c) for c in before.cases if c.primary]
    kept = len(set(old) & {key(c) for c in after.cases})
    print(f"{source.stem}: {kept} of {len(old)} primary cases kept ({kept / len(old):.0%})")
    assert kept / len(old) >= 0.8
    assert any(dict(c.cell)[dimension] == ADDED for c in after.cases if c.primary)  # the new value is planned
    assert after.covered_tuples() >= after.cells.required_tuples or after.coverage_warning() is not None
    assert len([c for c in after.cases if c.primary]) == spec.size


@pytest.mark.parametrize("source", _space_ids())
def test_a_recompile_after_one_added_value_keeps_rows_and_decisions(
    project: Project, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _install(project, source)
    overrides = [f"dataset={source.stem}", "size=40"]
    first = compile_dataset(overrides, project=project)
    rows = [r for r in read_rows(first.version) if r.source == "synthetic"]
    approved, rejected = rows[1:], rows[0]  # a reviewer went through the whole version
    assert (
        main(["review", "approve", "--version", str(first.version.path), *[r.id[:12] for r in approved]]) == 0
    )
    assert (
        main(
            ["review", "reject", "--version", str(first.version.path), rejected.id[:12], "--reason", "vague"]
        )
        == 0
    )
    _add_value(path)
    second = compile_dataset(overrides, project=project)
    carry = second.carry
    assert carry is not None and carry.parent == first.version.version
    with capsys.disabled():
        print(
            f"\n{source.stem}: kept {carry.kept} of {carry.in_space} rows ({carry.share:.0%}), "
            f"{second.calls} of {first.calls} LM calls new"
        )
    assert carry.share >= 0.8
    assert second.calls < first.calls / 2
    status = {r.id: r.review_status for r in read_rows(second.version)}
    still_there = [r for r in approved if r.id in status]
    assert len(still_there) >= 0.8 * len(approved) and all(status[r.id] == "approved" for r in still_there)
    assert rejected.id not in status


def test_the_summary_prints_what_the_change_cost(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(
        PACKAGE_ROOT / "conf" / "dataset" / "rag_qa.yaml", project.conf_dir / "dataset" / "rag_qa.yaml"
    )
    assert main(["compile", "dataset=rag_qa", "size=24"]) == 0
    _add_value(project.conf_dir / "dataset" / "rag_qa.yaml")
    capsys.readouterr()
    assert main(["compile", "dataset=rag_qa", "size=24"]) == 0
    out = capsys.readouterr().out
    assert "change from " in out and "generated rows whose cells still exist" in out and "new LM calls" in out
    assert "asked anew" not in out  # the space changed, not the requests


def test_the_summary_says_what_changed_in_the_requests(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compile", "size=12"]) == 0
    capsys.readouterr()
    assert main(["compile", "size=12", "generator.module=chain_of_thought"]) == 0
    out = capsys.readouterr().out
    assert "kept 0 of " in out and "the generator program changed, so the LM was asked anew" in out, out


def test_the_summary_names_an_edited_template_but_not_a_strategy_added(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.generate.templates import BUILTIN_TEMPLATES

    without = ["strategies.persona=0", "strategies.evaluator_aligned=0"]
    assert main(["compile", "size=12", *without, "strategies.adversarial=0"]) == 0
    capsys.readouterr()
    assert main(["compile", "size=12", *without]) == 0
    out = capsys.readouterr().out
    assert "change from " in out and "asked anew" not in out, out  # adversarial.j2 is new to this version
    project.templates_dir.mkdir(parents=True, exist_ok=True)
    edited = (
        (BUILTIN_TEMPLATES / "direct.j2")
        .read_text()
        .replace("{% endblock %}", " Keep the request under 40 words.{% endblock %}")
    )
    (project.templates_dir / "direct.j2").write_text(edited)
    assert main(["compile", "size=12", *without]) == 0
    out = capsys.readouterr().out
    assert "; template direct.j2 changed, so the LM was asked anew" in out, out
