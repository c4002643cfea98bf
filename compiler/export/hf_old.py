"""The `hf` export: a folder that `datasets.load_dataset(<folder>)` and the Hugging Face Hub read as is.

<out>/README.md                              dataset card: YAML front matter (configs, features) + prose
<out>/data/train-00000-of-00001.parquet      the rows, typed like cases.parquet
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from compiler.export.formats import evaluator_columns, prompt_variables
from compiler.core.rows import Row

DATA_FILE = "data/train-00000-of-00001.parquet"
_COLUMN_TYPES = {
    "text": pa.string(),
    "list": pa.list_(pa.string()),
    "enum": pa.string(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "number": pa.float64(),
}
_FIELD_DOCS = {
    "id": "xxh3-128 content hash of the row (source, strategy, variant, cell, inputs, expected)",
    "source": "synthetic, production, regression or golden",
    "strategy": "generation strategy (direct, persona, adversarial, evaluator_aligned, ...)",
    "variant": "persona or adversarial tactic id, if any",
    "cell": "where the case sits in the test space: one value per dimension",
    "inputs": "the values of the prompt's variables: what the system under test receives",
    "expected": "the evaluator columns: what a grader checks the answer against",
    "review_status": "human review state of the row",
    "checks": "automatic checks run on the row: name, passed, detail",
    "provenance": "trace id (production rows), hash of the generation prompt, LM identity",
}


def write_hf_folder(rows: Sequence[Row], manifest: Mapping[str, Any], out: Path) -> Path:
    """Write the Parquet shard and the card into a staging folder, then move each file into `out` atomically."""
    schema = arrow_schema(manifest, rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        (staging / "data").mkdir(parents=True)
        table = pa.Table.from_pylist([_record(row, schema) for row in rows], schema=schema)
        pq.write_table(table, staging / DATA_FILE, compression="zstd", write_statistics=False)
        (staging / "README.md").write_bytes(dataset_card(manifest, rows, schema).encode("utf-8"))
        if not out.exists():
            os.rename(staging, out)
            return out
        for name in (DATA_FILE, "README.md"):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def arrow_schema(manifest: Mapping[str, Any], rows: Sequence[Row]) -> pa.Schema:
    """The schema of cases.parquet, rebuilt from the manifest's config (dimensions, variables, columns)."""
    config = manifest.get("config") or {}
    dims = [str(d) for d in config.get("dimensions") or {}] or sorted({d for r in rows for d in r.cell})
    columns = evaluator_columns(manifest, rows)
    strings = pa.string()
    return pa.schema(
        [
            ("id", strings),
            ("source", strings),
            ("strategy", strings),
            ("variant", strings),
            ("cell", pa.struct([(d, strings) for d in dims])),
            ("inputs", pa.struct([(v, strings) for v in prompt_variables(manifest, rows)])),
            (
                "expected",
                pa.struct(
                    [(c, _COLUMN_TYPES.get(s.get("type", "text"), strings)) for c, s in columns.items()]
                ),
            ),
            ("review_status", strings),
            ("checks", pa.list_(pa.struct([("name", strings), ("passed", pa.bool_()), ("detail", strings)]))),
            ("provenance", pa.struct([("trace_id", strings), ("prompt_hash", strings), ("lm", strings)])),
        ]
    )


def _record(row: Row, schema: pa.Schema) -> dict[str, Any]:
    def pick(value: Mapping[str, Any], field: str) -> dict[str, Any]:
        return {f.name: value.get(f.name) for f in schema.field(field).type}

    return {
        "id": row.id,
        "source": row.source,
        "strategy": row.strategy,
        "variant": row.variant,
        "cell": pick(row.cell, "cell"),
        "inputs": pick(row.inputs, "inputs"),
        "expected": pick(row.expected, "expected"),
        "review_status": row.review_status,
        "checks": [
            {"name": c.get("name"), "passed": c.get("passed"), "detail": c.get("detail")} for c in row.checks
        ],
        "provenance": pick(row.provenance, "provenance"),
    }


def _feature(arrow_type: pa.DataType) -> dict[str, Any]:
    """A field type in the card's `dataset_info.features` notation (datasets >= 4)."""
    if pa.types.is_struct(arrow_type):
        return {"struct": [{"name": f.name, **_feature(f.type)} for f in arrow_type]}
    if pa.types.is_list(arrow_type):
        inner = _feature(arrow_type.value_type)
        return {"list": inner["dtype"] if set(inner) == {"dtype"} else next(iter(inner.values()))}
    return {
        "dtype": {"double": "float64", "float": "float32", "halffloat": "float16"}.get(
            str(arrow_type), str(arrow_type)
        )
    }


def _type_name(arrow_type: pa.DataType) -> str:
    if pa.types.is_struct(arrow_type):
        return "struct"
    if pa.types.is_list(arrow_type):
        return f"list of {_type_name(arrow_type.value_type)}"
    return str(_feature(arrow_type)["dtype"])


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return label
    return "1M<n<10M"


def dataset_card(manifest: Mapping[str, Any], rows: Sequence[Row], schema: pa.Schema) -> str:
    """README.md: the Hub's YAML metadata, then what the dataset is, how it was built and what each field means."""
    import yaml

    config = manifest.get("config") or {}
    name = str(manifest.get("dataset") or "dataset")
    front = {
        "license": "other",
        "pretty_name": name,
        "tags": ["dsc", "evaluation", "synthetic", "llm-testing"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(len(rows))],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
        "dataset_info": {
            "features": [{"name": f.name, **_feature(f.type)} for f in schema],
            "splits": [{"name": "train", "num_examples": len(rows)}],
        },
    }
    lines = [
        "---",
        "# license: a placeholder; set the dataset's real license before publishing it",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=110).rstrip(),
        "---",
        "",
        f"# {name}",
        "",
        str(config.get("description") or "").strip(),
        "",
    ]
    lm = manifest.get("lm") or {}
    lines += [
        f"Compiled by dsc {manifest.get('dsc_version', '')}: version `{manifest.get('version')}` "
        f"(parent `{manifest.get('parent') or 'none'}`), {len(rows)} rows, seed {manifest.get('seed')}, "
        f"LM `{lm.get('identity') or lm.get('model')}`, config hash `{manifest.get('config_hash')}`.",
        "",
    ]
    lines += ["## Fields", "", "| field | type | meaning |", "|---|---|---|"]
    docs = _field_docs(config)
    for field in schema:
        lines.append(
            f"| `{field.name}` | {_type_name(field.type)} | {_cell(_FIELD_DOCS.get(field.name, ''))} |"
        )
        if pa.types.is_struct(field.type) and field.name in ("cell", "inputs", "expected"):
            for child in field.type:
                lines.append(
                    f"| `{field.name}.{child.name}` | {_type_name(child.type)} | "
                    f"{_cell(docs.get((field.name, child.name), ''))} |"
                )
    lines += ["", "## Composition", "", "| strategy | rows |", "|---|---|"]
    strategies: dict[str, int] = {}
    for row in rows:
        strategies[row.strategy or "-"] = strategies.get(row.strategy or "-", 0) + 1
    lines += [f"| {_cell(k)} | {v} |" for k, v in sorted(strategies.items())]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'cases = load_dataset("path/to/this/folder", split="train")',
        "```",
        "",
        "## License",
        "",
        "Not set yet: replace `license: other` in the front matter with the real license.",
        "",
    ]
    return "\n".join(lines)


def _field_docs(config: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    docs: dict[tuple[str, str], str] = {}
    for name, raw in (config.get("dimensions") or {}).items():
        spec = raw if isinstance(raw, Mapping) and "values" in raw else {"values": raw}
        values = spec["values"]
        listed = ", ".join(str(v) for v in (values if not isinstance(values, Mapping) else values.keys()))
        docs["cell", str(name)] = f"{spec.get('description') or ''} Values: {listed}.".strip()
    for name, spec in ((config.get("prompt") or {}).get("variables") or {}).items():
        docs["inputs", str(name)] = str((spec or {}).get("description") or "")
    for name, spec in (config.get("columns") or {}).items():
        extra = (
            f" One of: {', '.join(str(v) for v in spec.get('values') or ())}." if spec.get("values") else ""
        )
        docs["expected", str(name)] = f"{spec.get('description') or ''}{extra}".strip()
    return docs


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
