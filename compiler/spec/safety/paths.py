"""The folders a spec names stay inside the project: relative, no `..`, no symlink out; the dataset name
cannot climb out of them. A folder given on the command line is the user's explicit choice (shared storage
for a cluster's journal, say) and may be anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from compiler.core.confine import is_inside, relative_path_problem

PATH_KEYS = ("out_dir", "journal_dir", "reviews_dir", "datasets_dir")


def path_problems(raw: Mapping[str, Any], explicit: Mapping[str, str], root: Path) -> list[tuple[str, str]]:
    """(key, message) for every folder key that leaves the project and for a name that leaves a folder."""
    roots = (root, Path.cwd())
    problems: list[tuple[str, str]] = []
    name = raw.get("name")
    name_escapes: list[str] = []
    for key in PATH_KEYS:
        if raw.get(key) is None:
            continue
        text = str(raw[key])
        if key not in explicit:
            reason = relative_path_problem(text)
            if reason is None and not any(is_inside(r, Path(text)) for r in roots):
                reason = f"`{text}` resolves to {Path(text).resolve()}, outside the project (a symlink?)"
            if reason is not None:
                where = "paths in config files stay inside the project"
                problems.append(
                    (key, f"{reason}; {where} (a folder set on the command line may be anywhere)")
                )
                continue
        if isinstance(name, str) and name and "\x00" not in name:  # NUL: the name check says so
            base = Path(text)
            target = base / name
            if not is_inside(base, target) or target.resolve() == base.resolve():
                name_escapes.append(key)
    if name_escapes:
        problems.append(
            (
                "name",
                f"`{name}` would put files outside {', '.join(name_escapes)}; name the dataset with "
                "letters, digits, `_` and `-`",
            )
        )
    return problems
