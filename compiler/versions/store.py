"""Versions on disk: atomic version folders, the manifest, the append-only index, reading back."""

from __future__ import annotations

import glob
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    import polars as pl
else:  # polars costs 0.3 s to import; `dsc plan` reaches this module but needs no frame
    from compiler.core.lazy import polars as pl

from compiler.core.atomic import append_lines, write_atomic, write_folder
from compiler.core.columns import column_type
from compiler.core.confine import shown_path
from compiler.core.errors import StoreError
from compiler.core.jsonl import iter_records, read_json_object
from compiler.core.rows import Row
from compiler.screen.dedupe import ExistingRow
from compiler.spec.model import Spec
from compiler.versions.manifest import Manifest
from compiler.versions.paths import (  # noqa: F401 (re-exported: the store's public names)
    CASES,
    INDEX,
    INDEX_FIX,
    MANIFEST,
    PARQUET,
    VERSION_CHARS,
    VERSION_FIX,
    Version,
    dataset_dir,
    read_index,
    version_id,
)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_cases(rows: Sequence[Row]) -> bytes:
    """cases.jsonl: one row per line, sorted by id, stable key order, so diffs read cleanly."""
    return "".join(row.to_json() + "\n" for row in sorted(rows, key=lambda r: r.id)).encode("utf-8")


def rows_frame(spec: Spec, rows: Sequence[Row]) -> pl.DataFrame:
    """The rows as a typed polars frame (the schema of cases.parquet)."""
    schema = {
        "id": pl.String(),
        "source": pl.String(),
        "strategy": pl.String(),
        "variant": pl.String(),
        "cell": pl.Struct({d.name: pl.String() for d in spec.dimensions}),
        "inputs": pl.Struct({v.name: pl.String() for v in spec.prompt.variables}),
        "expected": pl.Struct({c.name: column_type(c.type).polars() for c in spec.columns}),
        "review_status": pl.String(),
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
        "provenance": [{k: r.provenance.get(k) for k in ("trace_id", "prompt_hash", "lm")} for r in ordered],
    }
    frame = pl.DataFrame(data, schema=schema).with_columns(_checks_column(ordered))
    return frame.select(*list(data)[:-1], "checks", "provenance").rechunk()


def _checks_column(ordered: Sequence[Row]) -> pl.Series:
    """Every row's checks as a list column, built from one flat column of all checks: polars reads a list of
    dicts per row ~10x slower (0.25 s for 10,000 rows), and the two give the same Parquet bytes."""
    import numpy as np

    fields = {"name": pl.String(), "passed": pl.Boolean(), "detail": pl.String()}
    dtype = pl.List(pl.Struct(fields))
    lengths = [len(r.checks) for r in ordered]
    flat = pl.DataFrame(
        {f: [c.get(f) for r in ordered for c in r.checks] for f in fields}, schema=fields
    ).to_struct("checks")
    owner = pl.Series("row", np.repeat(np.arange(len(lengths), dtype=np.int64), lengths))
    grouped = pl.DataFrame([owner, flat]).group_by("row", maintain_order=True).agg("checks")
    every = pl.DataFrame({"row": np.arange(len(lengths), dtype=np.int64)})
    joined = every.join(grouped, on="row", how="left", maintain_order="left")["checks"]
    return joined.fill_null(pl.lit([], dtype=dtype)).cast(dtype).alias("checks")


def file_hash(path: Path) -> str:
    """xxh3-64 of a file's bytes, as recorded in the manifest and checked by `dsc verify`."""
    return xxhash.xxh3_64_hexdigest(path.read_bytes())


def latest_version(dataset_path: Path) -> str | None:
    entries = read_index(dataset_path)
    return entries[-1]["version"] if entries else None


def parent_of(dataset_path: Path, version: str) -> str | None:
    """The parent a version is published with: the one its index entry names when it has one (a rebuild keeps
    its history), else the newest other version."""
    entries = read_index(dataset_path)
    own = next((e for e in entries if e["version"] == version), None)
    if own is not None:
        return own.get("parent")
    others = [e["version"] for e in entries if e["version"] != version]
    return others[-1] if others else None


def index_entry(dataset: str, version: str, manifest: Manifest, manifest_bytes: bytes) -> dict[str, Any]:
    """The index line of a published version, from its manifest alone (so `dsc repair` can rebuild it)."""
    return {
        "dataset": dataset,
        "version": version,
        "parent": manifest.parent,
        "rows": manifest.rows,
        "config_hash": manifest.config_hash,
        "manifest_hash": xxhash.xxh3_64_hexdigest(manifest_bytes),
    }


def index_line(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True)


def find_version(spec: Spec, version: str) -> Version | None:
    """The published version with this id, or None."""
    target = dataset_dir(spec.out_dir, spec.name) / version
    return Version(spec.name, version, target) if (target / MANIFEST).is_file() else None


def parquet_bytes(spec: Spec, rows: Sequence[Row]) -> bytes:
    buffer = io.BytesIO()
    rows_frame(spec, rows).write_parquet(buffer, compression="zstd", statistics=False)
    return buffer.getvalue()


def publish_version(
    spec: Spec, version: str, files: Mapping[str, bytes], manifest: Manifest
) -> tuple[Version, bool]:
    """Write finished files and the manifest (with their hashes) as one folder, then append the index.

    The folder appears whole or not at all; returns (version, created), False when it already existed."""
    dataset_path = dataset_dir(spec.out_dir, spec.name)
    hashes = {name: xxhash.xxh3_64_hexdigest(content) for name, content in files.items()}
    manifest = manifest.with_files(hashes)
    manifest_text = dump_json(manifest.to_json())
    target = dataset_path / version
    if not write_folder(target, {**files, MANIFEST: manifest_text.encode("utf-8")}):
        return Version(spec.name, version, target), False
    add_to_index(dataset_path, spec.name, version, manifest, manifest_text.encode("utf-8"))
    return Version(spec.name, version, target), True


def add_to_index(
    dataset_path: Path, dataset: str, version: str, manifest: Manifest, manifest_bytes: bytes
) -> bool:
    """Append a version's entry unless the index has it; True when the index changed. An entry whose manifest
    hash is not this manifest's (a folder rebuilt by another dsc version) is rewritten in place, so the
    version does not read as tampered on every later compile."""
    entry = index_entry(dataset, version, manifest, manifest_bytes)
    entries = read_index(dataset_path)
    own = [e for e in entries if e["version"] == version]
    if not own:
        append_lines(dataset_path / INDEX, [index_line(entry)])
        return True
    if own[0].get("manifest_hash") in (None, entry["manifest_hash"]):
        return False
    text = "".join(index_line(entry if e["version"] == version else e) + "\n" for e in entries)
    write_atomic(dataset_path / INDEX, text.encode("utf-8"))
    return True


def resolve_version(ref: str, out_dir: str | Path) -> Version:
    """A version from a path (outputs/<dataset>/<version>) or `<dataset>/<version>` or a bare version id;
    a dataset (`support_bot`, `outputs/support_bot`) names its newest version."""
    path = Path(ref)
    candidates = [path, Path(out_dir) / ref]
    for candidate in candidates:
        if (candidate / MANIFEST).is_file():
            return Version(candidate.parent.name, candidate.name, candidate)
    for candidate in candidates:
        newest = latest_version(candidate) if (candidate / INDEX).is_file() else None
        if newest is not None and (candidate / newest / MANIFEST).is_file():
            return Version(candidate.name, newest, candidate / newest)
    root = Path(out_dir)
    # a version id's prefix, bare (`962c85`) or under its dataset (`bank/962c`), as git takes a short hash
    dataset, _, prefix = ref.rpartition("/") if ref.count("/") <= 1 else ("", "", "")
    pattern = f"{glob.escape(dataset) if dataset else '*'}/{glob.escape(prefix)}*/{MANIFEST}"
    matches = sorted(root.glob(pattern)) if root.is_dir() and prefix and ".." not in ref else []
    if len(matches) == 1:
        found = matches[0].parent
        return Version(found.parent.name, found.name, found)
    known = newest_first(root)  # (get_close_matches ranks by score, then text: the order is not used)
    import difflib

    datasets = sorted({k.split("/")[0] for k in known})
    if dataset in datasets:  # `coder/zzzz`: that dataset's versions, not every dataset's
        known = [k for k in known if k.startswith(f"{dataset}/")]
    name = ref.rstrip("/").split("/")[-1]
    close = difflib.get_close_matches(name, [k.split("/")[1] for k in known], n=1)
    if not close and not dataset:  # `codr`: a dataset's name, misspelt
        close = [f"`{c}` (its newest version)" for c in difflib.get_close_matches(name, datasets, n=1)]
    if not dataset and name in datasets:  # its version folders are there, its index is not
        raise StoreError(
            f"{ref}: names a dataset whose index is missing ({shown_path(root / name / INDEX)}); "
            f"run `dsc repair {name}` to rebuild it from the version folders"
        )
    hint = (
        f"; did you mean {close[0]}?"
        if close
        else (
            f"; newest versions: {', '.join(known[:5])}"
            if known
            else f"; no versions under {root}/ yet, run `dsc compile`"
        )
    )
    what = "is ambiguous" if len(matches) > 1 else "is not a version"
    raise StoreError(f"{ref}: {what}{hint}")


def newest_first(root: Path) -> list[str]:
    """`<dataset>/<version>` of every version under root, the most recently written first."""
    manifests = root.glob(f"*/*/{MANIFEST}") if root.is_dir() else []
    dated = []
    for path in manifests:
        try:
            dated.append((-path.stat().st_mtime_ns, f"{path.parent.parent.name}/{path.parent.name}"))
        except OSError:
            continue
    return [name for _, name in sorted(dated)]


def read_manifest(version: Version) -> Manifest:
    return read_manifest_file(version.path / MANIFEST)


def read_manifest_file(path: Path) -> Manifest:
    """The typed manifest of a manifest.json; damage or a wrong type is one StoreError naming it."""
    return Manifest.from_json(read_json_object(path, StoreError, VERSION_FIX), str(path))


def read_rows(version: Version) -> list[Row]:
    """The rows of cases.jsonl; a damaged line is one StoreError naming it."""
    path = version.path / CASES
    rows = []
    for number, data in iter_records(path, StoreError, "a row", VERSION_FIX):
        try:
            rows.append(Row.from_dict(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{path}:{number}: not a row (no {exc}); {VERSION_FIX}") from None
    return rows


def load_existing(spec: Spec) -> list[ExistingRow]:
    """Rows of the dataset's earlier versions (curated rows come from the sources, already scrubbed).

    In a sweep, `DSC_INDEX_CUTOFF` pins "earlier" to the versions that existed when the sweep started, so
    parallel jobs do not depend on each other's timing.
    """

    existing: list[ExistingRow] = []
    if "versions" in spec.dedupe.existing:
        folder = dataset_dir(spec.out_dir, spec.name)
        entries = read_index(folder)
        cutoff = json.loads(os.environ.get("DSC_INDEX_CUTOFF", "{}")).get(spec.name)
        for entry in entries[:cutoff] if cutoff is not None else entries:
            path = folder / entry["version"]
            if (path / MANIFEST).is_file():
                existing.extend(
                    ExistingRow(entry["version"], row)
                    for row in read_rows(Version(spec.name, entry["version"], path))
                )
    return existing
