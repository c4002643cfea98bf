"""Covering arrays remembered on disk: building one is most of a plan's work on a wide space.

An array depends only on the space (dimensions, weights, constraints, coverage, seed, negatives, seed
rows) and on dsc's code. `<journal_dir>/arrays/<hash>.json` holds the array built for the hash of exactly
those; any other input builds afresh. A damaged or unreadable file only costs a rebuild.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import xxhash

from compiler.core.atomic import write_later
from compiler.core.build import dsc_build
from compiler.core.cells import Cell

FORMAT = "dsc-array-1"
KEEP = 64  # arrays remembered per journal
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


def remember_array(journal_dir: str, key: str, built: Built) -> None:
    cells, required, excluded = built
    record: dict[str, Any] = {"key": key, "cells": cells, "required": required, "excluded": excluded}
    write_later(_path(journal_dir, key), json.dumps(record).encode(), keep=KEEP)  # once the command succeeds
