"""verify_version: every way a version can change after it was written is found and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.core.errors import StoreError
from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import Project
from compiler.versions.store import Version
from compiler.versions.verify import require_intact, verify_version, versions_of_paths


@pytest.fixture
def version(project: Project) -> Version:
    return compile_dataset(["size=16"], project=project).version


def test_an_intact_version_has_no_findings(version: Version) -> None:
    assert verify_version(version) == []
    assert require_intact(version) == version


def _edit_first_row(path: Path) -> None:
    lines = path.read_text().splitlines()
    row = json.loads(lines[0])
    row["expected"]["verdict"] = "answer" if row["expected"]["verdict"] != "answer" else "refuse"
    lines[0] = json.dumps(row)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        pytest.param(
            lambda v: _edit_first_row(v.path / "cases.jsonl"), "does not hash to its id", id="row-edited"
        ),
        pytest.param(lambda v: (v.path / "report.html").unlink(), "missing", id="file-deleted"),
        pytest.param(
            lambda v: (v.path / "drops.jsonl").write_text("x\n"), "differs from the hash", id="file-changed"
        ),
        pytest.param(
            lambda v: (v.path / "manifest.json").write_text((v.path / "manifest.json").read_text() + " "),
            "differs from the hash in versions.jsonl",
            id="manifest-changed",
        ),
    ],
)
def test_tampering_is_found_and_named(version: Version, damage: object, problem: str) -> None:
    damage(version)  # type: ignore[operator]
    findings = verify_version(version)
    assert any(problem in f.problem for f in findings), findings
    with pytest.raises(StoreError, match="modified after it was written"):
        require_intact(version)


def test_files_map_to_their_version_folders_once(version: Version) -> None:
    files = [
        version.path / "cases.jsonl",
        version.path / "manifest.json",
        version.path.parent / "versions.jsonl",
    ]
    assert versions_of_paths(files) == [version.path]
