"""Curated rows (`regression`, `golden`).

A curated file is JSONL, CSV or Parquet; each row carries the dataset's input columns (top level or under
`inputs`), optionally its evaluator columns (top level or under `expected`), a `cell` and an `id`: the
rows `dsc promote` appends (cases.jsonl rows) and flat hand-written rows both qualify. Rows go
through the privacy gate (`pii: redact` by default; `reject` refuses a file with private data in it,
`keep` is for fixtures that are synthetic on purpose) and are otherwise returned as written.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.core.columns import column_type
from compiler.core.confine import shown_path
from compiler.core.errors import SourceError
from compiler.core.jsonl import iter_records
from compiler.core.rows import ROW_KEYS
from compiler.privacy.gate import reads_as_name, scrub_row
from compiler.spec.model import Column
from compiler.spec.validate.sources import CuratedSource

# What `dsc promote` writes (a row of cases.jsonl plus `outcome`) and a few fields for hand-written rows.
META_FIELDS = (*ROW_KEYS, "outcome", "notes", "tags")


@dataclass(frozen=True)
class CuratedSet:
    name: str
    rows: tuple[dict[str, Any], ...]  # as written, private values redacted (unless pii: keep)
    lines: tuple[int, ...]  # where each row is in its file (line for JSONL and CSV, row number for Parquet)
    pii: dict[str, int]  # detector -> values redacted


def _read_rows(path: Path) -> list[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        # conflict markers, torn or glued lines and bad bytes are one line each (content withheld: it may be private)
        return list(iter_records(path, SourceError, "an object", "write one JSON object per line"))
    import polars as pl  # only a CSV or Parquet file needs it: `dsc plan` of a JSONL-only space never loads it

    try:
        if suffix == ".csv":
            return [(i + 2, row) for i, row in enumerate(pl.read_csv(path, infer_schema=False).to_dicts())]
        if suffix in (".parquet", ".pq"):
            return [(i + 1, row) for i, row in enumerate(pl.read_parquet(path).to_dicts())]
    except pl.exceptions.PolarsError as exc:
        raise SourceError(
            f"{path}: cannot read it as {suffix[1:].upper()} ({type(exc).__name__}); check the file "
            "(details withheld: they may quote private data)"
        ) from None
    return list(iter_records(path, SourceError, "an object", "write one JSON object per line"))


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _lines(numbers: Sequence[int]) -> str:
    shown = ", ".join(map(str, numbers[:8])) + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


_LABEL = re.compile(r"[A-Za-z0-9_.\-~]{1,64}")


def _row_problems(
    source: CuratedSource, row: Any, inputs: Sequence[str], columns: Sequence[str]
) -> list[str]:
    if not isinstance(row, Mapping):
        return ["is not an object; write one JSON object per line"]
    problems = []
    allowed = [*inputs, *columns, *META_FIELDS]
    nested = row.get("inputs") or {}
    if not isinstance(nested, Mapping):
        problems.append("has `inputs` that is not a mapping of input columns")
    else:
        problems += [
            f"has unknown input column `inputs.{k}`; input columns: {', '.join(inputs)}"
            for k in nested
            if k not in inputs
        ]
    unreadable = 0
    headless = bool(row) and not any(key in allowed for key in row)  # no known field: the "header" is data
    for key in row:
        if key not in allowed and (headless or not reads_as_name(str(key))):
            unreadable += 1  # a CSV without a header: its "fields" are a row of data, never quoted
        elif key not in allowed:
            match = difflib.get_close_matches(str(key), allowed, n=1)
            problems.append(
                f"has unknown field `{key}`; "
                + (
                    f"did you mean `{match[0]}`?"
                    if match
                    else f"use the input columns ({', '.join(inputs)}), the evaluator columns "
                    f"({', '.join(columns)}) or {', '.join(META_FIELDS)}"
                )
            )
    if unreadable:
        problems.append(
            f"has {unreadable} field name{'s' if unreadable > 1 else ''} that do{'es' if unreadable == 1 else ''} "
            "not read as a name (not shown: they may be data); check that the file starts with a header line"
        )
    expected = row.get("expected") or {}
    if not isinstance(expected, Mapping):
        problems.append("has `expected` that is not a mapping of evaluator columns")
    else:
        problems += [
            f"has unknown evaluator column `expected.{k}`; columns: {', '.join(columns)}"
            for k in expected
            if k not in columns
        ]
    cell = row.get("cell") or {}
    dims = dict(source.dimensions)
    if not isinstance(cell, Mapping):
        problems.append("has `cell` that is not a mapping dimension: value")
    else:
        for dim, value in cell.items():
            names = dims.get(dim)
            if names is None:
                problems.append(
                    f"has `cell.{dim}` but there is no such dimension; dimensions: {', '.join(dims)}"
                )
            elif str(value) not in names and f"~{value}" not in names:
                problems.append(  # the value is not echoed: it may be anything, a customer's address too
                    f"has a `cell.{dim}` value that {dim} does not have; values: {', '.join(names)}"
                )
    for key in ("strategy", "variant"):
        value = row.get(key)
        if value is not None and not (isinstance(value, str) and _LABEL.fullmatch(value)):
            problems.append(f"has a `{key}` that is not a plain name (letters, digits, _ . - up to 64)")
    return problems


def _from_text(text: str, kind: str) -> Any:
    """A CSV cell (always text) as the column's type when it reads as one, else the text unchanged."""
    low = text.strip().lower()
    if kind == "bool" and low in ("true", "false"):
        return low == "true"
    if kind in ("int", "number"):
        for parse in (int, float) if kind == "number" else (int,):
            try:
                return parse(text.strip())
            except ValueError:
                pass
    if kind == "list" and low.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text


def _typed_values(row: Any, typed: Sequence[Column], from_csv: bool) -> tuple[Any, list[str]]:
    """The row with CSV cells read as their columns' types, and one problem per evaluator value of the wrong
    type (the value is not echoed: it may be private)."""
    if not isinstance(row, Mapping):
        return row, []
    row = dict(row)
    nested = dict(row["expected"]) if isinstance(row.get("expected"), Mapping) else None
    problems = []
    for column in typed:
        holder = nested if nested is not None and column.name in nested else row
        value = holder.get(column.name)
        if from_csv and value == "" and column.type != "text":  # an empty CSV cell: no value given
            holder[column.name] = value = None
        if value is None:
            continue
        if from_csv and isinstance(value, str):
            value = holder[column.name] = _from_text(value, column.type)
        kind = column_type(column.type)
        if not kind.accepts(value, column.values):
            shown = f"one of {', '.join(column.values)}" if column.type == "enum" else kind.expected_form
            problems.append(
                f"has an `expected.{column.name}` that is not {shown} (the column is {column.type})"
            )
    if nested is not None:
        row["expected"] = nested
    return row, problems


def load_curated(
    source: CuratedSource,
    name: str,
    input_columns: Sequence[str],
    columns: Sequence[str],
    *,
    optional: Sequence[str] = (),
    typed: Sequence[Column] = (),
) -> CuratedSet:
    """Read a curated source; every row needs a non-empty value for each of `input_columns` (the prompt's
    required variables) at the top level or under `inputs` (a promoted production row, with a
    `provenance.trace_id`, for one of them: its trace held one); `optional` input columns may be left out.
    Evaluator values must have their column's type (`typed`); CSV cells are read as that type first."""
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    counts: dict[str, int] = {}
    for path in source.files:
        missing: dict[tuple[str, ...], list[int]] = {}
        problems: list[str] = []
        from_csv = path.suffix.lower() == ".csv"
        for number, written in _read_rows(path):
            row, found = _typed_values(written, typed, from_csv)
            found = _row_problems(source, row, [*input_columns, *optional], columns) + found
            problems += [f"{shown_path(path)}:{number}: {name} row {p}" for p in found]
            if found:
                continue
            nested = row.get("inputs") if isinstance(row.get("inputs"), Mapping) else {}
            lacking = tuple(c for c in input_columns if not _present(row.get(c, nested.get(c))))
            provenance = row.get("provenance") if isinstance(row.get("provenance"), Mapping) else {}
            if lacking and provenance.get("trace_id") and len(lacking) < len(input_columns):
                lacking = ()  # a promoted production row: its trace gave one input, the others stay empty
            if lacking:
                missing.setdefault(lacking, []).append(number)
                continue
            if source.pii != "keep":
                kept = {k: v for k, v in row.items() if k in ("id", "source")}
                result = scrub_row(
                    {k: v for k, v in row.items() if k not in kept}, source.pii, dict(source.patterns)
                )
                labels = [
                    k for k in ("strategy", "variant", "cell") if k in row and result.fields[k] != row[k]
                ]
                if labels:  # names that identify the case must not be redacted into something else
                    problems.append(
                        f"{path}:{number}: {name} row's {', '.join(labels)} holds private data "
                        f"({', '.join(sorted(result.counts))}); replace it with a plain name"
                    )
                    continue
                if result.rejected:
                    problems.append(
                        f"{path}:{number}: {name} row holds {result.reason} and sources.{name}.pii is "
                        "reject; remove it from the row or set pii: redact"
                    )
                    continue
                for detector, n in result.counts.items():
                    counts[detector] = counts.get(detector, 0) + n
                row = {k: kept[k] if k in kept else result.fields[k] for k in row}
            rows.append(row)
            lines.append(number)
        for lacking, numbers in missing.items():
            problems.append(
                f"{path}: {_lines(numbers)} lack{'s' if len(numbers) == 1 else ''} input column"
                f"{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}; every {name} row needs "
                f"{', '.join(input_columns)} (at the top level or under `inputs`)"
            )
        if problems:
            raise SourceError("\n".join(problems))
    return CuratedSet(name, tuple(rows), tuple(lines), dict(sorted(counts.items())))
