"""Review decisions beside the datasets (`reviews/<dataset>.jsonl`), applied on every compile.

The file is an append-only log keyed by row id; the last decision for an id wins. A row that comes
back with the same id keeps its decision; an edited row carries its edit (and so a new id).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from compiler.core.atomic import append_lines
from compiler.core.columns import COLUMN_TYPES
from compiler.core.errors import UsageError
from compiler.core.jsonl import iter_records
from compiler.screen.decisions import Decision


def reviews_path(dataset: str, root: Path) -> Path:
    return root / f"{dataset}.jsonl"


def load_decisions(dataset: str, root: Path) -> dict[str, Decision]:
    path = reviews_path(dataset, root)
    decisions: dict[str, Decision] = {}
    if not path.is_file():
        return decisions
    for number, data in iter_records(path, UsageError, "a review decision", "fix or remove the line"):
        try:
            decisions[data["id"]] = Decision(
                data["id"],
                data["status"],
                data.get("reviewer", ""),
                data.get("reason", ""),
                data.get("edits") or {},
            )
        except (KeyError, TypeError) as exc:
            raise UsageError(
                f"{path}:{number}: not a review decision (no {exc}); fix or remove the line"
            ) from None
    return decisions


def append_decisions(dataset: str, decisions: Iterable[Decision], root: Path) -> Path:
    path = reviews_path(dataset, root)
    append_lines(path, [d.to_json() for d in decisions])
    return path


def parse_assignment(
    text: str, variables: Sequence[str], columns: Mapping[str, Mapping[str, Any]]
) -> tuple[str, Any]:
    """`expected.verdict=refuse` -> ("expected.verdict", "refuse"), type-checked against the dataset."""
    path, sep, raw = text.partition("=")
    part, _, name = path.strip().partition(".")
    if not sep or part not in ("inputs", "expected") or not name:
        raise UsageError(f"--set {text}: write inputs.<variable>=<value> or expected.<column>=<value>")
    if part == "inputs":
        if name not in variables:
            raise UsageError(f"--set {text}: no input `{name}`; inputs are {', '.join(variables)}")
        return f"inputs.{name}", raw
    if name not in columns:
        hint = difflib.get_close_matches(name, list(columns), n=1)
        raise UsageError(
            f"--set {text}: no evaluator column `{name}`"
            + (f"; did you mean `{hint[0]}`?" if hint else f"; columns are {', '.join(columns)}")
        )
    column = columns[name]
    kind = column.get("type", "text")
    if kind == "text":
        return f"expected.{name}", raw
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise UsageError(f"--set {text}: the value does not parse ({exc.__class__.__name__})") from exc
    registered = COLUMN_TYPES.get(kind)
    values = [str(v) for v in column.get("values") or []]
    if registered is None or not registered.accepts(value, values):
        allowed = (
            "one of " + ", ".join(values)
            if kind == "enum"
            else (registered.expected_form if registered else "a value")
        )
        article = "an" if kind[:1] in "aeiou" else "a"
        raise UsageError(f"--set {text}: `{name}` is {article} {kind} column; give {allowed}")
    if kind == "number":
        value = float(value)
    return f"expected.{name}", value
