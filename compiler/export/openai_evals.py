"""OpenAI evals: a registry folder that `oaieval <model>,<grader> <dataset> --registry_path registry` runs.

The eval is `ModelBasedClassify` with a model-graded spec of this export: the grader sees the input, the
completion and the case's criteria (every evaluator column as one sentence), and answers Y or N after its
reasoning (`cot_classify`). Samples keep the prompt's instructions as the system message, the row id and its
metadata. https://github.com/openai/evals/blob/main/docs/eval-templates.md
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from compiler.core.rows import Row
from compiler.export.base import (
    Column,
    Space,
    expectation,
    jsonl,
    read_space,
    readme,
    row_metadata,
    split_prompt,
    tool_name,
    yaml_text,
)
from compiler.versions.manifest import Manifest

GRADER_PROMPT = """You are grading a response of an assistant to one test case.

[BEGIN DATA]
***
[Input]: {input}
***
[Response]: {completion}
***
[Criteria]: {criteria}
***
[END DATA]

Does the response meet every criterion above, as an answer to this input? First reason step by step, then
on the last line answer Y if it meets every criterion or N if it misses any."""


def eval_name(space: Space) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", space.dataset.lower()).strip("_") or "dataset"


def build_openai_evals(rows: Sequence[Row], manifest: Manifest) -> dict[str, bytes]:
    space = read_space(manifest, rows)
    name = eval_name(space)
    registry = {
        name: {"id": f"{name}.dsc.v{space.version}", "description": space.description, "metrics": ["score"]},
        f"{name}.dsc.v{space.version}": {
            "class": "evals.elsuite.modelgraded.classify:ModelBasedClassify",
            "args": {
                "samples_jsonl": f"{name}/samples.jsonl",
                "eval_type": "cot_classify",
                "modelgraded_spec": name,
            },
        },
    }
    spec = {
        name: {
            "prompt": GRADER_PROMPT,
            "choice_strings": "YN",
            "choice_scores": {"Y": 1.0, "N": 0.0},
            "input_outputs": {"input": "completion"},
        }
    }
    head = f"# {space.dataset} version {space.version}, exported by dsc.\n"
    return {
        f"registry/evals/{name}.yaml": yaml_text(registry, head),
        f"registry/modelgraded/{name}.yaml": yaml_text(spec, head),
        f"registry/data/{name}/samples.jsonl": jsonl([sample(row, space) for row in rows]),
        "README.md": _readme(space, name, len(rows)),
    }


def sample(row: Row, space: Space) -> dict[str, Any]:
    system, user = split_prompt(space, row.inputs)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}
    ]
    return {
        "input": messages,
        "criteria": criteria(row, space),
        "id": row.id,
        "metadata": row_metadata(row, space)
        | {"expected": {c.name: row.expected.get(c.name) for c in space.columns}},
    }


def criteria(row: Row, space: Space) -> str:
    """Every column's expectation as one numbered list the grader checks."""
    lines = [
        sentence
        for column in space.columns
        if (sentence := _criterion(column, row.expected.get(column.name)))
    ]
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def _criterion(column: Column, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if column.kind == "text":
        return f"{column.about}: {value}"
    if column.kind == "list":
        items = [str(v) for v in value]
        if column.list_role == "tool_calls":
            names = [tool_name(v) for v in value]
            return (
                f"{column.about}: calls {' then '.join(names)}."
                if names
                else f"{column.about}: calls no tool."
            )
        if not items:
            return None
        if column.list_role == "exclude":
            return f"{column.about}: mentions none of: {'; '.join(items)}."
        return f"{column.about}: mentions each of: {'; '.join(items)}."
    return expectation(column, value)


def _readme(space: Space, name: str, rows: int) -> bytes:
    return readme(
        space,
        "OpenAI evals",
        rows,
        [
            "## Run",
            "",
            "```sh",
            "pip install evals",
            f"oaieval gpt-4.1-mini,gpt-4.1 {name} --registry_path registry",
            "```",
            "",
            "The first completion function is the model under test, the last one grades. The eval is",
            f"`ModelBasedClassify` with the spec `registry/modelgraded/{name}.yaml`: the grader sees the case's",
            "input, the completion and the case's `criteria` (every evaluator column as one line) and answers",
            "Y or N after reasoning; the score is the share of Y. Samples keep the prompt's instructions as the",
            "system message, the row `id` and `metadata` (source, strategy, the full cell).",
        ],
    )
