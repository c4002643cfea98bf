"""The one column-type registry: each evaluator column type's Python type, polars and Arrow dtype,
Hugging Face feature, DSPy annotation, value check, and the output size the cost estimate assumes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from compiler.core import lazy

if TYPE_CHECKING:  # polars loads when a frame is built, not when a column type is looked up
    import polars as pl


def _is_text(value: Any, values: Sequence[str]) -> bool:
    return isinstance(value, str)


def _is_list(value: Any, values: Sequence[str]) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_enum(value: Any, values: Sequence[str]) -> bool:
    return isinstance(value, str) and value in values


def _is_bool(value: Any, values: Sequence[str]) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any, values: Sequence[str]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any, values: Sequence[str]) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class ColumnType:
    name: str
    python: type
    polars: Callable[[], pl.DataType]
    arrow: str  # pyarrow type name: string, list<string>, bool, int64, float64
    hf_dtype: str  # datasets.Value dtype (a list column is a sequence of it)
    check: Callable[[Any, Sequence[str]], bool]
    output_chars: int  # the answer size the no-call estimate assumes
    expected_form: str  # what a user must give for `--set expected.<column>=...`

    def annotation(self, values: Sequence[str] = ()) -> Any:
        """The DSPy output-field annotation of a column of this type."""
        if self.name == "list":
            return list[str]
        if self.name == "enum":
            return Literal[tuple(values)]
        return self.python

    def accepts(self, value: Any, values: Sequence[str] = ()) -> bool:
        return self.check(value, values)


COLUMN_TYPES: dict[str, ColumnType] = {
    t.name: t
    for t in (
        ColumnType("text", str, lambda: lazy.polars.String(), "string", "string", _is_text, 160, "text"),
        ColumnType(
            "list",
            list,
            lambda: lazy.polars.List(lazy.polars.String()),
            "list<string>",
            "string",
            _is_list,
            110,
            "a list like [a, b]",
        ),
        ColumnType(
            "enum",
            str,
            lambda: lazy.polars.String(),
            "string",
            "string",
            _is_enum,
            12,
            "one of the column's values",
        ),
        ColumnType("bool", bool, lambda: lazy.polars.Boolean(), "bool", "bool", _is_bool, 6, "true or false"),
        ColumnType("int", int, lambda: lazy.polars.Int64(), "int64", "int64", _is_int, 4, "a whole number"),
        ColumnType(
            "number", float, lambda: lazy.polars.Float64(), "float64", "float64", _is_number, 6, "a number"
        ),
    )
}


def column_type(name: str) -> ColumnType:
    """The registered type called `name` (validated specs only hold registered names)."""
    return COLUMN_TYPES[name]
