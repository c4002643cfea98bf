"""How the offline LM follows the demos in its prompt, as a real LM conditions on few-shot examples.

A real model shown worked examples writes new ones in their image: as long, as concrete, with the expected
behaviour tied to the input the way theirs is. The offline LM does the same with the features a judge grades
(`grade.case_features`): it drafts `DRAFTS` answers to the request (the first is exactly the answer it gives
without demos) and keeps the one whose features are nearest the demos' average. Demos a judge likes pull new
cases towards what it likes; poor demos pull them the other way. Without demos nothing here runs, so an
answer to a prompt without demos is byte for byte what it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from compiler.generate.backends.offline.grade import CaseFeatures, case_features

DRAFTS = 6


def split_sides(
    values: Mapping[str, Any], input_names: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case's fields as (inputs, expected side) by the case's prompt-under-test variable names."""
    inputs = {name: value for name, value in values.items() if name in input_names}
    expected = {name: value for name, value in values.items() if name not in input_names}
    return inputs, expected


def demo_profile(demos: Sequence[Mapping[str, Any]], input_names: Sequence[str]) -> tuple[float, ...] | None:
    """The average judged features of the demos that carry this case's fields, or None when none does."""
    vectors = [
        case_features(*split_sides(demo, input_names)).vector()
        for demo in demos
        if any(name in demo for name in input_names)
    ]
    if not vectors:
        return None
    return tuple(sum(column) / len(vectors) for column in zip(*vectors, strict=True))


def closest_draft(
    draft: Callable[[int], dict[str, Any]],
    profile: tuple[float, ...],
    input_names: Sequence[str],
) -> dict[str, Any]:
    """Of the drafts 0..DRAFTS-1, the one whose features are nearest `profile` (the earliest on a tie)."""
    best: dict[str, Any] | None = None
    best_distance = float("inf")
    for index in range(DRAFTS):
        values = draft(index)
        features: CaseFeatures = case_features(*split_sides(values, input_names))
        distance = sum(abs(a - b) for a, b in zip(features.vector(), profile, strict=True))
        if distance < best_distance - 1e-9:
            best, best_distance = values, distance
    assert best is not None
    return best
