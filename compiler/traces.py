"""Production traces: the `sources.production` config and its ingestion into a TraceSet.

Ingestion is one streaming polars pass over lazy scans (JSONL, CSV, Parquet; globs; nested `a.b` paths;
only the configured fields are read): every row yields a slim statistics row (dimension values, error
flag, timestamp, behaviour) or a malformed count, and the rows of a deterministic uniform sample also
keep their texts. From the sample comes the pool: the first rows (in a stable pseudo-random order) of
every dimension value and cell; values too rare to be in the sample cost a second, filtered pass. The
pool goes through the privacy gate; no other trace text is kept, printed or put in an error message.
"""

from __future__ import annotations

import datetime as dt
import difflib
import glob
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from compiler.errors import ConfigError, SourceError
from compiler.privacy import MODES, check_pattern, scrub_frame, scrub_text
from compiler.spec import Dimension

MALFORMED_REASONS = ("invalid_json", "wrong_type", "missing_input", "bad_timestamp", "bad_error_flag")
ERROR_TRUE = ("true", "1", "yes", "y", "fail", "failed", "failure", "error", "wrong", "incorrect", "bad")
ERROR_FALSE = ("false", "0", "no", "n", "pass", "passed", "ok", "success", "correct", "good")
POOL_PER_GROUP = 64  # texts kept per dimension value and per cell: enough for representative snippets
SAMPLE_ROWS = 200_000  # texts the first pass keeps (a uniform sample); rarer groups get a second pass
TEXT_COLUMNS = ("row", "trace_id", "input", "output")

# --- config: sources.production ----------------------------------------------------------------------

FIELD_KEYS = ("input", "output", "behavior", "error", "timestamp", "trace_id")
WEIGHT_FACTORS = ("frequency", "rarity", "error_rate", "novelty")
SOURCE_KEYS = ("path", "fields", "map", "weight_by", "since", "quota", "snippets", "pii", "max_malformed", "patterns")
FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class DimensionMap:
    """How traces get a value of one dimension: a field (with translations), keyword rules, or both."""

    dimension: str
    field: str | None  # path of a field whose value names the dimension value
    values: tuple[tuple[str, str], ...]  # lowercased field value -> dimension value
    rules: tuple[tuple[str, tuple[str, ...]], ...]  # (value, keywords) in the order written; the first match wins


@dataclass(frozen=True)
class ProductionSource:
    """The validated `sources.production` block."""

    path: str  # as written (a glob)
    files: tuple[Path, ...]  # its matches, sorted
    fields: tuple[tuple[str, str], ...]  # role (input, output, ...) -> field path
    maps: tuple[DimensionMap, ...]
    weight_by: tuple[str, ...]
    since: datetime | None  # naive UTC; None: the previous version's cut-off (see since_of)
    since_previous: bool  # `since: previous`
    quota: float  # share of the dataset filled by real traces
    snippets: int  # representative examples per cell passed to templates
    pii: str  # redact | reject
    max_malformed: float
    patterns: tuple[tuple[str, str], ...]  # user detectors: name -> regex

    def field(self, role: str) -> str | None:
        return dict(self.fields).get(role)

    @staticmethod
    def from_config(raw: Any, dims: Sequence[Dimension], base_dir: Path) -> ProductionSource:
        """Validate `sources.production`; raise ConfigError with one line per problem."""
        problems: list[str] = []
        source = parse_production(raw, dims, base_dir, problems)
        if problems:
            raise ConfigError("\n".join(problems))
        assert source is not None
        return source


def _closest(word: str, options: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else f"allowed: {', '.join(options)}"


def _number(problems: list[str], path: str, raw: Any, default: float, low: float, high: float) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        problems.append(f"{path}: must be a number from {low:g} to {high:g}, got {raw!r}")
        return default
    return float(raw)


def resolve_files(problems: list[str], key: str, raw: Any, base_dir: Path) -> tuple[Path, ...]:
    """The sorted matches of a path or glob relative to the project; a problem if there are none."""
    if not isinstance(raw, str) or not raw.strip():
        problems.append(f"{key}: is missing; give a file or glob such as data/traces/*.jsonl")
        return ()
    matches = sorted({Path(p) for p in glob.glob(str(base_dir / raw), recursive=True) if Path(p).is_file()})
    if not matches:
        problems.append(f"{key}: `{raw}` matches no file (relative to {base_dir}); check the path or glob")
    unsupported = sorted({p.suffix or p.name for p in matches if p.suffix.lower() not in FORMATS})
    if unsupported:
        problems.append(f"{key}: `{raw}` matches files of unsupported type {', '.join(unsupported)}; "
                        "use JSONL (.jsonl), CSV (.csv) or Parquet (.parquet)")
    return tuple(matches)


def _resolve_value(dim: Dimension, written: Any) -> str | None:
    for value in dim.values:
        if str(written).strip().lower() in (value.name.lower(), value.name.lstrip("~").lower()):
            return value.name
    return None


def _field_path(problems: list[str], key: str, raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip() or any(not part.strip() for part in raw.split(".")):
        problems.append(f"{key}: must be a field path such as request.text, got {raw!r}")
        return None
    return raw.strip()


def _parse_map(problems: list[str], raw: Any, dims: Sequence[Dimension]) -> tuple[DimensionMap, ...]:
    by_name = {d.name: d for d in dims}
    if not isinstance(raw, Mapping):
        problems.append("sources.production.map: expected a mapping dimension: {field: ...} or {rules: ...}")
        return ()
    maps = []
    for name, spec in raw.items():
        key = f"sources.production.map.{name}"
        dim = by_name.get(str(name))
        if dim is None:
            problems.append(f"{key}: unknown dimension; {_closest(str(name), list(by_name))}")
            continue
        if not isinstance(spec, Mapping) or not ({"field", "rules"} & set(spec)):
            problems.append(f"{key}: expected {{field: labels.{name}}} or {{rules: {{value: [keywords]}}}}")
            continue
        for extra in set(spec) - {"field", "values", "rules"}:
            problems.append(f"{key}.{extra}: unknown key; {_closest(str(extra), ['field', 'values', 'rules'])}")
        field = _field_path(problems, f"{key}.field", spec["field"]) if "field" in spec else None
        values = {n.lower(): n for v in dim.values for n in (v.name, v.name.lstrip("~"))}
        for written, target in (spec.get("values") or {}).items():
            resolved = _resolve_value(dim, target)
            if resolved is None:
                problems.append(f"{key}.values.{written}: `{target}` is not a value of {name}; "
                                f"values: {', '.join(v.name for v in dim.values)}")
            else:
                values[str(written).strip().lower()] = resolved
        rules = []
        for value, keywords in (spec.get("rules") or {}).items():
            resolved = _resolve_value(dim, value)
            words = [keywords] if isinstance(keywords, str) else keywords
            if resolved is None:
                problems.append(f"{key}.rules.{value}: `{value}` is not a value of {name}; "
                                f"values: {', '.join(v.name for v in dim.values)}")
            elif not isinstance(words, list | tuple) or not words or not all(
                    isinstance(w, str) and w.strip() for w in words):
                problems.append(f"{key}.rules.{value}: expected a non-empty list of keywords, got {keywords!r}")
            else:
                rules.append((resolved, tuple(w.strip() for w in words)))
        maps.append(DimensionMap(dim.name, field, tuple(sorted(values.items())), tuple(rules)))
    return tuple(maps)


def _parse_since(problems: list[str], raw: Any) -> tuple[datetime | None, bool]:
    if raw is None:
        return None, False
    if raw == "previous":
        return None, True
    if isinstance(raw, datetime):
        return (raw.astimezone(dt.UTC).replace(tzinfo=None) if raw.tzinfo else raw), False
    if isinstance(raw, dt.date):
        return datetime(raw.year, raw.month, raw.day), False
    try:
        return _parse_since(problems, datetime.fromisoformat(str(raw).replace("Z", "+00:00")))
    except ValueError:
        problems.append(f"sources.production.since: {raw!r} is not a date; write 2026-10-01, an ISO-8601 time "
                        "or `previous` (the previous version's latest trace)")
        return None, False


def parse_production(raw: Any, dims: Sequence[Dimension], base_dir: Path,
                     problems: list[str]) -> ProductionSource | None:
    """`sources.production` -> a ProductionSource, adding one line to `problems` per mistake."""
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, Mapping):
        problems.append(f"sources.production: expected a mapping with path, fields, ...; got {raw!r}")
        return None
    for key in raw:
        if key not in SOURCE_KEYS:
            problems.append(f"sources.production.{key}: unknown key; {_closest(str(key), SOURCE_KEYS)}")
    files = resolve_files(problems, "sources.production.path", raw.get("path"), base_dir)
    fields_raw = raw.get("fields") or {"input": "input"}
    fields: dict[str, str] = {}
    if not isinstance(fields_raw, Mapping):
        problems.append("sources.production.fields: expected a mapping such as {input: request.text, ts: ts}")
        fields_raw = {}
    for role, path in fields_raw.items():
        if role not in FIELD_KEYS:
            problems.append(f"sources.production.fields.{role}: unknown role; {_closest(str(role), FIELD_KEYS)}")
        elif (field := _field_path(problems, f"sources.production.fields.{role}", path)) is not None:
            fields[str(role)] = field
    if "input" not in fields and isinstance(fields_raw, Mapping) and "input" not in fields_raw:
        problems.append("sources.production.fields.input: is missing; name the field that holds the user's request")
    maps = _parse_map(problems, raw["map"], dims) if raw.get("map") is not None else ()
    default_by = [f for f, role in (("error_rate", "error"), ("novelty", "timestamp")) if role in fields]
    weight_by = raw.get("weight_by", default_by)
    weight_by = [weight_by] if isinstance(weight_by, str) else weight_by
    if not isinstance(weight_by, list | tuple):
        problems.append(f"sources.production.weight_by: expected a list of {', '.join(WEIGHT_FACTORS)}")
        weight_by = []
    for factor in weight_by:
        if factor not in WEIGHT_FACTORS:
            problems.append(f"sources.production.weight_by: unknown factor `{factor}`; "
                            f"{_closest(str(factor), WEIGHT_FACTORS)}")
    if "frequency" in weight_by and "rarity" in weight_by:
        problems.append("sources.production.weight_by: lists both frequency and rarity, which pull in opposite "
                        "directions and cancel out; keep one")
    for factor, role in (("error_rate", "error"), ("novelty", "timestamp")):
        if factor in weight_by and role not in fields:
            problems.append(f"sources.production.weight_by: `{factor}` needs fields.{role}; add it or drop {factor}")
    since, since_previous = _parse_since(problems, raw.get("since"))
    pii = raw.get("pii", "redact")
    if pii not in MODES:
        problems.append(f"sources.production.pii: must be redact or reject, got {pii!r}")
    patterns = raw.get("patterns") or {}
    if not isinstance(patterns, Mapping):
        problems.append("sources.production.patterns: expected a mapping name: regex, e.g. {employee_id: 'EMP-\\d{6}'}")
        patterns = {}
    for name, pattern in patterns.items():
        why = check_pattern(str(name), pattern)
        if why:
            problems.append(f"sources.production.patterns.{name}: {why}")
    snippets = raw.get("snippets", 3)
    if isinstance(snippets, bool) or not isinstance(snippets, int) or not 0 <= snippets <= 20:
        problems.append(f"sources.production.snippets: must be a whole number from 0 to 20, got {snippets!r}")
        snippets = 3
    return ProductionSource(
        path=str(raw.get("path")), files=files, fields=tuple(fields.items()), maps=maps,
        weight_by=tuple(f for f in WEIGHT_FACTORS if f in weight_by), since=since, since_previous=since_previous,
        quota=_number(problems, "sources.production.quota", raw.get("quota"), 0.1, 0.0, 1.0),
        snippets=snippets, pii=pii if pii in MODES else "redact",
        max_malformed=_number(problems, "sources.production.max_malformed", raw.get("max_malformed"), 0.05, 0.0, 1.0),
        patterns=tuple(sorted((str(k), str(v)) for k, v in patterns.items())))


# --- ingestion -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TraceSet:
    """What a compile needs from production: slim statistics rows and a scrubbed sample of texts."""

    source: ProductionSource
    frame: pl.DataFrame  # one row per usable trace: row, error, timestamp, behavior, one Enum column per dimension
    pool: pl.DataFrame  # scrubbed sample: row, trace_id, input, output, behavior, error, timestamp, dimensions
    rows: int  # rows read
    malformed: dict[str, int]  # reason -> rows left out
    unmapped: dict[str, int]  # dimension -> usable rows mapped to none of its values
    pii: dict[str, int]  # detector -> values found in the pool
    pii_rejected: int  # pool rows dropped by pii: reject

    @property
    def usable(self) -> int:
        return self.frame.height


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
        return (pl.when(text.is_in(ERROR_TRUE)).then(True).when(text.is_in(ERROR_FALSE)).then(False)
                .when(number.is_not_null()).then(number != 0).otherwise(None))
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
        return pl.when(number.abs() > 10**11).then(pl.from_epoch(number, "ms")).otherwise(pl.from_epoch(number, "s"))
    if dtype not in (pl.String, pl.Null):
        return None
    text = expr.cast(pl.String).str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    number = text.str.to_integer(strict=False)
    aware = [text.str.to_datetime(f, strict=False, time_zone="UTC", time_unit="us").dt.replace_time_zone(None)
             for f in ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z")]
    naive = [text.str.to_datetime(f, strict=False, time_unit="us")
             for f in ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M")]
    epoch = pl.when(number.abs() > 10**11).then(pl.from_epoch(number, "ms")).otherwise(pl.from_epoch(number, "s"))
    return pl.coalesce(*aware, *naive, text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
                       epoch.cast(pl.Datetime("us")))


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
                obj = json.loads(line)
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
    frame = pl.DataFrame({**{f: pl.Series(v, dtype=pl.String) for f, v in columns.items()},
                          "_invalid_json": invalid, "_wrong_type": wrong, "_line": pl.Series(lines, dtype=pl.UInt32)})
    return frame.lazy(), list(seen)


def _file_frame(source: ProductionSource, file_no: int, path: Path, fallback: bool,
                problems: list[str]) -> pl.LazyFrame | None:
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
            raise _Unreadable(path) from None
        known, missing = _leaf_paths(schema), []
    shown = ", ".join(p for p in known if not p.startswith("_"))[:600] or "(none)"
    exprs: dict[str, pl.Expr] = {}
    converters = {"input": _as_text, "output": _as_text, "behavior": _as_text, "trace_id": _as_text,
                  "error": _as_error, "timestamp": _as_timestamp}
    wanted = [(key, fields[key], converters[key]) for key in FIELD_KEYS if key in fields]
    wanted += [(f"_map_{m.dimension}", m.field, _as_text) for m in source.maps if m.field]
    for key, field_path, convert in wanted:
        where = f"sources.production.fields.{key}" if not key.startswith("_map_") else \
            f"sources.production.map.{key[5:]}.field"
        resolved = None if field_path in missing else _resolve_path(schema, field_path)
        if resolved is None and not fallback and path.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise _Unreadable(path)  # the schema sample may have missed it: read the file line by line
        if resolved is None:
            problems.append(f"{where}: `{field_path}` is not a field of {path.name}; its fields: {shown}")
            continue
        expr, dtype = resolved
        converted = convert(expr, dtype)
        if converted is None:
            kind = "a struct" if isinstance(dtype, pl.Struct) else f"of type {dtype}"
            problems.append(f"{where}: `{field_path}` in {path.name} is {kind}; point it at a "
                            + ("timestamp" if key == "timestamp" else "text or flag") + " field such as "
                            + (", ".join(p for p in known if p.startswith(field_path + "."))[:300] or shown))
            continue
        exprs[key] = converted
        if key in ("timestamp", "error"):
            exprs[f"_{key}_present"] = expr.is_not_null()
            exprs[f"_{key}_raw"] = expr
    if len(exprs) < len(wanted) + 2 * sum(1 for k, _, _ in wanted if k in ("timestamp", "error")):
        return None
    invalid = pl.col("_invalid_json") if fallback else pl.lit(False)
    wrong = pl.col("_wrong_type") if fallback else pl.lit(False)
    text = exprs["input"].str.strip_chars()
    columns = [
        invalid.alias("_invalid_json"), wrong.alias("_wrong_type"),
        pl.when(text.str.len_chars() > 0).then(exprs["input"]).otherwise(None).alias("input"),
        exprs.get("output", pl.lit(None)).cast(pl.String).alias("output"),
        exprs.get("behavior", pl.lit(None)).cast(pl.String).str.strip_chars().alias("behavior"),
        exprs.get("trace_id", pl.lit(f"{path.name}:") + pl.col("_line").cast(pl.String)).cast(pl.String)
        .alias("trace_id"),
        exprs.get("error", pl.lit(None)).cast(pl.Boolean).alias("error"),
        (exprs["_error_present"] & exprs["error"].is_null() if "error" in exprs else pl.lit(False))
        .alias("_bad_error"),
        exprs.get("timestamp", pl.lit(None)).cast(pl.Datetime("us")).alias("timestamp"),
        (exprs["_timestamp_present"] & exprs["timestamp"].is_null() if "timestamp" in exprs
         else pl.lit(False)).alias("_bad_timestamp"),
        exprs.get("_timestamp_raw", pl.lit(None)).cast(pl.String).alias("_timestamp_raw"),
        (pl.lit(file_no, dtype=pl.UInt64) * 2**32 + pl.col("_line").cast(pl.UInt64)).alias("row"),
    ]
    columns += [exprs[f"_map_{m.dimension}"].cast(pl.String).cast(pl.Categorical).alias(f"_map_{m.dimension}")
                for m in source.maps if m.field]
    return lf.select(columns)


class _Unreadable(Exception):
    def __init__(self, path: Path) -> None:
        self.path = path


def _word_regex(keywords: Sequence[str]) -> str:
    """Case-insensitive whole-word match of any keyword (DFA-friendly: no Unicode \\b)."""
    escaped = ["".join(ch if ch.isalnum() else (r"\s+" if ch.isspace() else "\\" + ch) for ch in k.strip())
               for k in keywords]
    return rf"(?i)(?:^|[^\p{{L}}\p{{N}}_])(?:{'|'.join(escaped)})(?:[^\p{{L}}\p{{N}}_]|$)"


def _rule_column(source: ProductionSource, dim: Dimension) -> pl.Expr:
    """The first value (in the order written) whose keywords occur in the input, as a stream column."""
    mapping = next(m for m in source.maps if m.dimension == dim.name)
    rule: Any = pl
    for value, keywords in mapping.rules:
        rule = rule.when(pl.col("input").str.contains(_word_regex(keywords))).then(pl.lit(value))
    return rule.otherwise(None).cast(pl.Enum([v.name for v in dim.values])).alias(f"_rule_{dim.name}")


def _map_dimensions(source: ProductionSource, dims: Sequence[Dimension], frame: pl.DataFrame) -> pl.DataFrame:
    """Field values (categorical: each distinct label is translated once) first, keyword rules second."""
    columns = []
    for mapping in source.maps:
        dim = next(d for d in dims if d.name == mapping.dimension)
        enum = pl.Enum([v.name for v in dim.values])
        options = []
        if mapping.field:
            column = frame[f"_map_{dim.name}"]
            lookup = dict(mapping.values)
            translate = {raw: lookup.get(raw.strip().lower()) for raw in column.unique().drop_nulls().to_list()}
            options.append(pl.col(column.name).replace_strict(translate, default=None, return_dtype=enum))
        if mapping.rules:
            options.append(pl.col(f"_rule_{dim.name}"))
        columns.append(pl.coalesce(options).cast(enum).alias(dim.name))
    return frame.with_columns(columns).drop(pl.selectors.starts_with("_map_", "_rule_"))


def _combined(source: ProductionSource, dims: Sequence[Dimension], fallback: frozenset[int]) -> pl.LazyFrame:
    problems: list[str] = []
    frames = [_file_frame(source, i, path, i in fallback, problems) for i, path in enumerate(source.files)]
    if problems:
        raise SourceError("\n".join(dict.fromkeys(problems)))
    if all(f is None for f in frames):
        raise SourceError(f"sources.production.path: {source.path} holds no rows; point it at files with traces")
    reason: Any = pl.when(pl.col("_invalid_json")).then(pl.lit("invalid_json"))
    reason = reason.when(pl.col("_wrong_type")).then(pl.lit("wrong_type"))
    reason = reason.when(pl.col("input").is_null()).then(pl.lit("missing_input"))
    reason = reason.when(pl.col("_bad_timestamp")).then(pl.lit("bad_timestamp"))
    reason = reason.when(pl.col("_bad_error")).then(pl.lit("bad_error_flag")).otherwise(None)
    ruled = [d for d in dims if any(m.dimension == d.name and m.rules for m in source.maps)]
    return (pl.concat([f for f in frames if f is not None], how="vertical", parallel=False)
            .with_columns(reason.cast(pl.Enum(MALFORMED_REASONS)).alias("_malformed"),
                          *(_rule_column(source, d) for d in ruled)))


def _collect(lf: pl.LazyFrame) -> pl.DataFrame:
    return lf.collect(engine="streaming")


SPREAD = 2**32


def spread_expr() -> pl.Expr:
    # A multiplicative hash of (file, line): a stable, uniform order (polars' own hash is not stable).
    row = pl.col("row")
    return (row % SPREAD * 2654435761 + row // SPREAD * 2246822519) % SPREAD


def _sample_share(source: ProductionSource) -> float:
    """The share of rows whose texts pass one keeps, about SAMPLE_ROWS of them."""
    parquet = [p for p in source.files if p.suffix.lower() in (".parquet", ".pq")]
    rows = sum(p.stat().st_size for p in source.files if p not in parquet) / 100  # >= 100 bytes a JSONL/CSV row
    if parquet:
        rows += pl.scan_parquet(parquet).select(pl.len()).collect().item()  # from the footers
    return min(1.0, SAMPLE_ROWS / max(rows, 1))


def _first_pass(source: ProductionSource, dims: Sequence[Dimension],
                threshold: int) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """The slim columns of every row and the texts of the sampled rows, in one streaming pass.

    JSONL goes through polars first; if polars rejects a file (a broken line, a value of the wrong
    shape, a field first seen after the schema sample), JSONL files are read line by line instead.
    """
    ndjson = frozenset(i for i, p in enumerate(source.files) if p.suffix.lower() not in (".csv", ".parquet", ".pq"))
    fallback: frozenset[int] = frozenset()
    while True:
        try:
            lazy = _combined(source, dims, fallback)
            keep = pl.col("_malformed").is_null() & (spread_expr() < threshold)
            # concat_str copies the sampled texts: a string view would pin its whole input buffer in memory.
            texts = (pl.concat_str([pl.when(keep).then(pl.col(c)), pl.lit("")]).alias(f"_text_{c}")
                     for c in TEXT_COLUMNS[1:])
            return lazy, _collect(lazy.select(
                "row", "_malformed", "error", "timestamp", pl.col("behavior").cast(pl.Categorical),
                pl.selectors.starts_with("_map_", "_rule_"), *texts))
        except (pl.exceptions.PolarsError, _Unreadable) as exc:
            # Polars' messages quote row values, so none of its text reaches the user.
            if ndjson and not fallback:
                fallback = ndjson
                continue
            name = exc.path.name if isinstance(exc, _Unreadable) else ", ".join(p.name for p in source.files)[:200]
            raise SourceError(f"sources.production.path: cannot read {name} ({type(exc).__name__}); check that it "
                              "is valid JSONL, CSV or Parquet (details withheld: they may quote private data)") from None


def load_traces(source: ProductionSource, dims: Sequence[Dimension], *, pool_size: int = POOL_PER_GROUP) -> TraceSet:
    """Read, check and map the production traces; raise SourceError above `max_malformed`."""
    mapped = [d.name for d in dims if any(m.dimension == d.name for m in source.maps)]
    threshold = int(_sample_share(source) * SPREAD)
    lazy, frame = _first_pass(source, dims, threshold)
    rows = frame.height
    malformed = {str(k): int(v) for k, v in frame["_malformed"].drop_nulls().value_counts(sort=True).iter_rows()}
    _check_timestamps(source, lazy, frame, malformed)
    bad = sum(malformed.values())
    if rows == 0:
        raise SourceError(f"sources.production.path: {source.path} holds no rows; point it at files with traces")
    if bad / rows > source.max_malformed:
        detail = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(malformed.items()))
        raise SourceError(f"sources.production: {bad} of {rows} rows ({bad / rows:.1%}) in {source.path} are malformed "
                          f"({detail}), above max_malformed {source.max_malformed:g}; fix the rows or raise "
                          "sources.production.max_malformed")
    frame = frame.filter(pl.col("_malformed").is_null()).drop("_malformed")
    texts = [f"_text_{c}" for c in TEXT_COLUMNS[1:]]
    sample = frame.filter(pl.col("_text_input").is_not_null()).select("row", *texts).rename(
        lambda c: c.removeprefix("_text_"))
    frame = _map_dimensions(source, dims, frame.drop(texts))
    unmapped = {d: frame[d].null_count() for d in mapped}
    pool = _pool(lazy, frame, sample, mapped, pool_size, threshold)
    scrubbed, pii = scrub_frame(pool, ["input", "output", "behavior", "trace_id"], source.pii, dict(source.patterns))
    return TraceSet(source, frame, scrubbed, rows, malformed, unmapped, pii, pool.height - scrubbed.height)


def _pool(lazy: pl.LazyFrame, frame: pl.DataFrame, sample: pl.DataFrame, mapped: list[str], size: int,
          threshold: int) -> pl.DataFrame:
    """The `size` rows of lowest spread per dimension value and per full cell (4x that overall), with texts.

    The sample holds every row below the spread threshold, so a group's lowest rows are in it whenever it
    has `size` of them there; only groups short of that (rare values) are looked up in a second pass.
    """
    keyed = frame.select("row", *mapped, spread_expr().alias("_spread"))
    sampled = keyed.filter(pl.col("_spread") < threshold)
    groups: list[list[str]] = [[]] + [[d] for d in mapped] + ([mapped] if len(mapped) > 1 else [])
    picks = []
    for group in groups:
        limit = size if group else size * 4
        rank = pl.col("_spread").rank("ordinal").over(group) if group else pl.col("_spread").rank("ordinal")
        present = pl.all_horizontal(pl.col(group).is_not_null()) if group else pl.lit(True)
        picks.append(sampled.filter(present & (rank <= limit)).select("row"))
        if threshold >= SPREAD:
            continue
        if not group:
            if sampled.height < min(limit, keyed.height):
                picks.append(keyed.filter(rank <= limit).select("row"))
            continue
        have = sampled.filter(present).group_by(group).len("have")
        short = (keyed.filter(present).group_by(group).len("all").join(have, on=group, how="left")
                 .filter(pl.col("have").fill_null(0) < pl.min_horizontal("all", limit)).select(group))
        if short.height:
            rows = keyed.join(short, on=group, how="semi")
            picks.append(rows.filter(rank <= limit).select("row"))
    wanted = pl.concat(picks).unique()
    missing = wanted.join(sample.select("row"), on="row", how="anti")["row"]
    if missing.len():
        extra = lazy.filter(pl.col("row").is_in(missing.implode())).select(
            "row", *(pl.concat_str([pl.col(c), pl.lit("")]).alias(c) for c in TEXT_COLUMNS[1:]))
        sample = pl.concat([sample, _collect(extra)])
    texts = sample.join(wanted, on="row", how="semi")
    return (texts.join(frame.with_columns(pl.col("behavior").cast(pl.String)), on="row", how="inner")
            .select(*TEXT_COLUMNS, "behavior", "error", "timestamp", *mapped).sort("row"))


def _check_timestamps(source: ProductionSource, lazy: pl.LazyFrame, frame: pl.DataFrame,
                      malformed: Mapping[str, int]) -> None:
    """A timestamp column where no value parses is a config mistake, not a few bad rows."""
    bad = malformed.get("bad_timestamp", 0)
    if not bad or frame["timestamp"].drop_nulls().len() > 0:
        return
    example = _collect(lazy.filter(pl.col("_bad_timestamp")).select("_timestamp_raw").head(1)).item(0, 0)
    field = dict(source.fields)["timestamp"]
    raise SourceError(f"sources.production.fields.timestamp: `{field}` does not parse as a timestamp in {source.path} "
                      f"(e.g. {_safe_example(example)}); use ISO-8601 text, epoch seconds or a datetime column")


def _safe_example(value: str | None) -> str:
    """Quote a value only if it looks like a timestamp and the privacy gate finds nothing in it."""
    text = (value or "").strip()
    looks_like_time = len(text) <= 40 and all(ch.isdigit() or ch in "-:T .+/Z" for ch in text)
    if text and looks_like_time and not scrub_text(text).counts:
        return f"{text!r}"
    return f"a {len(text)}-character value, withheld because it may be private"


def since_of(source: ProductionSource, previous_cutoff: datetime | None) -> datetime | None:
    """The novelty cut-off: the configured date, else the previous version's latest trace time."""
    return previous_cutoff if source.since is None or source.since_previous else source.since

