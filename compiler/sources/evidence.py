"""Production evidence: behaviour statistics per dimension value and per cell, from a TraceSet.

Pure: same traces, same answers, no I/O (traces.py reads them; weights.py and snippets.py use the result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from compiler.privacy.gate import scrub_text
from compiler.sources.traces import TraceSet
from compiler.spec.model import Dimension
from compiler.spec.validate.production import since_of

BEHAVIOR_LIMIT = 50  # behaviour labels listed in a manifest; the rest are summed as "(other)"


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
