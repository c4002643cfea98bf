"""The Inspect export runs as `inspect eval task.py` against a loopback model and grader, with grouped metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compiler.export.formats import export_version
from tests.export_runs import (
    Version,
    answers,
    committed_version,
    compiled_version,
    needle,
    pick_rows,
    require_module,
    wrong_ids,
)
from tests.grader_server import GraderServer

VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    require_module("inspect_ai", "inspect-ai")
    return VERSIONS[request.param]()


def test_the_dataset_loads_with_every_cell_key_in_every_samples_metadata(
    version: Version, tmp_path: Path
) -> None:
    dataset = require_module("inspect_ai.dataset", "inspect-ai")
    folder = export_version(version.rows, version.manifest, "inspect", tmp_path)
    spec = json.loads((folder / "columns.json").read_text())
    samples = dataset.json_dataset(
        str(folder / "samples.jsonl"),
        dataset.FieldSpec(input="input", target="target", id="id", metadata=spec["metadata"]),
    )
    assert len(samples) == len(version.rows)
    space = version.space
    by_id = {r.id: r for r in version.rows}
    for sample in samples:
        row = by_id[sample.id]
        assert all(sample.metadata[d] == row.cell.get(d) for d in space.dimensions)  # null where unknown
        assert sample.metadata["strategy"] == row.strategy and sample.metadata["source"] == row.source
        assert (
            str(row.inputs[space.primary]).strip() in sample.input and "{{" not in sample.input.split("\n")[0]
        )
    assert spec["group_by"] == space.dimensions[0]


@dataclass(frozen=True)
class Run:
    version: Version
    log: dict[str, Any]
    wrong: frozenset[str]  # ids of the rows answered wrong
    server: GraderServer


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One `inspect eval a/task.py b/task.py` as the README says (Inspect takes seconds to start), both
    versions' model and grader pointed at one loopback server that answers every other case wrong."""
    require_module("inspect_ai", "inspect-ai")
    tmp = tmp_path_factory.mktemp("inspect")
    versions = {name: load() for name, load in VERSIONS.items()}
    picked = {name: pick_rows(v.rows, v.space) for name, v in versions.items()}
    table = {k: v for name, v in versions.items() for k, v in answers(picked[name], v.space, v.rows).items()}
    wrong = {name: wrong_ids(rows, versions[name].space) for name, rows in picked.items()}
    folders = {
        name: export_version(picked[name], v.manifest, "inspect", tmp / name) for name, v in versions.items()
    }
    with GraderServer(table) as server:
        server.wrong = {
            needle(r, versions[n].space) for n, rows in picked.items() for r in rows if r.id in wrong[n]
        }
        env = {
            **os.environ,
            "LOOPBACK_BASE_URL": server.base_url,
            "LOOPBACK_API_KEY": "loopback",
            "INSPECT_LOG_DIR": str(tmp / "logs"),
            "INSPECT_DISPLAY": "none",
        }
        command = [sys.executable, "-m", "inspect_ai._cli.main", "eval", *(f"{n}/task.py" for n in folders)]
        command += ["--log-format", "json", "--model", "openai-api/loopback/model-under-test"]
        command += ["--model-role", "grader=openai-api/loopback/grader-inspect"]
        done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    logs = [json.loads(p.read_text()) for p in (tmp / "logs").glob("*.json")]
    out = {}
    for name, v in versions.items():
        (log,) = [g for g in logs if g["eval"]["task"].startswith(f"{name}-")]
        assert log["status"] == "success" and len(log["samples"]) == len(picked[name])
        out[name] = Run(v, log, frozenset(wrong[name]), server)
    return out


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_a_right_answer_scores_correct_on_every_column(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    space = run.version.space
    right = [s for s in run.log["samples"] if s["id"] not in run.wrong]
    assert right and all(set(s["scores"]) == {c.name for c in space.columns} for s in right)
    failed = [
        (s["id"], column, score)
        for s in right
        for column, score in s["scores"].items()
        if score["value"] != "C"
    ]
    assert not failed, failed[:3]
    assert run.server.graded and all(seen is not None for seen, _, _ in run.server.graded)  # saw the input
    first = space.dimensions[0]
    metrics = {s["name"]: s["metrics"] for s in run.log["results"]["scores"]}
    groups = {k for k in metrics[space.columns[0].name] if k not in ("accuracy", "stderr", "all")}
    assert groups == {str(s["metadata"][first]) for s in run.log["samples"]}  # grouped by the first dimension


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_a_wrong_answer_fails_the_list_columns_and_the_rubrics(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    space = run.version.space
    wrong = [s for s in run.log["samples"] if s["id"] in run.wrong]
    lists = [c.name for c in space.columns if c.kind == "list"]
    checked = [
        s["scores"][c]
        for s in wrong
        for c in lists
        if s["metadata"]["expected"].get(c) or space.column(c).list_role == "tool_calls"
    ]
    assert wrong and checked and all(score["value"] == "I" for score in checked), checked
    graded = [s["scores"][c.name] for s in wrong for c in space.columns if c.kind != "list"]
    assert graded and all(score["value"] == "I" for score in graded)
