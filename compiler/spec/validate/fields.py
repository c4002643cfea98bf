"""The pieces of one validation pass: the problem list (with each key's file and line) and single-field checks."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.spec.model import Dimension, Origins


class Problems:
    """Every problem of a config, each as `file:line: key.path: message`."""

    def __init__(self, origins: Origins) -> None:
        self.origins = origins
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.origins.where(path)}: {path}: {message}")


def parse_mapping(problems: Problems, path: str, raw: Any, what: str) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    problems.add(path, f"expected {what}, got {type(raw).__name__} {raw!r}")
    return {}


def check_keys(problems: Problems, path: str, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            hint = closest_name(str(key), allowed)
            fix = f"did you mean `{hint}`?" if hint else f"allowed keys: {', '.join(allowed)}"
            if " " in str(key) and raw[key] is None:  # `{description: a, b}`: YAML cut the value at a comma
                fix = "a comma inside {...} ended the value before it; put that value in double quotes"
            problems.add(f"{path}.{key}" if path else str(key), f"unknown key; {fix}")


def closest_name(word: str, options: Any) -> str | None:
    matches = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Range:
    """The values a number may take: [low, high], or (low, high] when `low_open`; None is unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False


def parse_number(
    problems: Problems, path: str, raw: Any, *, integer: bool = False, within: Range = Range()
) -> Any:
    """The number at `path` if it is one and within range, else None with the problem recorded."""
    kind = "a whole number" if integer else "a number"
    low, high, low_open = within.low, within.high, within.low_open
    if isinstance(raw, str) and _reads_as_number(raw, integer):
        key = path.rsplit(".", 1)[-1]
        problems.add(
            path, f"must be {kind}, got the quoted text {raw!r}; drop the quotes: {key}: {raw.strip()}"
        )
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (integer and not isinstance(raw, int)):
        problems.add(path, f"must be {kind}, got {raw!r}")
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        problems.add(path, f"must be a finite number, got {raw!r}")
        return None
    if low is not None and (raw <= low if low_open else raw < low):
        problems.add(path, f"must be {'>' if low_open else '>='} {low:g}, got {raw!r}")
        return None
    if high is not None and raw > high:
        fraction = percent_as_fraction(raw) if high == 1 else None
        hint = f"; it is a fraction, e.g. {fraction:g} for {raw:g}%" if fraction is not None else ""
        problems.add(path, f"must be <= {high:g}, got {raw!r}{hint}")
        return None
    return raw


def percent_as_fraction(value: float) -> float | None:
    """The fraction a 0..1 setting written as a percentage likely means (`near: 80` -> 0.8), or None."""
    return value / 100 if 2 <= value <= 100 else None


def _reads_as_number(text: str, integer: bool) -> bool:
    """Whether quoted YAML text is a number written in quotes (`size: "40"`)."""
    try:
        value = float(text)
    except ValueError:
        return False
    whole = value.is_integer() and "." not in text and "e" not in text.lower()
    return math.isfinite(value) and (whole or not integer)


def parse_text(problems: Problems, path: str, raw: Any, *, required: bool = True) -> str:
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or (required and not raw.strip()):
        problems.add(path, f"must be a non-empty string, got {raw!r}")
        return ""
    return raw


def resolve_value_name(dim: Dimension, written: str) -> str | None:
    """Accept `outside_policy` for `~outside_policy` in constraints and includes."""
    for value in dim.values:
        if written in (value.name, value.name.lstrip("~")):
            return value.name
    return None
