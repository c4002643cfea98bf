"""The one Jinja environment dsc renders user text with: sandboxed, immutable, bounded and reproducible.

Templates and the prompt under test are user input, so they render in Jinja's immutable sandbox. On top of
what the sandbox refuses (attributes of internals, ranges over 100,000 items), a template cannot make dsc
allocate without bound: `*` and `+` may not build a text or list over `MAX_TEXT` items, nor `*` and `**` a
number over `MAX_POWER_BITS` bits, the width filters (`center`, `indent`, `format`) take widths up to
`MAX_TEXT`, and a rendered text over `MAX_TEXT` characters is refused. Jinja also ships two sources of
randomness, the `random` filter and the `lipsum` global; either would make the same config give different
datasets, so neither is available (a template picks with `case.slot` instead).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from typing import Any

from jinja2 import Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOT_REPRODUCIBLE = {"random": "filter", "lipsum": "function"}
MAX_TEXT = 1_000_000  # characters of one rendered text, items of one repeated list
MAX_POWER_BITS = 1 << 16  # ~20,000 decimal digits
_OPERATORS = {"*": operator.mul, "**": operator.pow, "+": operator.add}
_WIDTH = re.compile(r"%[-+ #0]*(\d+)?(?:\.(\d+))?")


def _repeat_size(left: Any, right: Any) -> int:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * max(count, 0)
    return 0


def _joined_size(left: Any, right: Any) -> int:
    both = (left, right)
    if all(isinstance(x, str) for x in both) or all(isinstance(x, list | tuple) for x in both):
        return len(left) + len(right)
    return 0


def _product_bits(left: Any, right: Any) -> int:
    if isinstance(left, int) and isinstance(right, int):
        return left.bit_length() + right.bit_length()
    return 0


def _power_bits(base: Any, exponent: Any) -> float:
    if isinstance(base, bool) or isinstance(exponent, bool):
        return 0.0
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        return exponent * math.log2(abs(base))
    return 0.0


class BoundedTemplate(Template):
    """A template whose rendered text is at most MAX_TEXT characters."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        text = super().render(*args, **kwargs)
        if len(text) > MAX_TEXT:
            raise SecurityError(f"the rendered text is {len(text):,} characters, over {MAX_TEXT:,}")
        return text


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with `*`, `+` and `**` bounded and every rendered text at most MAX_TEXT long."""

    intercepted_binops = frozenset(_OPERATORS)
    template_class = BoundedTemplate

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if max(_repeat_size(left, right), _joined_size(left, right)) > MAX_TEXT:
            raise SecurityError(
                f"`{operator_name}` would build more than {MAX_TEXT:,} items; a template may not"
            )
        bits = _power_bits(left, right) if operator_name == "**" else _product_bits(left, right)
        if bits > MAX_POWER_BITS:
            raise SecurityError(
                f"`{operator_name}` would build a number over {MAX_POWER_BITS:,} bits; a template may not"
            )
        return _OPERATORS[operator_name](left, right)


def _bounded_width(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        widths = [a for a in (*args, *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        if name == "format" and isinstance(value, str):
            widths += [int(w) for match in _WIDTH.finditer(value) for w in match.groups() if w]
        if any(abs(w) > MAX_TEXT for w in widths):
            raise SecurityError(f"`{name}` with a width over {MAX_TEXT:,}; a template may not")
        return function(value, *args, **kwargs)

    return bounded


def sandboxed_environment(**options: Any) -> BoundedSandbox:
    env = BoundedSandbox(**options)
    env.filters.pop("random", None)
    env.globals.pop("lipsum", None)
    for name in ("center", "indent", "format"):
        env.filters[name] = _bounded_width(name, env.filters[name])
    return env


def one_line(exc: BaseException) -> str:
    """An error raised while rendering user text, as a short single line for a dsc message."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


def reproducibility_hint(message: str) -> str:
    """Why a filter or name Jinja users know is missing, for an error that mentions one."""
    for name, kind in NOT_REPRODUCIBLE.items():
        if f"'{name}'" in message or f"`{name}`" in message:
            return (
                f" (dsc removes Jinja's `{name}` {kind} so that a compile is reproducible; pick by the case, "
                "e.g. `items[case.slot % items|length]`)"
            )
    return ""
