"""Hugging Face datasets: a folder that `datasets.load_dataset(<folder>)` and the Hub read as is, no warning.

<out>/README.md                              dataset card: YAML front matter (configs, features) + prose
<out>/data/train-00000-of-00001.parquet      the rows; enum columns as ClassLabel, provenance kept whole
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from compiler.core.rows import Row
from compiler.export.base import Column, Space, read_space
from compiler.export.hf_card import dataset_card
from compiler.versions.manifest import Manifest

DATA_FILE = "data/train-00000-of-00001.parquet"
_SCALARS = {"text": pa.string(), "bool": pa.bool_(), "int": pa.int64(), "number": pa.float64()}
_PROVENANCE = ("trace_id", "prompt_hash", "lm")


def build_hf(rows: Sequence[Row], manifest: Manifest) -> dict[str, bytes]:
    space = read_space(manifest, rows)
    provenance = provenance_keys(rows)
    schema = arrow_schema(space, provenance)
    features = hf_features(space, provenance)
    # datasets reads the features from this key too, so `load_dataset("parquet", ...)` gets the ClassLabels
    schema = schema.with_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    table = pa.Table.from_pylist([record(row, space, provenance) for row in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=False)
    return {
        DATA_FILE: sink.getvalue().to_pybytes(),
        "README.md": dataset_card(manifest, rows, space, schema, features).encode("utf-8"),
    }


def provenance_keys(rows: Sequence[Row]) -> list[str]:
    """The provenance fields of every row: generated rows' three, then what curated rows add (their note)."""
    return [*_PROVENANCE, *sorted({k for r in rows for k in r.provenance} - set(_PROVENANCE))]


def _column_type(column: Column) -> pa.DataType:
    if column.kind == "list":
        return pa.list_(pa.string())
    if column.kind == "enum":
        return pa.int64()  # a ClassLabel: the index into the column's values
    return _SCALARS.get(column.kind, pa.string())


def arrow_schema(space: Space, provenance: Sequence[str]) -> pa.Schema:
    strings = pa.string()
    return pa.schema(
        [
            ("id", strings),
            ("source", strings),
            ("strategy", strings),
            ("variant", strings),
            ("cell", pa.struct([(d, strings) for d in space.dimensions])),
            ("inputs", pa.struct([(v, strings) for v in space.variables])),
            ("expected", pa.struct([(c.name, _column_type(c)) for c in space.columns])),
            ("review_status", strings),
            ("checks", pa.list_(pa.struct([("name", strings), ("passed", pa.bool_()), ("detail", strings)]))),
            ("provenance", pa.struct([(k, strings) for k in provenance])),
        ]
    )


def hf_features(space: Space, provenance: Sequence[str]) -> dict[str, Any]:
    """The `datasets.Features` as its JSON form (`Features.to_dict()`): ClassLabel for every enum column."""

    def value(dtype: str) -> dict[str, Any]:
        return {"dtype": dtype, "_type": "Value"}

    strings = value("string")
    scalar = {"text": strings, "bool": value("bool"), "int": value("int64"), "number": value("float64")}

    def column(c: Column) -> dict[str, Any]:
        if c.kind == "enum":
            return {"names": list(c.values), "_type": "ClassLabel"}
        if c.kind == "list":
            return {"feature": strings, "_type": "List"}
        return scalar.get(c.kind, strings)

    check = {"name": strings, "passed": value("bool"), "detail": strings}
    return {
        "id": strings,
        "source": strings,
        "strategy": strings,
        "variant": strings,
        "cell": {d: strings for d in space.dimensions},
        "inputs": {v: strings for v in space.variables},
        "expected": {c.name: column(c) for c in space.columns},
        "review_status": strings,
        "checks": {"feature": check, "_type": "List"},
        "provenance": {k: strings for k in provenance},
    }


def record(row: Row, space: Space, provenance: Sequence[str]) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for c in space.columns:
        value = row.expected.get(c.name)
        if c.kind == "enum" and value is not None:
            value = c.values.index(str(value)) if str(value) in c.values else None
        expected[c.name] = value
    return {
        "id": row.id,
        "source": row.source,
        "strategy": row.strategy,
        "variant": row.variant,
        "cell": {d: row.cell.get(d) for d in space.dimensions},
        "inputs": {v: row.inputs.get(v) for v in space.variables},
        "expected": expected,
        "review_status": row.review_status,
        "checks": [
            {"name": c.get("name"), "passed": c.get("passed"), "detail": c.get("detail")} for c in row.checks
        ],
        "provenance": {
            k: None if row.provenance.get(k) is None else str(row.provenance[k]) for k in provenance
        },
    }
