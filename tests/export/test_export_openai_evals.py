"""The OpenAI evals export: the registry loads with the evals package's own Registry, and `oaieval` runs it
against a loopback model and grader.

evals 3.0.1 cannot be a dev dependency (it pins tensorflow, spacy, playwright, ...); `.ci/openai_evals.sh`
installs it with --no-deps into a cache folder, and these tests run it from there in a subprocess. Without
it they skip locally and fail under CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from compiler.export.formats import export_version
from compiler.export.openai_evals import eval_name
from tests.browser import in_ci
from tests.export_runs import (
    Version,
    answers,
    committed_version,
    compiled_version,
    needle,
    pick_rows,
    wrong_ids,
)
from tests.grader_server import GraderServer

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}
LOAD = """
import json, sys
from pathlib import Path
from evals.data import get_jsonl
from evals.registry import Registry

registry = Registry([Path(sys.argv[1])])
spec = registry.get_eval(sys.argv[2])
graded = registry.get_modelgraded_spec(spec.args["modelgraded_spec"])
samples = get_jsonl(str(Path(sys.argv[1]) / "data" / spec.args["samples_jsonl"]))
print(json.dumps({"cls": spec.cls, "args": spec.args, "choices": graded.choice_strings,
                  "inputs": graded.input_outputs, "prompt": graded.prompt, "samples": samples}))
"""


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    return VERSIONS[request.param]()


@pytest.fixture(scope="module")
def evals_path() -> str:
    text = (ROOT / ".ci" / "openai_evals.sh").read_text()
    release = text.split("EVALS_VERSION=", 1)[1].split()[0]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    home = Path(os.environ.get("DSC_OPENAI_EVALS_HOME") or cache / "dsc" / f"openai-evals-{release}-py{py}")
    if not (home / ".installed").is_file():
        message = f"OpenAI evals is not installed in {home}: run .ci/openai_evals.sh"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return str(home)


def evals_env(evals_path: str, **extra: str) -> dict[str, str]:
    # evals builds an OpenAI client on import, so it needs a key; it reads ~/.evals too, hence HOME
    return {**os.environ, "PYTHONPATH": evals_path, "OPENAI_API_KEY": "loopback", **extra}


def test_the_registry_loads_with_the_evals_packages_own_loader(
    version: Version, tmp_path: Path, evals_path: str
) -> None:
    folder = export_version(version.rows, version.manifest, "openai-evals", tmp_path / "export")
    name = eval_name(version.space)
    env = evals_env(evals_path, HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder / "registry"), name], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert loaded["cls"] == "evals.elsuite.modelgraded.classify:ModelBasedClassify"
    assert loaded["args"]["eval_type"] == "cot_classify" and list(loaded["choices"]) == ["Y", "N"]
    assert loaded["inputs"] == {"input": "completion"} and "{criteria}" in loaded["prompt"]
    samples = loaded["samples"]
    assert [s["id"] for s in samples] == sorted(r.id for r in version.rows)
    space = version.space
    for sample in samples:
        roles = [m["role"] for m in sample["input"]]
        assert roles == (["system", "user"] if space.prompt.splitlines()[0].find("{") < 0 else ["user"])
        assert sample["criteria"].startswith("1. ") and list(sample["metadata"]["cell"]) == list(
            space.dimensions
        )


def test_oaieval_scores_right_answers_y_and_wrong_answers_n(
    version: Version, tmp_path: Path, evals_path: str
) -> None:
    space = version.space
    rows = pick_rows(version.rows, space)
    wrong = wrong_ids(rows, space)
    folder = export_version(rows, version.manifest, "openai-evals", tmp_path / "export")
    record = tmp_path / "record.jsonl"
    with GraderServer(answers(rows, space, version.rows)) as server:
        server.wrong = {needle(r, space) for r in rows if r.id in wrong}
        env = evals_env(evals_path, HOME=str(tmp_path), OPENAI_BASE_URL=server.base_url, EVALS_THREADS="2")
        # oaieval takes only names it knows to be chat models: gpt-4-* (the loopback server lists these)
        models = "gpt-4-model-under-test,gpt-4-grader-openai"
        command = [sys.executable, "-m", "evals.cli.oaieval", models, eval_name(space)]
        command += ["--registry_path", str(folder / "registry"), "--record_path", str(record)]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in record.read_text().splitlines()]
    final: dict[str, Any] = next(e["final_report"] for e in events if "final_report" in e)
    assert final["score"] == pytest.approx(1 - len(wrong) / len(rows))
    # sample ids are `<eval>.<index in samples.jsonl>`; the export writes rows sorted by id
    ordered = sorted(rows, key=lambda r: r.id)
    choices = {e["sample_id"]: e["data"]["choice"] for e in events if e.get("type") == "metrics"}
    assert len(choices) == len(rows)
    for sample_id, choice in choices.items():
        row = ordered[int(sample_id.rsplit(".", 1)[1])]
        assert choice == ("N" if row.id in wrong else "Y")
    grading = [passed for _, passed, model in server.graded if model.endswith("grader-openai")]
    assert len(grading) == len(rows) and all(seen is not None for seen, _, _ in server.graded)
