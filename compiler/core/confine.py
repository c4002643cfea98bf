"""Paths dsc reads or writes stay inside their root (the project, or an explicit --out), checked after
symlinks are resolved (the export guard lives with the exports, in compiler/export/folder.py)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath


def shown_path(path: Path | str) -> str:
    """A path as a message shows it: relative to the working directory when inside it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def relative_path_problem(text: str) -> str | None:
    """Why a path written in a config cannot be used (absolute, home, drive, `..`), or None."""
    if not text.strip():
        return "is empty; give a folder relative to the project"
    if text.startswith(("~", "/", "\\")) or PureWindowsPath(text).drive or PurePosixPath(text).is_absolute():
        return f"`{text}` is absolute; give a path relative to the project"
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        return f"`{text}` climbs out with `..`; give a path inside the project"
    return None


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path` (resolved, symlinks followed, even where it does not exist yet) lies under `root`."""
    return path.resolve().is_relative_to(root.resolve())
