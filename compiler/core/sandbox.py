"""The one Jinja environment dsc renders user text with: sandboxed, immutable, bounded and reproducible.

Templates and the prompt under test are user input, so they render in Jinja's immutable sandbox. On top of
what the sandbox refuses (attributes of internals, ranges over 100,000 items), a template can neither make
dsc allocate without bound nor run without end (`render_limits`): `*`, `+`, `~`, `%`, `str.format`, the str
methods and filters that grow a text (`center`, `indent`, `replace`, `join`, `format`, ...) and every
printed value are sized before they are built and refused over `MAX_TEXT` characters, `*` and `**` may not
build a number over `MAX_POWER_BITS` bits, and loop iterations, calls and filtered items share a budget of
`MAX_STEPS` per render. Jinja also ships two sources of randomness, the `random` filter and the `lipsum`
global; either would make the same config give different datasets, so neither is available (a template
picks with `case.slot` instead).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from compiler.core.render_limits import (
    MAX_TEXT,
    PRINT_STEPS,
    bounded_concat,
    check_call,
    check_size,
    counted,
    printf_size,
    render_budget,
    size_filter_input,
    spend,
    text_size,
)

NOT_REPRODUCIBLE = {"random": "filter", "lipsum": "function"}
MAX_POWER_BITS = 1 << 16  # ~20,000 decimal digits
_OPERATORS = {"*": operator.mul, "**": operator.pow, "+": operator.add, "%": operator.mod}
_COUNTED, _CONCAT = "dsc_counted", "dsc_concat"  # the filters the metered code calls
_DICT_ATTRIBUTES = frozenset(dir(dict))  # a plain dict has no attributes of its own beyond its class's
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None), tuple, list, dict})  # never a str.format


def _operation_size(name: str, left: Any, right: Any) -> int:
    """Characters of the text `left <name> right` builds (0 for numbers)."""
    if name == "%" and isinstance(left, str):
        return printf_size(left, right)
    if name == "+" and isinstance(left, str | list | tuple) and type(left) is type(right):
        return text_size(left) + text_size(right)
    if name == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(count, int):
                return text_size(seq) * max(count, 0)
    return 0


def _number_bits(name: str, left: Any, right: Any) -> float:
    if type(left) is not int or type(right) is not int:  # bools and other numbers never grow without bound
        return 0.0
    if name == "*":
        return left.bit_length() + right.bit_length()
    if name == "**" and right > 0 and abs(left) > 1:
        return right * math.log2(abs(left))
    return 0.0


class BoundedTemplate(Template):
    """A template rendered within one render's step budget, its text at most MAX_TEXT characters."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        with render_budget():
            text = super().render(*args, **kwargs)
        if len(text) > MAX_TEXT:
            raise SecurityError(f"the rendered text is {len(text):,} characters, over {MAX_TEXT:,}")
        return text


class _Meter(NodeTransformer):
    """Every for loop's items counted, every `~` sized before it joins."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _COUNTED, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(parts, _CONCAT, [], [], None, None, lineno=node.lineno)


class _MeteredCodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
        _Meter().visit(node)
        node.set_environment(self.environment)
        super().visit_Template(node, frame)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox within `render_limits`' bounds (see the module's docstring)."""

    intercepted_binops = frozenset(_OPERATORS)
    template_class = BoundedTemplate
    code_generator_class = _MeteredCodeGenerator

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        check_size(f"`{operator_name}`", _operation_size(operator_name, left, right))
        if _number_bits(operator_name, left, right) > MAX_POWER_BITS:
            raise SecurityError(
                f"`{operator_name}` would build a number over {MAX_POWER_BITS:,} bits; a template may not"
            )
        return _OPERATORS[operator_name](left, right)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._safe: dict[tuple[type, str], bool] = {}

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`x.name` as the sandbox resolves it; on a plain dict, a name that is not an attribute of `dict`
        can only be an item (the sandbox tries the attribute first, finds none, then the item)."""
        if type(obj) is dict and type(attribute) is str and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        if self._safe.get((type(obj), attribute)):  # an attribute found safe before: its value if plain
            value = getattr(obj, attribute, _PLAIN_VALUES)
            if type(value) in _PLAIN_VALUES:
                return value
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's verdict, which depends only on the object's type and the attribute's name, kept."""
        key = (type(obj), attr)
        safe = self._safe.get(key)
        if safe is None:
            safe = self._safe[key] = super().is_safe_attribute(obj, attr, value)
        return safe

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        args = check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def _metered(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that pays for its input and has its output sized before it runs."""
    skip = 0 if getattr(function, "jinja_pass_arg", None) is None else 1  # context / environment first

    @functools.wraps(function)
    def metered(*args: Any, **kwargs: Any) -> Any:
        if len(args) > skip:
            value = size_filter_input(name, args[skip], args[skip + 1 :], kwargs)
            args = (*args[:skip], value, *args[skip + 1 :])
        return function(*args, **kwargs)

    return metered


def _printed(value: Any) -> Any:
    """Every value a template prints: sized (a list repeated a million times is not turned into text)."""
    if type(value) is str and len(value) < 64:  # the common case, without the size estimate's calls
        spend(PRINT_STEPS)
    else:
        check_size("printing a value", len(value) if type(value) is str else text_size(value), PRINT_STEPS)
    return value


def sandboxed_environment(**options: Any) -> BoundedSandbox:
    env = BoundedSandbox(finalize=_printed, **options)
    env.filters.pop("random", None)
    env.globals.pop("lipsum", None)
    env.filters = {name: _metered(name, function) for name, function in env.filters.items()}
    env.filters[_COUNTED] = counted
    env.filters[_CONCAT] = bounded_concat
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
