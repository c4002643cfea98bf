"""Review decisions beside the datasets (`reviews/<dataset>.jsonl`), applied on every compile.

The file is an append-only log keyed by row id; the last decision for an id wins. A row that comes
back with the same id keeps its decision; an edited row carries its edit (and so a new id).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from compiler.core.errors import UsageError
from compiler.core.rows import Row, compute_row_id

REVIEWS_DIR = Path("reviews")


@dataclass(frozen=True)
class Decision:
    id: str
    status: str  # approved | rejected | edited (= approved with edits)
    reviewer: str
    reason: str = ""
    edits: Mapping[str, Any] = field(default_factory=dict)  # {"expected.verdict": "refuse"}

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "status": self.status,
                "reviewer": self.reviewer,
                "reason": self.reason,
                "edits": dict(self.edits),
            },
            ensure_ascii=False,
            sort_keys=True,
        )


def reviews_path(dataset: str, root: Path = REVIEWS_DIR) -> Path:
    return root / f"{dataset}.jsonl"


def load_decisions(dataset: str, root: Path = REVIEWS_DIR) -> dict[str, Decision]:
    path = reviews_path(dataset, root)
    decisions: dict[str, Decision] = {}
    if not path.is_file():
        return decisions
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            decisions[data["id"]] = Decision(
                data["id"],
                data["status"],
                data.get("reviewer", ""),
                data.get("reason", ""),
                data.get("edits") or {},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{path}:{number}: not a review decision ({exc}); fix or remove the line"
            ) from exc
    return decisions


def append_decisions(dataset: str, decisions: Iterable[Decision], root: Path = REVIEWS_DIR) -> Path:
    path = reviews_path(dataset, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(d.to_json() + "\n" for d in decisions))
    return path


def apply_edits(row: Row, edits: Mapping[str, Any]) -> Row:
    """The row with `inputs.x` / `expected.y` replaced, re-hashed to its new id."""
    inputs = dict(row.inputs)
    expected = dict(row.expected)
    for path, value in edits.items():
        part, _, name = path.partition(".")
        (inputs if part == "inputs" else expected)[name] = value
    new_id = compute_row_id(row.source, row.strategy, row.variant, row.cell, inputs, expected)
    return replace(
        row, id=new_id, inputs=inputs, expected=expected, provenance={**row.provenance, "edited_from": row.id}
    )


def apply_decisions(row: Row, decisions: Mapping[str, Decision]) -> Row | None:
    """The row as its review left it: None when rejected, edited and re-hashed when edited."""
    for _ in range(3):  # an edited row may itself have been approved or edited again
        decision = decisions.get(row.id)
        if decision is None:
            return row
        if decision.status == "rejected":
            return None
        if decision.status == "edited" and decision.edits:
            edited = apply_edits(row, decision.edits)
            row = replace(edited, review_status="edited")
            if edited.id == decision.id:
                return row
            continue
        return replace(row, review_status=decision.status)
    return row


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
    ok = {
        "list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "enum": value in (column.get("values") or []),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
    }.get(kind, False)
    if not ok:
        allowed = {
            "list": "a list like [a, b]",
            "enum": "one of " + ", ".join(column.get("values") or []),
            "bool": "true or false",
            "int": "a whole number",
            "number": "a number",
        }[kind]
        raise UsageError(f"--set {text}: `{name}` is a {kind} column; give {allowed}")
    if kind == "number":
        value = float(value)
    return f"expected.{name}", value
