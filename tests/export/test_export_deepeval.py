"""The DeepEval export: goldens DeepEval 4 loads into its own fields, and `deepeval.evaluate` runs the export's
script with a custom model pointed at a loopback grader."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from compiler.export.formats import export_version
from tests.export_runs import (
    Version,
    answers,
    committed_version,
    compiled_version,
    labels,
    needle,
    pick_rows,
    require_module,
    wrong_ids,
)
from tests.grader_server import GraderServer

# before deepeval is first imported: it reads its settings once, and would otherwise try to send telemetry
os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "1")
VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}


@pytest.fixture(autouse=True)
def deepeval_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("DEEPEVAL_TELEMETRY_OPT_OUT", "1")  # no network calls from a test
    monkeypatch.setenv("DEEPEVAL_RESULTS_FOLDER", str(tmp_path / "results"))
    monkeypatch.chdir(tmp_path)  # DeepEval writes its .deepeval folder next to the caller
    yield


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    require_module("deepeval", "deepeval")
    return VERSIONS[request.param]()


def load_script(folder: Path) -> ModuleType:
    """run_deepeval.py from the export, imported as a user's own code would import it."""
    spec = importlib.util.spec_from_file_location(
        f"run_deepeval_{abs(hash(folder))}", folder / "run_deepeval.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_goldens_fill_the_fields_deepeval_4_provides(version: Version, tmp_path: Path) -> None:
    folder = export_version(version.rows, version.manifest, "deepeval", tmp_path / "export")
    goldens = load_script(folder).load_goldens()
    assert len(goldens) == len(version.rows)
    space = version.space
    by_id = {r.id: r for r in version.rows}
    for golden in goldens:
        row = by_id[golden.name]
        assert golden.input.startswith(space.prompt.split("\n")[0][:30])  # the full rendered prompt
        assert str(row.inputs[space.primary]).strip() in golden.input
        for column in space.columns:
            value = row.expected.get(column.name)
            if column.kind == "enum" and value is not None:
                assert golden.expected_labels[column.name] == value
            if column.kind == "bool" and value is not None:
                assert golden.expected_labels[column.name] == ("yes" if value else "no")
            if column.kind == "list" and column.list_role == "tool_calls":
                assert [t.name for t in golden.expected_tools] == [str(v).split("(")[0] for v in value]
        assert golden.additional_metadata["expected"] == {
            c.name: row.expected.get(c.name) for c in space.columns
        }
        assert list(golden.additional_metadata["cell"]) == list(space.dimensions)
    # the plain JSON loader still reads the goldens it knows
    dataset = require_module("deepeval.dataset", "deepeval").EvaluationDataset()
    dataset.add_goldens_from_json_file(str(folder / "goldens.json"))
    assert len(dataset.goldens) == len(version.rows)


def loopback_judge(base_url: str) -> Any:
    """A DeepEval custom model that grades through the loopback server's OpenAI-compatible API."""
    from deepeval.models import DeepEvalBaseLLM
    from openai import OpenAI

    class LoopbackJudge(DeepEvalBaseLLM):  # type: ignore[misc]
        def __init__(self) -> None:
            self.client = OpenAI(base_url=base_url, api_key="loopback")
            super().__init__(model="grader-deepeval")

        def load_model(self) -> Any:
            return self.client

        def generate(self, prompt: str, schema: Any = None) -> Any:
            reply = self.client.chat.completions.create(
                model="grader-deepeval", messages=[{"role": "user", "content": prompt}]
            )
            text = reply.choices[0].message.content or ""
            return schema.model_validate_json(text) if schema else text

        async def a_generate(self, prompt: str, schema: Any = None) -> Any:
            return self.generate(prompt, schema)

        def get_model_name(self) -> str:
            return "loopback-grader"

    return LoopbackJudge()


def test_evaluate_passes_right_answers_and_fails_wrong_ones(version: Version, tmp_path: Path) -> None:
    deepeval = require_module("deepeval", "deepeval")
    from deepeval.evaluate import AsyncConfig, DisplayConfig
    from openai import OpenAI

    space = version.space
    rows = pick_rows(version.rows, space)
    wrong = wrong_ids(rows, space)
    folder = export_version(rows, version.manifest, "deepeval", tmp_path / "export")
    script = load_script(folder)
    with GraderServer(answers(rows, space, version.rows), labels(rows, space)) as server:
        server.wrong = {needle(r, space) for r in rows if r.id in wrong}
        client = OpenAI(base_url=server.base_url, api_key="loopback")

        def answer(golden: Any) -> str:
            reply = client.chat.completions.create(
                model="model-under-test", messages=[{"role": "user", "content": golden.input}]
            )
            return reply.choices[0].message.content or ""

        judge = loopback_judge(server.base_url)
        cases = script.build_test_cases(script.load_goldens(), answer)
        result = deepeval.evaluate(
            cases,
            metrics=script.build_metrics(judge),
            classifiers=script.build_classifiers(judge),
            display_config=DisplayConfig(print_results=False, show_indicator=False),
            async_config=AsyncConfig(run_async=False),
        )
    assert len(result.test_results) == len(rows)
    columns = {c.name: c for c in space.columns}
    for test in result.test_results:
        row_id = test.name
        metrics = {m.name.split(" [")[0]: m.success for m in test.metrics_data}
        classes = {c.name: c.success for c in test.classifications or []}
        assert set(metrics) | set(classes) == {
            c for c in columns if columns[c].kind in ("text", "list", "enum", "bool")
        }
        assert test.success == (row_id not in wrong)
        if row_id in wrong:
            lists = [m for m in metrics if columns[m].kind == "list"]
            assert lists and not any(metrics[m] for m in lists)  # the deterministic checks fail
            assert not any(classes.values())
        else:
            assert all(metrics.values()) and all(classes.values())
    # every grading request shows the case, except GEval's one request per metric for its evaluation steps
    blind = [g for g in server.graded if g[0] is None]
    assert server.graded and len(blind) <= sum(c.kind == "text" for c in space.columns)
