"""Hydra's composition, remembered: the composed config keyed by a fingerprint of everything Hydra reads.

Composing conf/ with Hydra costs most of a `dsc plan` or an unchanged `dsc compile`. What it reads is
known: the project's conf/ files, dsc's built-in conf (inside dsc's own build hash), the overrides, Hydra's
and OmegaConf's code, the Hydra plugins on sys.path, and the project root and working directory (origins
are written relative to it). `compose_key` hashes all of those as bytes; `<journal_dir>/compose/<key>.json`
holds the composed config and its origins. A hit is used only when that key is byte-identical; anything
else composes again. Validation always runs on the composed config, so globs, names and templates are
checked afresh on every run; only Hydra is skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import xxhash

from compiler.core.atomic import write_later
from compiler.core.build import dsc_build
from compiler.core.errors import ConfigError
from compiler.spec.model import Origins
from compiler.spec.paths import read_paths
from compiler.spec.project import Project
from compiler.spec.safety import project_plugins

KEEP = 64  # composed configs remembered per project
FORMAT = b"dsc-compose-1"


def _library_code(digest: Any) -> None:
    """Hydra's and OmegaConf's versions (their version files' bytes), found without importing them."""
    for name, version_file in (("hydra", "__init__.py"), ("omegaconf", "version.py")):
        spec = importlib.util.find_spec(name)
        locations = list(spec.submodule_search_locations or ()) if spec is not None else []
        for folder in locations:
            path = Path(folder) / version_file
            digest.update(f"\0{path}\0".encode() + (path.read_bytes() if path.is_file() else b"missing"))


def _plugins(digest: Any) -> None:
    """Installed Hydra plugins may add search paths: their folders' listings are part of the key."""
    for entry in sys.path:
        folder = Path(entry or ".") / "hydra_plugins"
        if folder.is_dir():
            digest.update(f"\0{folder}\0".encode() + "\0".join(sorted(os.listdir(folder))).encode())


def compose_key(overrides: list[str], project: Project) -> str | None:
    """One hash of every input of Hydra's composition, or None when the inputs cannot be trusted."""
    if project_plugins(project.root):
        return None  # the full path refuses them, with its own message
    digest = xxhash.xxh3_128(FORMAT)
    digest.update(dsc_build().encode())
    digest.update(json.dumps([str(project.root), str(Path.cwd()), overrides]).encode())
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(("DSC_", "HYDRA_")))
    digest.update(json.dumps(env).encode())
    _library_code(digest)
    _plugins(digest)
    for path in sorted(p for p in project.conf_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        digest.update(f"\0{path.relative_to(project.conf_dir)}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


def cache_folder(project: Project, overrides: list[str]) -> Path | None:
    """`<journal_dir>/compose` as a plain compile with these overrides would use it (None: unreadable)."""
    try:
        return read_paths(project.conf_dir, overrides).journal_dir / "compose"
    except ConfigError:
        return None  # the composition reports the file's problem


def recall(folder: Path, key: str) -> tuple[dict[str, Any], Origins] | None:
    """The composed config and origins stored under this key, or None (absent or damaged: compose)."""
    try:
        data = json.loads((folder / f"{key}.json").read_bytes())
        raw, origins = data["raw"], data["origins"]
        if data.get("key") != key or not isinstance(raw, dict):
            return None
        return raw, Origins(
            files=dict(origins["files"]),
            default_file=str(origins["default_file"]),
            overrides=dict(origins["overrides"]),
            dataset=origins["dataset"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember(folder: Path, key: str, raw: dict[str, Any], origins: Origins) -> None:
    """Keep a composition for the next run (written once the command succeeds); one JSON cannot carry
    exactly is not kept."""
    record = {
        "key": key,
        "raw": raw,
        "origins": {
            "files": dict(origins.files),
            "default_file": origins.default_file,
            "overrides": dict(origins.overrides),
            "dataset": origins.dataset,
        },
    }
    try:
        text = json.dumps(record, allow_nan=False)  # key order is meaning (dimensions, strategies)
    except (TypeError, ValueError):
        return
    if json.loads(text)["raw"] != raw:
        return  # non-string keys or the like: JSON would change the config, so compose every time
    write_later(folder / f"{key}.json", text.encode(), keep=KEEP)
