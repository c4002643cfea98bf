"""compact_json writes json.dumps's exact bytes (journal keys and row ids hash them), whatever the value."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.core.fastjson import compact_json

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=24,
)


def _json(value: object, sort_keys: bool, default: object = None) -> bytes:
    text = json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), default=default)
    return text.encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(_values, st.booleans())
def test_the_bytes_are_json_dumps_bytes(value: object, sort_keys: bool) -> None:
    try:
        expected = _json(value, sort_keys)
    except UnicodeEncodeError:  # a lone surrogate: both refuse it alike
        try:
            compact_json(value, sort_keys=sort_keys)
        except UnicodeEncodeError:
            return
        raise AssertionError("compact_json accepted a lone surrogate json.dumps refuses") from None
    assert compact_json(value, sort_keys=sort_keys) == expected


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


def test_values_orjson_writes_otherwise_take_jsons_path() -> None:
    odd = {
        "small": [1e-05, 1e-09, -3.2e-7, 9.99e-5],
        "special": [float("nan"), float("inf")],
        "big": 2**70,
        "tuple": (1, "a"),
        "nested": {"é": {"日本": [0.0001, -0.0]}},
        "when": datetime.datetime(2026, 12, 7, 10, 0),
        "enum": Colour.RED,
        "point": Point(1),
    }
    assert compact_json(odd, sort_keys=True, default=str) == _json(odd, True, default=str)
    assert b'"when":"2026-12-07 10:00:00"' in compact_json(odd, default=str)  # str(), not orjson's ISO form
    assert compact_json({1: "int key"}) == _json({1: "int key"}, False)
