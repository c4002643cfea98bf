"""One production trace file (JSONL, CSV or Parquet) read lazily into the common column shape.

Only the configured fields are read (nested `a.b` paths too) and converted: texts, an error flag, a naive
UTC timestamp. JSONL that polars rejects is read line by line instead, exactly, flagging broken rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from compiler.core.confine import shown_path
from compiler.core.errors import SourceError
from compiler.core.limits import NestingError, load_json
from compiler.spec.validate.production import FIELD_KEYS, ProductionSource

FILE_STRIDE = (
    2**32
)  # a row's `row` is file number x FILE_STRIDE + its line (JSONL) or row number (CSV, Parquet)
ERROR_TRUE = ("true", "1", "yes", "y", "fail", "failed", "failure", "error", "wrong", "incorrect", "bad")
ERROR_FALSE = ("false", "0", "no", "n", "pass", "passed", "ok", "success", "correct", "good")


class UnreadableTraceFile(Exception):
    """Polars cannot read this file as it is; the caller reads its JSONL line by line instead."""

    def __init__(self, path: Path) -> None:
        self.path = path


def _scan(path: Path) -> pl.LazyFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":  # all text: types are checked row by row below
        return pl.scan_csv(path, infer_schema=False, row_index_name="_line", row_index_offset=1)
    if suffix in (".parquet", ".pq"):
        return pl.scan_parquet(path, row_index_name="_line", row_index_offset=1)
    return pl.scan_ndjson(path, infer_schema_length=1000, row_index_name="_line", row_index_offset=1)


def _leaf_paths(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.Struct):
            paths += _leaf_paths({f.name: f.dtype for f in dtype.fields}, f"{prefix}{name}.")
        else:
            paths.append(f"{prefix}{name}")
    return paths


def _resolve_path(schema: Mapping[str, Any], path: str) -> tuple[pl.Expr, Any] | None:
    """`request.text` -> the column `request.text` if one has that name, else the struct field."""
    if path in schema:
        return pl.col(path), schema[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head not in schema:
            continue
        expr, dtype = pl.col(head), schema[head]
        for part in parts[cut:]:
            if not isinstance(dtype, pl.Struct):
                return None
            field = next((f for f in dtype.fields if f.name == part), None)
            if field is None:
                return None
            expr, dtype = expr.struct.field(part), field.dtype
        return expr, dtype
    return None


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    if dtype == pl.String:
        return expr
    if dtype.is_numeric() or dtype == pl.Boolean or dtype.is_temporal() or dtype == pl.Null:
        return expr.cast(pl.String)
    return None  # struct or list: the user pointed at a container


def _as_error(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    if dtype == pl.Boolean:
        return expr
    if dtype.is_numeric():
        return expr != 0
    if dtype in (pl.String, pl.Null):
        text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
        number = text.cast(pl.Float64, strict=False)
        return (
            pl.when(text.is_in(ERROR_TRUE))
            .then(True)
            .when(text.is_in(ERROR_FALSE))
            .then(False)
            .when(number.is_not_null())
            .then(number != 0)
            .otherwise(None)
        )
    return None


def _as_timestamp(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """Naive UTC microseconds from datetimes, dates, epoch numbers (s or ms) or ISO-8601 text."""
    if isinstance(dtype, pl.Datetime):
        utc = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else expr
        return utc.dt.cast_time_unit("us")
    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us"))
    if dtype.is_numeric():
        number = expr.cast(pl.Int64, strict=False)
        return (
            pl.when(number.abs() > 10**11)
            .then(pl.from_epoch(number, "ms"))
            .otherwise(pl.from_epoch(number, "s"))
        )
    if dtype not in (pl.String, pl.Null):
        return None
    text = expr.cast(pl.String).str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    number = text.str.to_integer(strict=False)
    aware = [
        text.str.to_datetime(f, strict=False, time_zone="UTC", time_unit="us").dt.replace_time_zone(None)
        for f in ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M%z")
    ]
    naive = [
        text.str.to_datetime(f, strict=False, time_unit="us")
        # with or without seconds, `T` or a space between date and time, as datetime.fromisoformat reads them
        for f in ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")
    ]
    epoch = (
        pl.when(number.abs() > 10**11).then(pl.from_epoch(number, "ms")).otherwise(pl.from_epoch(number, "s"))
    )
    return pl.coalesce(
        *aware,
        *naive,
        text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        epoch.cast(pl.Datetime("us")),
    )


def shown_fields(names: Iterable[str]) -> str:
    """A file's field names for a message, once another configured field was found among them (so they are
    a header): a name with bytes no header has, or one the privacy gate flags, is counted, not shown."""
    from compiler.privacy.gate import names_to_show

    fit, withheld = names_to_show(list(names))
    shown = ", ".join(fit)[:600] or "(none)"
    if withheld:
        shown += f" (and {withheld} that {'does' if withheld == 1 else 'do'} not read as a field name)"
    return shown


def _json_paths(obj: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in obj.items():
        paths += _json_paths(value, f"{prefix}{key}.") if isinstance(value, Mapping) else [f"{prefix}{key}"]
    return paths


def _flat_json(path: Path, fields: Sequence[str]) -> tuple[pl.LazyFrame, list[str]]:
    """JSONL that polars rejects (a broken line, a value of the wrong shape), read line by line, exactly;
    with the field paths seen (for error messages)."""
    columns: dict[str, list[Any]] = {f: [] for f in fields}
    invalid: list[bool] = []
    wrong: list[bool] = []
    lines: list[int] = []
    seen: dict[str, None] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            lines.append(number)
            try:
                obj = load_json(line)
            except NestingError as exc:
                raise SourceError(f"{path}:{number}: the trace {exc}; flatten it or drop the line") from None
            except ValueError:
                obj = None
            invalid.append(not isinstance(obj, dict))
            bad = False
            for name in fields:
                value: Any = obj if isinstance(obj, dict) else None
                for part in name.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if isinstance(value, dict | list):
                    bad, value = True, None
                elif value is not None and not isinstance(value, str):
                    value = json.dumps(value)  # numbers and booleans as their JSON text
                columns[name].append(value)
            wrong.append(bad)
            if isinstance(obj, dict) and len(seen) < 1000:
                seen.update(dict.fromkeys(_json_paths(obj)))
    if invalid and all(invalid) and _starts_an_array(path):
        raise SourceError(
            f"{shown_path(path)}: is one JSON array, not JSONL; write one trace object per line "
            f"(e.g. jq -c '.[]' {path.name} > {path.stem}.jsonl)"
        )
    frame = pl.DataFrame(
        {
            **{f: pl.Series(v, dtype=pl.String) for f, v in columns.items()},
            "_invalid_json": invalid,
            "_wrong_type": wrong,
            "_line": pl.Series(lines, dtype=pl.UInt32),
        }
    )
    return frame.lazy(), list(seen)


def _starts_an_array(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4096).lstrip().startswith(b"[")


def scan_trace_file(
    source: ProductionSource, file_no: int, path: Path, fallback: bool, problems: list[str]
) -> pl.LazyFrame | None:
    """One file's rows in the common shape, or None after adding a problem per unusable field."""
    fields = dict(source.fields)
    if fallback:
        paths = list(dict.fromkeys([*fields.values(), *(m.field for m in source.maps if m.field)]))
        lf, known = _flat_json(path, paths)
        if not known and not lf.select(pl.len()).collect().item():
            return None  # an empty part of a glob adds nothing
        schema: dict[str, Any] = dict.fromkeys(paths, pl.String)
        missing = [p for p in paths if p not in known] if known else []  # no object at all: all invalid_json
    else:
        lf = _scan(path)
        try:
            schema = dict(lf.collect_schema())
        except pl.exceptions.PolarsError:
            raise UnreadableTraceFile(path) from None
        known, missing = _leaf_paths(schema), []
    shown = shown_fields(p for p in known if not p.startswith("_"))
    missed: list[tuple[str, str]] = []
    exprs: dict[str, pl.Expr] = {}
    converters = {
        "input": _as_text,
        "output": _as_text,
        "behavior": _as_text,
        "trace_id": _as_text,
        "error": _as_error,
        "timestamp": _as_timestamp,
    }
    wanted = [(key, fields[key], converters[key]) for key in FIELD_KEYS if key in fields]
    wanted += [(f"_var_{name}", field, _as_text) for name, field in source.variable_fields]
    wanted += [(f"_map_{m.dimension}", m.field, _as_text) for m in source.maps if m.field]
    for key, field_path, convert in wanted:
        where = (
            f"sources.production.map.{key[5:]}.field"
            if key.startswith("_map_")
            else f"sources.production.fields.{key.removeprefix('_var_')}"
        )
        resolved = None if field_path in missing else _resolve_path(schema, field_path)
        if resolved is None and not fallback and path.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise UnreadableTraceFile(
                path
            )  # the schema sample may have missed it: read the file line by line
        if resolved is None:
            missed.append((where, field_path))
            continue
        expr, dtype = resolved
        converted = convert(expr, dtype)
        if converted is None:
            kind = "a struct" if isinstance(dtype, pl.Struct) else f"of type {dtype}"
            problems.append(
                f"{where}: `{field_path}` in {path.name} is {kind}; point it at a "
                + ("timestamp" if key == "timestamp" else "text or flag")
                + " field such as "
                + (", ".join(p for p in known if p.startswith(field_path + "."))[:300] or shown)
            )
            continue
        exprs[key] = converted
        if key in ("timestamp", "error"):
            exprs[f"_{key}_present"] = expr.is_not_null()
            exprs[f"_{key}_raw"] = expr
    if missed and len(missed) == len(wanted) and len(wanted) > 1:
        # not one field found: the first line is data or the file is not text, so its "field names" may be
        # private values or bytes; one line, and none of them quoted
        named = ", ".join(f"`{field}`" for _, field in missed)
        problems.append(
            f"sources.production.fields: none of the fields it names ({named}) is a field of {path.name} "
            f"({len(known)} found, not shown: they may be data); check that the file starts with a header line "
            "and is JSONL, CSV or Parquet text"
        )
    else:
        problems += [f"{w}: `{f}` is not a field of {path.name}; its fields: {shown}" for w, f in missed]
    if len(exprs) < len(wanted) + 2 * sum(1 for k, _, _ in wanted if k in ("timestamp", "error")):
        return None
    invalid = pl.col("_invalid_json") if fallback else pl.lit(False)
    wrong = pl.col("_wrong_type") if fallback else pl.lit(False)
    text = exprs["input"].str.strip_chars()
    columns = [
        invalid.alias("_invalid_json"),
        wrong.alias("_wrong_type"),
        pl.when(text.str.len_chars() > 0).then(exprs["input"]).otherwise(None).alias("input"),
        exprs.get("output", pl.lit(None)).cast(pl.String).alias("output"),
        exprs.get("behavior", pl.lit(None)).cast(pl.String).str.strip_chars().alias("behavior"),
        exprs.get("trace_id", pl.lit(f"{path.name}:") + pl.col("_line").cast(pl.String))
        .cast(pl.String)
        .alias("trace_id"),
        exprs.get("error", pl.lit(None)).cast(pl.Boolean).alias("error"),
        (exprs["_error_present"] & exprs["error"].is_null() if "error" in exprs else pl.lit(False)).alias(
            "_bad_error"
        ),
        exprs.get("timestamp", pl.lit(None)).cast(pl.Datetime("us")).alias("timestamp"),
        (
            exprs["_timestamp_present"] & exprs["timestamp"].is_null()
            if "timestamp" in exprs
            else pl.lit(False)
        ).alias("_bad_timestamp"),
        exprs.get("_timestamp_raw", pl.lit(None)).cast(pl.String).alias("_timestamp_raw"),
        (pl.lit(file_no, dtype=pl.UInt64) * FILE_STRIDE + pl.col("_line").cast(pl.UInt64)).alias("row"),
    ]
    columns += [
        exprs[f"_var_{name}"].cast(pl.String).alias(f"_var_{name}") for name, _ in source.variable_fields
    ]
    columns += [
        exprs[f"_map_{m.dimension}"].cast(pl.String).cast(pl.Categorical).alias(f"_map_{m.dimension}")
        for m in source.maps
        if m.field
    ]
    return lf.select(columns)
