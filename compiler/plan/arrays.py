"""Covering arrays remembered on disk: building one is most of a plan's work on a wide space.

An array depends only on the space (dimensions, weights, constraints, coverage, seed, negatives, seed
rows) and on dsc's code. `<journal_dir>/arrays/<hash>.json` holds the array built for the hash of exactly
those; any other input builds afresh. A damaged or unreadable file only costs a rebuild.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import xxhash

from compiler.core.atomic import write_atomic
from compiler.core.build import dsc_build
from compiler.core.cells import Cell

FORMAT = "dsc-array-1"
Built = tuple[list[Cell], int, int]  # cells, required tuples, excluded tuples


def _path(journal_dir: str, key: str) -> Path:
    digest = xxhash.xxh3_128_hexdigest(f"{FORMAT}\0{dsc_build()}\0{key}".encode())
    return Path(journal_dir) / "arrays" / f"{digest}.json"


def recall_array(journal_dir: str, key: str) -> Built | None:
    try:
        data = json.loads(_path(journal_dir, key).read_bytes())
        if data["key"] != key:
            return None
        cells = [tuple((str(d), str(v)) for d, v in cell) for cell in data["cells"]]
        return cells, int(data["required"]), int(data["excluded"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


_PENDING: dict[Path, bytes] = {}  # written by `flush_arrays` once the command has succeeded


def remember_array(journal_dir: str, key: str, built: Built) -> None:
    cells, required, excluded = built
    record: dict[str, Any] = {"key": key, "cells": cells, "required": required, "excluded": excluded}
    _PENDING[_path(journal_dir, key)] = json.dumps(record).encode()


def flush_arrays() -> None:
    """Write the arrays this command built (it succeeded: a failed command leaves nothing behind)."""
    while _PENDING:
        path, content = _PENDING.popitem()
        with contextlib.suppress(OSError):  # a read-only journal builds every time
            write_atomic(path, content)
