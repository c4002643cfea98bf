"""`dsc dedupe`: drop exact, near-duplicate and (with `semantic`) paraphrased rows of a JSONL, Parquet or CSV file.

The file's row order is its priority order: the first row of every duplicate cluster survives. Semantic
dedupe runs on the rows lexical dedupe keeps, with the rule of `screen.semantic` (cosine of embeddings).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from polars.datatypes import DataTypeClass

from compiler.core.errors import SourceError, UsageError
from compiler.screen.near.warm import kernels_loading
from compiler.spec.model import LOCAL_EMBEDDER, MAX_NGRAM, SHINGLE_NGRAM, SemanticDedupe, ShingleKind
from compiler.spec.validate.fields import percent_as_fraction

_DataType = pl.DataType | DataTypeClass

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv"}
_SUPPORTED = ".jsonl, .ndjson, .parquet or .csv"
_COLUMN_SEPARATOR = "\x1f"  # joins several --on columns; ASCII unit separator, whitespace to the shingler


@dataclass(frozen=True)
class DedupeFileResult:
    rows_in: int
    kept: int
    exact: int
    near: int
    empty: int  # null or blank compared text: kept, never merged
    out_path: Path | None
    semantic: int = 0  # rows dropped as paraphrases of an earlier kept row


def dedupe_file(
    input: Path,
    on: Sequence[str],
    near: float | None = 0.85,
    out: Path | None = None,
    annotate: bool = False,
    shingle: str = "word",
    ngram: int | None = None,
    semantic: SemanticDedupe | None = None,
) -> DedupeFileResult:
    """Write `input` without its duplicate rows (or, with `annotate`, every row plus dup_of/dup_kind)."""
    input = Path(input)
    if semantic is not None:
        check_semantic(semantic)
    if near is not None and not 0.0 < near <= 1.0:
        example = percent_as_fraction(near) or 0.85
        raise UsageError(
            f"--near {near:g}: the similarity threshold must be in (0, 1], e.g. --near {example:g}"
        )
    if shingle not in SHINGLE_NGRAM:
        raise UsageError(f"--shingle {shingle}: unknown shingle; use --shingle word or --shingle char")
    shingle_kind: ShingleKind = "char" if shingle == "char" else "word"
    if ngram is not None and not 1 <= ngram <= MAX_NGRAM:
        raise UsageError(f"--ngram {ngram}: must be a whole number from 1 to {MAX_NGRAM}, e.g. --ngram 1")
    if not on:
        raise UsageError("--on: name at least one column to compare, e.g. --on prompt")
    if input.is_dir():
        raise SourceError(f"{input}: is a folder; give the file to dedupe, e.g. {input / 'cases.jsonl'}")
    if not input.is_file():
        raise SourceError(f"{input}: no such file; check the path")
    in_format = FORMATS.get(input.suffix.lower())
    if in_format is None:
        raise SourceError(f"{input}: unknown format {input.suffix or '(no extension)'!r}; use {_SUPPORTED}")
    out = Path(out) if out is not None else input.with_name(f"{input.stem}.dedup{input.suffix}")
    out_format = FORMATS.get(out.suffix.lower())
    if out_format is None:
        raise UsageError(f"--out {out}: unknown format {out.suffix or '(no extension)'!r}; use {_SUPPORTED}")
    if out.resolve() == input.resolve():
        raise UsageError(f"--out {out}: would overwrite the input; choose another path")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")

    with kernels_loading(near, shingle_kind, ngram):  # numba's start-up runs beside polars' reading
        frame = read_table(input, in_format)
    if frame.width == 0:  # an empty file: nothing to compare, an empty file out
        _write_atomically(frame, out, out_format)
        return DedupeFileResult(rows_in=0, kept=0, exact=0, near=0, empty=0, out_path=out)
    texts = compared_texts(frame, on, input)
    from compiler.screen.near.index import find_blank_rows, find_exact_duplicates, find_near_duplicates

    if near is None:
        kept_of = find_exact_duplicates(texts)
        dup_kind = (kept_of != np.arange(len(kept_of))).astype(np.uint8)
        empty = int(find_blank_rows(texts).sum())
    else:
        found = find_near_duplicates(texts, near, shingle=shingle_kind, ngram=ngram)
        kept_of, dup_kind, empty = found.kept_of, found.kind, found.empty
    if semantic is not None:
        kept_of, dup_kind = _drop_paraphrases(texts, kept_of, dup_kind, semantic)
    if annotate:
        found_frame = pl.DataFrame({"kept_of": kept_of, "kind": dup_kind})
        annotations = found_frame.select(
            dup_of=pl.when(pl.col("kind") > 0).then(pl.col("kept_of")),
            dup_kind=pl.when(pl.col("kind") == 1)
            .then(pl.lit("exact"))
            .when(pl.col("kind") == 2)
            .then(pl.lit("near"))
            .when(pl.col("kind") == 3)
            .then(pl.lit("semantic")),
        )
        result = frame.with_columns(annotations.get_columns())
    else:
        result = frame.filter(pl.Series(dup_kind == 0))
    _write_atomically(result, out, out_format)
    counts = np.bincount(dup_kind, minlength=4)
    return DedupeFileResult(
        rows_in=frame.height, kept=int(counts[0]), exact=int(counts[1]), near=int(counts[2]), empty=empty,
        out_path=out, semantic=int(counts[3]),
    )  # fmt: skip


def check_semantic(semantic: SemanticDedupe) -> None:
    """The --semantic flags' mistakes, before any file is read."""
    if not 0.0 < semantic.threshold <= 1.0:
        raise UsageError(
            f"--threshold {semantic.threshold}: the cosine threshold must be in (0, 1], e.g. --threshold 0.9"
        )
    if semantic.embedder != LOCAL_EMBEDDER and "/" not in semantic.embedder:
        raise UsageError(
            f"--embedder {semantic.embedder}: names no provider; use {LOCAL_EMBEDDER} or provider/model, "
            "e.g. --embedder openai/text-embedding-3-small"
        )


def _drop_paraphrases(
    texts: pl.Series, kept_of: np.ndarray, dup_kind: np.ndarray, semantic: SemanticDedupe
) -> tuple[np.ndarray, np.ndarray]:
    """Mark rows lexical dedupe kept whose embedding's cosine with an earlier kept row reaches the threshold
    (kind 3, kept_of that row); blank rows are never compared."""
    from compiler.screen.near.index import find_blank_rows
    from compiler.screen.semantic import find_semantic_duplicates, open_embedder

    kept = np.flatnonzero((dup_kind == 0) & ~find_blank_rows(texts).astype(bool))
    if len(kept) < 2:
        return kept_of, dup_kind
    vectors = open_embedder(semantic)(texts.gather(kept).to_list())
    found = find_semantic_duplicates(vectors, semantic.threshold)
    matched = found.dup_of >= 0
    kept_of, dup_kind = kept_of.copy(), dup_kind.copy()
    # A match may itself be a paraphrase: every paraphrase points at the kept row its chain ends at.
    root = np.arange(len(kept))
    for i in np.flatnonzero(matched).tolist():
        root[i] = root[found.dup_of[i]]
    kept_of[kept[matched]] = kept[root[matched]]
    dup_kind[kept[matched]] = 3
    return kept_of[kept_of], dup_kind  # lexical copies of a paraphrase follow it to its kept row


def read_table(path: Path, file_format: str) -> pl.DataFrame:
    """Read a JSONL, Parquet or CSV file; an empty file is an empty frame."""
    try:
        if file_format != "parquet" and _is_blank_file(path):
            return pl.DataFrame()
        if file_format == "jsonl":
            return pl.read_ndjson(path, infer_schema_length=None)
        if file_format == "csv":
            return pl.read_csv(path, infer_schema=False)  # every cell stays the text it was
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        if file_format == "jsonl" and not isinstance(exc, OSError):
            _raise_at_damaged_line(path)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            f"{path}: cannot read it as {file_format} ({reason}); fix or convert the file"
        ) from exc


_JSON_KINDS = (
    (bool, "true/false"),
    (int | float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)


def _json_kind(value: object) -> str | None:
    return next((name for kind, name in _JSON_KINDS if isinstance(value, kind)), None)


def _raise_at_damaged_line(path: Path) -> None:
    """Name the first line of a JSONL polars could not read that is not a JSON object (`path:line: ...`), or
    else the first top-level field whose values change kind between lines (polars wants one type a field)."""
    from compiler.core.jsonl import iter_records

    first: dict[str, tuple[str, int]] = {}
    clash: str | None = None
    for number, record in iter_records(
        path, SourceError, "a JSON object", "fix the line or convert the file"
    ):
        for key, value in record.items():
            kind = _json_kind(value)
            if kind is None or clash is not None:
                continue  # null fits any type
            seen = first.setdefault(key, (kind, number))
            if seen[0] != kind:
                clash = (
                    f"{path}:{number}: field {key!r} is {kind} here and {seen[0]} on line {seen[1]}; give it "
                    "one kind on every line (e.g. quote the numbers) or convert the file"
                )
    if clash is not None:
        raise SourceError(clash)


def _is_blank_file(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    return not head.strip() and path.stat().st_size <= len(head)


def compared_texts(frame: pl.DataFrame, on: Sequence[str], path: Path) -> pl.Series:
    """The text dedupe compares per row: the `on` columns (a.b for a struct field) as text, joined."""
    columns = [_resolve_column(frame, name, path) for name in on]
    texts = [_as_text(expr, dtype) for expr, dtype in columns]
    joined = pl.concat_str([text.fill_null("") for text in texts], separator=_COLUMN_SEPARATOR)
    try:
        all_null = pl.all_horizontal([text.is_null() for text in texts])
        return frame.select(pl.when(all_null).then(None).otherwise(joined)).to_series()
    except pl.exceptions.PolarsError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise UsageError(
            f"--on {','.join(on)}: cannot compare as text ({reason}); pick text columns"
        ) from exc


def _resolve_column(frame: pl.DataFrame, name: str, path: Path) -> tuple[pl.Expr, _DataType]:
    if name in frame.schema:
        return pl.col(name), frame.schema[name]
    head, *fields = name.split(".")
    expr = pl.col(head)
    dtype: _DataType | None = frame.schema.get(head)
    for field in fields:
        if not isinstance(dtype, pl.Struct) or field not in {f.name for f in dtype.fields}:
            dtype = None
            break
        expr, dtype = expr.struct.field(field), {f.name: f.dtype for f in dtype.fields}[field]
    if dtype is None:
        from compiler.privacy.gate import names_to_show

        # a CSV without a header has a row of data for names: those are counted, never quoted
        shown, withheld = names_to_show(_column_names(frame.schema))
        hidden = f" and {withheld} that do not read as names (is the first line a header?)"
        columns = (", ".join(shown) or "none that read as names") + (hidden if withheld else "")
        import difflib

        close = [n for n in shown if n.lower() == name.lower()]
        close = close or difflib.get_close_matches(name, shown, n=1, cutoff=0.75)
        hint = f"did you mean --on {close[0]}? " if close else ""
        raise UsageError(f"--on {name}: {path} has no such column; {hint}columns are: {columns}")
    return expr, dtype


def _column_names(schema: pl.Schema | dict, prefix: str = "") -> list[str]:
    names = []
    for name, dtype in schema.items():
        names.append(prefix + name)
        if isinstance(dtype, pl.Struct):
            names += _column_names({f.name: f.dtype for f in dtype.fields}, f"{prefix}{name}.")
    return names


def _as_text(expr: pl.Expr, dtype: _DataType) -> pl.Expr:
    """Render a column as text: nested values become their leaf texts, one per line."""
    if isinstance(dtype, pl.Struct):
        fields = [_as_text(expr.struct.field(f.name), f.dtype).fill_null("") for f in dtype.fields]
        return pl.when(expr.is_null()).then(None).otherwise(pl.concat_str(fields, separator="\n"))
    if isinstance(dtype, pl.Array):
        expr = expr.arr.to_list()
    if isinstance(dtype, pl.List | pl.Array):
        return expr.list.eval(_as_text(pl.element(), dtype.inner)).list.join("\n", ignore_nulls=True)
    return expr if dtype == pl.String else expr.cast(pl.String)


def _write_atomically(frame: pl.DataFrame, out: Path, file_format: str) -> None:
    """Write to a temporary file beside `out`, then rename it over `out`."""
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if file_format == "csv" and nested:
        columns = ", ".join(nested)
        raise UsageError(f"--out {out}: CSV cannot hold nested columns ({columns}); use .jsonl or .parquet")
    # Named by hand rather than by mkstemp, so the file gets the usual permissions rather than 0600.
    temporary = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        if frame.width == 0 and file_format != "parquet":
            temporary.write_bytes(b"")
        elif file_format == "jsonl":
            frame.write_ndjson(temporary)
        elif file_format == "csv":
            frame.write_csv(temporary)
        else:
            # zstd at level 1, not polars' default level: half the CPU of writing 1M rows for ~12% more bytes
            frame.write_parquet(temporary, compression="zstd", compression_level=1)
        os.replace(temporary, out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
