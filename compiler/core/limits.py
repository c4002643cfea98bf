"""Bounds on what dsc parses from files it did not write: JSON nested this deep is refused, never recursed."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64  # a trace or curated row nests a handful of levels; 64 leaves room, 2000 is an attack
# JSON may spell half of a UTF-16 pair on its own ("\\ud83d", a string cut inside an emoji by a logger or
# a broken tokenizer); json.loads keeps it, and it can never be written as UTF-8
_LONE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> str | None:
    """The first lone UTF-16 surrogate in a text, or None (the text can be written as UTF-8)."""
    found = _LONE_SURROGATE.search(text)
    return found.group() if found is not None else None


def mend_text(text: str) -> str:
    """The text with each lone UTF-16 surrogate replaced by U+FFFD, as a UTF-8 decoder does with bad bytes."""
    return _LONE_SURROGATE.sub("\ufffd", text) if _LONE_SURROGATE.search(text) else text


def _mend(value: Any) -> Any:
    if isinstance(value, str):
        return mend_text(value)
    if isinstance(value, dict):
        return {mend_text(k): _mend(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mend(v) for v in value]
    return value


class NestingError(ValueError):
    """A JSON value nests deeper than MAX_JSON_DEPTH (or deeper than Python's parser can go)."""


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep a parsed JSON value nests, counted without recursion and stopping past `limit`."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def load_json(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with a depth bound: NestingError past `limit`, ValueError for text that is not JSON."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise NestingError(f"nests deeper than {limit} levels") from None
    opening = (
        text.count(b"[") + text.count(b"{") if isinstance(text, bytes) else text.count("[") + text.count("{")
    )
    if opening > limit and json_depth(value, limit) > limit:
        raise NestingError(f"nests deeper than {limit} levels")
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return _mend(value) if _LONE_ESCAPE.search(raw) else value
