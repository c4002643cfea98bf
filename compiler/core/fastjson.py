"""Compact JSON bytes, byte for byte what `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`
writes, by orjson (~10x faster) wherever the value lets the two agree.

Journal keys and row ids hash these bytes, so they must never change: orjson writes every code point as
json does, but not every value. It writes floats below 1e-4 otherwise (`1e-9`, `0.00001` for json's
`1e-09`, `1e-05`), NaN and infinities as null, and serialises dataclasses, enums, datetimes and numpy values
natively, where json calls `default` or refuses. Such values (rare: requests and rows hold text, small
ints and sampling floats) take json's own path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

_INT_BOUND = 1 << 63  # orjson refuses ints beyond 64 bits


def _plain(value: Any) -> bool:
    """Whether orjson writes `value` exactly as json does: plain types only, str keys, floats it formats alike."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_INT_BOUND <= value < _INT_BOUND
    if kind is float:
        return value == 0.0 or (math.isfinite(value) and abs(value) >= 1e-4)
    if kind is dict:
        for key, item in value.items():
            # str values (most of every request and row) are settled here, without a call per value
            if type(key) is not str or (type(item) is not str and not _plain(item)):
                return False
        return True
    if kind is list or kind is tuple:
        return all(type(item) is str or _plain(item) for item in value)
    return False


def compact_json(
    value: Any, *, sort_keys: bool = False, default: Callable[[Any], Any] | None = None
) -> bytes:
    """UTF-8 bytes of `json.dumps(value, sort_keys=..., ensure_ascii=False, separators=(",", ":"), default=...)`."""
    try:
        plain = _plain(value)
    except RecursionError:  # deeper than Python's stack: json's path says what it says about it
        plain = False
    if plain:
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
        except orjson.JSONEncodeError:  # lone surrogates, nesting deeper than orjson's limit
            pass
    text = json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), default=default)
    return text.encode("utf-8")
