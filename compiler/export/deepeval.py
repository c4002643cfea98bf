"""DeepEval: `goldens.json` (DeepEval 4 Golden records) and `run_deepeval.py`, a runnable evaluation.

Each golden's `input` is the full rendered prompt; `expected_output` holds the text columns (one GEval metric
each in run_deepeval.py, its criteria written from the column's description); enum and bool columns are
`expected_labels` (one DeepEval Classifier each); tool-call lists are `expected_tools`; other lists are
checked deterministically from `additional_metadata.expected`. https://deepeval.com/docs/evaluation-datasets
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from compiler.core.rows import Row
from compiler.export.base import (
    Column,
    Space,
    input_values,
    known_tools,
    plain,
    pretty_json,
    read_space,
    readme,
    render_prompt,
    row_metadata,
    tool_name,
)
from compiler.versions.manifest import Manifest

GOLDENS = "goldens.json"
SCRIPT = "run_deepeval.py"


def build_deepeval(rows: Sequence[Row], manifest: Manifest) -> dict[str, bytes]:
    space = read_space(manifest, rows)
    script = resources.files("compiler.export").joinpath("deepeval_run.py.txt").read_bytes()
    return {
        GOLDENS: pretty_json([golden(row, space) for row in rows]),
        "columns.json": pretty_json(
            {
                "dataset": space.dataset,
                "version": space.version,
                "columns": [_column_spec(c, rows, space) for c in space.columns],
            }
        ),
        SCRIPT: script,
        "README.md": _readme(space, len(rows)),
    }


def golden(row: Row, space: Space) -> dict[str, Any]:
    """One Golden: what DeepEval 4 has a field for goes in that field, the rest in additional_metadata."""
    texts = [c for c in space.columns if c.kind == "text" and row.expected.get(c.name)]
    labels = {
        c.name: plain(row.expected[c.name])
        for c in space.columns
        if c.kind in ("enum", "bool") and row.expected.get(c.name) is not None
    }
    tools = [
        {"name": tool_name(call), "input_parameters": {"call": str(call)}}
        for c in space.columns
        if c.kind == "list" and c.list_role == "tool_calls"
        for call in row.expected.get(c.name) or ()
    ]
    expected_output = (
        str(row.expected[texts[0].name])
        if len(texts) == 1
        else "\n".join(f"{c.about}: {row.expected[c.name]}" for c in texts)
    )
    has_tool_column = any(c.kind == "list" and c.list_role == "tool_calls" for c in space.columns)
    return {
        "name": row.id,
        "input": render_prompt(space, row.inputs),
        "expected_output": expected_output or None,
        "expected_labels": labels or None,
        "expected_tools": tools if has_tool_column else None,
        "additional_metadata": row_metadata(row, space)
        | {
            "inputs": input_values(row, space),
            "expected": {c.name: row.expected.get(c.name) for c in space.columns},
        },
    }


def _column_spec(column: Column, rows: Sequence[Row], space: Space) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": column.name, "kind": column.kind, "about": column.about}
    if column.kind == "text":
        spec["criteria"] = (
            f"{column.about}. Judge whether the actual output, as an answer to the input, does what the "
            "expected output describes; the expected output is a description of a good answer, not its wording."
        )
    elif column.kind == "enum":
        spec["labels"] = list(column.values)
    elif column.kind == "bool":
        spec["labels"] = ["yes", "no"]
    elif column.kind == "list":
        spec["list_role"] = column.list_role
        spec["tools"] = known_tools(rows, column, space)
    return spec


def _readme(space: Space, rows: int) -> bytes:
    return readme(
        space,
        "DeepEval",
        rows,
        [
            "## Run",
            "",
            "```sh",
            "export OPENAI_API_KEY=...          # or OPENAI_BASE_URL for any OpenAI-compatible server",
            "python run_deepeval.py --model gpt-4.1-mini --judge gpt-4.1",
            "```",
            "",
            "`run_deepeval.py` asks the model under test each golden's `input` (the full rendered prompt), then",
            "runs `deepeval.evaluate` with one `GEval` per text column (criteria in `columns.json`, the",
            "golden's `expected_output` as the reference), one `Classifier` per enum or bool column",
            "(`expected_labels`), and deterministic checks for list columns (`expected_tools` in order, an empty",
            "list meaning no call; required and forbidden items). To test your own app instead of a bare model,",
            "import it and pass your own `answer(golden) -> str` to `build_test_cases`:",
            "",
            "```python",
            "from run_deepeval import load_goldens, build_test_cases, build_metrics, build_classifiers",
            "from deepeval import evaluate",
            "",
            "goldens = load_goldens()",
            "cases = build_test_cases(goldens, my_app)",
            'evaluate(cases, metrics=build_metrics("gpt-4.1"), classifiers=build_classifiers("gpt-4.1"))',
            "```",
        ],
    )
