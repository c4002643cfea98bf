"""Integrity of versions on disk: every row id, the version id, every file's hash, the manifest's hash."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xxhash

from compiler.core.errors import StoreError
from compiler.core.rows import Row
from compiler.versions.manifest import Manifest
from compiler.versions.store import (
    CASES,
    INDEX,
    MANIFEST,
    PARQUET,
    Version,
    file_hash,
    read_index,
    version_id,
)


@dataclass(frozen=True)
class Finding:
    path: str  # the file (and row) that changed
    problem: str


def verify_version(version: Version) -> list[Finding]:
    """Every way a version differs from what was written; empty when intact."""
    findings: list[Finding] = []
    path = version.path
    manifest_path = path / MANIFEST
    try:
        manifest_bytes = manifest_path.read_bytes()
        manifest = json.loads(manifest_bytes)
    except (OSError, ValueError) as exc:
        return [Finding(str(manifest_path), f"unreadable manifest ({type(exc).__name__})")]
    if not isinstance(manifest, dict):
        return [Finding(str(manifest_path), f"not a JSON object (a JSON {type(manifest).__name__})")]
    try:
        typed = Manifest.from_json(manifest, str(manifest_path))
    except StoreError as exc:
        return [Finding(str(manifest_path), str(exc).split(": ", 1)[1])]
    try:
        recorded = next((e for e in read_index(path.parent) if e.get("version") == version.version), None)
    except StoreError as exc:  # a damaged index is a finding of its own; the folder is still checked
        where, _, problem = str(exc).partition(": ")
        findings.append(Finding(where, problem))
        recorded = None
    if recorded is not None and recorded.get("manifest_hash") not in (
        None,
        xxhash.xxh3_64_hexdigest(manifest_bytes),
    ):
        findings.append(Finding(str(manifest_path), "manifest.json differs from the hash in versions.jsonl"))
    if typed.version != version.version:
        findings.append(
            Finding(
                str(manifest_path),
                f"names version {manifest.get('version')!r}, folder is {version.version!r}",
            )
        )
    for name, expected in sorted(typed.files.items()):
        file = path / name
        if not file.is_file():
            findings.append(Finding(str(file), "missing"))
        elif file_hash(file) != expected:
            findings.append(Finding(str(file), "content differs from the hash in manifest.json"))
    cases = path / CASES
    if cases.is_file():
        data = cases.read_bytes()
        if version_id(data) != version.version:
            findings.append(Finding(str(cases), "rows hash to another version id"))
        ids: list[str] = []
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                row = Row.from_json(line)
            except (ValueError, KeyError, TypeError):
                findings.append(Finding(f"{cases}:{number}", "row is not valid JSON"))
                continue
            ids.append(row.id)
            if row.expected_id() != row.id:
                findings.append(Finding(f"{cases}:{number}", f"row {row.id} content does not hash to its id"))
        parquet = path / PARQUET
        if parquet.is_file():
            try:
                if pl.read_parquet(parquet, columns=["id"])["id"].to_list() != ids:
                    findings.append(Finding(str(parquet), "rows differ from cases.jsonl"))
            except Exception as exc:  # any decoding failure of a tampered file is a finding
                findings.append(Finding(str(parquet), f"unreadable parquet ({type(exc).__name__})"))
    return findings


def require_intact(version: Version) -> Version:
    """Refuse to work on a tampered version: one line naming the file."""
    findings = verify_version(version)
    if findings:
        first = findings[0]
        if Path(first.path.rsplit(":", 1)[0]).name == INDEX:  # the index, not the version, is damaged
            raise StoreError(f"{first.path}: {first.problem}")
        raise StoreError(
            f"{first.path}: {first.problem}; the version was modified after it was written "
            f"(run `dsc verify {version.path}` for details, or recompile)"
        )
    return version


def versions_of_paths(paths: list[Path]) -> list[Path]:
    """Version folders containing the given files (for the pre-commit hook), or under the given folders
    (`outputs/`, `outputs/<dataset>/`: every version in them), in order, once each."""
    found: list[Path] = []
    for path in paths:
        holder = next((c for c in [path, *path.parents] if (c / MANIFEST).is_file()), None)
        inside = [holder] if holder is not None else []
        if holder is None and path.is_dir():
            manifests = [m for pattern in (f"*/{MANIFEST}", f"*/*/{MANIFEST}") for m in path.glob(pattern)]
            # staging folders (`.tmp-*`) are not versions yet: `dsc repair` handles them
            inside = sorted(
                m.parent for m in manifests if not any(p.startswith(".") for p in m.relative_to(path).parts)
            )
        found += [folder for folder in inside if folder not in found]
    return found
