"""Versions on disk: atomic version folders, the manifest, the append-only index, reading back."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import xxhash

from compiler.core.errors import StoreError
from compiler.core.rows import Row
from compiler.spec.model import Spec

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


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_cases(rows: Sequence[Row]) -> bytes:
    """cases.jsonl: one row per line, sorted by id, stable key order, so diffs read cleanly."""
    return "".join(row.to_json() + "\n" for row in sorted(rows, key=lambda r: r.id)).encode("utf-8")


def version_id(cases_bytes: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(cases_bytes)[:VERSION_CHARS]


def _column_dtype(spec: Spec, column_type: str) -> pl.DataType:
    return {
        "text": pl.String(),
        "list": pl.List(pl.String()),
        "enum": pl.String(),
        "bool": pl.Boolean(),
        "int": pl.Int64(),
        "number": pl.Float64(),
    }[column_type]


def rows_frame(spec: Spec, rows: Sequence[Row]) -> pl.DataFrame:
    """The rows as a typed polars frame (the schema of cases.parquet)."""
    schema = {
        "id": pl.String(),
        "source": pl.String(),
        "strategy": pl.String(),
        "variant": pl.String(),
        "cell": pl.Struct({d.name: pl.String() for d in spec.dimensions}),
        "inputs": pl.Struct({v.name: pl.String() for v in spec.prompt.variables}),
        "expected": pl.Struct({c.name: _column_dtype(spec, c.type) for c in spec.columns}),
        "review_status": pl.String(),
        "checks": pl.List(pl.Struct({"name": pl.String(), "passed": pl.Boolean(), "detail": pl.String()})),
        "provenance": pl.Struct({"trace_id": pl.String(), "prompt_hash": pl.String(), "lm": pl.String()}),
    }
    ordered = sorted(rows, key=lambda r: r.id)
    data = {
        "id": [r.id for r in ordered],
        "source": [r.source for r in ordered],
        "strategy": [r.strategy for r in ordered],
        "variant": [r.variant for r in ordered],
        "cell": [r.cell for r in ordered],
        "inputs": [r.inputs for r in ordered],
        "expected": [r.expected for r in ordered],
        "review_status": [r.review_status for r in ordered],
        "checks": [
            [{"name": c.get("name"), "passed": c.get("passed"), "detail": c.get("detail")} for c in r.checks]
            for r in ordered
        ],
        "provenance": [{k: r.provenance.get(k) for k in ("trace_id", "prompt_hash", "lm")} for r in ordered],
    }
    return pl.DataFrame(data, schema=schema).rechunk()


def file_hash(path: Path) -> str:
    """xxh3-64 of a file's bytes, as recorded in the manifest and checked by `dsc verify`."""
    return xxhash.xxh3_64_hexdigest(path.read_bytes())


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


def latest_version(dataset_path: Path) -> str | None:
    entries = read_index(dataset_path)
    return entries[-1]["version"] if entries else None


def _append_index(dataset_path: Path, entry: Mapping[str, Any]) -> None:
    """Append one line under an exclusive lock: parallel jobs never tear or interleave the index."""
    line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
    with (dataset_path / INDEX).open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_version(
    spec: Spec,
    rows: Sequence[Row],
    build_manifest: Callable[[str, str | None], dict[str, Any]],
    extra_files: Callable[[str], Mapping[str, bytes]] | None = None,
) -> tuple[Version, bool]:
    """Write a version folder whole or not at all; returns (version, created). Unchanged -> nothing written."""
    cases = render_cases(rows)
    version = version_id(cases)
    dataset_path = dataset_dir(spec.out_dir, spec.name)
    target = dataset_path / version
    if (target / MANIFEST).is_file():
        return Version(spec.name, version, target), False
    parent = latest_version(dataset_path)
    manifest = build_manifest(version, parent)
    dataset_path.mkdir(parents=True, exist_ok=True)
    staging = dataset_path / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        (staging / CASES).write_bytes(cases)
        rows_frame(spec, rows).write_parquet(staging / PARQUET, compression="zstd", statistics=False)
        for name, content in (extra_files(version) if extra_files else {}).items():
            (staging / name).write_bytes(content)
        manifest["files"] = {p.name: file_hash(p) for p in sorted(staging.iterdir())}
        manifest_text = dump_json(manifest)
        (staging / MANIFEST).write_text(manifest_text, encoding="utf-8")
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        try:
            os.rename(staging, target)
        except OSError:  # another process published the same version first
            shutil.rmtree(staging, ignore_errors=True)
            return Version(spec.name, version, target), False
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _append_index(
        dataset_path,
        {
            "dataset": spec.name,
            "version": version,
            "parent": parent,
            "rows": len(rows),
            "config_hash": manifest.get("config_hash"),
            "manifest_hash": xxhash.xxh3_64_hexdigest(manifest_text.encode("utf-8")),
        },
    )
    return Version(spec.name, version, target), True


def resolve_version(ref: str, out_dir: str | Path = "outputs") -> Version:
    """A version from a path (outputs/<dataset>/<version>) or `<dataset>/<version>` or a bare version id."""
    path = Path(ref)
    candidates = [path, Path(out_dir) / ref]
    for candidate in candidates:
        if (candidate / MANIFEST).is_file():
            return Version(candidate.parent.name, candidate.name, candidate)
    root = Path(out_dir)
    matches = sorted(root.glob(f"*/{ref}*/{MANIFEST}")) if root.is_dir() and "/" not in ref else []
    if len(matches) == 1:
        found = matches[0].parent
        return Version(found.parent.name, found.name, found)
    known = (
        sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in root.glob(f"*/*/{MANIFEST}"))
        if root.is_dir()
        else []
    )
    import difflib

    close = difflib.get_close_matches(ref.rstrip("/").split("/")[-1], [k.split("/")[1] for k in known], n=1)
    hint = (
        f"; did you mean {close[0]}?"
        if close
        else (
            f"; known versions: {', '.join(known[:5])}"
            if known
            else f"; no versions under {root}/ yet, run `dsc compile`"
        )
    )
    what = "is ambiguous" if len(matches) > 1 else "is not a version"
    raise StoreError(f"{ref}: {what}{hint}")


def read_manifest(version: Version) -> dict[str, Any]:
    return json.loads((version.path / MANIFEST).read_text(encoding="utf-8"))


def read_rows(version: Version) -> list[Row]:
    with (version.path / CASES).open("rb") as handle:
        return [Row.from_json(line) for line in handle if line.strip()]
