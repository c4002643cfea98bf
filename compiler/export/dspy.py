"""DSPy: `examples.jsonl` (one `dspy.Example` per line) and `load_examples.py`, for an optimizer or Evaluate.

Each record has the prompt's variables as the example's inputs (`with_inputs`), the evaluator columns as its
labels, and `dsc` (row id, source, strategy, the full cell) riding along as a non-input field.
https://dspy.ai/learn/evaluation/data/
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from compiler.core.rows import Row
from compiler.export.base import Space, input_values, jsonl, read_space, readme, row_metadata
from compiler.versions.manifest import Manifest

EXAMPLES = "examples.jsonl"
LOADER = "load_examples.py"


def build_dspy(rows: Sequence[Row], manifest: Manifest) -> dict[str, bytes]:
    space = read_space(manifest, rows)
    loader = resources.files("compiler.export").joinpath("dspy_load.py.txt").read_bytes()
    return {
        EXAMPLES: jsonl([example(row, space) for row in rows]),
        LOADER: loader,
        "README.md": _readme(space, len(rows)),
    }


def example(row: Row, space: Space) -> dict[str, Any]:
    return {
        "inputs": input_values(row, space),
        "labels": {c.name: row.expected.get(c.name) for c in space.columns},
        "dsc": row_metadata(row, space),
    }


def _readme(space: Space, rows: int) -> bytes:
    first = space.columns[0].name if space.columns else "label"
    return readme(
        space,
        "DSPy",
        rows,
        [
            "## Use",
            "",
            "```python",
            "import dspy",
            "from load_examples import load_examples",
            "",
            "examples = load_examples()  # list[dspy.Example]; inputs: " + ", ".join(space.variables),
            f"print(examples[0].inputs(), examples[0].labels().{first})",
            "evaluate = dspy.Evaluate(devset=examples, metric=my_metric)",
            "```",
            "",
            "Each example's inputs are the prompt's variables, its labels the evaluator columns; `dsc` holds the",
            "row id, source, strategy and the full cell (every dimension, null when unknown).",
        ],
    )
