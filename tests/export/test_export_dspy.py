"""The dspy export: its loader gives `dspy.Example`s whose inputs are the prompt's variables."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from compiler.export.formats import export_version
from tests.export_runs import Version, committed_version, compiled_version, require_module

VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    return VERSIONS[request.param]()


def test_the_loader_gives_examples_with_inputs_and_labels(version: Version, tmp_path: Path) -> None:
    dspy = require_module("dspy", "dspy")
    folder = export_version(version.rows, version.manifest, "dspy", tmp_path / "export")
    spec = importlib.util.spec_from_file_location(
        f"load_examples_{version.manifest.dataset}", folder / "load_examples.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    examples = module.load_examples()
    assert len(examples) == len(version.rows) and all(isinstance(e, dspy.Example) for e in examples)
    space = version.space
    for example, row in zip(examples, sorted(version.rows, key=lambda r: r.id), strict=True):
        assert set(example.inputs().keys()) == set(space.variables)
        assert example.inputs()[space.primary] == row.inputs[space.primary]
        labels = example.labels()
        assert all(labels[c.name] == row.expected.get(c.name) for c in space.columns)
        assert labels["dsc"]["id"] == row.id and list(labels["dsc"]["cell"]) == list(space.dimensions)
