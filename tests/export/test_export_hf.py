"""The hf export loads with `datasets.load_dataset(<folder>)` without a warning: enums as ClassLabel,
provenance kept whole (curated rows' notes), features that agree with the Parquet file."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import pytest
import yaml

from compiler.export.formats import export_version
from compiler.export.hf import DATA_FILE
from tests.export_runs import Version, committed_version, compiled_version, require_module

VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    return VERSIONS[request.param]()


@pytest.fixture
def hf_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


@pytest.mark.usefixtures("hf_offline")
def test_load_dataset_reads_the_folder_without_a_warning(version: Version, tmp_path: Path) -> None:
    datasets = require_module("datasets", "datasets")
    pq = require_module("pyarrow.parquet", "pyarrow")
    folder = export_version(version.rows, version.manifest, "hf", tmp_path / "hf")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        ".dsc-export.json",
        "README.md",
        DATA_FILE,
    ]
    card = (folder / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] and front["configs"][0]["data_files"][0]["split"] == "train"
    assert version.manifest.config["description"].split()[0] in card

    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setLevel(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("datasets", "huggingface_hub", "fsspec")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert not [str(w.message) for w in caught] and not logged.getvalue()

    from_parquet = datasets.Features.from_arrow_schema(pq.read_schema(folder / DATA_FILE))
    assert loaded.features == from_parquet, "the card's dataset_info.features disagree with the Parquet file"
    plain = datasets.load_dataset(
        "parquet", data_files=str(folder / DATA_FILE), split="train", cache_dir=str(tmp_path / "c2")
    )
    assert plain.features == loaded.features and plain.num_rows == loaded.num_rows == len(version.rows)

    space = version.space
    ordered = sorted(version.rows, key=lambda r: r.id)
    assert loaded["id"] == [r.id for r in ordered]
    for column in space.columns:
        feature = loaded.features["expected"][column.name]
        if column.kind == "enum":
            assert isinstance(feature, datasets.ClassLabel) and feature.names == list(column.values)
    for record, row in zip(loaded, ordered, strict=True):
        assert record["cell"] == {d: row.cell.get(d) for d in space.dimensions}
        for column in space.columns:
            value = record["expected"][column.name]
            if column.kind == "enum" and value is not None:
                value = loaded.features["expected"][column.name].int2str(value)
            assert value == row.expected.get(column.name)
        assert {k: v for k, v in record["provenance"].items() if v is not None} == {
            k: str(v) for k, v in row.provenance.items() if v is not None
        }


def test_curated_rows_keep_their_provenance_note(tmp_path: Path) -> None:
    pq = require_module("pyarrow.parquet", "pyarrow")
    version = committed_version()
    folder = export_version(version.rows, version.manifest, "hf", tmp_path / "hf")
    table = pq.read_table(folder / DATA_FILE).to_pylist()
    notes = {r["id"]: r["provenance"]["note"] for r in table if r["source"] in ("regression", "golden")}
    assert notes and all(notes.values())
    assert notes == {r.id: r.provenance["note"] for r in version.rows if r.source in ("regression", "golden")}
