"""The example version committed under outputs/ still reproduces byte for byte from conf/ on the offline LM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import PACKAGE_ROOT, Project

COMMITTED = PACKAGE_ROOT / "outputs" / "support_bot"


def test_the_committed_example_version_reproduces_byte_for_byte(project: Project, tmp_path: Path) -> None:
    entries = [json.loads(line) for line in (COMMITTED / "versions.jsonl").read_text().splitlines() if line]
    committed = COMMITTED / entries[-1]["version"]
    # compile into an empty outputs/ (as a fresh clone without the committed version would)
    shutil.rmtree(tmp_path / "outputs", ignore_errors=True)
    shutil.copytree(PACKAGE_ROOT / "datasets", tmp_path / "datasets", dirs_exist_ok=True)  # the curated rows
    result = compile_dataset([], project=project)
    assert result.created and result.version.version == committed.name, (
        "the default compile no longer reproduces the committed example; if the change is intended, "
        "recompile with `make compile` and commit the new version under outputs/support_bot/"
    )
    for path in sorted(committed.iterdir()):
        assert (result.version.path / path.name).read_bytes() == path.read_bytes(), path.name
