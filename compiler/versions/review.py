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
from compiler.core.rows import Row
from compiler.screen.decisions import Decision
from compiler.versions.manifest import Manifest


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
        bare = path.strip()
        if sep and not name and bare in columns:
            raise UsageError(
                f"--set {text}: `{bare}` is an evaluator column; write --set expected.{bare}={raw}"
            )
        if sep and not name and bare in variables:
            raise UsageError(f"--set {text}: `{bare}` is an input; write --set inputs.{bare}={raw}")
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


def decision_refusal(row: Row, manifest: Manifest, action: str) -> str | None:
    """Why a reject or edit of this row could never apply (None when it can): compiles apply decisions to
    synthetic rows only; curated and production rows join every version as their source holds them."""
    if row.source == "synthetic" or action == "approve":
        return None  # an approval changes what `review list` and `promote` see, and a compile keeps the row
    if row.source == "production":
        trace = row.provenance.get("trace_id")
        where = manifest.config.get("sources") or {}
        production = where.get("production") if isinstance(where, Mapping) else None
        path = production.get("path") if isinstance(production, Mapping) else production
        return (
            f"{row.id[:16]}: is a production row (trace {trace} of {path or 'the production traces'}); it joins "
            "every version as traced and review decisions apply to synthetic rows only, so this one would be "
            "ignored: change or drop the trace at its source"
        )
    curated = manifest.section("curated").get(row.source) or {}
    path = Path(str(curated.get("path"))) if curated.get("path") else None
    line = _line_of(path, row.id) if path is not None else None
    where = f"{path}:{line}" if line else str(path or f"the {row.source} file")
    fix = "delete that line" if action == "reject" else "edit the row in that file"
    return (
        f"{row.id[:16]}: is a {row.source} row, curated in {where}; curated rows join every version as the "
        f"file holds them, so a review decision would be ignored: {fix} and recompile"
    )


def _line_of(path: Path, row_id: str) -> int | None:
    """The line of a curated file whose `id` is this row's (None when the file is unreadable or lacks it)."""
    try:
        for number, data in iter_records(path, UsageError, "a row", "fix the line"):
            if data.get("id") == row_id:
                return number
    except UsageError:
        return None
    return None
