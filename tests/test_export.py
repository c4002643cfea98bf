"""Exports load unchanged in the real tools: promptfoo's schema, DeepEval, Inspect AI, Hugging Face datasets."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from compiler.core.errors import UsageError
from compiler.core.rows import Row
from compiler.export.formats import FORMATS, export_version, primary_variable, prompt_variables, render_prompt
from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import PACKAGE_ROOT, Project
from compiler.versions.store import read_manifest, read_rows, resolve_version
from tests.browser import in_ci

SCHEMAS = Path(__file__).parent / "schemas"
# support_bot: text, list, enum and bool columns and an optional variable; agent_tools adds an int column.
DATASETS = ("support_bot", "agent_tools")


@dataclass(frozen=True)
class Version:
    rows: list[Row]
    manifest: dict[str, Any]


@pytest.fixture(scope="module", params=DATASETS)
def version(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Version:
    """One small compiled version per dataset, shared by the tests of this module (it is only read)."""
    root = tmp_path_factory.mktemp(request.param)
    project = Project(conf_dir=PACKAGE_ROOT / "conf", templates_dir=PACKAGE_ROOT / "templates")
    result = compile_dataset(
        [
            f"dataset={request.param}",
            "size=24",
            f"out_dir={root / 'outputs'}",
            f"journal_dir={root / '.dsc'}",
            f"datasets_dir={root / 'datasets'}",
            f"reviews_dir={root / 'reviews'}",
            *(
                ["~sources"] if request.param == "support_bot" else []
            ),  # synthetic rows only: all are labelled
        ],
        project=project,
    )
    found = resolve_version(str(result.version.path), result.spec.out_dir)
    return Version(read_rows(found), read_manifest(found))


def require_module(name: str, package: str) -> ModuleType:
    """Import a test-only dependency; skip without it, except under CI where it must be installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if in_ci():
            pytest.fail(f"`{name}` is missing but CI is set: add `{package}` to the dev extra")
        pytest.skip(f"`{name}` is not installed (pip install {package})")


def tricky(row: Row) -> Row:
    """The same row with text that breaks naive YAML, JSON or HTML writers."""
    name = next(iter(row.inputs))
    text = 'Line one: "quoted" #not-a-comment\n- not a list\n  indented: {x}\n\u00e9\u00e8 \u4e2d\u6587 \U0001f600 \\ end '
    return replace(row, inputs={**row.inputs, name: text})


def test_unknown_format_is_a_usage_error_naming_the_formats(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown export format `csv`; use one of: deepeval, hf, inspect"):
        export_version([], {"dataset": "d", "version": "v"}, "csv", tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_same_version_exports_the_same_bytes_and_leaves_no_temp_files(
    version: Version, tmp_path: Path, fmt: str
) -> None:
    first = export_version(version.rows, version.manifest, fmt, tmp_path / "a")
    second = export_version(list(reversed(version.rows)), version.manifest, fmt, tmp_path / "b")
    again = export_version(version.rows, version.manifest, fmt, tmp_path / "a")  # overwrite in place

    def files(path: Path) -> dict[str, bytes]:
        if path.is_file():
            return {"": path.read_bytes()}
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}

    assert files(first) == files(second) == files(again)
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_exporting_into_a_folder_names_the_file_after_the_version(version: Version, tmp_path: Path) -> None:
    path = export_version(version.rows, version.manifest, "inspect", tmp_path)
    assert path == tmp_path / f"{version.manifest['dataset']}-{version.manifest['version']}-inspect.jsonl"


def test_hf_export_never_writes_its_card_over_a_folders_own_readme(version: Version, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("my project\n")
    folder = export_version(version.rows, version.manifest, "hf", tmp_path)
    assert folder == tmp_path / f"{version.manifest['dataset']}-{version.manifest['version']}-hf"
    assert (tmp_path / "README.md").read_text() == "my project\n"
    assert export_version(version.rows, version.manifest, "hf", folder) == folder  # an hf folder: in place
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data"]


def test_promptfoo_tests_validate_against_promptfoo_config_schema(version: Version, tmp_path: Path) -> None:
    jsonschema = require_module("jsonschema", "jsonschema")
    rows = [tricky(version.rows[0]), *version.rows[1:]]
    path = export_version(rows, version.manifest, "promptfoo", tmp_path / "tests.yaml")
    tests = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema = json.loads((SCHEMAS / "promptfoo-config-schema.json").read_text(encoding="utf-8"))
    config = {"prompts": [version.manifest["config"]["prompt"]["text"]], "tests": tests}
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])

    by_id = {r.id: r for r in rows}
    assert len(tests) == len(rows)
    columns = version.manifest["config"]["columns"]
    for test in tests:
        row = by_id[test["metadata"]["id"]]
        assert test["vars"] == {
            name: row.inputs.get(name) or "" for name in prompt_variables(version.manifest)
        }
        assert test["metadata"]["strategy"] == row.strategy and test["metadata"]["cell"].startswith(
            next(iter(row.cell)) + "="
        )
        graded = {a["metric"] for a in test["assert"]}
        assert graded == {c for c in columns if row.expected.get(c) not in (None, "", [])}
        assert all(a["type"] == "llm-rubric" and a["value"] for a in test["assert"])
    enum = next(c for c, spec in columns.items() if spec["type"] == "enum")
    first = next(t for t in tests if t["metadata"]["id"] == rows[1].id)
    assert f"`{rows[1].expected[enum]}`" in next(a["value"] for a in first["assert"] if a["metric"] == enum)


def test_promptfoo_json_suffix_writes_the_same_tests_as_json(version: Version, tmp_path: Path) -> None:
    as_yaml = export_version(version.rows, version.manifest, "promptfoo", tmp_path / "tests.yaml")
    as_json = export_version(version.rows, version.manifest, "promptfoo", tmp_path / "tests.json")
    assert json.loads(as_json.read_text()) == yaml.safe_load(as_yaml.read_text())


@pytest.fixture
def deepeval_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("DEEPEVAL_TELEMETRY_OPT_OUT", "1")  # no network calls from a test
    monkeypatch.chdir(tmp_path)  # DeepEval may write its .deepeval folder next to the caller
    yield


@pytest.mark.usefixtures("deepeval_offline")
def test_deepeval_loads_the_goldens(version: Version, tmp_path: Path) -> None:
    dataset = require_module("deepeval.dataset", "deepeval")
    path = export_version(version.rows, version.manifest, "deepeval", tmp_path / "goldens.json")
    loaded = dataset.EvaluationDataset()
    loaded.add_goldens_from_json_file(str(path))
    assert len(loaded.goldens) == len(version.rows)
    primary = primary_variable(version.manifest)
    for golden, row in zip(loaded.goldens, sorted(version.rows, key=lambda r: r.id), strict=True):
        assert golden.name == row.id
        assert golden.input == row.inputs[primary] and golden.input
        assert golden.expected_output
        assert golden.additional_metadata["expected"] == row.expected
        assert golden.additional_metadata["cell"] == ", ".join(f"{k}={v}" for k, v in row.cell.items())
        others = [v for k, v in row.inputs.items() if k != primary and v]
        assert golden.context == (others or None)


def test_inspect_ai_loads_the_samples(version: Version, tmp_path: Path) -> None:
    inspect_dataset = require_module("inspect_ai.dataset", "inspect-ai")
    path = export_version(version.rows, version.manifest, "inspect", tmp_path / "samples.jsonl")
    samples = inspect_dataset.json_dataset(str(path))
    assert len(samples) == len(version.rows)
    by_id = {r.id: r for r in version.rows}
    for sample in samples:
        row = by_id[sample.id]
        primary = primary_variable(version.manifest)
        assert isinstance(sample.input, str) and row.inputs[primary].strip() in sample.input
        assert sample.input == render_prompt(version.manifest, row.inputs)
        assert "{{" not in sample.input and "{%" not in sample.input
        assert sample.target and sample.metadata["strategy"] == row.strategy
        assert sample.metadata["expected"] == row.expected


def test_openai_evals_samples_are_chat_inputs_with_an_ideal(version: Version, tmp_path: Path) -> None:
    # The evals registry reads samples_jsonl line by line; Match, Includes and model-graded evals use
    # sample["input"] (chat messages with string role and content) and sample["ideal"].
    path = export_version(version.rows, version.manifest, "openai-evals", tmp_path / "samples.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(version.rows)
    for line in lines:
        sample = json.loads(line)
        assert [m["role"] for m in sample["input"]] == ["user"]
        assert all(isinstance(m["content"], str) and m["content"] for m in sample["input"])
        assert isinstance(sample["ideal"], str) and sample["ideal"]


def test_hugging_face_datasets_loads_the_folder(
    version: Version, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = require_module("datasets", "datasets")
    pq = require_module("pyarrow.parquet", "pyarrow")
    folder = export_version(version.rows, version.manifest, "hf", tmp_path / "hf")
    shard = folder / "data" / "train-00000-of-00001.parquet"
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "README.md",
        "data/train-00000-of-00001.parquet",
    ]
    card = (folder / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] and front["configs"][0]["data_files"][0]["split"] == "train"
    assert version.manifest["config"]["description"].strip()[:40] in card

    cache = str(tmp_path / "hf-cache")
    loaded = datasets.load_dataset(str(folder), split="train", cache_dir=cache)  # reads the card's features
    from_parquet = datasets.Features.from_arrow_schema(pq.read_schema(shard))
    assert loaded.features == from_parquet, "the card's dataset_info.features disagree with the Parquet file"
    plain = datasets.load_dataset("parquet", data_files=str(shard), split="train", cache_dir=cache)
    assert plain.num_rows == loaded.num_rows == len(version.rows)
    ordered = sorted(version.rows, key=lambda r: r.id)
    assert loaded["id"] == [r.id for r in ordered]
    first = loaded[0]
    assert first["cell"] == ordered[0].cell and first["expected"] == ordered[0].expected
    assert first["inputs"] == {k: ordered[0].inputs.get(k) for k in prompt_variables(version.manifest)}
