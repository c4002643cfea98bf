"""Screening: what a generated row must pass before selection may choose it.

Review decisions, duplicates of existing coverage (curated rows, earlier versions), exact and near
duplicates among the new rows, the automatic checks, and the optional plausibility judge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from compiler.generate.calls import judge_cases
from compiler.screen.checks import CheckResult, hard_failure, row_checks, with_duplicates
from compiler.screen.decisions import Decision, apply_decisions
from compiler.screen.dedupe import Candidate, DedupeResult, Drop, ExistingRow, drop_duplicates
from compiler.spec.model import Spec


def screen_candidates(
    spec: Spec,
    candidates: Sequence[Candidate],
    decisions: Mapping[str, Decision],
    existing: Sequence[ExistingRow] = (),
    handle: Any = None,
) -> DedupeResult:
    """Review decisions, then exact, near and semantic dedupe, then checks: the rows selection may choose from.

    `handle` (the run's LM handle) gives provider embeddings the run's journal and budget.
    """
    reviewed: list[Candidate] = []
    drops: list[Drop] = []
    for candidate in candidates:
        row = apply_decisions(candidate.row, decisions)
        if row is None:
            drops.append(Drop(candidate.row.id, candidate.row.id, 0.0, "review:rejected"))
            continue
        reviewed.append(candidate if row is candidate.row else Candidate(row, candidate.case))
    measure = spec.dedupe
    deduped = drop_duplicates(
        reviewed, measure.near, measure.on, existing, shingle=measure.shingle, ngram=measure.ngram
    )
    if measure.semantic is not None:
        from compiler.screen.semantic import drop_semantic_duplicates, open_embedder

        embed = open_embedder(measure.semantic, handle)
        semantic = drop_semantic_duplicates(
            deduped.survivors, measure.semantic.threshold, measure.on, embed, existing
        )
        deduped = DedupeResult(semantic.survivors, deduped.drops + semantic.drops)
    drops.extend(deduped.drops)
    collapsed = Counter(d.kept_id for d in deduped.drops)
    survivors: list[Candidate] = []
    for candidate in deduped.survivors:
        checks = candidate.checks if candidate.checks is not None else row_checks(spec, candidate.row)
        results = with_duplicates(checks, collapsed[candidate.row.id])
        failed = hard_failure(results)
        if failed is not None:
            drops.append(Drop(candidate.row.id, candidate.row.id, 0.0, f"check:{failed.name}"))
            continue
        row = replace(candidate.row, checks=tuple(r.as_dict() for r in results))
        survivors.append(Candidate(row, candidate.case))
    return DedupeResult(tuple(survivors), tuple(drops))


def judge_plausibility(
    spec: Spec, handle: Any, screened: DedupeResult, verdicts: dict[str, tuple[float, str]]
) -> DedupeResult:
    """The optional plausibility check: an LM judge scores each surviving case (once, across rounds);
    cases below `checks.min_plausibility` are not selected and leave a drop record."""

    todo = [c.row for c in screened.survivors if c.row.id not in verdicts]
    verdicts.update(
        judge_cases(spec, handle, [(r.id, {"inputs": r.inputs, "expected": r.expected}) for r in todo])
    )
    survivors: list[Candidate] = []
    drops = list(screened.drops)
    for candidate in screened.survivors:
        score, reason = verdicts[candidate.row.id]
        if score < spec.checks.min_plausibility:
            drops.append(Drop(candidate.row.id, candidate.row.id, round(score, 4), "check:plausibility"))
            continue
        check = CheckResult("plausibility", True, f"{score:.2f}: {reason}").as_dict()
        survivors.append(
            Candidate(replace(candidate.row, checks=(*candidate.row.checks, check)), candidate.case)
        )
    return DedupeResult(tuple(survivors), tuple(drops))
