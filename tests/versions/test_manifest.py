"""The manifest: what a version records (without secrets or machine-local paths), read back typed."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from compiler.core.errors import StoreError
from compiler.generate.backends.journaled import CallStats
from compiler.plan.cases import plan_cases
from compiler.screen.candidates import screen_candidates
from compiler.screen.select import select_rows
from compiler.spec.compose import Project, load_spec
from compiler.versions.build import BuildRecord, build_manifest, config_hash
from compiler.versions.manifest import Manifest
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
    manifest = build_manifest(spec, plan, record).to_json()  # type: ignore[arg-type]
    assert manifest["rows"] == 30 and manifest["version"] == "abc123" and manifest["parent"] is None
    assert sum(s["selected"] for s in manifest["strategies"].values()) == 30
    assert manifest["sources"] == {"synthetic": 30}
    assert sum(manifest["cells"].values()) == 30
    assert manifest["failures"] == {"timeout": 2}
    assert manifest["coverage"]["strength"] == 2


def test_manifest_keeps_no_local_paths_and_no_key_and_hashes_the_config(project: Project) -> None:
    spec, plan, record = _record(project, ["size=30", "out_dir=/somewhere/else"])
    manifest = build_manifest(spec, plan, record).to_json()  # type: ignore[arg-type]
    text = json.dumps(manifest)
    assert "/somewhere/else" not in text and "out_dir" not in manifest["config"]
    other, _, _ = _record(project, ["size=30"])
    assert config_hash(spec) == config_hash(other)  # type: ignore[arg-type]  # local paths are not identity


COMMITTED = Path(__file__).resolve().parents[2] / "outputs" / "support_bot"


def test_a_written_manifest_reads_back_typed_and_writes_the_same_dict_in_the_same_order() -> None:
    latest = json.loads((COMMITTED / "versions.jsonl").read_text().splitlines()[-1])["version"]
    data = json.loads((COMMITTED / latest / "manifest.json").read_text(encoding="utf-8"))
    manifest = Manifest.from_json(data)
    assert manifest.lm.identity == data["lm"]["identity"]
    assert manifest.strategies["direct"].selected == data["strategies"]["direct"]["selected"] > 0
    assert [c.strategy for c in manifest.shortfall.cells] == [
        c["strategy"] for c in data["shortfall"]["cells"]
    ]
    assert manifest.section("curated")["golden"]["rows"] == data["curated"]["golden"]["rows"]
    again = manifest.to_json()
    assert list(again) == list(data) and again == data


def test_an_older_manifest_without_new_sections_reads_with_empty_values() -> None:
    manifest = Manifest.from_json({"dataset": "d", "version": "v1", "rows": 3})
    assert manifest.rows == 3 and manifest.usage.requests == 0 and manifest.strategies == {}
    assert "privacy" not in manifest.to_json() and "files" not in manifest.to_json()


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"dataset": "d", "version": "v", "rows": "many"}, "m.json: rows: expected a number"),
        ({"dataset": "d", "version": "v", "usage": {"requests": []}}, "m.json: usage: requests: expected"),
        ({"dataset": "d", "version": "v", "strategies": []}, "m.json: strategies: expected an object"),
        (
            {"dataset": "d", "version": "v", "shortfall": {"cells": [3]}},
            "shortfall.cells[0]: not a JSON object",
        ),
    ],
    ids=["rows-text", "usage-list", "strategies-list", "short-cell-number"],
)
def test_a_manifest_field_of_the_wrong_type_is_one_store_error_naming_it(
    data: dict[str, Any], where: str
) -> None:
    with pytest.raises(StoreError, match=re.escape(where)):
        Manifest.from_json(data, "m.json")
