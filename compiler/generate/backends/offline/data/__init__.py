"""The offline LM's word banks, shipped as package data: YAML read once, lists turned into tuples."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value


@cache
def load_words(name: str) -> dict[str, Any]:
    """The word bank `name` (a YAML file next to this module) with every list as a tuple."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = files(__name__).joinpath(name).read_text(encoding="utf-8")
    return _frozen(yaml.load(text, Loader=loader))
