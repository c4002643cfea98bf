"""What one render of user text may cost: a step budget, and every text's size checked before it is built.

A template is user input: without limits, nested loops or a macro calling itself twice run for hours, and
`a ~ a` in a chain of `set`s, `"{:>9999999999}".format(x)`, `big|replace("x", big)` or printing a list
repeated a million times each allocate gigabytes while the rendered text stays short. So one render gets
`MAX_STEPS` steps (a loop iteration is one, a call or a filter more, a filter over n items n / 8 more), and
each operation that can make a text larger than its inputs first estimates the size it would build, from
its inputs, and refuses one over `MAX_TEXT` characters. The sandbox (`sandbox.BoundedSandbox`) calls these checks.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.utils import pass_eval_context

MAX_TEXT = 1_000_000  # characters of one text (a list counts the characters it prints as)
MAX_STEPS = 10_000_000  # steps of one render: about a second of work
# A loop iteration is a step; a call (a macro's costs ~40 loop iterations) and a filter cost more.
CALL_STEPS, FILTER_STEPS, PRINT_STEPS = 32, 8, 4
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")
_BUDGET: ContextVar[list[int] | None] = ContextVar("dsc_render_budget", default=None)


@contextmanager
def render_budget() -> Iterator[None]:
    """MAX_STEPS steps for the render inside (an include or macro shares its template's budget)."""
    token = _BUDGET.set([MAX_STEPS]) if _BUDGET.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _BUDGET.reset(token)


def spend(steps: int) -> None:
    """Take steps from this render's budget; outside a dsc render (no budget) nothing is counted."""
    budget = _BUDGET.get()
    if budget is None:
        return
    budget[0] -= steps
    if budget[0] < 0:
        raise SecurityError(
            f"the template takes over {MAX_STEPS:,} steps (loop iterations, calls, filtered items) in one "
            "render; a template may not"
        )


def check_size(what: str, size: int, steps: int = 0) -> None:
    """Refuse a text over MAX_TEXT; one that fits costs `steps` and a step per 8 characters (texts add up)."""
    if size > MAX_TEXT:
        raise SecurityError(f"{what} would build {size:,} characters, over {MAX_TEXT:,}; a template may not")
    spend(steps + size // 8)


def text_size(value: Any, memo: dict[int, int] | None = None) -> int:
    """About how many characters `str(value)` has, without building it (a list's elements counted once)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    if isinstance(value, float):
        return 24
    if not isinstance(value, list | tuple | set | frozenset | dict):
        return 32
    memo = {} if memo is None else memo
    known = memo.get(id(value))
    if known is not None:
        return known
    items: Iterable[Any] = (x for kv in value.items() for x in kv) if isinstance(value, dict) else value
    size = 2 + sum(text_size(item, memo) + 2 for item in items)
    memo[id(value)] = size
    return size


def counted(iterable: Iterable[Any]) -> Iterator[Any]:
    """A for loop's items, one step each."""
    for item in iterable:
        spend(1)
        yield item


@pass_eval_context
def bounded_concat(eval_ctx: Any, parts: Sequence[Any]) -> str:
    """`a ~ b ~ c`, refused before joining when the text would be over MAX_TEXT."""
    memo: dict[int, int] = {}
    size = sum(text_size(part, memo) for part in parts)
    check_size("`~`", size)
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


def printf_size(template: str, values: Any) -> int:
    """Largest text `template % values` (or `template|format(...)`) can make: fields x the widest input."""
    fields = _PRINTF.findall(template)
    items = list(values.values()) if isinstance(values, Mapping) else values
    items = list(items) if isinstance(items, tuple | list) else [items]
    widths = [int(w) for field in fields for w in field if w.isdigit()]
    if any("*" in field for field in fields):
        widths += [abs(x) for x in items if isinstance(x, int) and not isinstance(x, bool)]
    memo: dict[int, int] = {}
    widest = max([0, *widths, *(text_size(x, memo) for x in items)])
    return len(template) + len(fields) * widest


def str_format_size(template: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """Largest text `template.format(*args, **kwargs)` can make: fields x the widest input or width."""
    values = [*args, *kwargs.values()]
    fields, widths = 0, []
    for _, field, spec, _ in string.Formatter().parse(template):
        fields += field is not None
        widths += [int(d) for d in _DIGITS.findall(spec or "")]
        if spec and "{" in spec:  # a width from an argument
            widths += [abs(x) for x in values if isinstance(x, int) and not isinstance(x, bool)]
    memo: dict[int, int] = {}
    widest = max([0, *widths, *(text_size(x, memo) for x in values)])
    return len(template) + fields * widest


def replaced_size(text: str, old: str, new: str, count: int | None = None) -> int:
    hits = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def joined_size(items: Sequence[Any], separator: Any) -> int:
    memo: dict[int, int] = {}
    return sum(text_size(x, memo) for x in items) + max(0, len(items) - 1) * text_size(separator)


def _number(value: Any) -> int:
    return abs(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _width_of(value: Any, width: Any = 80, *_: Any) -> int:
    return max(len(str(value)), _number(width))


def _indented_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    text = str(value)
    unit = len(width) if isinstance(width, str) else _number(width)
    return len(text) + (text.count("\n") + 1) * unit


def _str_method_size(text: str, name: str, args: tuple[Any, ...]) -> int:
    """The largest text a str method called from a template builds (0: it never grows its input)."""
    if name in ("center", "ljust", "rjust", "zfill") and args:
        return max(len(text), _number(args[0]))
    if name == "expandtabs":
        return len(text) + text.count("\t") * _number(args[0] if args else 8)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        return replaced_size(text, args[0], args[1], args[2] if len(args) > 2 else None)
    if name == "join" and args and isinstance(args[0], list | tuple):
        return joined_size(args[0], text)
    return 0


def check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Steps for a call from a template; a str method's output is sized first (returns the args to use)."""
    spend(CALL_STEPS)
    method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format in its own formatter
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(method, "__name__", "")
    if name in ("format", "format_map"):
        values = args[0] if name == "format_map" and args and isinstance(args[0], Mapping) else kwargs
        check_size(f"str.{name}", str_format_size(owner, args if name == "format" else (), values))
    elif name == "join" and args and not isinstance(args[0], str | list | tuple):
        args = (list(counted(args[0])), *args[1:])  # a generator: count it once, then size it
    check_size(f"str.{name}", _str_method_size(owner, name, args))
    return args


# Filters that can build a text larger than their input: how large, from their arguments.
_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": _width_of,
    "indent": _indented_size,
    "format": lambda value, *args, **kwargs: printf_size(str(value), kwargs or args),
    "replace": lambda value, old="", new="", count=None: replaced_size(str(value), str(old), str(new), count),
    "batch": lambda value, linecount=1, *_: _number(linecount),
    "slice": lambda value, slices=1, *_: _number(slices),
    "join": lambda value, d="", *_: joined_size(value, d) if isinstance(value, list | tuple) else 0,
}
# Filters whose output is the text of their input (a list printed, escaped or serialised).
_STRINGIFYING = frozenset(("string", "pprint", "tojson", "e", "escape", "forceescape", "urlencode", "safe"))


def size_filter_input(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """Steps for a filter over its input's items, and its output's size checked before it runs.

    Returns the input to filter: `join` of a generator gets it as a list, counted once, so it can be sized.
    """
    if name == "join" and not isinstance(value, str | list | tuple | dict):
        value = list(counted(value))
    spend(FILTER_STEPS + (len(value) if isinstance(value, str | list | tuple | dict) else 0) // 8)
    estimate = _FILTER_SIZES.get(name)
    if estimate is not None:
        check_size(f"`{name}`", estimate(value, *args, **kwargs))
    elif name in _STRINGIFYING:
        check_size(f"`{name}`", text_size(value))
    return value
