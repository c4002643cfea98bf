"""Inspect AI: `samples.jsonl`, `columns.json` and a `task.py` that `inspect eval task.py` runs.

task.py is the same fixed text for every version (no dataset text is ever written into code); it reads the
columns and builds one scorer per column: `model_graded_qa` with the column's expectation as the criterion
(its template shows the grader the input) for text, enum, bool and numbers; a deterministic check for lists
(`includes` over every item, none of a forbidden list, tool calls in order, an empty list as no call). Every
sample carries every dimension key (null when unknown), so `grouped(accuracy(), <dimension>)` works on
production rows too. https://inspect.aisi.org.uk/tasks.html
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from compiler.core.rows import Row
from compiler.export.base import (
    Space,
    input_values,
    jsonl,
    known_tools,
    pretty_json,
    read_space,
    readme,
    render_prompt,
    row_metadata,
)
from compiler.versions.manifest import Manifest

TASK = "task.py"
SAMPLES = "samples.jsonl"
COLUMNS = "columns.json"
RESERVED = ("id", "input", "target")


def build_inspect(rows: Sequence[Row], manifest: Manifest) -> dict[str, bytes]:
    space = read_space(manifest, rows)
    task = resources.files("compiler.export").joinpath("inspect_task.py.txt").read_bytes()
    return {
        TASK: task,
        SAMPLES: jsonl([inspect_record(row, space) for row in rows]),
        COLUMNS: pretty_json(columns_spec(rows, space)),
        "README.md": _readme(space, len(rows)),
    }


def inspect_record(row: Row, space: Space) -> dict[str, Any]:
    """One sample: the rendered prompt as input, the first text expectation as target, the rest as metadata."""
    text = next((c for c in space.columns if c.kind == "text" and row.expected.get(c.name)), None)
    meta = {k: v for k, v in row_metadata(row, space).items() if k not in RESERVED}
    return {
        "id": row.id,
        "input": render_prompt(space, row.inputs),
        "target": str(row.expected[text.name]) if text else "",
        **meta,
        "inputs": input_values(row, space),
        "expected": {c.name: row.expected.get(c.name) for c in space.columns},
    }


def columns_spec(rows: Sequence[Row], space: Space) -> dict[str, Any]:
    """What task.py needs: the metadata keys, the dimension to group by, and how to score each column."""
    sample = inspect_record(rows[0], space) if rows else {"inputs": {}, "expected": {}}
    return {
        "dataset": space.dataset,
        "version": space.version,
        "metadata": [k for k in sample if k not in RESERVED]
        or ["inputs", "expected", *(d for d in space.dimensions if d not in RESERVED)],
        "group_by": next((d for d in space.dimensions if d not in RESERVED), None),
        "columns": [
            {
                "name": c.name,
                "kind": c.kind,
                "about": c.about,
                "values": list(c.values),
                "list_role": c.list_role if c.kind == "list" else None,
                "tools": known_tools(rows, c, space)
                if c.list_role == "tool_calls" and c.kind == "list"
                else [],
            }
            for c in space.columns
        ],
    }


def _readme(space: Space, rows: int) -> bytes:
    group = next((d for d in space.dimensions if d not in RESERVED), "source")
    return readme(
        space,
        "Inspect AI",
        rows,
        [
            "## Run",
            "",
            "```sh",
            "inspect eval task.py --model openai/gpt-4.1-mini --model-role grader=openai/gpt-4.1",
            "inspect view",
            "```",
            "",
            "`--model` is the model under test; the `grader` role grades the text, enum and bool columns",
            "(without it the model under test grades itself). One scorer per evaluator column: list columns are",
            "checked without a model (every required item included, no forbidden one, tool calls in order, an",
            "empty list meaning no call); the rest are `model_graded_qa` with the column's expectation as the",
            f"criterion and the case's input shown to the grader. Scores are grouped by `{group}`; every sample's",
            "metadata has every dimension (null when a row does not say), its source, strategy and row id.",
            "",
            "Files: `samples.jsonl` (one sample per row), `columns.json` (how each column is scored), `task.py`.",
        ],
    )
