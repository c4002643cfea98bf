"""dsc's metric for optimizing the generator program: checks, the plausibility judge, a near-duplicate penalty.

One score in [0, 1] per generated case, with feedback text that says what cost it (GEPA reflects on it):
  score = checks passed / checks  x  (0.5 + 0.5 x plausibility)  x  (0.5 if a near-duplicate of an earlier
  output, else 1).
Near-duplicates are measured against the outputs this metric has scored before (word 3-gram Jaccard over
`dedupe.on`), so a program whose cases all read alike scores low even when each one passes its checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.core import lazy
from compiler.core.rows import Row
from compiler.generate.backends import LMHandle
from compiler.generate.calls import judge_cases, normalise_prediction
from compiler.plan.cases import CaseSpec
from compiler.screen.checks import HARD_CHECKS, run_checks
from compiler.screen.dedupe import compared_text
from compiler.spec.model import Spec

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Scored:
    score: float
    feedback: str


def shingles(text: str, n: int = 3) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset({" ".join(words)}) if words else frozenset()
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


class CaseMetric:
    """Callable as DSPy's metric(example, prediction, trace) -> float, or GEPA's (..., pred_name,
    pred_trace) -> Prediction(score, feedback) when `feedback=True`."""

    def __init__(
        self,
        spec: Spec,
        handle: LMHandle,
        cases: Mapping[str, CaseSpec],
        *,
        judge: bool = True,
        feedback: bool = False,
    ) -> None:
        self.spec = spec
        self.handle = handle
        self.cases = cases  # case payload (the example's `case` input) -> its planned case
        self.judge = judge
        self.feedback = feedback
        self.pool: list[frozenset[str]] = []

    def __call__(
        self,
        example: Any,
        prediction: Any,
        trace: Any = None,
        pred_name: str | None = None,
        pred_trace: Any = None,
    ) -> Any:
        scored = self.score(example.case, prediction)
        if self.feedback:
            return lazy.dspy.Prediction(score=scored.score, feedback=scored.feedback)
        return scored.score

    def score(self, case_payload: str, prediction: Any) -> Scored:
        spec = self.spec
        try:
            inputs, expected = normalise_prediction(spec, prediction)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            return Scored(
                0.0, f"the answer lacks a field or a field has the wrong type ({type(exc).__name__})"
            )
        case = self.cases.get(case_payload)
        cell = dict(case.cell) if case is not None else {}
        strategy = case.strategy if case is not None else None
        variant = case.variant if case is not None else None
        row = Row.build("synthetic", strategy, variant, cell, inputs, expected, {})
        results = [r for r in run_checks(spec, row) if r.name in HARD_CHECKS]
        passed = sum(r.passed for r in results) / len(results)
        notes = [f"check {r.name} failed: {r.detail}" for r in results if not r.passed]
        plausibility = 1.0
        if self.judge:
            case_json = {"inputs": row.inputs, "expected": row.expected}
            verdicts = judge_cases(spec, self.handle, [(row.id, case_json)])
            plausibility, reason = verdicts[row.id]
            notes.append(f"the plausibility judge gave {plausibility:.2f}: {reason}")
        words = shingles(compared_text(row, spec.dedupe.on))
        closest = max((jaccard(words, seen) for seen in self.pool), default=0.0)
        self.pool.append(words)
        near = closest >= spec.optimizer.near_threshold
        if near:
            notes.append(
                f"reads like an earlier case ({closest:.2f} word-shingle overlap); write a different one"
            )
        score = passed * (0.5 + 0.5 * plausibility) * (0.5 if near else 1.0)
        return Scored(round(score, 6), "; ".join(notes) or "passes every check, plausible and new")


def mean_score(metric: CaseMetric, payloads: Sequence[str], predictions: Sequence[Any]) -> float:
    """The mean score of predictions (None = the call failed: 0), scored in order with a fresh pool."""
    metric.pool = []
    scores = [
        0.0 if p is None else metric.score(c, p).score for c, p in zip(payloads, predictions, strict=True)
    ]
    return round(sum(scores) / len(scores), 6) if scores else 0.0
