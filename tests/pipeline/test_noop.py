"""Make's no-op: an unchanged recompile is found from the fingerprint of its inputs, before any planning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli.main import main
from compiler.pipeline.noop import Unchanged, compile_or_reuse, find_unchanged, fingerprint
from compiler.spec.compose import load_spec
from compiler.spec.project import Project
from tests.conftest import edit

ARGS = ["size=16", "~sources"]


def _version(project: Project) -> Path:
    [manifest] = list((project.root / "outputs" / "support_bot").glob("*/manifest.json"))
    return manifest.parent


def _compiled(project: Project) -> Path:
    spec = load_spec(ARGS, project)
    result = compile_or_reuse(ARGS, project, spec)
    assert not isinstance(result, Unchanged)
    return _version(project)


def test_an_unchanged_recompile_is_found_without_planning(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _compiled(project)
    before = {p: p.stat().st_mtime_ns for p in (project.root / "outputs").rglob("*")}
    assert main(["compile", *ARGS]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"unchanged: {folder.name} -> ")
    assert "report.html" in out and "strategies:" in out and "16 rows" in out
    assert {p: p.stat().st_mtime_ns for p in (project.root / "outputs").rglob("*")} == before


def test_an_unchanged_recompile_imports_neither_dspy_nor_numba(project: Project) -> None:
    _compiled(project)
    code = (
        "import sys; from compiler.cli.main import main; code = main(['compile', *sys.argv[1:]]); "
        "print(sorted(m for m in ('dspy', 'numba', 'litellm') if m in sys.modules)); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *ARGS], capture_output=True, text=True, cwd=project.root
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("unchanged: ") and done.stdout.strip().endswith("[]")


CHANGES = [
    pytest.param(
        lambda root: edit(root / "conf/dataset/support_bot.yaml", "seed: 7", "seed: 8"), id="config"
    ),
    pytest.param(
        lambda root: (root / "templates" / "direct.j2").write_text(
            '{% extends "_base.j2" %}{% block task %}Write a plain request.{% endblock %}'
        ),
        id="template",
    ),
    pytest.param(
        lambda root: (
            (root / "reviews").mkdir()
            or (root / "reviews/support_bot.jsonl").write_text(
                '{"id": "0000000000000000", "status": "rejected"}\n'
            )
        ),
        id="review-decisions",
    ),
]


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_input_is_not_unchanged(project: Project, change: object) -> None:
    _compiled(project)
    spec = load_spec(ARGS, project)
    assert find_unchanged(project, spec) is not None
    before = fingerprint(project, spec)
    change(project.root)  # type: ignore[operator]
    spec = load_spec(ARGS, project)
    assert fingerprint(project, spec) != before
    assert find_unchanged(project, spec) is None


DAMAGE = [
    pytest.param(
        lambda v: (v / "cases.jsonl").write_text((v / "cases.jsonl").read_text()[:-40]), id="rows-cut"
    ),
    pytest.param(lambda v: (v / "report.html").unlink(), id="file-missing"),
    pytest.param(lambda v: (v / "manifest.json").write_text("{"), id="manifest-damaged"),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_version_is_never_trusted(project: Project, damage: object) -> None:
    folder = _compiled(project)
    damage(folder)  # type: ignore[operator]
    assert find_unchanged(project, load_spec(ARGS, project)) is None


def test_a_damaged_fingerprint_store_only_costs_a_full_compile(project: Project) -> None:
    folder = _compiled(project)
    store = project.root / ".dsc" / "fingerprints" / "support_bot.json"
    assert json.loads(store.read_text()) == {fingerprint(project, load_spec(ARGS, project)): folder.name}
    store.write_text('{"torn')
    spec = load_spec(ARGS, project)
    assert find_unchanged(project, spec) is None
    result = compile_or_reuse(ARGS, project, spec)
    assert not isinstance(result, Unchanged) and not result.created and result.calls == 0
    assert find_unchanged(project, load_spec(ARGS, project)) is not None
