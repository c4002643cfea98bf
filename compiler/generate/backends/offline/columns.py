"""Writing the evaluator columns of a case for the offline LM: text, list, enum, bool, int and number
values consistent with the same `Scene` that wrote the inputs (its stance, facts and tool calls); the text
of a good answer comes from `offline_answers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.answers import (
    behaviour_sentence,
    rationale_sentence,
    reference_answer,
)
from compiler.generate.backends.offline.rules import choose_enum, decide_bool, language_value
from compiler.generate.backends.offline.scene import Scene, partial_passage
from compiler.generate.backends.offline.situation import dimension_kind
from compiler.generate.backends.offline.tools import expected_tool_calls


@dataclass(frozen=True, slots=True)
class OutputField:
    """One output field of the signature, as the adapter described it in the system message."""

    name: str
    kind: str  # text | list | enum | bool | int | number
    description: str = ""
    values: tuple[Any, ...] = ()  # the allowed values of an enum


# "1-5", "0 to 3", "0 (none) to 3 (blocking)", "between 1 and 10"
_RANGE = re.compile(
    r"(-?\d+(?:\.\d+)?)\s*(?:\([^()]{0,40}\)\s*)?(?:-|–|to|\.\.)\s*(-?\d+(?:\.\d+)?)"
    r"|between\s+(-?\d+(?:\.\d+)?)\s+and\s+(-?\d+(?:\.\d+)?)",
    re.IGNORECASE,
)


def _has(text: str, *words: str) -> bool:
    return any(w in text for w in words)


def _range(text: str) -> tuple[float, float] | None:
    match = _RANGE.search(text)
    if match is None:
        return None
    low, high = (
        (match.group(1), match.group(2)) if match.group(1) is not None else (match.group(3), match.group(4))
    )
    return float(low), float(high)


def _pick_int(sc: Scene, text: str, description: str) -> int:
    rng, span = sc.rng, _range(description)
    graded = _has(text, "priority", "severity", "risk", "urgen", "level", "score", "rating")
    if span is not None and span[0] < span[1]:
        low, high = int(span[0]), int(span[1])
        if graded:  # along the scale as the case is hard, further when it is negative or adversarial
            step = max(0, min(4, sc.level + 2 * sc.pressed + rng.randint(-1, 1)))
            return low + round(step / 4 * (high - low))
        return rng.randint(low, high)
    if _has(text, "tool"):
        calls = expected_tool_calls(sc)
        return len(calls) + (sc.tool_state == "error" and len(set(calls)) == len(calls) and bool(calls))
    if _has(text, "turn", "step"):
        return 1 + sc.level + rng.randint(0, 1)
    if _has(text, "word", "length", "token"):
        return (40 if "terse" in sc.styles else (60, 120, 200)[sc.level]) + 10 * rng.randint(0, 4)
    if _has(text, "char"):
        return (300, 700, 1200)[sc.level] + 50 * rng.randint(0, 4)
    if _has(text, "sentence"):
        return 2 + sc.level + rng.randint(0, 1)
    if graded:
        return max(1, min(5, 1 + sc.level + 2 * sc.pressed + rng.randint(-1, 1)))
    if _has(text, "day"):
        return int(sc.facts["days"])
    if _has(text, "count", "number", "num ", "quantity", "items"):
        return rng.randint(0, 4)
    return rng.randint(0, 10)


def _pick_number(sc: Scene, text: str, description: str) -> float:
    rng, span = sc.rng, _range(description)
    if span is not None and span[0] < span[1]:
        return round(rng.uniform(*span), 2)
    if _has(
        text,
        "score",
        "confidence",
        "prob",
        "likelihood",
        "threshold",
        "similarity",
        "ratio",
        "rate",
        "weight",
        "relevance",
    ):
        return round(rng.uniform(0.7, 0.98) if sc.stance == "comply" else rng.uniform(0.15, 0.7), 2)
    if _has(text, "amount", "price", "cost", "total", "refund", "usd", "eur", "money"):
        return float(sc.facts["amount"].lstrip("$£€"))
    if _has(text, "latency", "second", "time"):
        return round(rng.uniform(0.5, 10.0), 1)
    return round(rng.uniform(0, 100), 1)


def _answer_keys(sc: Scene) -> list[str]:
    fact = sc.fact
    if sc.flavor == "manual" and fact is not None:
        numbers = re.findall(
            r"\d+(?:\.\d+)?\s?(?:minutes|hours|litres|cm|m|GHz|months|seconds|schedules)", fact[2]
        )
        return [*numbers[:2], f"section {fact[3]}", fact[1]]
    keys = [sc.pick((k,)) for k in sc.topic.keys if sc.mentions(k)] if sc.topic is not None else []
    if keys:
        return sc.rng.sample(keys, len(keys))
    # no topic templates: the facts of the case itself, what it is about first
    facts = [sc.topic_value, *(v for _, v, _ in sc.extras), *(v for _, v in sc.given)]
    return [facts[0], *sc.rng.sample(facts[1:], len(facts) - 1)]


def _listed_items(sc: Scene, name: str) -> list[str] | None:
    """Names the description lists for a list column named after them (`tables_used` and "tables a, b")."""
    for word in name.lower().split("_"):
        listed = sc.listed.get(word.rstrip("s")) or sc.listed.get(word)
        if listed:
            if sc.stance in ("refuse", "clarify", "abstain"):
                return []
            return sorted(sc.rng.sample(listed, min(len(listed), 1 + sc.level)), key=listed.index)
    return None


def _list_items(sc: Scene, text: str, name: str = "") -> list[str]:
    rng, fact = sc.rng, sc.fact
    count = 1 + min(3, sc.level + rng.randint(0, 1))
    if _has(text, "tool") and not _has(text, "must not", "forbid", "avoid", "never", "exclude", "banned"):
        return expected_tool_calls(sc)  # the calls this case needs, not a sample of the tools listed
    listed = _listed_items(sc, name)
    if listed is not None:
        return listed
    if _has(text, "must not", "forbid", "avoid", "never", "exclude", "banned", "should not"):
        items = rng.sample(bank.FORBIDDEN, 2)
        if sc.tactic == "prompt_injection":
            items.insert(0, "anything from the injected instructions")
    elif _has(text, "tag", "label", "categor"):
        items = [v for _, v, _ in sc.cell]
    elif _has(text, "fact", "evidence", "support", "passage"):
        if sc.flavor != "manual" or fact is None:
            items = _answer_keys(sc)
        elif sc.answerable == "no":
            return []
        else:
            items = [fact[2]] if sc.answerable == "yes" else [partial_passage(fact[2])]
            if sc.asks_second and sc.second_fact is not None and sc.answerable == "yes":
                items.append(sc.second_fact[2])
            return items
    elif _has(text, "cite", "citation", "source", "section", "reference"):
        items = [f"section {f[3]}" for f in (fact, sc.second_fact) if f is not None]
        if not items:  # no manual: name the sections of the document the column names, by subject
            match = re.search(r"(\w+) sections?", text)
            doc = match.group(1).capitalize() if match and match.group(1) not in ("the", "of") else "The"
            about = [
                v for d, v, _ in sc.extras if dimension_kind(d, sc.notes.get(d, "")) not in ("who", "where")
            ]
            subjects = [sc.topic_value, *(v for v in about if rng.random() < 0.4)]
            items = [f"{doc} section on {s}" for s in subjects]
    elif _has(text, "question", "clarif"):
        items = [
            sc.pick(
                (
                    "Which {topic_word} do you mean?",
                    "Can you share the order number?",
                    "What exactly happened?",
                    "When do you need it by?",
                )
            )
        ]
    else:
        items = _answer_keys(sc)
        if sc.tactic in bank.TACTIC_KEYS:
            items.insert(rng.randint(0, 1), rng.choice(bank.TACTIC_KEYS[sc.tactic]))
        if sc.stance in ("refuse", "escalate", "clarify", "abstain"):
            items.insert(
                0,
                {
                    "refuse": "a clear, polite refusal",
                    "escalate": "handover to a human agent",
                    "clarify": "a clarifying question",
                    "abstain": "the manual does not cover it",
                }[sc.stance],
            )
    return list(dict.fromkeys(items))[:count] or [sc.topic_value]


def _text_column(sc: Scene, name: str, text: str) -> str:
    for probe in (name.lower(), text):
        if _has(probe, "behav", "criteria", "rubric", "guideline", "expectation"):
            return behaviour_sentence(sc)
        if _has(probe, "rationale", "reason", "why", "explan", "note", "justif"):
            return rationale_sentence(sc)
        if _has(probe, "answer", "response", "reply", "output", "completion"):
            return reference_answer(sc)
    return behaviour_sentence(sc)


def write_column(sc: Scene, field: OutputField, spec: dict[str, Any]) -> Any:
    """One evaluator column's value, plausible for this case and of the field's kind."""
    description = f"{field.description} {spec.get('description', '')}"
    text = f"{field.name.replace('_', ' ')} {description}".lower()
    if field.kind == "enum":
        if not field.values:
            return ""
        language = language_value(sc, field.values, field.name)
        return language if language is not None else choose_enum(sc, field.values, text)
    if field.kind == "bool":
        return decide_bool(sc, field.name, text, bool(expected_tool_calls(sc)))
    if field.kind == "int":
        return _pick_int(sc, text, description)
    if field.kind == "number":
        return _pick_number(sc, text, description)
    if field.kind == "list":
        return _list_items(sc, text, field.name)
    return _text_column(sc, field.name, text)
