"""Reading a case for the offline LM: one case JSON (cell, strategy, persona, tactic, description, prompt)
into a `Scene`.

`read_scene` reads the roles the cell's dimensions play (language, tool state, answerability, policy
boundary, difficulty or severity, phrasing, channel, urgency, the topic, and the rest as situations), the
voice of the persona, what the test space's text names (`space`), the manual facts a question is about, and
the stance a good answer takes (`rules`). Choices come from the scene's `random.Random`, so the order of the
draws is part of the output and must not change.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Any

from compiler.generate.backends.offline import domain_words as domains
from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.rules import decide_stance
from compiler.generate.backends.offline.scene import Scene, flavor_topics
from compiler.generate.backends.offline.situation import dimension_kind, is_bare
from compiler.generate.backends.offline.space import can_escalate, listed_names, product_named, prompt_names

_STRATEGIES = ("direct", "persona", "adversarial", "evaluator_aligned")
_TOPIC_DIMS = (
    "intent",
    "topic",
    "question",
    "task",
    "category",
    "request type",
    "use case",
    "scenario",
    "subject",
)
_TOPIC_NAMES = frozenset({"request", "requests", "need", "needs", "goal", "purpose", "ask", "want", "reason"})
# a description that says what the user is after: `request: {description: What the patient wants.}`
_WANTS = re.compile(
    r"\bwhat (?:the |a )?[a-z]+ (?:wants|needs|asks|is asking|is after|would like|requests)\b"
)
_LEVEL_WORDS = (
    (2, ("hard", "complex", "numeric", "expert", "difficult", "advanced", "high")),
    (0, ("easy", "simple", "single", "basic", "low", "trivial")),
    (1, ("medium", "multi", "moderate", "intermediate")),
)
_SEVERITY_WORDS = (
    (2, ("severe", "emergency", "critical", "urgent", "high", "life")),
    (0, ("mild", "minor", "low", "trivial")),
    (1, ("moderate", "medium", "serious")),
)


def _language(value: str) -> tuple[str, bool]:
    low = value.lower().replace("_", "-")
    for code, name in bank.LANGUAGE_NAMES.items():
        if low == code or low.startswith(code + "-") or name.lower() in low:
            return code, code == "en" and low[3:5] in ("gb", "uk", "ie", "au", "nz")
        if any(own in low for own in bank.LANGUAGE_ENDONYMS.get(code, ())):
            return code, False
    return "en", "british" in low


def first_match(value: str, table: tuple[tuple[Any, tuple[str, ...]], ...]) -> Any:
    """The first key of `table` one of whose words occurs in `value`, or None."""
    return next((key for key, words in table if any(w in value for w in words)), None)


def _flavor(text: str, answerability: bool) -> str:
    if any(w in text for w in ("flight", "travel", "hotel", "airline", "trip")):
        return "travel"
    if answerability or any(w in text for w in ("manual", "passage", "documentation", "retriev")):
        return "manual"
    # "orders" alone is a table name as often as a purchase: a shop says what it sells or ships
    if any(w in text for w in ("refund", "shop", "store", "shipping", "purchase", "retail")):
        return "shop"
    return ""


def _find_topic(flavor: str, value: str, cell_words: str = "") -> domains.Topic | None:
    topics = flavor_topics(flavor)
    if flavor == "travel" and "hotel" in cell_words:  # a hotel stay, not a flight
        topics = domains.HOTEL_TOPICS + topics
    return next((t for t in topics + domains.GENERIC_TOPICS if any(w in value for w in t.words)), None)


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tactic(case: dict[str, Any]) -> str | None:
    tactic = as_mapping(case.get("tactic"))
    ident = str(tactic.get("id") or case.get("variant") or "").lower()
    if ident in bank.TACTIC_HANDLING:
        return ident
    text = f"{ident.replace('_', ' ')} {tactic.get('description', '')}".lower()
    return first_match(text, bank.TACTIC_WORDS)


@lru_cache(maxsize=1024)
def _classify(dim: str, raw: str) -> tuple[str, Any]:
    """The role a cell dimension plays for the writer, and what it says: ("boundary", "edge"), ..."""
    d, low, negative = dim.lower().replace("_", " "), bank.humanise(raw).lower(), raw.startswith("~")
    if any(w in d for w in ("locale", "lang", "region")):
        return "lang", _language(raw)
    if "tool" in d or low.startswith("tool ") or low in ("missing tool", "stale result"):
        return "tool", first_match(
            low,
            (
                ("missing", ("missing", "unavailable", "no tool")),
                ("stale", ("stale", "outdated", "old", "cached")),
                ("error", ("error", "fail", "timeout", "down")),
            ),
        ) or "ok"
    if "answerab" in d or "answerable" in low:
        return (
            "answerable",
            "no" if negative or "unanswer" in low else "partial" if "partial" in low else "yes",
        )
    if any(w in d for w in ("policy", "boundary", "complian")):
        return "boundary", (
            "outside"
            if negative or any(w in low for w in ("outside", "violat", "beyond"))
            else "edge"
            if any(w in low for w in ("edge", "border", "grey", "gray", "limit"))
            else "within"
        )
    if any(w in d for w in ("difficult", "complex", "level")):
        level = first_match(low, _LEVEL_WORDS)
        return "level", 1 if level is None else level
    if any(w in d for w in ("shape", "phrasing", "structure", "ambigu", "clarity", "wording")):
        return "shape", first_match(
            low,
            (
                ("multi", ("multi", "several", "compound")),
                ("vague", ("under", "vague", "ambig", "unclear", "missing", "incomplete")),
                ("conflict", ("conflict", "contradict")),
                ("leading", ("leading", "loaded", "presum")),
            ),
        ) or ""
    if "channel" in d or "medium" in d:
        return "channel", first_match(
            low,
            (("email", ("mail",)), ("social", ("social", "twitter")), ("phone", ("phone", "voice", "call"))),
        ) or "chat"
    if any(w in d for w in ("urgen", "priority", "time")):
        return "urgent", any(w in low for w in ("same day", "urgent", "asap", "today", "high", "immediate"))
    return ("topic" if any(w in d for w in _TOPIC_DIMS) or d in _TOPIC_NAMES else "extra"), None


def _is_topic(role: str, description: str, raw: str) -> bool:
    """A topic dimension's value, or another's whose description says what the user wants (not a bare one)."""
    if is_bare(raw):
        return False
    return role == "topic" or _WANTS.search(description.lower()) is not None


def _read_cell(sc: Scene, cell: dict[str, Any], text: str, notes: dict[str, str]) -> None:
    extras: list[tuple[str, str, bool]] = []
    topic_value, topic_negative = "", False
    for dim, raw in cell.items():
        raw = str(raw)
        role, said = _classify(dim, raw)
        if role == "lang":
            sc.lang, sc.british = said
        elif role == "tool":
            sc.tool_state = said
        elif role == "answerable":
            sc.answerable = said
        elif role == "boundary":
            sc.boundary = said
        elif role == "level":
            sc.level, sc.level_known = said, True
        elif role == "shape":
            sc.shape = said
        elif role == "channel":
            sc.channel = said
        elif role == "urgent":
            sc.urgent = said
        elif role in ("topic", "extra") and not topic_value and _is_topic(role, notes.get(dim, ""), raw):
            topic_value, topic_negative = bank.humanise(raw), raw.startswith("~")
        else:
            extras.append((dim, bank.humanise(raw), raw.startswith("~")))
            if any(w in dim.lower() for w in ("sever", "risk", "acuity", "seriousness")):
                # a severity reads as a situation and also sets how hard the case is
                level = first_match(bank.humanise(raw).lower(), _SEVERITY_WORDS)
                sc.level, sc.level_known = (1 if level is None else level), level is not None
    if not topic_value and extras:
        # a value about who or where the user is makes a poor subject: prefer what the case is about
        # and a bare value (`party_size: 3`) says nothing as a subject: "a question about 3"
        rank = {"thing": 0, "other": 0, "nature": 1, "who": 2, "where": 2}
        pick = min(extras, key=lambda e: (is_bare(e[1]), rank[dimension_kind(e[0], notes.get(e[0], ""))]))
        extras.remove(pick)
        topic_value, topic_negative = pick[1], pick[2]
    sc.extras = tuple(extras)
    sc.notes = notes
    sc.flavor = _flavor(text + " " + topic_value.lower(), bool(sc.answerable))
    if topic_value:
        sc.topic_value = topic_value
        low = topic_value.lower()
        sc.unsupported = topic_negative and any(
            w in low for w in ("unsupport", "scope", "unrelated", "other")
        )
        said = " ".join(bank.humanise(str(v)).lower() for v in cell.values())
        sc.topic = None if sc.unsupported else _find_topic(sc.flavor, low, said)


def _pick_manual_facts(sc: Scene, difficulty: str) -> None:
    kinds = {0: "task", 1: "symptom", 2: "attr", 3: "compare", 4: "safety"}
    if sc.topic is None or sc.topic not in domains.MANUAL_TOPICS:
        sc.topic = sc.rng.choice(domains.MANUAL_TOPICS)
    kind = kinds[domains.MANUAL_TOPICS.index(sc.topic)]
    if "numer" in difficulty:
        sc.question, subject, sc.computed = sc.rng.choice(domains.MANUAL_NUMERIC)
        sc.fact = next(f for f in domains.MANUAL_FACTS if f[1] == subject)
    else:
        sc.fact = sc.rng.choice([f for f in domains.MANUAL_FACTS if f[0] == kind])
    sc.second_fact = sc.rng.choice([f for f in domains.MANUAL_FACTS if f is not sc.fact])


# what a strategy template of the user's own asks for, in the words its task says it with
_TASK_STANCES = (
    (
        "escalate",
        ("emergency services", "escalat", "hand over", "hand off", "human agent", "refer ", "point them to"),
    ),
    ("refuse", ("refuse", "decline", "must not answer", "out of scope", "off-topic", "off topic")),
    ("clarify", ("clarif", "ask which", "ask for the missing", "follow-up question")),
)
_TASK_SHAPES = (
    (
        "multi",
        ("several requests", "two requests", "multiple requests", "several questions", "two questions"),
    ),
    ("vague", ("vague", "ambiguous", "unclear", "incomplete", "missing detail")),
    ("conflict", ("contradict", "conflicting")),
)
_ADVERSARIAL_WORDS = ("adversarial", "attack", "trick", "jailbreak", "inject", "manipulat", "pressure")
_URGENT_WORDS = ("emergency", "urgent", "immediately", "right away", "asap", "same day")


def task_block(instruction: str) -> str:
    """The task a strategy template wrote into `_base.j2`'s layout (after the cell's lines, before the
    production examples or the evaluator columns), lowercased; "" for a layout of its own."""
    start = instruction.find("The case sits in this cell of the test space:")
    if start < 0:
        return ""
    lines = instruction[start:].splitlines()[1:]
    while lines and lines[0].startswith("- "):
        lines.pop(0)
    body = "\n".join(lines)
    for marker in ("Real requests seen in production", "Also write the evaluator columns"):
        cut = body.find(marker)
        body = body[:cut] if cut >= 0 else body
    return body.strip().lower()


def _read_task(sc: Scene, task: str) -> str | None:
    """Set what a user's strategy asks for (its tactic, request shape, urgency); return the stance it names."""
    if any(w in task for w in _ADVERSARIAL_WORDS):  # "json" or "table" alone is no attack
        sc.tactic = first_match(task, bank.TACTIC_WORDS) or sc.tactic
    sc.shape = first_match(task, _TASK_SHAPES) or sc.shape
    sc.urgent = sc.urgent or any(w in task for w in _URGENT_WORDS)
    return first_match(task, _TASK_STANCES)


def read_scene(case: dict[str, Any], rng: random.Random, task: str = "") -> Scene:
    """Read one case JSON (any test space) into a Scene; unknown strategies read like `direct`, plus what
    their template's `task` (see `task_block`) asks for."""
    sc = Scene(rng)
    strategy = str(case.get("strategy") or "direct")
    sc.strategy = strategy if strategy in _STRATEGIES else "direct"
    persona = as_mapping(case.get("persona"))
    if persona:
        sc.persona = persona
        sc.styles = frozenset(
            s
            for s, words in bank.STYLE_WORDS
            if any(w in str(persona.get("style", "")).lower() for w in words)
        )
    if sc.strategy == "adversarial" or isinstance(case.get("tactic"), dict):
        sc.tactic = _tactic(case) or rng.choice(tuple(bank.TACTIC_HANDLING))
    cell = as_mapping(case.get("cell"))
    sc.cell = tuple((str(d), bank.humanise(str(v)), str(v).startswith("~")) for d, v in cell.items())
    description, prompt = str(case.get("description") or ""), str(case.get("prompt") or "")
    notes = {
        str(d): str(as_mapping(v).get("description") or "")
        for d, v in as_mapping(case.get("dimensions")).items()
    }
    _read_cell(sc, cell, f"{case.get('dataset', '')} {description} {prompt}".lower(), notes)
    if persona.get("locale") and not any(_classify(str(d), str(v))[0] == "lang" for d, v in cell.items()):
        sc.lang, sc.british = _language(str(persona["locale"]))
    brand, sc.tools = prompt_names(prompt)
    if sc.flavor == "manual":
        difficulty = " ".join(
            v.lower() for d, v, _ in sc.cell if "difficult" in d.lower() or "level" in d.lower()
        )
        _pick_manual_facts(sc, difficulty)
        sc.asks_second = (
            sc.level >= 1
            and not sc.question
            and sc.tactic not in ("out_of_scope", "semantic_ambiguity", "near_empty_input")
        )
    sc.listed = listed_names(f"{description} {prompt}")
    sc.can_escalate = can_escalate(as_mapping(case.get("columns")))
    asked = _read_task(sc, task) if task and strategy not in _STRATEGIES else None
    sc.stance = decide_stance(sc, description)
    if asked is not None and (asked != "escalate" or sc.can_escalate):
        sc.stance, sc.stance_asked = asked, True
    sc.product, sc.brand = product_named(description), brand
    return sc
