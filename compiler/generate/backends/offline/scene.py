"""The `Scene` the offline LM makes of one case, and the facts it draws on demand.

A scene holds the case's cell read into roles, its voice and the stance a good answer takes (`offline_read`
fills it from the case JSON). Its facts, the concrete names, numbers and dates a template cites, are drawn
from the scene's `random.Random` the first time a template asks for one, so the order of the draws is part
of the output and must not change.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from compiler.generate.backends.offline import domain_words as domains

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
    level_known: bool = False  # a difficulty or severity dimension set `level`
    boundary: str = ""  # within | edge | outside
    answerable: str = ""  # yes | partial | no
    tool_state: str = ""  # ok | error | missing | stale
    shape: str = ""  # multi | vague | conflict | leading
    channel: str = ""
    urgent: bool = False
    lang: str = "en"
    british: bool = False
    extras: tuple[tuple[str, str, bool], ...] = ()  # (dimension, humanised value, negative)
    notes: dict[str, str] = field(default_factory=dict)  # dimension -> its description
    given: list[tuple[str, str]] = field(
        default_factory=list
    )  # (variable, value) picked from its description
    tools: tuple[str, ...] = ()
    fact: tuple[str, str, str, str] | None = None
    second_fact: tuple[str, str, str, str] | None = None
    question: str = ""  # manual: a ready-made question, when the difficulty calls for one
    asks_second: bool = False  # manual: the question also asks about `second_fact`
    computed: str = ""  # manual: the worked answer to a numeric question
    stance: str = "comply"  # comply | refuse | escalate | clarify | abstain | partial | error
    stance_asked: bool = False  # the stance is what a user's strategy template asks for in its task
    listed: dict[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # "tables orders, customers" -> table: ...
    can_escalate: bool = True  # the columns can say "escalate" (an enum value or a flag)
    verdict: str | None = None  # the stance the verdict column's value stands for, once it is written
    product: tuple[str, str] = ("device", "device")  # (full name, noun)
    written: str = ""  # the inputs as written, so the columns only cite facts the inputs mention
    brand: str = ""
    facts: _Facts = field(init=False)

    def __post_init__(self) -> None:
        self.facts = _Facts(self)

    @property
    def pressed(self) -> bool:
        """Whether the case pushes against the assistant: a negative value in its cell, or a tactic."""
        return any(negative for _, _, negative in self.cell) or self.tactic is not None

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        """One of `options`, with the case's facts filled in."""
        return self.rng.choice(options).format_map(self.facts)

    def mentions(self, template: str) -> bool:
        """Whether every specific fact `template` cites appears in the written inputs."""
        return all(self.facts[key] in self.written for key in _specific_facts(template))


def flavor_topics(flavor: str) -> tuple[domains.Topic, ...]:
    """The topics of a flavour (none for a generic case: it writes from the test space alone)."""
    return {
        "shop": domains.SHOP_TOPICS,
        "travel": domains.TRAVEL_TOPICS,
        "manual": domains.MANUAL_TOPICS,
    }.get(flavor, ())


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
