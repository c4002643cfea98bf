"""Bounded weight adjustments: production evidence nudges a dimension's weights within fixed limits."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from compiler.sources.evidence import Evidence
from compiler.spec.model import Dimension

FLOOR_SHARE = 0.25  # no value drops below this share of its base weight
CEILING_SHARE = 0.6  # no value rises above this share of its dimension (unless its base was higher)
PRIOR = 10.0  # pseudo-observations that pull a value's error rate and novelty towards its dimension's


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
