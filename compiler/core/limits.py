"""Bounds on what dsc parses from files it did not write: JSON nested this deep is refused, never recursed."""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64  # a trace or curated row nests a handful of levels; 64 leaves room, 2000 is an attack


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
    return value
