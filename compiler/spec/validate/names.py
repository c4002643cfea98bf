"""Dataset names become folder names (outputs, journal, reviews): safe characters, one file per name."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.spec.model import Origins
from compiler.spec.validate.fields import Problems

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_NAME_LINE = re.compile(r"^name:\s*['\"]?([^'\"#\s]+)", re.M)


def _shown(name: str) -> str:
    text = repr(name[:40])[1:-1] + ("..." if len(name) > 40 else "")
    return f"`{text}`"


def check_name(problems: Problems, name: str, origins: Origins, root: Path | None) -> None:
    """The dataset's name is a safe folder name, is its file's name, and no other dataset file uses it."""
    if not name:
        return  # parse_text already reported a missing name
    if not NAME.fullmatch(name):
        problems.add(
            "name",
            f"{_shown(name)} is not a usable dataset name; use 1-64 lowercase letters, digits, `_` or `-`, "
            f"starting with a letter or digit (it names the folders under outputs/)",
        )
        return
    if origins.dataset is not None and name != origins.dataset:
        problems.add(
            "name",
            f"`{name}` differs from the file's name `{origins.dataset}`; set `name: {origins.dataset}` "
            f"or rename the file to {name}.yaml (the name picks the outputs folder)",
        )
        return
    if root is None or not (root / "conf" / "dataset").is_dir():
        return
    folder = root / "conf" / "dataset"
    for other in sorted(folder.glob("*.yaml")):
        if other.stem == origins.dataset:
            continue
        found = _NAME_LINE.search(other.read_text(encoding="utf-8", errors="replace"))
        if found and found.group(1) == name:
            problems.add(
                "name",
                f"`{name}` is also the name in {other.relative_to(root)}; give each test space its own "
                f"name (its outputs would mix with this one's)",
            )
            return
