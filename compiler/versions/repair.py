"""Putting a dataset's folder back in order after a kill, a merge or a hand edit.

The version folders are the truth; `versions.jsonl` is rebuilt from them when it is damaged or lost an
entry. Staging folders (`.tmp-*`) whose writer is gone are removed. A damaged version folder is not
rebuilt here (that needs the LM answers): it is named, and the next compile rebuilds it.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.core.atomic import STAGING_PREFIX, write_atomic
from compiler.core.errors import StoreError
from compiler.versions.manifest import Manifest
from compiler.versions.store import (
    INDEX,
    MANIFEST,
    Version,
    add_to_index,
    index_entry,
    index_line,
    read_index,
    read_manifest_file,
)
from compiler.versions.verify import verify_version

STALE_SECONDS = 24 * 3600  # a staging folder this old is a leftover whatever its pid says (another host)


@dataclass
class Repair:
    """What `repair_dataset` found and did."""

    folder: Path
    damaged_lines: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    added: list[str] = field(default_factory=list)
    staging_removed: list[str] = field(default_factory=list)
    damaged_versions: list[tuple[str, str]] = field(default_factory=list)  # (version, first finding)
    versions: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.damaged_lines or self.duplicates or self.added or self.staging_removed)


def _writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_staging(dataset_path: Path) -> list[Path]:
    """Staging folders whose writer has exited (a kill during staging), oldest first."""
    if not dataset_path.is_dir():
        return []
    stale = []
    for folder in sorted(dataset_path.glob(f"{STAGING_PREFIX}*")):
        if not folder.is_dir():
            continue
        parts = folder.name[len(STAGING_PREFIX) :].split("-")
        pid = int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None
        try:
            age = time.time() - folder.stat().st_mtime
        except OSError:
            continue
        if age > STALE_SECONDS or (pid is not None and pid != os.getpid() and not _writer_alive(pid)):
            stale.append(folder)
    return stale


def remove_stale_staging(dataset_path: Path) -> list[str]:
    removed = []
    for folder in stale_staging(dataset_path):
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


def set_aside(folder: Path) -> Path:
    """Move a damaged version folder out of the way under a staging name (removed once rebuilt)."""
    aside = folder.parent / f"{STAGING_PREFIX}{folder.name}-damaged-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    os.rename(folder, aside)
    return aside


def reindex(version: Version) -> bool:
    """Re-add the index entry of a published folder a kill left out; True when it was missing."""
    path = version.path / MANIFEST
    manifest = read_manifest_file(path)
    return add_to_index(version.path.parent, version.dataset, version.version, manifest, path.read_bytes())


def _version_folders(dataset_path: Path) -> dict[str, Path]:
    return {
        p.name: p
        for p in sorted(dataset_path.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).is_file()
    }


def _ordered(missing: dict[str, Manifest], known: set[str]) -> list[str]:
    """Versions to append, each after its parent when the parent is among them (deterministic)."""
    order: list[str] = []
    pending = dict(sorted(missing.items()))
    while pending:
        ready = [v for v, m in pending.items() if m.parent in known or m.parent not in pending]
        for version in ready or [next(iter(pending))]:
            order.append(version)
            known.add(version)
            pending.pop(version)
    return order


def repair_dataset(dataset_path: Path, dataset: str) -> Repair:
    """Rebuild `versions.jsonl` from the version folders and drop stale staging folders."""
    report = Repair(dataset_path)
    if not dataset_path.is_dir():
        return report
    report.staging_removed = remove_stale_staging(dataset_path)
    entries = read_index(dataset_path, on_damage=lambda n, problem: report.damaged_lines.append((n, problem)))
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in entries:
        if entry["version"] in seen:
            report.duplicates += 1
            continue
        seen.add(entry["version"])
        kept.append(entry)
    folders = _version_folders(dataset_path)
    manifests: dict[str, tuple[Manifest, bytes]] = {}
    for version, folder in folders.items():
        if version in seen:
            continue
        try:
            manifest = read_manifest_file(folder / MANIFEST)
        except StoreError:
            continue  # named among the damaged versions; a compile rebuilds it
        manifests[version] = (manifest, (folder / MANIFEST).read_bytes())
    for version in _ordered({v: m for v, (m, _) in manifests.items()}, set(seen)):
        manifest, raw = manifests[version]
        kept.append(index_entry(dataset, version, manifest, raw))
        report.added.append(version)
    report.versions = len(folders)
    if report.damaged_lines or report.duplicates or report.added:
        text = "".join(index_line(e) + "\n" for e in kept)
        write_atomic(dataset_path / INDEX, text.encode("utf-8"))
    for version, folder in folders.items():  # checked against the index as it is now
        findings = verify_version(Version(dataset, version, folder))
        if findings:
            report.damaged_versions.append((version, f"{findings[0].path}: {findings[0].problem}"))
    return report


def dataset_folders(out_dir: Path) -> list[Path]:
    """Every dataset folder under out_dir (one that has an index or a version folder)."""
    if not out_dir.is_dir():
        return []
    return [
        p
        for p in sorted(out_dir.iterdir())
        if p.is_dir() and ((p / INDEX).exists() or any((c / MANIFEST).is_file() for c in p.iterdir()))
    ]
