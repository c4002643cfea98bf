"""The `hf` export's dataset card: the Hub's YAML metadata, then what the dataset is and what each field means."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from compiler.core.rows import Row
from compiler.export.base import Space
from compiler.versions.manifest import Manifest

_FIELD_DOCS = {
    "id": "xxh3-128 content hash of the row (source, strategy, variant, cell, inputs, expected)",
    "source": "synthetic, production, regression or golden",
    "strategy": "generation strategy (direct, persona, adversarial, evaluator_aligned, ...)",
    "variant": "persona or adversarial tactic id, if any",
    "cell": "where the case sits in the test space: one value per dimension, null when the row does not say",
    "inputs": "the values of the prompt's variables: what the system under test receives",
    "expected": "the evaluator columns: what a grader checks the answer against (enums are ClassLabels)",
    "review_status": "human review state of the row",
    "checks": "automatic checks run on the row: name, passed, detail",
    "provenance": "trace id (production rows), hash of the generation prompt, LM identity; curated rows add "
    "their note, reviewer and origin",
}


def card_feature(name: str, feature: Any) -> dict[str, Any]:
    """One feature in the card's `dataset_info.features` notation, from its `Features.to_dict()` form."""
    return {"name": name, **_card_type(feature)}


def _card_type(feature: Any) -> dict[str, Any]:
    if isinstance(feature, Mapping) and "_type" not in feature:
        return {"struct": [card_feature(k, v) for k, v in feature.items()]}
    kind = feature["_type"]
    if kind == "Value":
        return {"dtype": feature["dtype"]}
    if kind == "ClassLabel":
        return {"dtype": {"class_label": {"names": {str(i): n for i, n in enumerate(feature["names"])}}}}
    inner = _card_type(feature["feature"])
    return {"list": inner["dtype"] if set(inner) == {"dtype"} else next(iter(inner.values()))}


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


def _type_name(arrow_type: pa.DataType, feature: Any) -> str:
    if isinstance(feature, Mapping) and feature.get("_type") == "ClassLabel":
        return "class label"
    if pa.types.is_struct(arrow_type):
        return "struct"
    if pa.types.is_list(arrow_type):
        return "list"
    return str(arrow_type).replace("double", "float64")


def dataset_card(
    manifest: Manifest,
    rows: Sequence[Row],
    space: Space,
    schema: pa.Schema,
    features: Mapping[str, Any],
) -> str:
    """README.md of the folder; no `splits` in the metadata (a hand-written one is what makes loads warn)."""
    import yaml

    config = manifest.config
    front = {
        "license": "other",
        "pretty_name": space.dataset,
        "tags": ["dsc", "evaluation", "synthetic", "llm-testing"],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(len(rows))],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
        "dataset_info": {"features": [card_feature(k, v) for k, v in features.items()]},
    }
    lines = [
        "---",
        "# license: a placeholder; set the dataset's real license before publishing it",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=110).rstrip(),
        "---",
        "",
        f"# {space.dataset}",
        "",
        space.description,
        "",
        f"Compiled by dsc {manifest.dsc_version}: version `{space.version}` "
        f"(parent `{manifest.parent or 'none'}`), {len(rows)} rows, seed {manifest.seed}, "
        f"LM `{manifest.lm.identity or manifest.lm.model}`, config hash `{manifest.config_hash}`.",
        "",
        "## Fields",
        "",
        "| field | type | meaning |",
        "|---|---|---|",
    ]
    docs = _field_docs(config, space)
    for field in schema:
        lines.append(
            f"| `{field.name}` | {_type_name(field.type, features[field.name])} | "
            f"{_cell(_FIELD_DOCS.get(field.name, ''))} |"
        )
        if pa.types.is_struct(field.type) and field.name in ("cell", "inputs", "expected"):
            for child in field.type:
                feature = features[field.name][child.name]
                lines.append(
                    f"| `{field.name}.{child.name}` | {_type_name(child.type, feature)} | "
                    f"{_cell(docs.get((field.name, child.name), ''))} |"
                )
    strategies: dict[str, int] = {}
    for row in rows:
        key = row.strategy or row.source
        strategies[key] = strategies.get(key, 0) + 1
    lines += ["", "## Composition", "", "| strategy or source | rows |", "|---|---|"]
    lines += [f"| {_cell(k)} | {v} |" for k, v in sorted(strategies.items())]
    enums = [c for c in space.columns if c.kind == "enum"]
    example = (
        [f'names = cases.features["expected"]["{enums[0].name}"].names  # {", ".join(enums[0].values)}']
        if enums
        else []
    )
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        'cases = load_dataset("path/to/this/folder", split="train")',
        *example,
        "```",
        "",
        "## License",
        "",
        "Not set yet: replace `license: other` in the front matter with the real license.",
        "",
    ]
    return "\n".join(lines)


def _field_docs(config: Mapping[str, Any], space: Space) -> dict[tuple[str, str], str]:
    docs: dict[tuple[str, str], str] = {}
    for name, raw in (config.get("dimensions") or {}).items():
        spec = raw if isinstance(raw, Mapping) and "values" in raw else {"values": raw}
        values = spec["values"]
        listed = ", ".join(str(v) for v in (values if not isinstance(values, Mapping) else values.keys()))
        docs["cell", str(name)] = f"{spec.get('description') or ''} Values: {listed}.".strip()
    for name, spec in ((config.get("prompt") or {}).get("variables") or {}).items():
        docs["inputs", str(name)] = str((spec or {}).get("description") or "")
    for column in space.columns:
        extra = f" Classes: {', '.join(column.values)}." if column.values else ""
        docs["expected", column.name] = f"{column.description}{extra}".strip()
    return docs


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
