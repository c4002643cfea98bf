"""Warm runs skip Hydra (and a plan replays itself) only when every input is byte-identical, via the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import compiler.plan.space
from compiler.cli.main import main
from compiler.core.atomic import write_queued
from compiler.spec.compose import PACKAGE_ROOT, load_spec
from compiler.spec.project import Project
from tests.conftest import edit

ARGS = ["size=16"]
CACHE_DIR = Path(".dsc") / "compose"  # journal_dir is .dsc in the copied conf
NOOP = "inputs match the fingerprint"  # the line only the fingerprint no-op prints
HEAVY = ("hydra", "omegaconf", "polars", "numpy", "dspy", "numba", "litellm")


def _run(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    assert main(list(words)) == 0
    return capsys.readouterr().out


def _with_curated(project: Project) -> None:
    shutil.copytree(PACKAGE_ROOT / "datasets" / "support_bot", project.root / "datasets" / "support_bot")


def _first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


CHANGES: list[object] = [
    pytest.param(
        lambda root, mp: (root / "templates" / "direct.j2").write_text(
            '{% extends "_base.j2" %}{% block task %}Write a plain request.{% endblock %}'
        ),
        id="template",
    ),
    pytest.param(
        lambda root, mp: edit(
            root / "datasets/support_bot/golden.jsonl", "5 business days", "6 business days"
        ),
        id="curated-row",
    ),
    pytest.param(
        lambda root, mp: (root / "data/traces/support_bot.jsonl").write_text(
            (root / "data/traces/support_bot.jsonl").read_text().replace("refund", "refunds", 1)
        ),
        id="trace",
    ),
    pytest.param(
        lambda root, mp: (root / "data/traces/later.jsonl").write_text(
            _first_line(root / "data/traces/support_bot.jsonl").replace('"id": "', '"id": "x', 1) + "\n"
        ),
        id="trace-file-added-to-the-glob",
    ),
    pytest.param(
        lambda root, mp: (
            (root / "reviews").mkdir()
            or (root / "reviews/support_bot.jsonl").write_text(
                '{"id": "0000000000000000", "status": "rejected"}\n'
            )
        ),
        id="review-decision",
    ),
    pytest.param(
        lambda root, mp: edit(root / "conf/dataset/support_bot.yaml", "seed: 7", "seed: 8"), id="conf-file"
    ),
    pytest.param(
        lambda root, mp: edit(root / "conf/personas/support_shop.yaml", "description: ", "description: Now "),
        id="catalogue",
    ),
    pytest.param(lambda root, mp: mp.setenv("DSC_INDEX_CUTOFF", "{}"), id="env-index-cutoff"),
]


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_input_is_never_reported_unchanged(
    project: Project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[Path, pytest.MonkeyPatch], None],
) -> None:
    _with_curated(project)
    _run(capsys, "compile", *ARGS)
    assert NOOP in _run(capsys, "compile", *ARGS)  # warm: the composition and the fingerprint hit
    assert any((project.root / CACHE_DIR).glob("*.json"))
    change(project.root, monkeypatch)
    out = _run(capsys, "compile", *ARGS)
    assert NOOP not in out


def test_a_changed_override_is_not_unchanged(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "compile", *ARGS)
    assert NOOP in _run(capsys, "compile", *ARGS)
    assert NOOP not in _run(capsys, "compile", *ARGS, "seed=9")
    assert NOOP not in _run(capsys, "compile", "size=17")


def test_another_project_root_composes_afresh(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _run(capsys, "compile", *ARGS)
    other = tmp_path / "other"
    shutil.copytree(project.root / "conf", other / "conf")
    shutil.copytree(project.root / "data", other / "data")
    edit(other / "conf/dataset/support_bot.yaml", "seed: 7", "seed: 5")
    monkeypatch.setenv("DSC_PROJECT", str(other))
    plan = json.loads(_run(capsys, "plan", "--json", *ARGS))
    assert plan["dataset"] == "support_bot" and NOOP not in _run(capsys, "compile", *ARGS)
    assert (other / "outputs" / "support_bot").is_dir()


def test_warm_plan_prints_what_a_cold_plan_prints(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    compiler.plan.space._ARRAYS.clear()  # an earlier test in this process may have built the same array
    cold = _run(capsys, "plan", *ARGS)
    assert _run(capsys, "plan", *ARGS) == cold  # composition and printed plan remembered
    shutil.rmtree(project.root / ".dsc" / "plans")
    assert _run(capsys, "plan", *ARGS) == cold  # composition and covering array remembered, plan computed
    assert any((project.root / ".dsc" / "arrays").glob("*.json"))
    shutil.rmtree(project.root / ".dsc" / "plans")
    shutil.rmtree(project.root / ".dsc" / "arrays")
    assert _run(capsys, "plan", *ARGS) == cold  # composition remembered, array built
    shutil.rmtree(project.root / CACHE_DIR)
    assert _run(capsys, "plan", *ARGS) == cold
    assert json.loads(_run(capsys, "plan", "--json", *ARGS))["size"] == 16


def test_a_conf_edit_after_a_warm_plan_is_planned(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    before = json.loads(_run(capsys, "plan", "--json"))
    assert json.loads(_run(capsys, "plan", "--json")) == before
    edit(project.root / "conf/dataset/support_bot.yaml", "size: 120", "size: 50")
    assert json.loads(_run(capsys, "plan", "--json"))["size"] == 50
    (project.root / "templates" / "direct.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}Write a plain request, and at length: '
        + "x " * 400
        + "{% endblock %}"
    )
    after = json.loads(_run(capsys, "plan", "--json"))
    assert after["estimate"]["input_tokens"] > before["estimate"]["input_tokens"] * 50 / 120


def test_a_damaged_cache_only_costs_a_composition(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    cold = _run(capsys, "plan", *ARGS)
    shutil.rmtree(project.root / ".dsc" / "plans")
    for stored in (project.root / CACHE_DIR).glob("*.json"):
        stored.write_text('{"torn')
    assert _run(capsys, "plan", *ARGS) == cold
    (project.root / ".dsc" / "plans" / "support_bot.json").write_text("[1")
    assert _run(capsys, "plan", *ARGS) == cold


def test_the_remembered_composition_validates_to_the_same_spec(project: Project) -> None:
    fresh = load_spec(ARGS, project)
    assert load_spec(ARGS, project, remembered=True) == fresh  # keeps it
    write_queued()  # what the command line does once the command succeeded
    assert any((project.root / CACHE_DIR).glob("*.json"))
    assert load_spec(ARGS, project, remembered=True) == fresh  # reads it back through JSON
    assert [d.name for d in load_spec(ARGS, project, remembered=True).dimensions] == [
        d.name for d in fresh.dimensions
    ]


def test_a_config_error_is_not_remembered(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "size=-3"]) == 2
    assert "size" in capsys.readouterr().err
    assert not any((project.root / CACHE_DIR).glob("*.json"))
    assert main(["plan", "size=-3"]) == 2


@pytest.mark.parametrize("verb", [["compile"], ["plan"], ["plan", "dataset=rag_qa"]])
def test_warm_runs_import_neither_hydra_nor_polars(project: Project, verb: list[str]) -> None:
    code = (
        "import sys; from compiler.cli.main import main; code = main(sys.argv[1:]); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr); sys.exit(code)"
    )
    for _ in range(2):  # the first run composes (and compiles); the second is warm
        done = subprocess.run(
            [sys.executable, "-c", code, *verb, *ARGS], capture_output=True, text=True, cwd=project.root
        )
        assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
