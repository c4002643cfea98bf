"""What the offline LM writes about when a test space matches a known flavour (data/domains.yaml): topic
templates, the product manual behind it, and the concrete names, places and dates a case's facts are drawn
from.

Templates use `str.format_map` fields filled from a case's facts (see `scene.Scene.facts`); the fields are
listed in `text_words`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from compiler.generate.backends.offline.data import load_words


class Topic(NamedTuple):
    """Templates for one kind of request, keyed by words found in a topic value (an intent, a question type)."""

    words: tuple[str, ...]  # substrings of the humanised value that select this topic
    asks: tuple[str, ...]  # the core request
    vague: tuple[str, ...]  # the same request with the identifying details missing
    details: tuple[str, ...]  # extra detail a harder request carries
    actions: tuple[str, ...]  # what a good answer does ("... explains ...")
    keys: tuple[str, ...]  # short facts or steps a good answer contains
    tools: tuple[str, ...] = ()  # words that pick a tool name from the prompt


_W: dict[str, Any] = load_words("domains.yaml")
SHOP_TOPICS: tuple[Topic, ...] = tuple(Topic(**t) for t in _W["shop_topics"])
TRAVEL_TOPICS: tuple[Topic, ...] = tuple(Topic(**t) for t in _W["travel_topics"])
HOTEL_TOPICS: tuple[Topic, ...] = tuple(Topic(**t) for t in _W["hotel_topics"])
GENERIC_TOPICS: tuple[Topic, ...] = tuple(Topic(**t) for t in _W["generic_topics"])
MANUAL_TOPICS: tuple[Topic, ...] = tuple(Topic(**t) for t in _W["manual_topics"])
MANUAL_NUMERIC: tuple[tuple[str, str, str], ...] = _W["manual_numeric"]
MANUAL_FACTS: tuple[tuple[str, str, str, str], ...] = _W["manual_facts"]
ITEMS: tuple[str, ...] = _W["items"]
DEFECTS: tuple[str, ...] = _W["defects"]
PRODUCT_NOUNS: tuple[str, ...] = _W["product_nouns"]
CITIES: tuple[str, ...] = _W["cities"]
FIRST_NAMES: tuple[str, ...] = _W["first_names"]
LAST_NAMES: tuple[str, ...] = _W["last_names"]
CARRIERS: tuple[str, ...] = _W["carriers"]
CARRIERS_GB: tuple[str, ...] = _W["carriers_gb"]
WEEKDAYS: tuple[str, ...] = _W["weekdays"]
MONTHS: tuple[str, ...] = _W["months"]
