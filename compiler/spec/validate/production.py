"""The validated `sources.production` block: which trace files, which fields, how traces map to cells."""

from __future__ import annotations

import datetime as dt
import difflib
import glob
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from compiler.core.confine import is_inside, relative_path_problem
from compiler.core.errors import ConfigError
from compiler.privacy.detectors import check_pattern
from compiler.privacy.gate import MODES
from compiler.spec.model import Dimension, Variable, input_variable

FIELD_KEYS = ("input", "output", "behavior", "error", "timestamp", "trace_id")
WEIGHT_FACTORS = ("frequency", "rarity", "error_rate", "novelty")
SOURCE_KEYS = (
    "path",
    "fields",
    "map",
    "weight_by",
    "since",
    "quota",
    "snippets",
    "pii",
    "max_malformed",
    "patterns",
)
FORMATS = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class DimensionMap:
    """How traces get a value of one dimension: a field (with translations), keyword rules, or both."""

    dimension: str
    field: str | None  # path of a field whose value names the dimension value
    values: tuple[tuple[str, str], ...]  # lowercased field value -> dimension value
    rules: tuple[
        tuple[str, tuple[str, ...]], ...
    ]  # (value, keywords) in the order written; the first match wins


@dataclass(frozen=True)
class ProductionSource:
    """The validated `sources.production` block."""

    path: str  # as written (a glob)
    files: tuple[Path, ...]  # its matches, sorted
    fields: tuple[tuple[str, str], ...]  # role (input, output, ...) or prompt variable -> field path
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

    @property
    def variable_fields(self) -> tuple[tuple[str, str], ...]:
        """(prompt variable, field path): the variables other than the input that traces fill."""
        return tuple((name, path) for name, path in self.fields if name not in FIELD_KEYS)

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
    if (reason := relative_path_problem(raw)) is not None:
        problems.append(f"{key}: {reason}; sources are files inside the project")
        return ()
    found = sorted({Path(p) for p in glob.glob(str(base_dir / raw), recursive=True) if Path(p).is_file()})
    matches = [p for p in found if is_inside(base_dir, p)]
    if len(matches) < len(found):
        outside = next(p for p in found if p not in matches)
        problems.append(f"{key}: `{raw}` matches {outside}, a symlink out of the project; remove it")
        return ()
    if not matches:
        problems.append(f"{key}: `{raw}` matches no file (relative to {base_dir}); check the path or glob")
    unsupported = sorted({p.suffix or p.name for p in matches if p.suffix.lower() not in FORMATS})
    if unsupported:
        problems.append(
            f"{key}: `{raw}` matches files of unsupported type {', '.join(unsupported)}; "
            "use JSONL (.jsonl), CSV (.csv) or Parquet (.parquet)"
        )
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
            problems.append(
                f"{key}.{extra}: unknown key; {_closest(str(extra), ['field', 'values', 'rules'])}"
            )
        field = _field_path(problems, f"{key}.field", spec["field"]) if "field" in spec else None
        values = {n.lower(): n for v in dim.values for n in (v.name, v.name.lstrip("~"))}
        for written, target in (spec.get("values") or {}).items():
            resolved = _resolve_value(dim, target)
            if resolved is None:
                problems.append(
                    f"{key}.values.{written}: `{target}` is not a value of {name}; "
                    f"values: {', '.join(v.name for v in dim.values)}"
                )
            else:
                values[str(written).strip().lower()] = resolved
        rules = []
        for value, keywords in (spec.get("rules") or {}).items():
            resolved = _resolve_value(dim, value)
            words = [keywords] if isinstance(keywords, str) else keywords
            if resolved is None:
                problems.append(
                    f"{key}.rules.{value}: `{value}` is not a value of {name}; "
                    f"values: {', '.join(v.name for v in dim.values)}"
                )
            elif (
                not isinstance(words, list | tuple)
                or not words
                or not all(isinstance(w, str) and w.strip() for w in words)
            ):
                problems.append(
                    f"{key}.rules.{value}: expected a non-empty list of keywords, got {keywords!r}"
                )
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
        problems.append(
            f"sources.production.since: {raw!r} is not a date; write 2026-10-01, an ISO-8601 time "
            "or `previous` (the previous version's latest trace)"
        )
        return None, False


def parse_production(
    raw: Any,
    dims: Sequence[Dimension],
    base_dir: Path,
    problems: list[str],
    variables: Sequence[Variable] = (),
) -> ProductionSource | None:
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
    # the input fills the first required prompt variable; the others may name a field of their own
    filled = input_variable(variables)
    others = tuple(v.name for v in variables if v.name != filled and v.name not in FIELD_KEYS)
    for role, path in fields_raw.items():
        if role == filled and role not in FIELD_KEYS:
            problems.append(
                f"sources.production.fields.{role}: `{role}` is the prompt variable fields.input fills; "
                f"name its field as fields.input"
            )
        elif role not in FIELD_KEYS and role not in others:
            problems.append(
                f"sources.production.fields.{role}: unknown role; {_closest(str(role), FIELD_KEYS + others)}"
            )
        elif (field := _field_path(problems, f"sources.production.fields.{role}", path)) is not None:
            fields[str(role)] = field
    if "input" not in fields and isinstance(fields_raw, Mapping) and "input" not in fields_raw:
        problems.append(
            "sources.production.fields.input: is missing; name the field that holds the user's request"
        )
    maps = _parse_map(problems, raw["map"], dims) if raw.get("map") is not None else ()
    default_by = [f for f, role in (("error_rate", "error"), ("novelty", "timestamp")) if role in fields]
    weight_by = raw.get("weight_by", default_by)
    weight_by = [weight_by] if isinstance(weight_by, str) else weight_by
    if not isinstance(weight_by, list | tuple):
        problems.append(f"sources.production.weight_by: expected a list of {', '.join(WEIGHT_FACTORS)}")
        weight_by = []
    for factor in weight_by:
        if factor not in WEIGHT_FACTORS:
            problems.append(
                f"sources.production.weight_by: unknown factor `{factor}`; "
                f"{_closest(str(factor), WEIGHT_FACTORS)}"
            )
    # frequency and rarity together are allowed (the issue's own example lists both): their scores are
    # opposite, so they cancel and the other factors decide, each with a smaller share of the mean
    for factor, role in (("error_rate", "error"), ("novelty", "timestamp")):
        if factor in weight_by and role not in fields:
            problems.append(
                f"sources.production.weight_by: `{factor}` needs fields.{role}; add it or drop {factor}"
            )
    since, since_previous = _parse_since(problems, raw.get("since"))
    pii = raw.get("pii", "redact")
    if pii not in MODES:
        problems.append(f"sources.production.pii: must be redact or reject, got {pii!r}")
    patterns = raw.get("patterns") or {}
    if not isinstance(patterns, Mapping):
        problems.append(
            "sources.production.patterns: expected a mapping name: regex, e.g. {employee_id: 'EMP-\\d{6}'}"
        )
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
        path=str(raw.get("path")),
        files=files,
        fields=tuple(fields.items()),
        maps=maps,
        weight_by=tuple(f for f in WEIGHT_FACTORS if f in weight_by),
        since=since,
        since_previous=since_previous,
        quota=_number(problems, "sources.production.quota", raw.get("quota"), 0.1, 0.0, 1.0),
        snippets=snippets,
        pii=pii if pii in MODES else "redact",
        max_malformed=_number(
            problems, "sources.production.max_malformed", raw.get("max_malformed"), 0.05, 0.0, 1.0
        ),
        patterns=tuple(sorted((str(k), str(v)) for k, v in patterns.items())),
    )


def since_of(source: ProductionSource, previous_cutoff: datetime | None) -> datetime | None:
    """The novelty cut-off: the configured date, else the previous version's latest trace time."""
    return previous_cutoff if source.since is None or source.since_previous else source.since
