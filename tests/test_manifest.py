"""build_manifest: what a version records, without secrets or machine-local paths."""

from __future__ import annotations

import json
from collections import Counter

from compiler.generate.backends.journaled import CallStats
from compiler.plan.cases import plan_cases
from compiler.screen.candidates import screen_candidates
from compiler.screen.select import select_rows
from compiler.spec.compose import Project, load_spec
from compiler.versions.manifest import BuildRecord, build_manifest, config_hash
from tests.rowmaker import make_candidates


def _record(project: Project, overrides: list[str]) -> tuple[object, object, BuildRecord]:
    spec = load_spec(overrides, project)
    plan = plan_cases(spec)
    screened = screen_candidates(spec, make_candidates(spec, plan.cases), {})
    selection = select_rows(plan, screened.survivors)
    rows = [c.row for c in selection.rows]
    record = BuildRecord(
        version="abc123", parent=None, rows=rows, selection=selection, screened=screened,
        counts=Counter(planned=len(plan.cases)), rounds=0, failures=Counter(timeout=2),
        program_hash="p", templates={"direct": "t"}, lm_identity="offline/procedural-v1", stats=CallStats(),
    )  # fmt: skip
    return spec, plan, record


def test_manifest_counts_rows_by_strategy_source_and_cell(project: Project) -> None:
    spec, plan, record = _record(project, ["size=30"])
    manifest = build_manifest(spec, plan, record)  # type: ignore[arg-type]
    assert manifest["rows"] == 30 and manifest["version"] == "abc123" and manifest["parent"] is None
    assert sum(s["selected"] for s in manifest["strategies"].values()) == 30
    assert manifest["sources"] == {"synthetic": 30}
    assert sum(manifest["cells"].values()) == 30
    assert manifest["failures"] == {"timeout": 2}
    assert manifest["coverage"]["strength"] == 2


def test_manifest_keeps_no_local_paths_and_no_key_and_hashes_the_config(project: Project) -> None:
    spec, plan, record = _record(project, ["size=30", "out_dir=/somewhere/else"])
    manifest = build_manifest(spec, plan, record)  # type: ignore[arg-type]
    text = json.dumps(manifest)
    assert "/somewhere/else" not in text and "out_dir" not in manifest["config"]
    other, _, _ = _record(project, ["size=30"])
    assert config_hash(spec) == config_hash(other)  # type: ignore[arg-type]  # local paths are not identity
