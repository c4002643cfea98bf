"""Where a version lives and how it is named: file names, the versions index, the version id.

Free of polars and numpy, so an unchanged recompile can check a version without importing them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

CASES = "cases.jsonl"
PARQUET = "cases.parquet"
MANIFEST = "manifest.json"
INDEX = "versions.jsonl"
VERSION_CHARS = 12


@dataclass(frozen=True)
class Version:
    dataset: str
    version: str
    path: Path


def version_id(cases_bytes: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(cases_bytes)[:VERSION_CHARS]


def dataset_dir(spec_out_dir: str | Path, dataset: str) -> Path:
    return Path(spec_out_dir) / dataset


def read_index(dataset_path: Path) -> list[dict[str, Any]]:
    index = dataset_path / INDEX
    if not index.is_file():
        return []
    entries = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entries.append(json.loads(line))
    return entries
