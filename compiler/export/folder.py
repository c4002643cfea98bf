"""Where an export lands, and writing it there without touching anything dsc did not write.

An export is a folder of files. `.dsc-export.json` inside it lists each file dsc wrote with its hash; a file
that exists but is not listed there, or was edited since, is the user's, and is only replaced with `force`.
Every path stays inside the chosen folder: names are checked, symlinks are refused, files are renamed into
place whole.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import xxhash

from compiler.core.errors import UsageError

MARKER = ".dsc-export.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def choose_folder(out: Path, default_name: str, fmt: str) -> Path:
    """`out` itself when it is new, empty or an earlier export of `fmt`; otherwise a new folder inside it."""
    if out.is_symlink():
        raise UsageError(f"--out {out}: is a symlink; give the real folder")
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--out {out}: is a file; exports write a folder (files and a README), give a folder"
        )
    if not out.exists() or not any(out.iterdir()) or _marker_format(out) == fmt:
        return out
    name = re.sub(r"\.{2,}", "_", _SAFE.sub("_", default_name)).strip("._") or fmt
    return out / name


def write_files(folder: Path, files: Mapping[str, bytes], fmt: str, *, force: bool = False) -> None:
    """Check every target first (nothing is written when one is refused), then write each file atomically."""
    listed = _marker_files(folder)
    refused: list[str] = []
    for name in files:
        target = _inside(folder, name)
        if target.exists() and target.is_dir():
            raise UsageError(f"{target}: is a folder where the export writes a file; move it away")
        if target.is_file() and not force:
            recorded = listed.get(name)
            if recorded is None or recorded != _digest(target.read_bytes()):
                refused.append(str(target))
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UsageError(
            f"{refused[0]}{more}: exists and was not written by this export (or was edited since); "
            "pass --force to overwrite, or choose another --out"
        )
    for name, content in files.items():
        write_atomic(_inside(folder, name), content)
    marker = {"format": fmt, "files": {name: _digest(content) for name, content in sorted(files.items())}}
    write_atomic(folder / MARKER, (json.dumps(marker, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def write_atomic(path: Path, content: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: the file appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temp.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _inside(folder: Path, name: str) -> Path:
    """`folder/name`, refused if the name climbs out or any part of the way is a symlink."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ValueError(f"export file name {name!r} is not a plain relative path")  # a bug, not the user's
    path = folder
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            raise UsageError(f"{path}: is a symlink; an export writes only real files inside --out")
    return path


def _digest(content: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(content)


def _read_marker(folder: Path) -> dict[str, object]:
    path = folder / MARKER
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # damaged: nothing counts as ours, so nothing is overwritten without --force
    return data if isinstance(data, dict) else {}


def _marker_format(folder: Path) -> str | None:
    fmt = _read_marker(folder).get("format")
    return fmt if isinstance(fmt, str) else None


def _marker_files(folder: Path) -> dict[str, str]:
    files = _read_marker(folder).get("files")
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items()}
