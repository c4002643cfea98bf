"""Writing the evaluator columns of a case for the offline LM: text, list, enum, bool, int and number
values consistent with the same `Scene` that wrote the inputs (its stance, facts and tool calls); the text
of a good answer comes from `offline_answers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.answers import (
    behaviour_sentence,
    rationale_sentence,
    reference_answer,
)
from compiler.generate.backends.offline.case import expected_tool_calls
from compiler.generate.backends.offline.scene import RISKY_TACTICS, Scene, partial_passage


@dataclass(frozen=True, slots=True)
class OutputField:
    """One output field of the signature, as the adapter described it in the system message."""

    name: str
    kind: str  # text | list | enum | bool | int | number
    description: str = ""
    values: tuple[Any, ...] = ()  # the allowed values of an enum


_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:-|–|to|\.\.)\s*(-?\d+(?:\.\d+)?)")
_STANCE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "abstain",
        (
            "not in",
            "not found",
            "unanswer",
            "abstain",
            "unknown",
            "cannot",
            "no answer",
            "insufficient",
            "not covered",
            "idk",
        ),
    ),
    ("partial", ("partial", "caveat", "hedge")),
    ("clarify", ("clarif", "ask", "follow up", "more info")),
    ("escalate", ("escalat", "handoff", "hand off", "human", "transfer", "review", "defer", "flag")),
    ("error", ("error", "fail", "report")),
    ("refuse", ("refus", "reject", "declin", "deny", "block", "unsafe", "invalid", "disallow", "no")),
    (
        "comply",
        (
            "answer",
            "comply",
            "accept",
            "approve",
            "allow",
            "resolve",
            "proceed",
            "pass",
            "yes",
            "ok",
            "valid",
            "safe",
            "correct",
            "complete",
            "full",
            "grant",
            "execute",
            "act",
            "respond",
            "help",
        ),
    ),
)
_FALLBACK = {
    "refuse": ("refuse", "escalate", "error", "abstain", "clarify"),
    "escalate": ("escalate", "refuse", "error", "clarify"),
    "clarify": ("clarify", "escalate", "partial", "abstain", "refuse"),
    "abstain": ("abstain", "partial", "refuse", "clarify", "escalate"),
    "partial": ("partial", "comply"),
    "error": ("error", "escalate", "refuse", "partial"),
    "comply": ("comply", "partial"),
}
_ORDINALS = (
    ("low", "medium", "high"),
    ("easy", "medium", "hard"),
    ("minor", "major", "critical"),
    ("low", "medium", "high", "critical"),
    ("none", "low", "medium", "high"),
)


@lru_cache(maxsize=1024)
def _stance_of(value: str) -> str | None:
    text = " " + bank.humanise(str(value)).lower() + " "
    for stance, words in _STANCE_WORDS:
        if any(re.search(r"\b" + re.escape(w), text) for w in words):
            return stance
    return None


@lru_cache(maxsize=256)
def _humanised_values(values: tuple[Any, ...]) -> dict[str, Any]:
    return {bank.humanise(str(v)).lower(): v for v in values}


def _choose_enum(sc: Scene, values: tuple[Any, ...], text: str) -> Any:
    by_text = _humanised_values(values)
    matches = [by_text[v.lower()] for d, v, _ in sc.cell if v.lower() in by_text]
    if matches:
        named = [by_text[v.lower()] for d, v, _ in sc.cell if v.lower() in by_text and d.lower() in text]
        return (named or matches)[0]
    for stance in _FALLBACK[sc.stance]:
        found = [v for v in values if _stance_of(v) == stance]
        if found:
            return sc.rng.choice(found)
    lowered = tuple(str(v).lower() for v in values)
    for scale in _ORDINALS:
        if lowered == scale:
            negative = any(n for _, _, n in sc.cell) or sc.tactic is not None
            return values[min(len(values) - 1, sc.level + negative)]
    return sc.rng.choice(values)


def _has(text: str, *words: str) -> bool:
    return any(w in text for w in words)


def _decide_bool(sc: Scene, text: str) -> bool:
    if _has(text, "human", "escalat", "handoff", "hand off"):
        return sc.stance == "escalate"
    if _has(
        text, "refus", "declin", "reject", "unsafe", "harm", "attack", "adversarial", "injection", "violat"
    ):
        return sc.stance == "refuse" or sc.tactic in RISKY_TACTICS
    if _has(text, "clarif"):
        return sc.stance == "clarify"
    if _has(text, "unanswer", "not in", "abstain"):
        return sc.answerable == "no"
    if _has(text, "citation", "cite", "source", "ground"):
        return sc.answerable in ("yes", "partial") if sc.flavor == "manual" else sc.level >= 1
    if _has(text, "tool", "lookup", "api", "function call"):
        return bool(expected_tool_calls(sc))
    if _has(text, "answerable", "in scope", "supported", "allowed", "within", "valid", "safe"):
        return sc.stance in ("comply", "partial")
    if _has(text, "pii", "personal", "sensitive", "private"):
        return sc.tactic in ("role_confusion", "prompt_injection") or "account" in sc.topic_value.lower()
    if _has(text, "urgen", "priority"):
        return sc.urgent
    if _has(text, "multi", "follow"):
        return sc.shape == "multi" or sc.level == 2
    return sc.rng.random() < 0.5


def _range(text: str) -> tuple[float, float] | None:
    match = _RANGE.search(text)
    return (float(match.group(1)), float(match.group(2))) if match else None


def _pick_int(sc: Scene, text: str, description: str) -> int:
    rng, span = sc.rng, _range(description)
    if span is not None and span[0] < span[1]:
        return rng.randint(int(span[0]), int(span[1]))
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
    if _has(text, "priority", "severity", "risk", "urgen", "level", "score", "rating"):
        negative = any(n for _, _, n in sc.cell) or sc.tactic is not None
        return max(1, min(5, 1 + sc.level + 2 * negative + rng.randint(-1, 1)))
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
    return sc.rng.sample(keys, len(keys)) if keys else [sc.topic_value]


def _list_items(sc: Scene, text: str) -> list[str]:
    rng, fact = sc.rng, sc.fact
    count = 1 + min(3, sc.level + rng.randint(0, 1))
    if _has(text, "must not", "forbid", "avoid", "never", "exclude", "banned", "should not"):
        items = rng.sample(bank.FORBIDDEN, 2)
        if sc.tactic == "prompt_injection":
            items.insert(0, "anything from the injected instructions")
    elif _has(text, "tool"):
        return expected_tool_calls(sc)
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
        return _choose_enum(sc, field.values, text) if field.values else ""
    if field.kind == "bool":
        return _decide_bool(sc, text)
    if field.kind == "int":
        return _pick_int(sc, text, description)
    if field.kind == "number":
        return _pick_number(sc, text, description)
    if field.kind == "list":
        return _list_items(sc, text)
    return _text_column(sc, field.name, text)
