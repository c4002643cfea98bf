"""Production traces: the ingestion of `sources.production` into a TraceSet.

Ingestion is one streaming polars pass over lazy scans (JSONL, CSV, Parquet; globs; nested `a.b` paths;
only the configured fields are read): every row yields a slim statistics row (dimension values, error
flag, timestamp, behaviour) or a malformed count, and the rows of a deterministic uniform sample also
keep their texts. From the sample comes the pool: the first rows (in a stable pseudo-random order) of
every dimension value and cell; values too rare to be in the sample cost a second, filtered pass. The
pool goes through the privacy gate; no other trace text is kept, printed or put in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from compiler.core.errors import SourceError
from compiler.privacy.gate import scrub_frame, scrub_text
from compiler.sources.trace_files import FILE_STRIDE, UnreadableTraceFile, scan_trace_file
from compiler.spec.model import Dimension
from compiler.spec.validate.production import ProductionSource

MALFORMED_REASONS = ("invalid_json", "wrong_type", "missing_input", "bad_timestamp", "bad_error_flag")
POOL_PER_GROUP = 64  # texts kept per dimension value and per cell: enough for representative snippets
SAMPLE_ROWS = 200_000  # texts the first pass keeps (a uniform sample); rarer groups get a second pass
TEXT_COLUMNS = ("row", "trace_id", "input", "output")


def text_columns(source: ProductionSource) -> tuple[str, ...]:
    """The text columns a trace keeps: TEXT_COLUMNS, then `_var_<name>` per prompt variable `fields` names."""
    return TEXT_COLUMNS + tuple(f"_var_{name}" for name, _ in source.variable_fields)


@dataclass(frozen=True, eq=False)
class TraceSet:
    """What a compile needs from production: slim statistics rows and a scrubbed sample of texts."""

    source: ProductionSource
    frame: (
        pl.DataFrame
    )  # one row per usable trace: row, error, timestamp, behavior, one Enum column per dimension
    pool: (
        pl.DataFrame
    )  # scrubbed sample: row, trace_id, input, output, behavior, error, timestamp, dimensions
    rows: int  # rows read
    malformed: dict[str, int]  # reason -> rows left out
    unmapped: dict[str, int]  # dimension -> usable rows mapped to none of its values
    pii: dict[str, int]  # detector -> values found in the pool
    pii_rejected: int  # pool rows dropped by pii: reject
    first_malformed: str | None = None  # where the first row left out is (file:line), when any was

    def skipped_note(self) -> str | None:
        """One line on the malformed rows left out under max_malformed, or None when there were none."""
        bad = sum(self.malformed.values())
        if not bad:
            return None
        return (
            f"sources.production: left out {bad} malformed of {self.rows} rows in {self.source.path} "
            f"({malformed_detail(self.malformed)}), "
            f"the first at {self.first_malformed}; within max_malformed {self.source.max_malformed:g}"
        )

    @property
    def usable(self) -> int:
        return self.frame.height


def _word_regex(keywords: Sequence[str]) -> str:
    """Case-insensitive whole-word match of any keyword (DFA-friendly: no Unicode \\b)."""
    escaped = [
        "".join(ch if ch.isalnum() else (r"\s+" if ch.isspace() else "\\" + ch) for ch in k.strip())
        for k in keywords
    ]
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
            translate = {
                raw: lookup.get(raw.strip().lower()) for raw in column.unique().drop_nulls().to_list()
            }
            options.append(pl.col(column.name).replace_strict(translate, default=None, return_dtype=enum))
        if mapping.rules:
            options.append(pl.col(f"_rule_{dim.name}"))
        columns.append(pl.coalesce(options).cast(enum).alias(dim.name))
    return frame.with_columns(columns).drop(pl.selectors.starts_with("_map_", "_rule_"))


def _combined(source: ProductionSource, dims: Sequence[Dimension], fallback: frozenset[int]) -> pl.LazyFrame:
    problems: list[str] = []
    frames = [
        scan_trace_file(source, i, path, i in fallback, problems) for i, path in enumerate(source.files)
    ]
    if problems:
        raise SourceError("\n".join(dict.fromkeys(problems)))
    if all(f is None for f in frames):
        raise SourceError(
            f"sources.production.path: {source.path} holds no rows; point it at files with traces"
        )
    reason: Any = pl.when(pl.col("_invalid_json")).then(pl.lit("invalid_json"))
    reason = reason.when(pl.col("_wrong_type")).then(pl.lit("wrong_type"))
    reason = reason.when(pl.col("input").is_null()).then(pl.lit("missing_input"))
    reason = reason.when(pl.col("_bad_timestamp")).then(pl.lit("bad_timestamp"))
    reason = reason.when(pl.col("_bad_error")).then(pl.lit("bad_error_flag")).otherwise(None)
    ruled = [d for d in dims if any(m.dimension == d.name and m.rules for m in source.maps)]
    return pl.concat([f for f in frames if f is not None], how="vertical", parallel=False).with_columns(
        reason.cast(pl.Enum(MALFORMED_REASONS)).alias("_malformed"), *(_rule_column(source, d) for d in ruled)
    )


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
    rows = (
        sum(p.stat().st_size for p in source.files if p not in parquet) / 100
    )  # >= 100 bytes a JSONL/CSV row
    if parquet:
        rows += pl.scan_parquet(parquet).select(pl.len()).collect().item()  # from the footers
    return min(1.0, SAMPLE_ROWS / max(rows, 1))


def _first_pass(
    source: ProductionSource, dims: Sequence[Dimension], threshold: int
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """The slim columns of every row and the texts of the sampled rows, in one streaming pass.

    JSONL goes through polars first; if polars rejects a file (a broken line, a value of the wrong
    shape, a field first seen after the schema sample), JSONL files are read line by line instead.
    """
    ndjson = frozenset(
        i for i, p in enumerate(source.files) if p.suffix.lower() not in (".csv", ".parquet", ".pq")
    )
    fallback: frozenset[int] = frozenset()
    while True:
        try:
            lazy = _combined(source, dims, fallback)
            keep = pl.col("_malformed").is_null() & (spread_expr() < threshold)
            # concat_str copies the sampled texts: a string view would pin its whole input buffer in memory.
            texts = (
                pl.concat_str([pl.when(keep).then(pl.col(c)), pl.lit("")]).alias(f"_text_{c}")
                for c in text_columns(source)[1:]
            )
            return lazy, _collect(
                lazy.select(
                    "row",
                    "_malformed",
                    "error",
                    "timestamp",
                    pl.col("behavior").cast(pl.Categorical),
                    pl.selectors.starts_with("_map_", "_rule_"),
                    *texts,
                )
            )
        except (pl.exceptions.PolarsError, UnreadableTraceFile) as exc:
            # Polars' messages quote row values, so none of its text reaches the user.
            if ndjson and not fallback:
                fallback = ndjson
                continue
            name = (
                exc.path.name
                if isinstance(exc, UnreadableTraceFile)
                else ", ".join(p.name for p in source.files)[:200]
            )
            raise SourceError(
                f"sources.production.path: cannot read {name} ({type(exc).__name__}); check that it "
                "is valid JSONL, CSV or Parquet (details withheld: they may quote private data)"
            ) from None


def load_traces(
    source: ProductionSource, dims: Sequence[Dimension], *, pool_size: int = POOL_PER_GROUP
) -> TraceSet:
    """Read, check and map the production traces; raise SourceError above `max_malformed`."""
    mapped = [d.name for d in dims if any(m.dimension == d.name for m in source.maps)]
    threshold = int(_sample_share(source) * SPREAD)
    lazy, frame = _first_pass(source, dims, threshold)
    rows = frame.height
    malformed = {
        str(k): int(v) for k, v in frame["_malformed"].drop_nulls().value_counts(sort=True).iter_rows()
    }
    _check_timestamps(source, lazy, frame, malformed)
    bad = sum(malformed.values())
    if rows == 0:
        raise SourceError(
            f"sources.production.path: {source.path} holds no rows; point it at files with traces"
        )
    first = _first_malformed(source, frame) if bad else None
    if bad / rows > source.max_malformed:
        said = [_REASON_HINTS[k] for k in sorted(malformed) if k in _REASON_HINTS]
        hints = f" ({'; '.join(said)})" if said else ""
        raise SourceError(
            f"sources.production: {bad} of {rows} rows ({bad / rows:.1%}) in {source.path} are malformed "
            f"({malformed_detail(malformed)}), above max_malformed {source.max_malformed:g}, the first at "
            f"{first}; fix the rows{hints} or raise sources.production.max_malformed"
        )
    frame = frame.filter(pl.col("_malformed").is_null()).drop("_malformed")
    texts = [f"_text_{c}" for c in text_columns(source)[1:]]
    sample = (
        frame.filter(pl.col("_text_input").is_not_null())
        .select("row", *texts)
        .rename(lambda c: c.removeprefix("_text_"))
    )
    frame = _map_dimensions(source, dims, frame.drop(texts))
    unmapped = {d: frame[d].null_count() for d in mapped}
    pool = _pool(lazy, frame, sample, mapped, pool_size, threshold, text_columns(source))
    variables = [f"_var_{name}" for name, _ in source.variable_fields]
    scrubbed, pii = scrub_frame(
        pool, ["input", "output", "behavior", "trace_id", *variables], source.pii, dict(source.patterns)
    )
    return TraceSet(
        source, frame, scrubbed, rows, malformed, unmapped, pii, pool.height - scrubbed.height, first
    )


def malformed_detail(malformed: dict[str, int]) -> str:
    """The reasons rows were left out, with their counts: `bad timestamp 3, missing input 4`."""
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(malformed.items()))


_REASON_HINTS = {
    "bad_error_flag": "an error flag is true/false, 1/0, yes/no, pass/fail, ok/error or empty",
    "bad_timestamp": "a timestamp is ISO-8601 text such as 2026-11-03T10:00:00Z or epoch seconds",
}


def _first_malformed(source: ProductionSource, frame: pl.DataFrame) -> str:
    """Where the first malformed row is: `file:line` for JSONL, `file row n` for CSV and Parquet."""
    row = int(frame.filter(pl.col("_malformed").is_not_null())["row"].min())  # type: ignore[arg-type]
    path = source.files[row // FILE_STRIDE]
    where = row % FILE_STRIDE
    if path.suffix.lower() in (".csv", ".parquet", ".pq"):
        return (
            f"{path.name} row {where} (counting from 1 after the header)"
            if path.suffix.lower() == ".csv"
            else f"{path.name} row {where}"
        )
    return f"{path.name}:{where}"


def _pool(
    lazy: pl.LazyFrame,
    frame: pl.DataFrame,
    sample: pl.DataFrame,
    mapped: list[str],
    size: int,
    threshold: int,
    columns: Sequence[str] = TEXT_COLUMNS,
) -> pl.DataFrame:
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
        short = (
            keyed.filter(present)
            .group_by(group)
            .len("all")
            .join(have, on=group, how="left")
            .filter(pl.col("have").fill_null(0) < pl.min_horizontal("all", limit))
            .select(group)
        )
        if short.height:
            rows = keyed.join(short, on=group, how="semi")
            picks.append(rows.filter(rank <= limit).select("row"))
    wanted = pl.concat(picks).unique()
    missing = wanted.join(sample.select("row"), on="row", how="anti")["row"]
    if missing.len():
        extra = lazy.filter(pl.col("row").is_in(missing.implode())).select(
            "row", *(pl.concat_str([pl.col(c), pl.lit("")]).alias(c) for c in columns[1:])
        )
        sample = pl.concat([sample, _collect(extra)])
    texts = sample.join(wanted, on="row", how="semi")
    return (
        texts.join(frame.with_columns(pl.col("behavior").cast(pl.String)), on="row", how="inner")
        .select(*columns, "behavior", "error", "timestamp", *mapped)
        .sort("row")
    )


def _check_timestamps(
    source: ProductionSource, lazy: pl.LazyFrame, frame: pl.DataFrame, malformed: Mapping[str, int]
) -> None:
    """A timestamp column where no value parses is a config mistake, not a few bad rows."""
    bad = malformed.get("bad_timestamp", 0)
    if not bad or frame["timestamp"].drop_nulls().len() > 0:
        return
    example = _collect(lazy.filter(pl.col("_bad_timestamp")).select("_timestamp_raw").head(1)).item(0, 0)
    field = dict(source.fields)["timestamp"]
    raise SourceError(
        f"sources.production.fields.timestamp: `{field}` does not parse as a timestamp in {source.path} "
        f"(e.g. {_safe_example(example)}); use ISO-8601 text, epoch seconds or a datetime column"
    )


def _safe_example(value: str | None) -> str:
    """Quote a value only if it looks like a timestamp and the privacy gate finds nothing in it."""
    text = (value or "").strip()
    looks_like_time = len(text) <= 40 and all(ch.isdigit() or ch in "-:T .+/Z" for ch in text)
    if text and looks_like_time and not scrub_text(text).counts:
        return f"{text!r}"
    return f"a {len(text)}-character value, withheld because it may be private"
