"""Paths dsc reads or writes stay inside their root (the project, or an explicit --out), checked after
symlinks are resolved; an export replaces only files an earlier export wrote, unless --force."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

import xxhash

from compiler.core.atomic import write_atomic
from compiler.core.errors import UsageError

LEDGER = ".dsc-export.json"  # in an export's --out folder: the files dsc wrote there and their hashes


def relative_path_problem(text: str) -> str | None:
    """Why a path written in a config cannot be used (absolute, home, drive, `..`), or None."""
    if not text.strip():
        return "is empty; give a folder relative to the project"
    if text.startswith(("~", "/", "\\")) or PureWindowsPath(text).drive or PurePosixPath(text).is_absolute():
        return f"`{text}` is absolute; give a path relative to the project (or set it on the command line)"
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return f"`{text}` climbs out with `..`; give a path inside the project"
    return None


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path` (resolved, symlinks followed, even where it does not exist yet) lies under `root`."""
    return path.resolve().is_relative_to(root.resolve())


def _digest(path: Path) -> str:
    return xxhash.xxh3_64_hexdigest(path.read_bytes())


def _ledger(root: Path) -> dict[str, str]:
    try:
        data = json.loads((root / LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def export_root(out: Path) -> Path:
    """The folder an export may write in: --out itself, or the folder of an --out file."""
    return out if out.is_dir() or not out.suffix else out.parent


def claim_export_targets(out: Path, targets: Sequence[Path], *, force: bool) -> None:
    """Refuse a target outside --out, and one that exists but was not written (as it is) by a dsc export."""
    root = export_root(out)
    ledger = _ledger(root)
    for target in targets:
        if not is_inside(root, target):
            raise UsageError(
                f"--out {out}: the export would write {target}, outside {root} (a `..` in the version's "
                "name, or a symlink); export a version with a plain name, or remove the symlink"
            )
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise UsageError(f"--out {out}: {target} exists and is not a plain file; move it away")
        if target.exists() and not force:
            name = target.resolve().relative_to(root.resolve()).as_posix()
            if ledger.get(name) != _digest(target):
                raise UsageError(
                    f"--out {out}: {target} exists and was not written by a dsc export (or was edited "
                    "since); pass --force to replace it, or export elsewhere"
                )


def record_export_targets(out: Path, targets: Sequence[Path]) -> None:
    """Note the files an export wrote, so the next export may replace them without --force."""
    root = export_root(out)
    ledger = _ledger(root)
    for target in targets:
        if target.is_file():
            ledger[target.resolve().relative_to(root.resolve()).as_posix()] = _digest(target)
    write_atomic(root / LEDGER, (json.dumps(ledger, indent=2, sort_keys=True) + "\n").encode())
