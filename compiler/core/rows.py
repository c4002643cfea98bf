"""The dataset row: its schema, canonical form and content id (xxh3-128 over canonical JSON)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import xxhash

from compiler.core.fastjson import compact_json

ROW_KEYS = (
    "id",
    "source",
    "strategy",
    "variant",
    "cell",
    "inputs",
    "expected",
    "review_status",
    "checks",
    "provenance",
)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, str):
        # = re.sub(r"\s+", " ", NFC(value)).strip(), the form ids have always hashed (str.split and re's \s
        # agree on what whitespace is), at a third of the cost: most texts are NFC already
        if not unicodedata.is_normalized("NFC", value):
            value = unicodedata.normalize("NFC", value)
        return " ".join(value.split())
    if isinstance(value, dict):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    return value


def canonical_json(content: dict[str, Any]) -> bytes:
    """Sorted keys, Unicode NFC, collapsed whitespace: rows that differ only in spacing share an id."""
    return compact_json(_canonical_value(content), sort_keys=True)


def compute_row_id(
    source: str,
    strategy: str | None,
    variant: str | None,
    cell: dict[str, str],
    inputs: dict[str, Any],
    expected: dict[str, Any],
) -> str:
    content = {
        "source": source,
        "strategy": strategy,
        "variant": variant,
        "cell": cell,
        "inputs": inputs,
        "expected": expected,
    }
    return xxhash.xxh3_128_hexdigest(canonical_json(content))


@dataclass(frozen=True)
class Row:
    id: str
    source: str
    strategy: str | None
    variant: str | None
    cell: dict[str, str]
    inputs: dict[str, Any]
    expected: dict[str, Any]
    review_status: str = "pending"
    checks: tuple[dict[str, Any], ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def build(
        source: str,
        strategy: str | None,
        variant: str | None,
        cell: dict[str, str],
        inputs: dict[str, Any],
        expected: dict[str, Any],
        provenance: dict[str, Any],
        review_status: str = "pending",
        checks: tuple[dict[str, Any], ...] = (),
    ) -> Row:
        row_id = compute_row_id(source, strategy, variant, cell, inputs, expected)
        return Row(
            row_id, source, strategy, variant, cell, inputs, expected, review_status, checks, provenance
        )

    def expected_id(self) -> str:
        return compute_row_id(self.source, self.strategy, self.variant, self.cell, self.inputs, self.expected)

    def headline(self, limit: int) -> str:
        """The row in one line for listings: its longest input (the message rather than a short field such
        as a plan name), whitespace collapsed, cut to `limit` characters."""
        values = [str(v) for v in self.inputs.values() if v is not None]
        return " ".join(max(values, key=len, default="").split())[:limit]

    def to_json(self) -> str:
        """One line of cases.jsonl: keys in the DESIGN order, nested keys in their schema order."""
        data = {key: getattr(self, key) for key in ROW_KEYS}
        data["checks"] = list(self.checks)
        return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))

    @staticmethod
    def from_json(line: str | bytes) -> Row:
        return Row.from_dict(json.loads(line))

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Row:
        """A row from its parsed JSON; KeyError names a missing field."""
        return Row(
            data["id"],
            data["source"],
            data["strategy"],
            data["variant"],
            data["cell"],
            data["inputs"],
            data["expected"],
            data.get("review_status", "pending"),
            tuple(data.get("checks") or ()),
            data.get("provenance") or {},
        )
