"""How the offline LM judges a case it is shown (dsc's plausibility judge): from the case's own text.

A grader can apply a case when its expected behaviour talks about what the input says, the input names
something concrete to check (an order number, an amount, a date) and it reads like a message a user sends
(not a fragment, not a wall of text). `case_features` measures those three; `grade_case` turns them into a
score in [0, 1] and a one-sentence reason. The offline generator imitates the same features of the demos it is
shown (`imitate.py`), so demos that a judge scores high lead to new cases it scores high too, as with a real LM.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_CONTENT_WORD = re.compile(r"[A-Za-z]{4,}")
_CONCRETE = re.compile(r"\d")
GROUNDED_ENOUGH = (
    0.35  # the share of the expected behaviour's words found in the inputs that counts as fully grounded
)
WORDS_LOW, WORDS_HIGH = 10, 120  # a realistic length for the main input, in words


@dataclass(frozen=True)
class CaseFeatures:
    grounded: (
        float  # in [0, 1]: the expected side's content words found in the inputs, capped at GROUNDED_ENOUGH
    )
    concrete: float  # 1.0 when the main input names a number or an identifier
    length_fit: float  # 1.0 inside the realistic length, falling off outside it
    words: int  # the main input's length in words

    def vector(self) -> tuple[float, float, float]:
        return (self.grounded, self.concrete, self.length_fit)


def _texts(values: Mapping[str, Any]) -> list[str]:
    texts: list[str] = []
    for value in values.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list | tuple):
            texts.extend(item for item in value if isinstance(item, str))
    return texts


def case_features(inputs: Mapping[str, Any], expected: Mapping[str, Any]) -> CaseFeatures:
    """The three judged features of a case given as its inputs and its expected side."""
    main = max((t for t in _texts(inputs)), key=len, default="")
    seen = {w.lower() for text in _texts(inputs) for w in _CONTENT_WORD.findall(text)}
    asked = [w.lower() for text in _texts(expected) for w in _CONTENT_WORD.findall(text)]
    share = sum(w in seen for w in asked) / len(asked) if asked else 0.0
    words = len(main.split())
    if words < WORDS_LOW:
        fit = words / WORDS_LOW
    elif words > WORDS_HIGH:
        fit = WORDS_HIGH / words
    else:
        fit = 1.0
    concrete = 1.0 if _CONCRETE.search(main) else 0.0
    return CaseFeatures(min(1.0, share / GROUNDED_ENOUGH), concrete, fit, words)


def grade_case(inputs: Mapping[str, Any], expected: Mapping[str, Any]) -> tuple[float, str]:
    """A plausibility score in [0, 1] and the reason for it."""
    features = case_features(inputs, expected)
    score = features.grounded * (0.5 + 0.25 * features.concrete + 0.25 * features.length_fit)
    notes = [
        "the expected behaviour follows from what the input says"
        if features.grounded >= 0.99
        else f"the expected behaviour refers to the input only in part ({features.grounded:.0%})",
        "the message names a concrete detail to check"
        if features.concrete
        else "the message names nothing concrete to check",
    ]
    if features.length_fit < 1.0:
        notes.append(f"at {features.words} words it does not read like a real message")
    return round(score, 2), "; ".join(notes).capitalize() + "."


def is_judged_case(case: Mapping[str, Any]) -> bool:
    """A case shown to a judge: its inputs and its expected side, as dsc's judge sends it."""
    return set(case) == {"inputs", "expected"} and all(isinstance(case[k], dict) for k in case)
