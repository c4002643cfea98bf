"""Production evidence: behaviour statistics, bounded weight adjustments, representative snippets.

Everything here reads a TraceSet (see traces.py) and is pure: same traces, same answers, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import polars as pl

from compiler.privacy.gate import scrub_text
from compiler.sources.traces import TraceSet, spread_expr
from compiler.spec.model import Dimension
from compiler.spec.validate.production import since_of

MULTIPLIER_RANGE = (0.5, 2.0)  # per factor and combined
FLOOR_SHARE = 0.25  # no value drops below this share of its base weight
CEILING_SHARE = 0.6  # no value rises above this share of its dimension (unless its base was higher)
PRIOR = 10.0  # pseudo-observations that pull a value's error rate and novelty towards its dimension's
SNIPPET_CHARS = 300
BEHAVIOR_LIMIT = 50  # behaviour labels listed in a manifest; the rest are summed as "(other)"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, eq=False)
class Evidence:
    """Behaviour statistics per dimension value and per behaviour label, plus the ingestion counts."""

    stats: (
        pl.DataFrame
    )  # dimension, value, traces, share, errors, error_rate, rarity, novelty, first_seen, last_seen
    behaviors: pl.DataFrame  # behavior (scrubbed), traces, share, errors, error_rate, novelty
    rows: int
    usable: int
    malformed: Mapping[str, int]
    unmapped: Mapping[str, int]
    pii: Mapping[str, int]
    cutoff: datetime | None  # traces at or after it count as new
    latest: datetime | None  # the newest trace: pass it as `previous_cutoff` when compiling the next version
    files: tuple[str, ...]

    def dimension(self, name: str) -> dict[str, dict[str, Any]]:
        """{value: {traces, share, errors, error_rate, rarity, novelty}} for one dimension."""
        rows = self.stats.filter(pl.col("dimension") == name).drop("dimension", "first_seen", "last_seen")
        return {r.pop("value"): r for r in rows.to_dicts()}

    def to_manifest(self) -> dict[str, Any]:
        """Plain, rounded, key-sorted numbers for manifest.json: no text from a trace but scrubbed labels."""

        def clean(row: Mapping[str, Any]) -> dict[str, Any]:
            return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}

        dims: dict[str, dict[str, Any]] = {}
        for name in self.stats["dimension"].unique(maintain_order=True).to_list():
            dims[name] = {v: clean(s) for v, s in self.dimension(name).items()}
        behaviors = {r.pop("behavior"): clean(r) for r in self.behaviors.head(BEHAVIOR_LIMIT).to_dicts()}
        rest = self.behaviors.slice(BEHAVIOR_LIMIT)
        if rest.height:
            behaviors["(other)"] = {"labels": rest.height, "traces": int(rest["traces"].sum())}
        return {
            "files": list(self.files),
            "rows": self.rows,
            "usable": self.usable,
            "malformed": dict(sorted(self.malformed.items())),
            "unmapped": dict(sorted(self.unmapped.items())),
            "pii": dict(sorted(self.pii.items())),
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "latest": self.latest.isoformat() if self.latest else None,
            "dimensions": dims,
            "behaviors": behaviors,
        }


def _group_stats(frame: pl.LazyFrame, key: str, cutoff: datetime | None) -> pl.LazyFrame:
    new = (pl.col("timestamp") >= cutoff).sum() if cutoff else pl.lit(None, dtype=pl.UInt32)
    return (
        frame.filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg(
            traces=pl.len(),
            errors=pl.col("error").sum(),
            judged=pl.col("error").count(),
            dated=pl.col("timestamp").count(),
            new=new,
            first_seen=pl.col("timestamp").min(),
            last_seen=pl.col("timestamp").max(),
        )
        .with_columns(
            pl.col(key).cast(pl.String), pl.col("traces", "errors", "judged", "dated", "new").cast(pl.Int64)
        )
    )


def _rates(frame: pl.DataFrame) -> pl.DataFrame:
    total = frame["traces"].sum()
    return frame.with_columns(
        share=pl.col("traces") / total if total else pl.lit(0.0),
        error_rate=pl.when(pl.col("judged") > 0).then(pl.col("errors") / pl.col("judged")),
        novelty=pl.when(pl.col("dated") > 0).then(pl.col("new") / pl.col("dated")),
    ).with_columns(rarity=1 - pl.col("share"))


def compute_evidence(
    traces: TraceSet, dims: Sequence[Dimension], *, previous_cutoff: datetime | None = None
) -> Evidence:
    """Per dimension value and behaviour label: count, share, error rate, rarity and novelty."""
    cutoff = since_of(traces.source, previous_cutoff)
    frame = traces.frame
    columns = [
        "dimension",
        "value",
        "traces",
        "share",
        "errors",
        "judged",
        "error_rate",
        "rarity",
        "novelty",
        "dated",
        "new",
        "first_seen",
        "last_seen",
    ]
    present = [d for d in dims if d.name in frame.columns]
    # Behaviour labels are free text from production: scrubbed (each distinct label once) before grouping.
    patterns = dict(traces.source.patterns)
    labels = {
        b: scrub_text(b, "redact", patterns).text for b in frame["behavior"].unique().drop_nulls().to_list()
    }
    lazy = frame.lazy()
    labelled = lazy.select(
        pl.col("behavior").replace_strict(labels, default=None, return_dtype=pl.String), "error", "timestamp"
    )
    *grouped, behaviors = pl.collect_all(
        [_group_stats(lazy, d.name, cutoff) for d in present] + [_group_stats(labelled, "behavior", cutoff)]
    )
    parts = []
    for dim, counts in zip(present, grouped, strict=True):
        values = pl.DataFrame({dim.name: [v.name for v in dim.values]})
        joined = values.join(counts, on=dim.name, how="left", maintain_order="left").rename(
            {dim.name: "value"}
        )
        joined = joined.with_columns(pl.col("traces", "errors", "judged", "dated").fill_null(0))
        if cutoff:
            joined = joined.with_columns(pl.col("new").fill_null(0))
        parts.append(_rates(joined).with_columns(dimension=pl.lit(dim.name)).select(columns))
    stats = pl.concat(parts) if parts else pl.DataFrame(schema={c: pl.Null for c in columns})
    behaviors = (
        _rates(behaviors)
        .sort(["traces", "behavior"], descending=[True, False])
        .select("behavior", "traces", "share", "errors", "error_rate", "novelty")
    )
    latest = frame["timestamp"].max() if frame.height else None
    return Evidence(
        stats,
        behaviors,
        traces.rows,
        traces.usable,
        dict(traces.malformed),
        dict(traces.unmapped),
        dict(traces.pii),
        cutoff,
        latest if isinstance(latest, datetime) else None,
        tuple(p.name for p in traces.source.files),
    )


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def _scores(
    stats: Mapping[str, Mapping[str, Any]],
    traced: Sequence[str],
    base: Mapping[str, float],
    weight_by: Sequence[str],
    dated_novelty: bool,
) -> dict[str, list[float]]:
    """Per traced value, one score in [-1, 1] per factor (log2 of its multiplier)."""
    total = sum(stats[v]["traces"] for v in traced)
    pool = sum(base[v] for v in traced)
    judged = sum(stats[v]["judged"] for v in traced)
    dated = sum(stats[v]["dated"] for v in traced)
    mean_error = sum(stats[v]["errors"] for v in traced) / judged if judged else None
    mean_new = sum(stats[v]["new"] for v in traced) / dated if dated and dated_novelty else None
    scores: dict[str, list[float]] = {v: [] for v in traced}
    for v in traced:
        s = stats[v]
        relative = math.log2((s["traces"] / total) / (base[v] / pool))
        if "frequency" in weight_by:
            scores[v].append(_clip(relative))
        if "rarity" in weight_by:
            scores[v].append(_clip(-relative))
        if "error_rate" in weight_by and mean_error is not None:
            rate = (s["errors"] + PRIOR * mean_error) / (s["judged"] + PRIOR)
            scores[v].append(_clip(math.log2((rate + 0.01) / (mean_error + 0.01))))
        if "novelty" in weight_by and mean_new is not None:
            novelty = (s["new"] + PRIOR * mean_new) / (s["dated"] + PRIOR)
            scores[v].append(_clip(math.log2((novelty + 0.05) / (mean_new + 0.05))))
    return scores


def _fit(
    raw: Mapping[str, float], low: Mapping[str, float], high: Mapping[str, float], total: float
) -> dict[str, float]:
    """Weights clip(scale * raw, low, high) whose sum is `total` (bisection on the scale; monotone)."""

    def sized(scale: float) -> float:
        return sum(min(high[v], max(low[v], scale * raw[v])) for v in raw)

    lo, hi = 0.0, max(high[v] / raw[v] for v in raw)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sized(mid) < total else (lo, mid)
    scale = (lo + hi) / 2
    return {v: min(high[v], max(low[v], scale * raw[v])) for v in raw}


def adjust_weights(
    dimensions: Sequence[Dimension], evidence: Evidence, weight_by: Sequence[str]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Base and evidence-adjusted weight of every value: {dimension: {value: (base, adjusted)}}.

    The formula, per dimension, over its *traced* values T (positive, weight > 0, at least one trace):
      each factor f in `weight_by` gives a score s_f(v) in [-1, 1]:
        frequency   s = log2(traffic share of v within T / base share of v within T)
        rarity      s = -(the frequency score)
        error_rate  s = log2((e_v + 0.01) / (e + 0.01)), e the error rate over T, e_v v's rate shrunk towards e
                    by 10 pseudo-traces: e_v = (errors_v + 10 e) / (judged_v + 10)
        novelty     s = log2((n_v + 0.05) / (n + 0.05)), n_v and n the share of traces at/after the cut-off,
                    shrunk the same way
      multiplier  m(v) = 2 ** mean_f(s_f(v))                       in [0.5, 2]
      adjusted(v) = clip(c * base(v) * m(v), 0.25 base(v), max(0.6 W, base(v)))
    where W is the dimension's total base weight and c is the one scale at which the adjusted weights of T
    sum to their base sum. So values outside T (negative `~v`, weight 0, no traces) keep their base weight
    exactly, the dimension's total is unchanged, no value falls below 25% of its base share or rises above
    60% of the dimension unless its base was already higher, and a value's adjusted weight never falls
    when its errors, its novelty or (with frequency) its traffic rise while the rest stay the same.
    """
    result: dict[str, dict[str, tuple[float, float]]] = {}
    for dim in dimensions:
        base = {v.name: v.weight for v in dim.values}
        result[dim.name] = {v: (w, w) for v, w in base.items()}
        stats = evidence.dimension(dim.name)
        traced = [
            v.name
            for v in dim.values
            if not v.negative and v.weight > 0 and stats.get(v.name, {}).get("traces", 0) > 0
        ]
        if len(traced) < 2 or not weight_by:
            continue
        scores = _scores(stats, traced, base, weight_by, evidence.cutoff is not None)
        raw = {v: base[v] * 2 ** (sum(scores[v]) / len(scores[v]) if scores[v] else 0.0) for v in traced}
        whole = sum(base.values())
        fitted = _fit(
            raw,
            {v: FLOOR_SHARE * base[v] for v in traced},
            {v: max(CEILING_SHARE * whole, base[v]) for v in traced},
            sum(base[v] for v in traced),
        )
        for v in traced:
            result[dim.name][v] = (base[v], fitted[v])
    return result


def apply_weights(
    dimensions: Sequence[Dimension], weights: Mapping[str, Mapping[str, tuple[float, float]]]
) -> tuple[Dimension, ...]:
    """The dimensions with their adjusted weights (for `dataclasses.replace(spec, dimensions=...)`)."""
    return tuple(
        replace(
            d,
            values=tuple(
                replace(v, weight=weights.get(d.name, {}).get(v.name, (0, v.weight))[1]) for v in d.values
            ),
        )
        for d in dimensions
    )


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
    mapped = [
        c
        for c in pool.columns
        if c not in ("row", "trace_id", "input", "output", "behavior", "error", "timestamp")
    ]
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
        key = ", ".join(f"{d}={v}" for d, v in items)
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


def select_trace_cases(traces: TraceSet, count: int) -> list[TraceCase]:
    """`count` scrubbed traces spread over the cells seen in production (round-robin over cells sorted by
    label; within a cell, failing traces first, then a stable pseudo-random order); no input twice."""
    pool = traces.pool.filter(pl.col("input").is_not_null())
    mapped = [
        c
        for c in pool.columns
        if c not in ("row", "trace_id", "input", "output", "behavior", "error", "timestamp")
    ]
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
                    )
                )
                break
            if len(picked) == count:
                break
    return picked
