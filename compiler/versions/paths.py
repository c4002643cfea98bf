"""Where a version lives and how it is named: file names, the versions index, the version id.

Free of polars and numpy, so an unchanged recompile can check a version without importing them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from compiler.core.errors import StoreError
from compiler.core.jsonl import OnDamage, iter_records

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


INDEX_FIX = "fix or remove the line, or run `dsc repair` to rebuild the index from the version folders"
VERSION_FIX = (
    "the version was modified after it was written: restore it from git, or delete its folder and recompile"
)


def read_index(dataset_path: Path, on_damage: OnDamage | None = None) -> list[dict[str, Any]]:
    """The index's entries in order; a damaged line is one StoreError naming it (or goes to `on_damage`)."""
    index = dataset_path / INDEX
    if not index.is_file():
        return []
    entries = []
    for number, entry in iter_records(index, StoreError, "an index entry", INDEX_FIX, on_damage=on_damage):
        version = entry.get("version")
        if not isinstance(version, str) or not version or "/" in version or version.startswith("."):
            if on_damage is None:
                raise StoreError(f"{index}:{number}: has no valid `version`; {INDEX_FIX}")
            on_damage(number, "has no valid `version`")
            continue
        entries.append(entry)
    return entries
