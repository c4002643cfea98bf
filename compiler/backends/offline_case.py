"""Reading a case for the offline LM, and writing the inputs of the prompt under test.

`read_scene` reads one case JSON (cell, strategy, persona, tactic, description, prompt) into a `Scene`: the
roles its cell dimensions play, its voice, the stance a good answer takes, and facts drawn on demand.
`write_inputs` writes the prompt-under-test variables from it: the user's message shaped by strategy,
persona, tactic and cell, plus passages, tool results, history and other values. Every choice comes from
the scene's `random.Random`, so the order of the draws is part of the output and must not change.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from compiler.backends import offline_text as bank
from compiler.backends import offline_text_domains as domains

# --- reading a case --------------------------------------------------------------------------------------------

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
_LEVEL_WORDS = (
    (2, ("hard", "complex", "numeric", "expert", "difficult", "advanced", "high")),
    (0, ("easy", "simple", "single", "basic", "low", "trivial")),
    (1, ("medium", "multi", "moderate", "intermediate")),
)
RISKY_TACTICS = ("prompt_injection", "role_confusion", "policy_probe", "out_of_scope")
_TOOL_VERBS = frozenset(
    (
        "search",
        "book",
        "cancel",
        "get",
        "create",
        "send",
        "update",
        "delete",
        "list",
        "lookup",
        "find",
        "check",
        "issue",
        "fetch",
        "reschedule",
        "add",
        "remove",
        "set",
        "track",
        "refund",
        "query",
        "read",
        "write",
        "post",
        "schedule",
    )
)
_TOOL_NAME = re.compile(r"\b([a-z]+(?:_[a-z]+)+)\b")
_PRODUCT = re.compile(r"\b(" + "|".join(re.escape(n) for n in domains.PRODUCT_NOUNS) + r")\b", re.IGNORECASE)
_BRAND = re.compile(r"\b(?:of|for|at|from|by)\s+([A-Z][A-Za-z0-9]+)")
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


class _Facts(dict[str, str]):
    """The concrete names, numbers and dates of one case, drawn the first time a template asks for them."""

    __slots__ = ("scene",)

    def __init__(self, scene: Scene) -> None:
        super().__init__()
        self.scene = scene

    def __missing__(self, key: str) -> str:
        drawer = _FACT_DRAWERS.get(key)
        if drawer is None:
            return "it"
        drawn = drawer(self.scene)
        if isinstance(drawn, dict):
            self.update(drawn)
            return str(drawn[key])
        self[key] = str(drawn)
        return self[key]


@dataclass(slots=True)
class Scene:
    """What the offline LM makes of one case: its cell read into roles, its voice, its facts."""

    rng: random.Random
    strategy: str = "direct"
    tactic: str | None = None
    persona: dict[str, Any] | None = None
    styles: frozenset[str] = frozenset()
    cell: tuple[tuple[str, str, bool], ...] = ()  # (dimension, humanised value, negative)
    flavor: str = ""  # shop | travel | manual | "" (generic)
    topic: domains.Topic | None = None
    topic_value: str = "the request"
    unsupported: bool = False
    level: int = 1
    boundary: str = ""  # within | edge | outside
    answerable: str = ""  # yes | partial | no
    tool_state: str = ""  # ok | error | missing | stale
    shape: str = ""  # multi | vague | conflict
    channel: str = ""
    urgent: bool = False
    lang: str = "en"
    british: bool = False
    extras: tuple[tuple[str, str], ...] = ()
    tools: tuple[str, ...] = ()
    fact: tuple[str, str, str, str] | None = None
    second_fact: tuple[str, str, str, str] | None = None
    question: str = ""  # manual: a ready-made question, when the difficulty calls for one
    asks_second: bool = False  # manual: the question also asks about `second_fact`
    computed: str = ""  # manual: the worked answer to a numeric question
    stance: str = "comply"  # comply | refuse | escalate | clarify | abstain | partial | error
    product: tuple[str, str] = ("device", "device")  # (full name, noun)
    written: str = ""  # the inputs as written, so the columns only cite facts the inputs mention
    brand: str = ""
    facts: _Facts = field(init=False)

    def __post_init__(self) -> None:
        self.facts = _Facts(self)

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        """One of `options`, with the case's facts filled in."""
        return self.rng.choice(options).format_map(self.facts)

    def mentions(self, template: str) -> bool:
        """Whether every specific fact `template` cites appears in the written inputs."""
        return all(self.facts[key] in self.written for key in _specific_facts(template))


def _language(value: str) -> tuple[str, bool]:
    low = value.lower().replace("_", "-")
    for code, name in bank.LANGUAGE_NAMES.items():
        if low == code or low.startswith(code + "-") or name.lower() in low:
            return code, code == "en" and low[3:5] in ("gb", "uk", "ie", "au", "nz")
    return "en", "british" in low


def _first_match(value: str, table: tuple[tuple[Any, tuple[str, ...]], ...]) -> Any:
    return next((key for key, words in table if any(w in value for w in words)), None)


@lru_cache(maxsize=64)
def _product(description: str) -> tuple[str, str]:
    match = _PRODUCT.search(description)
    if match is None:
        return "device", "device"
    named: list[str] = []
    for word in reversed(description[: match.start()].split()[-2:]):
        if not (word[:1].isupper() or any(c.isdigit() for c in word)):
            break
        named.insert(0, word)
    noun = match.group(1).lower()
    return " ".join([*named, noun]), noun


@lru_cache(maxsize=64)
def _prompt_names(prompt: str) -> tuple[str, tuple[str, ...]]:
    brand = next(
        (m.group(1) for m in _BRAND.finditer(prompt) if m.group(1) not in ("The", "This", "A", "An")), ""
    )
    tools = [t for t in dict.fromkeys(_TOOL_NAME.findall(prompt)) if t.split("_")[0] in _TOOL_VERBS]
    return brand, tuple(tools)


def _flavor(text: str, answerability: bool) -> str:
    if any(w in text for w in ("flight", "travel", "hotel", "airline", "trip")):
        return "travel"
    if answerability or any(w in text for w in ("manual", "passage", "documentation", "retriev")):
        return "manual"
    if any(w in text for w in ("order", "refund", "shop", "store", "shipping", "purchase", "customer")):
        return "shop"
    return ""


def _topics(flavor: str) -> tuple[domains.Topic, ...]:
    return {"travel": domains.TRAVEL_TOPICS, "manual": domains.MANUAL_TOPICS}.get(flavor, domains.SHOP_TOPICS)


def _find_topic(flavor: str, value: str) -> domains.Topic | None:
    for topics in (_topics(flavor), domains.SHOP_TOPICS, domains.TRAVEL_TOPICS):
        found = next((t for t in topics if any(w in value for w in t.words)), None)
        if found is not None:
            return found
    return None


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tactic(case: dict[str, Any]) -> str | None:
    tactic = as_mapping(case.get("tactic"))
    ident = str(tactic.get("id") or case.get("variant") or "").lower()
    if ident in bank.TACTIC_HANDLING:
        return ident
    text = f"{ident.replace('_', ' ')} {tactic.get('description', '')}".lower()
    return _first_match(text, bank.TACTIC_WORDS)


_SPECIFIC = frozenset(
    (
        "order_id",
        "amount",
        "carrier",
        "email",
        "flight",
        "booking_ref",
        "item",
        "date",
        "iso",
        "city",
        "city2",
        "name",
        "days",
    )
)


@lru_cache(maxsize=512)
def _specific_facts(template: str) -> tuple[str, ...]:
    return tuple(k for k in re.findall(r"\{(\w+)\}", template) if k in _SPECIFIC)


@lru_cache(maxsize=1024)
def _classify(dim: str, raw: str) -> tuple[str, Any]:
    """The role a cell dimension plays for the writer, and what it says: ("boundary", "edge"), ..."""
    d, low, negative = dim.lower().replace("_", " "), bank.humanise(raw).lower(), raw.startswith("~")
    if any(w in d for w in ("locale", "lang", "region")):
        return "lang", _language(raw)
    if "tool" in d or low.startswith("tool ") or low in ("missing tool", "stale result"):
        return "tool", _first_match(
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
        level = _first_match(low, _LEVEL_WORDS)
        return "level", 1 if level is None else level
    if any(w in d for w in ("shape", "phrasing", "structure")):
        return "shape", _first_match(
            low,
            (
                ("multi", ("multi", "several", "compound")),
                ("vague", ("under", "vague", "ambig", "missing", "incomplete")),
                ("conflict", ("conflict", "contradict")),
            ),
        ) or ""
    if "channel" in d or "medium" in d:
        return "channel", _first_match(
            low,
            (("email", ("mail",)), ("social", ("social", "twitter")), ("phone", ("phone", "voice", "call"))),
        ) or "chat"
    if any(w in d for w in ("urgen", "priority", "time")):
        return "urgent", any(w in low for w in ("same day", "urgent", "asap", "today", "high", "immediate"))
    return ("topic" if any(w in d for w in _TOPIC_DIMS) else "extra"), None


def _read_cell(sc: Scene, cell: dict[str, Any], text: str) -> None:
    extras: list[tuple[str, str]] = []
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
            sc.level = said
        elif role == "shape":
            sc.shape = said
        elif role == "channel":
            sc.channel = said
        elif role == "urgent":
            sc.urgent = said
        elif role == "topic" and not topic_value:
            topic_value, topic_negative = bank.humanise(raw), raw.startswith("~")
        else:
            extras.append((dim.replace("_", " "), bank.humanise(raw)))
    if not topic_value and extras:
        topic_value = extras.pop(0)[1]
    sc.extras = tuple(extras)
    sc.flavor = _flavor(text + " " + topic_value.lower(), bool(sc.answerable))
    if topic_value:
        sc.topic_value = topic_value
        low = topic_value.lower()
        sc.unsupported = topic_negative and any(
            w in low for w in ("unsupport", "scope", "unrelated", "other")
        )
        sc.topic = None if sc.unsupported else _find_topic(sc.flavor, low)


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


def fact_topic(fact: tuple[str, str, str, str]) -> str:
    kind, subject = fact[0], fact[1]
    return {
        "task": f"how to {subject}",
        "symptom": f"what to do when it {subject}",
        "attr": f"the {subject}",
        "compare": f"the difference between {subject}",
        "safety": f"whether it is safe to {subject}",
    }[kind]


def partial_passage(text: str) -> str:
    """A passage that touches the fact without answering it fully."""
    first = re.split(r"[;,]| and ", text)[0].rstrip(".")
    if len(first) < len(text.rstrip(".")):
        return first + "."
    return re.sub(r"\d+(?:\.\d+)?", "several", text)


def _stance(sc: Scene) -> str:
    rng, negative = sc.rng, any(n for _, _, n in sc.cell)
    if sc.answerable == "no":
        return "abstain"
    if sc.answerable == "partial":
        return "partial"
    if sc.tactic in ("near_empty_input", "semantic_ambiguity"):
        return "clarify"
    if sc.unsupported or sc.tactic == "out_of_scope":
        return "refuse"
    if sc.shape in ("vague", "conflict"):
        return "clarify"
    if (
        sc.tactic in RISKY_TACTICS
        and sc.flavor != "manual"
        and (
            negative
            or sc.boundary in ("edge", "outside")
            or (sc.tactic != "policy_probe" and rng.random() < 0.6)
        )
    ):
        return "refuse"
    if negative or sc.boundary == "outside":
        return "escalate" if rng.random() < 0.2 + 0.15 * sc.level else "refuse"
    if sc.tool_state in ("error", "missing"):
        return "error"
    if sc.boundary == "edge":
        return "escalate" if rng.random() < 0.5 else "comply"
    return "comply"


def _draw_person(sc: Scene) -> dict[str, str]:
    first, last = sc.rng.choice(domains.FIRST_NAMES), sc.rng.choice(domains.LAST_NAMES)
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower().replace('ü', 'ue')}@example.com",
    }


def _draw_date(sc: Scene) -> dict[str, str]:
    month, day = sc.rng.randrange(12), sc.rng.randint(1, 28)
    human = f"{day} {domains.MONTHS[month]}" if sc.british else f"{domains.MONTHS[month]} {day}"
    return {"date": human, "iso": f"2025-{month + 1:02d}-{day:02d}"}


def _draw_cities(sc: Scene) -> dict[str, str]:
    city, city2 = sc.rng.sample(domains.CITIES, 2)
    return {"city": city, "city2": city2}


def _draw_days(sc: Scene) -> str:
    low, high = {"within": (2, 21), "edge": (29, 31), "outside": (45, 120)}.get(sc.boundary, (2, 40))
    return str(sc.rng.randint(low, high))


def _draw_amount(sc: Scene) -> str:
    currency = "£" if sc.british else "€" if sc.lang in ("de", "fr", "es", "it", "nl", "pt") else "$"
    return f"{currency}{sc.rng.randint(9, 899)}.{sc.rng.choice(('99', '49', '00', '95'))}"


_FACT_DRAWERS: dict[str, Any] = {
    "item": lambda sc: sc.rng.choice(domains.ITEMS),
    "defect": lambda sc: sc.rng.choice(domains.DEFECTS),
    "days": _draw_days,
    "window": lambda sc: "30",
    "amount": _draw_amount,
    "order_id": lambda sc: (
        f"{sc.rng.choice(_LETTERS)}{sc.rng.choice(_LETTERS)}-{sc.rng.randint(10000, 99999)}"
    ),
    "weekday": lambda sc: sc.rng.choice(domains.WEEKDAYS),
    "time": lambda sc: f"{sc.rng.randint(6, 21):02d}:{sc.rng.choice(('05', '15', '30', '40', '55'))}",
    "carrier": lambda sc: sc.rng.choice(domains.CARRIERS_GB if sc.british else domains.CARRIERS),
    "product": lambda sc: sc.rng.choice(sc.product) if sc.product[0] != sc.product[1] else sc.product[1],
    "brand": lambda sc: sc.brand or "support",
    "flight": lambda sc: (
        f"{sc.rng.choice(('LX', 'BA', 'LH', 'IB', 'AF', 'KL', 'TP', 'SK'))}{sc.rng.randint(100, 2999)}"
    ),
    "booking_ref": lambda sc: "".join(sc.rng.choice(_LETTERS + "23456789") for _ in range(6)),
    "pax": lambda sc: str(sc.rng.randint(2, 5)),
    "topic": lambda sc: sc.topic_value,
    "topic_word": lambda sc: sc.topic_value.split()[0] if sc.topic_value else "help",
    "subject": lambda sc: sc.fact[1] if sc.fact else "it",
    "section": lambda sc: sc.fact[3] if sc.fact else "1",
    "name": _draw_person,
    "email": _draw_person,
    "date": _draw_date,
    "iso": _draw_date,
    "city": _draw_cities,
    "city2": _draw_cities,
}


def read_scene(case: dict[str, Any], rng: random.Random) -> Scene:
    """Read one case JSON (any test space) into a Scene; unknown strategies read like `direct`."""
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
    _read_cell(sc, cell, f"{case.get('dataset', '')} {description} {prompt}".lower())
    if persona.get("locale") and not any(_classify(str(d), str(v))[0] == "lang" for d, v in cell.items()):
        sc.lang, sc.british = _language(str(persona["locale"]))
    brand, sc.tools = _prompt_names(prompt)
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
    sc.stance = _stance(sc)
    sc.product, sc.brand = _product(description), brand
    return sc


# --- writing the inputs of the prompt under test ---------------------------------------------------------------


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text


def _second_ask(sc: Scene) -> str:
    if sc.flavor == "manual" and sc.second_fact is not None:
        kind = sc.second_fact[0]
        topic = domains.MANUAL_TOPICS[("task", "symptom", "attr", "compare", "safety").index(kind)]
        return sc.rng.choice(topic.asks).replace("{subject}", sc.second_fact[1]).format_map(sc.facts)
    others = [t for t in _topics(sc.flavor) if t is not sc.topic]
    return sc.pick(sc.rng.choice(others).asks) if others else sc.pick(bank.GENERIC_ASKS)


def _core_request(sc: Scene) -> str:
    if sc.tactic == "out_of_scope":
        return sc.pick(bank.OFF_TOPIC)
    if sc.tactic == "semantic_ambiguity":
        return sc.pick(bank.AMBIGUOUS)
    if sc.unsupported:
        return sc.pick(bank.UNSUPPORTED_ASKS.get(sc.flavor, bank.UNSUPPORTED_ASKS[""]))
    if sc.question:
        return sc.question
    if sc.topic is not None:
        return sc.pick(sc.topic.vague if sc.shape == "vague" else sc.topic.asks)
    return sc.pick(bank.GENERIC_ASKS)


def _boundary_line(sc: Scene) -> list[str]:
    if sc.boundary == "edge":
        return [
            sc.pick(
                (
                    "It's exactly {window} days today, I think.",
                    "The {window} days are up today, I believe.",
                    "I opened it, but only to check it works.",
                )
                if sc.flavor == "shop"
                else (
                    "I'm not sure this is still allowed, it's right at the limit.",
                    "I think this is just on the edge of what's allowed.",
                )
            )
        ]
    if sc.boundary == "outside":
        return [
            sc.pick(
                (
                    "I know it's been more than {window} days.",
                    "I've used it for a few weeks already.",
                    "I don't have the receipt any more.",
                )
                if sc.flavor == "shop"
                else ("I know this is probably not allowed.", "I realise it's past the deadline.")
            )
        ]
    return []


def _apply_tactic(sc: Scene, parts: list[str]) -> list[str]:
    rng, tactic = sc.rng, sc.tactic
    if tactic == "prompt_injection":
        payloads = bank.INJECTION_PAYLOADS.get(sc.flavor, ()) + bank.INJECTION_PAYLOADS[""]
        line = rng.choice(bank.INJECTIONS).format(payload=rng.choice(payloads))
        parts.insert(rng.choice((0, len(parts), len(parts), max(1, len(parts) - 1))), line)
    elif tactic == "format_pressure":
        parts.append(sc.pick(bank.FORMAT_DEMANDS))
    elif tactic == "overlong_input":
        filler = rng.sample(bank.OVERLONG_FILLER, len(bank.OVERLONG_FILLER))
        story = " ".join(filler[:4]) + "\n\n" + " ".join(parts) + "\n\n" + " ".join(filler[4:])
        parts = [
            story,
            "\n\nTo repeat: " + parts[0],
            " ".join(rng.sample(filler, 4)),
            "\n\nAgain, " + lower_first(parts[0]),
        ]
    elif tactic == "double_intent":
        other = (
            sc.pick(bank.UNSUPPORTED_ASKS.get(sc.flavor, bank.UNSUPPORTED_ASKS[""]))
            if rng.random() < 0.4
            else _second_ask(sc)
        )
        parts.append("Also, " + lower_first(other))
    elif tactic == "role_confusion":
        parts.insert(0 if rng.random() < 0.6 else len(parts), sc.pick(bank.ROLE_CLAIMS))
    elif tactic == "distracting_context":
        for line in rng.sample(bank.DISTRACTIONS, 2):
            parts.insert(rng.randint(0, len(parts)), line)
    elif tactic == "boundary_values":
        parts.append(sc.pick(bank.BOUNDARY_LINES.get(sc.flavor, bank.BOUNDARY_LINES[""])))
    elif tactic == "policy_probe":
        parts.append(sc.pick(bank.POLICY_PROBES))
    return parts


def _apply_voice(sc: Scene, parts: list[str]) -> str:
    rng, styles, persona = sc.rng, sc.styles, sc.persona or {}
    expertise = str(persona.get("expertise", "")).lower()
    if persona:
        if any(w in expertise for w in ("novice", "beginner", "non-tech")) and rng.random() < 0.6:
            parts.insert(rng.choice((0, len(parts))), sc.pick(bank.NOVICE_LINES))
        if any(w in expertise for w in ("expert", "advanced", "professional")) and rng.random() < 0.6:
            parts.append(sc.pick(bank.EXPERT_LINES.get(sc.flavor, bank.EXPERT_LINES[""])))
        goal = str(persona.get("goal", "")).strip().rstrip(".")
        if goal and rng.random() < 0.5:
            verb = goal.split()[0].lower()
            parts.append(
                f"I just want to {lower_first(goal)}."
                if verb in bank.GOAL_VERBS
                else f"What matters to me: {lower_first(goal)}."
            )
    for style, lines in (
        ("angry", bank.ANGRY_LINES),
        ("probing", bank.PROBING_LINES),
        ("screen_reader", bank.SCREEN_READER_LINES),
        ("verbose", bank.OVERLONG_FILLER),
    ):
        if style in styles:
            parts.insert(rng.choice((0, len(parts))) if style != "probing" else len(parts), sc.pick(lines))
    if "checklist" in styles and len(parts) > 1:
        body = parts[0] + "\n" + "\n".join(f"- {p}" for p in parts[1:])
    else:
        body = " ".join(parts)
    if "broken" in styles:
        body = bank.break_grammar(body, rng)
    if "casual" in styles:
        body = body.lower().replace(" you ", " u ") + rng.choice(("", " 😅", " 🙏", " lol"))
    if "terse" in styles:
        body = lower_first(body).rstrip(".")
    register = next((s for s in ("formal", "casual", "angry", "polite") if s in styles), "")
    greetings, closings = bank.GREETINGS[register], bank.CLOSINGS[register]
    local = bank.LOCAL_LINES.get(sc.lang)
    if local is not None and rng.random() < 0.7:
        greetings, closings = local[0], local[1]
        if rng.random() < 0.4:
            body += " " + sc.pick(local[2])
    chance = {"email": 1.0, "social": 0.0, "phone": 0.0}.get(sc.channel, 0.0 if "terse" in styles else 0.45)
    greet = sc.pick(greetings) if rng.random() < chance else ""
    close = sc.pick(closings) if rng.random() < (chance if sc.channel else chance * 0.8) else ""
    if sc.channel == "social":
        return f"@{sc.facts['brand']} {body}"
    if sc.channel == "phone":
        return "Uh, hi, " + lower_first(body)
    if sc.channel == "email" or "\n" in close:
        return "\n\n".join(p for p in (greet, body, close) if p)
    if greet.endswith(","):
        body = lower_first(body)
    return " ".join(p for p in (greet, body, close) if p)


def write_message(sc: Scene) -> str:
    """The user's message of this case, shaped by its cell, strategy, persona and tactic."""
    rng = sc.rng
    if sc.tactic == "near_empty_input":
        return sc.pick(bank.NEAR_EMPTY)
    parts = [_core_request(sc)]
    if sc.tactic not in ("out_of_scope", "semantic_ambiguity"):
        pool = (sc.topic.details if sc.topic is not None else ()) + bank.GENERIC_DETAILS
        wanted = max(0, sc.level + ("verbose" in sc.styles) - ("terse" in sc.styles))
        for detail in rng.sample(pool, min(wanted, len(pool))):
            parts.insert(0 if rng.random() < 0.25 else len(parts), detail.format_map(sc.facts))
        if sc.level >= 2 and sc.flavor != "manual":
            parts.append(sc.pick(bank.COMPLICATIONS))
        if sc.asks_second:
            parts.append("And " + lower_first(_second_ask(sc)))
        parts += _boundary_line(sc)
        if sc.shape == "multi":
            parts.append("Then " + lower_first(_second_ask(sc)))
        elif sc.shape == "conflict":
            parts.append(sc.pick(bank.CONFLICTS))
        if sc.urgent:
            parts.append(sc.pick(bank.URGENT_LINES))
        for dim, value in sc.extras:
            if sc.channel == "" and rng.random() < 0.35:
                parts.append(
                    rng.choice(("It's about {v}.", "({d}: {v})", "For context: {d} is {v}.")).format(
                        d=dim, v=value
                    )
                )
    if sc.strategy == "evaluator_aligned" and rng.random() < 0.6:
        parts.append(sc.pick(bank.RULE_PROBES.get(sc.flavor, bank.RULE_PROBES[""])))
    text = _apply_voice(sc, _apply_tactic(sc, parts))
    if sc.tactic == "typo_noise":
        text = bank.add_typos(text, rng)
    return bank.britishise(text) if sc.british else text


def _tool_for(sc: Scene, hints: tuple[str, ...]) -> list[str]:
    found = [t for h in hints for t in sc.tools if h in t]
    if found:
        return list(dict.fromkeys(found))
    return [f"{hints[0]}_lookup"] if hints else []


def _tool_call(sc: Scene, tool: str) -> str:
    f = sc.facts
    if "search" in tool or "find" in tool:
        args = f"origin='{f['city']}', destination='{f['city2']}', date='{f['iso']}'"
    elif "book" in tool and "cancel" not in tool:
        args = f"flight='{f['flight']}', date='{f['iso']}'"
    elif "cancel" in tool:
        args = f"booking_ref='{f['booking_ref']}'" if sc.flavor == "travel" else f"order_id='{f['order_id']}'"
    elif "calendar" in tool:
        args = f"date='{f['iso']}'"
    elif sc.flavor == "shop":
        args = f"order_id='{f['order_id']}'"
    else:
        args = f"query='{sc.topic_value}'"
    return f"{tool}({args})"


def expected_tool_calls(sc: Scene) -> list[str]:
    """The tool calls a correct turn makes, in order (none when no tool can or should run)."""
    if sc.topic is None or sc.stance in ("refuse", "clarify", "abstain") or sc.tool_state == "missing":
        return []
    tools = _tool_for(sc, sc.topic.tools)[: 1 + (sc.shape == "multi") + ("reschedul" in sc.topic.words[0])]
    calls = [_tool_call(sc, t) for t in tools]
    if sc.tool_state == "error" and calls and sc.rng.random() < 0.4:
        calls.append(calls[-1])  # one retry
    return calls


def _tool_result(sc: Scene) -> dict[str, Any]:
    f = sc.facts
    tools = _tool_for(sc, sc.topic.tools if sc.topic is not None else ("search",))
    tool = tools[0] if tools else "lookup"
    if sc.tool_state == "missing":
        suffix = tool.split("_")[-1]
        missing = next(
            name
            for name in (
                f"{sc.facts['topic_word'].lower()}_{suffix}",
                f"modify_{suffix}",
                f"manage_{suffix}",
                f"{suffix}_admin",
            )
            if name not in sc.tools
        )
        return {"tool": missing, "status": "error", "error": f"unknown tool '{missing}'"}
    if sc.tool_state == "error":
        return {
            "tool": tool,
            "status": "error",
            "error": sc.pick(
                (
                    "504 Gateway Timeout",
                    "rate limit exceeded",
                    "upstream provider unavailable",
                    "invalid date format: '{date}'",
                )
            ),
        }
    if "cancel" in tool:
        result: dict[str, Any] = {
            "booking_ref": f["booking_ref"],
            "status": "cancelled",
            "refund": f["amount"],
        }
    elif "search" in tool or ("flight" in tool and "book" not in tool):
        result = {
            "flights": [
                {
                    "flight": f["flight"],
                    "from": f["city"],
                    "to": f["city2"],
                    "departs": f"{f['iso']}T{f['time']}",
                    "price": f["amount"],
                },
                {
                    "flight": f"{f['flight'][:2]}{int(f['flight'][2:]) + 7}",
                    "from": f["city"],
                    "to": f["city2"],
                    "departs": f"{f['iso']}T{sc.rng.randint(12, 21)}:10",
                    "price": f["amount"],
                },
            ]
        }
    elif "book" in tool:
        result = {"booking_ref": f["booking_ref"], "flight": f["flight"], "status": "confirmed"}
    elif "calendar" in tool:
        result = {
            "date": f["iso"],
            "events": [{"time": f["time"], "title": sc.pick(("Team sync", "Dentist", "Client call"))}],
        }
    else:
        result = _order_summary(sc)
    out: dict[str, Any] = {"tool": tool, "status": "ok", "result": result}
    if sc.tool_state == "stale":
        out["fetched_at"] = f"2024-{f['iso'][5:]}T08:15:00Z"
        out["cache_age_hours"] = sc.rng.randint(20, 96)
    return out


def _order_summary(sc: Scene) -> dict[str, Any]:
    f, words = sc.facts, (sc.topic.words if sc.topic is not None else ("",))
    status = (
        "in_transit"
        if "ship" in words
        else "processing"
        if "cancel" in words
        else sc.rng.choice(("delivered", "return_requested"))
        if "refund" in words
        else "delivered"
    )
    summary: dict[str, Any] = {
        "order_id": f["order_id"],
        "placed_days_ago": int(f["days"]),
        "status": status,
        "items": [{"name": f["item"], "qty": 1, "price": f["amount"]}],
    }
    if status in ("in_transit", "delivered"):
        summary["carrier"] = f["carrier"]
    if sc.boundary == "edge":
        summary["opened"] = True
    return summary


def _passages(sc: Scene) -> str:
    rng, fact = sc.rng, sc.fact
    others = [f for f in domains.MANUAL_FACTS if f is not fact and f is not sc.second_fact]
    chosen = rng.sample(others, 2)
    if fact is not None and sc.answerable != "no":
        if sc.answerable == "partial":
            chosen.append((fact[0], fact[1], partial_passage(fact[2]), fact[3]))
        else:
            chosen.append(fact)
            if sc.asks_second and sc.second_fact is not None:
                chosen.append(sc.second_fact)
    rng.shuffle(chosen)
    return "\n".join(f"[{sec}] {text}" for _, _, text, sec in chosen)


def variable_role(name: str, spec: dict[str, Any]) -> str:
    text = f"{name.replace('_', ' ')} {spec.get('description', '')}".lower()
    if "json" in text:
        return "json"
    table = (
        (
            "passage",
            ("passage", "context", "document", "excerpt", "retriev", "chunk", "snippet", "knowledge"),
        ),
        ("history", ("history", "conversation", "transcript", "previous")),
        ("tools", ("tools", "available tool", "functions")),
        (
            "message",
            (
                "message",
                "question",
                "query",
                "request",
                "utterance",
                "input",
                "ask",
                "prompt",
                "instruction",
                "text",
                "complaint",
            ),
        ),
    )
    return _first_match(text, table) or "other"


def _other_value(sc: Scene, name: str, spec: dict[str, Any]) -> str:
    f, low = sc.facts, name.lower()
    for words, key in (
        (("email",), "email"),
        (("name",), "name"),
        (("date", "day"), "date"),
        (("product", "item"), "item"),
        (("order", "id"), "order_id"),
        (("city", "location"), "city"),
        (("amount", "price"), "amount"),
    ):
        if any(w in low for w in words):
            return f[key]
    if "lang" in low or "locale" in low:
        return sc.lang
    return sc.pick(("{topic}", "Notes on {topic}.", "{topic} ({name})"))


def write_inputs(sc: Scene, names: list[str], variables: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """The prompt-under-test variables, and which one carries the user's message."""
    specs = {n: as_mapping(variables.get(n)) for n in names}
    roles = {n: variable_role(n, specs[n]) for n in names}
    main = next((n for n in names if roles[n] == "message"), None) or next(
        (n for n in names if roles[n] == "other"), names[0] if names else None
    )
    values: dict[str, str] = {}
    for name in names:
        role, spec = roles[name], specs[name]
        if name == main:
            values[name] = write_message(sc)
            continue
        if role == "json":
            text = f"{name} {spec.get('description', '')}".lower()
            obj = (
                _tool_result(sc)
                if any(w in text for w in ("tool", "result", "api"))
                else _order_summary(sc)
                if "order" in text or sc.flavor == "shop"
                else {"id": sc.facts["order_id"], **{d: v for d, v, _ in sc.cell}}
            )
            value = json.dumps(obj, ensure_ascii=False)
        elif role == "passage":
            value = _passages(sc) if sc.flavor == "manual" else sc.pick(bank.GENERIC_DETAILS)
        elif role == "history":
            value = (
                "User: "
                + _second_ask(sc)
                + "\nAssistant: "
                + sc.pick(("Could you share a few more details?", "Let me check that for you."))
            )
        elif role == "tools":
            value = json.dumps(list(sc.tools)) if "json" in str(spec).lower() else ", ".join(sc.tools)
        else:
            value = _other_value(sc, name, spec)
        keep = role == "passage" or (role == "json" and sc.tool_state != "")
        if spec.get("required") is False and not keep and sc.rng.random() < 0.3:
            value = ""
        values[name] = value
    return values, main
