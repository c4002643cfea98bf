"""What the export tests share: versions to export, and right and wrong answers of a model under test.

`committed_version()` is the project's own committed support_bot version (synthetic, production, regression
and golden rows: production rows miss some dimensions). `compiled_version(name)` compiles a conf/ dataset
once per test process. `answers(rows, space)` gives each case a needle (its input, which every prompt and
grading request must show) with a right answer (every required item and tool call, in order) and a wrong
one (none of them; a tool call where none is expected), for tests/grader_server.py.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from compiler.core.rows import Row
from compiler.export.base import Space, known_tools, read_space
from compiler.spec.compose import PACKAGE_ROOT, Project
from compiler.versions.manifest import Manifest
from compiler.versions.store import read_manifest, read_rows, resolve_version
from tests.browser import in_ci


@dataclass(frozen=True)
class Version:
    rows: list[Row]
    manifest: Manifest

    @property
    def space(self) -> Space:
        return read_space(self.manifest, self.rows)


def committed_version() -> Version:
    manifests = sorted((PACKAGE_ROOT / "outputs" / "support_bot").glob("*/manifest.json"))
    assert manifests, "the committed example version outputs/support_bot/<version> is missing"
    found = resolve_version(str(manifests[-1].parent), manifests[-1].parent.parent.parent)
    return Version(read_rows(found), read_manifest(found))


@cache
def compiled_version(dataset: str, size: int = 24) -> Version:
    """A small version of a conf/ dataset on the offline LM, compiled once per test process."""
    from compiler.pipeline.compile import compile_dataset

    root = Path(tempfile.mkdtemp(prefix=f"dsc-export-{dataset}-"))
    atexit.register(shutil.rmtree, root, True)
    project = Project(conf_dir=PACKAGE_ROOT / "conf", templates_dir=PACKAGE_ROOT / "templates")
    result = compile_dataset(
        [
            f"dataset={dataset}",
            f"size={size}",
            f"out_dir={root / 'outputs'}",
            f"journal_dir={root / '.dsc'}",
            f"datasets_dir={root / 'datasets'}",
            f"reviews_dir={root / 'reviews'}",
        ],
        project=project,
    )
    found = resolve_version(str(result.version.path), result.spec.out_dir)
    return Version(read_rows(found), read_manifest(found))


def require_module(name: str, package: str) -> ModuleType:
    """Import a test-only dependency; skip without it, except under CI where it must be installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if in_ci():
            pytest.fail(f"`{name}` is missing but CI is set: add `{package}` to the dev extra")
        pytest.skip(f"`{name}` is not installed (pip install {package})")


def needle(row: Row, space: Space) -> str:
    """A piece of the case's main input that tells the cases apart (no braces: OpenAI evals doubles them)."""
    text = str(row.inputs.get(space.primary) or "")
    return text.split("{", 1)[0].strip()[:70]


def pick_rows(rows: list[Row], space: Space, n: int = 10) -> list[Row]:
    """A few rows with distinct needles: production rows first, then turns without and with tool calls."""
    tool_columns = [c.name for c in space.columns if c.kind == "list" and c.list_role == "tool_calls"]

    def empty_tools(row: Row) -> bool:
        return any(row.expected.get(c) == [] for c in tool_columns)

    ranked = sorted(rows, key=lambda r: (r.source != "production", r.id))
    chosen: list[Row] = []
    seen: set[str] = set()
    for row in ranked:
        key = needle(row, space)
        if len(key) < 20 or any(key in other or other in key for other in seen):
            continue
        if tool_columns and sum(empty_tools(r) for r in chosen) >= n // 2 and empty_tools(row):
            continue  # keep room for turns that do call tools
        seen.add(key)
        chosen.append(row)
        if len(chosen) == n:
            break
    return chosen


def wrong_ids(rows: list[Row], space: Space) -> set[str]:
    """Every other row answered wrong, taken apart for turns with and without tool calls so both are in."""
    tool_columns = [c.name for c in space.columns if c.kind == "list" and c.list_role == "tool_calls"]
    empty = [r for r in rows if any(r.expected.get(c) == [] for c in tool_columns)]
    others = [r for r in rows if r not in empty]
    return {r.id for group in (empty, others) for r in group[1::2]}


def right_answer(row: Row, space: Space) -> str:
    parts = [f"RIGHT ANSWER {row.id}."]
    for column in space.columns:
        value = row.expected.get(column.name)
        if column.kind == "list" and column.list_role == "include" and value:
            parts.append("; ".join(str(v) for v in value) + ".")
        if column.kind == "list" and column.list_role == "tool_calls" and value:
            # a model under test calls its tools: `book_flight(...)`, whatever form the expected list takes
            names = [
                str(v.get("name") or v.get("tool")) if isinstance(v, dict) else str(v).split("(")[0]
                for v in value
            ]
            parts.append(" ".join(f"{name}(query='the case')" for name in names))
    return " ".join(parts)


def wrong_answer(row: Row, space: Space, rows: list[Row]) -> str:
    parts = ["WRONG ANSWER. Sorry, I cannot help with that."]
    for column in space.columns:
        value = row.expected.get(column.name)
        if column.kind == "list" and column.list_role == "tool_calls" and value == []:
            parts.append(f"{known_tools(rows, column, space)[0]}(query='anything')")
    return " ".join(parts)


def answers(rows: list[Row], space: Space, all_rows: list[Row]) -> dict[str, tuple[str, str]]:
    return {needle(r, space): (right_answer(r, space), wrong_answer(r, space, all_rows)) for r in rows}


def labels(rows: list[Row], space: Space) -> dict[str, list[str]]:
    """The right class of every enum and bool column (what DeepEval's Classifier must return)."""
    out: dict[str, list[str]] = {}
    for row in rows:
        values = []
        for column in space.columns:
            value = row.expected.get(column.name)
            if column.kind == "enum" and value is not None:
                values.append(str(value))
            if column.kind == "bool" and value is not None:
                values.append("yes" if value else "no")
        out[needle(row, space)] = values
    return out
