"""Representative production snippets and trace cases: the texts that stand for a group of traces."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from compiler.core.cells import cell_label
from compiler.sources.traces import TraceSet, spread_expr
from compiler.spec.model import Dimension

SNIPPET_CHARS = 300
_WORD = re.compile(r"\w+")


def _truncate(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:.") + "…"


def _features(text: str) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))


def rank_representative(texts: Sequence[str], k: int, idf: Mapping[str, float] | None = None) -> list[int]:
    """Indices of up to k typical texts of a group: highest cosine similarity to the group's centroid
    (unigrams and bigrams, weighted by `idf` so that words every group uses count little), skipping
    near-copies (Jaccard > 0.7) of a text already picked. Ties go to the text that sorts first."""
    features = [_features(t) for t in texts]
    vectors = []
    for f in features:
        weights = {t: (idf or {}).get(t, 1.0) for t in f}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({t: w / norm for t, w in weights.items()})
    centroid: dict[str, float] = {}
    for vector in vectors:
        for token, w in vector.items():
            centroid[token] = centroid.get(token, 0.0) + w
    score = [sum(w * centroid[t] for t, w in vector.items()) for vector in vectors]
    order = sorted(range(len(texts)), key=lambda i: (-round(score[i], 9), texts[i], i))
    picked: list[int] = []
    for i in order:
        if len(picked) == k:
            break
        if all(len(features[i] & features[j]) <= 0.7 * len(features[i] | features[j]) for j in picked):
            picked.append(i)
    return picked


def _idf(texts: Sequence[str]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for text in texts:
        for token in _features(text):
            counts[token] = counts.get(token, 0) + 1
    return {t: math.log((1 + len(texts)) / (1 + n)) + 1 for t, n in counts.items()}


def _cell_items(cell: Any) -> tuple[tuple[str, str], ...]:
    return tuple(cell.items()) if isinstance(cell, Mapping) else tuple(cell)


def select_snippets(
    traces: TraceSet, groups: Sequence[Dimension] | Sequence[Any], k: int | None = None
) -> dict[str, list[str]]:
    """Up to k scrubbed, representative, short trace inputs per dimension value ("intent=refund") or per cell
    ("intent=refund, difficulty=hard"; cells as tuples of (dimension, value) or mappings).

    A cell's snippets come from traces matching all its mapped dimensions; when fewer than k do, from those
    matching all but one, and so on (never from traces matching none).
    """
    k = traces.source.snippets if k is None else k
    pool = traces.pool.filter(pl.col("input").is_not_null())
    mapped = _dimension_columns(pool)
    result: dict[str, list[str]] = {}
    if k <= 0 or not groups:
        return result
    idf = _idf(pool["input"].to_list())
    if all(isinstance(g, Dimension) for g in groups):
        for dim in groups:
            if dim.name not in mapped:
                continue
            for value in dim.values:
                texts = pool.filter(pl.col(dim.name).cast(pl.String) == value.name)["input"].to_list()
                result[f"{dim.name}={value.name}"] = [
                    _truncate(texts[i]) for i in rank_representative(texts, k, idf)
                ]
        return result
    for cell in groups:
        items = _cell_items(cell)
        wanted = [(d, v) for d, v in items if d in mapped]
        key = cell_label(items)
        if not wanted:
            result[key] = []
            continue
        matches = pl.sum_horizontal(
            (pl.col(d).cast(pl.String) == v).fill_null(False).cast(pl.Int32) for d, v in wanted
        )
        scored = pool.with_columns(_matches=matches)
        chosen: list[str] = []
        for tier in range(len(wanted), 0, -1):
            texts = [
                t
                for t in scored.filter(pl.col("_matches") == tier)["input"].to_list()
                if _truncate(t) not in chosen
            ]
            chosen += [_truncate(texts[i]) for i in rank_representative(texts, k - len(chosen), idf)]
            if len(chosen) >= k:
                break
        result[key] = chosen
    return result


@dataclass(frozen=True)
class TraceCase:
    """A real trace ready to become a `production` row: scrubbed texts, its mapped (partial) cell."""

    trace_id: str
    input: str
    output: str | None
    behavior: str | None
    error: bool | None
    cell: dict[str, str]
    timestamp: datetime | None
    variables: dict[str, str] = field(default_factory=dict)  # prompt variables `fields` names, scrubbed


def _dimension_columns(pool: pl.DataFrame) -> list[str]:
    """The pool's mapped dimensions: every column but the texts, flags and prompt variables (`_var_<name>`)."""
    fixed = ("row", "trace_id", "input", "output", "behavior", "error", "timestamp")
    return [c for c in pool.columns if c not in fixed and not c.startswith("_var_")]


def select_trace_cases(traces: TraceSet, count: int) -> list[TraceCase]:
    """`count` scrubbed traces spread over the cells seen in production (round-robin over cells sorted by
    label; within a cell, failing traces first, then a stable pseudo-random order); no input twice."""
    pool = traces.pool.filter(pl.col("input").is_not_null())
    mapped = _dimension_columns(pool)
    ordered = pool.with_columns(
        _spread=spread_expr(),
        _failed=pl.col("error").fill_null(False),
        _label=pl.concat_str(
            [pl.lit(f"{d}=") + pl.col(d).cast(pl.String).fill_null("?") for d in mapped], separator=", "
        )
        if mapped
        else pl.lit(""),
    )
    ordered = ordered.sort(["_label", "_failed", "_spread"], descending=[False, True, False])
    queues: dict[str, list[dict[str, Any]]] = {}
    for row in ordered.iter_rows(named=True):
        queues.setdefault(row["_label"], []).append(row)
    picked: list[TraceCase] = []
    seen: set[str] = set()
    while len(picked) < count and any(queues.values()):
        for label in sorted(queues):
            while queues[label]:
                row = queues[label].pop(0)
                text = " ".join(row["input"].split()).lower()
                if text in seen:
                    continue
                seen.add(text)
                picked.append(
                    TraceCase(
                        row["trace_id"],
                        row["input"],
                        row["output"],
                        row["behavior"],
                        row["error"],
                        {d: str(row[d]) for d in mapped if row[d] is not None},
                        row["timestamp"],
                        {
                            c.removeprefix("_var_"): row[c]
                            for c in ordered.columns
                            if c.startswith("_var_") and row[c] is not None
                        },
                    )
                )
                break
            if len(picked) == count:
                break
    return picked
