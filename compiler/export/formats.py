"""Exports of a version for the tools that run evaluations, each in the form that tool loads unchanged.

| format         | file                               | loaded by                                         |
|----------------|------------------------------------|---------------------------------------------------|
| `promptfoo`    | test cases, YAML (or JSON)         | `tests: file://<file>` in promptfooconfig.yaml    |
| `deepeval`     | goldens, JSON array                | `EvaluationDataset().add_goldens_from_json_file`  |
| `inspect`      | samples, JSONL                     | `inspect_ai.dataset.json_dataset`                 |
| `openai-evals` | samples, JSONL (`input`, `ideal`)  | an `evals` registry entry's `samples_jsonl`       |
| `hf`           | Parquet folder with a dataset card | `datasets.load_dataset(<folder>)`                 |

Rows go out sorted by id with stable key order, and every file is written to a temporary name and renamed,
so the same version always exports to the same bytes and a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from compiler.core.errors import UsageError
from compiler.core.rows import Row


def export_targets(manifest: Mapping[str, Any], fmt: str, out: Path) -> tuple[Path, list[Path]]:
    """Where an export of `fmt` to `out` goes, and every file it will write there."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format `{fmt}`; use one of: {', '.join(sorted(FORMATS))}")
    suffix = FORMATS[fmt][0]
    target = Path(out)
    default = f"{manifest.get('dataset', 'dataset')}-{manifest.get('version', 'version')}-{fmt}{suffix}"
    if fmt == "hf":
        from compiler.export.hf import DATA_FILE

        if target.is_dir() and any(target.iterdir()) and not (target / DATA_FILE).is_file():
            target = target / default
        return target, [target / DATA_FILE, target / "README.md"]
    if target.is_dir():
        target = target / default
    return target, [target]


def export_version(rows: list[Row], manifest: dict[str, Any], fmt: str, out: Path) -> Path:
    """Write `rows` as `fmt` to `out`; an existing folder gets `<dataset>-<version>-<fmt>[.ext]` inside it.

    For `hf`, `out` is the dataset folder itself when it does not exist yet, is empty, or is an earlier `hf`
    export (re-exported in place); any other folder (the project root, say) gets a new folder inside it.
    """
    target, _ = export_targets(manifest, fmt, out)
    ordered = sorted(rows, key=lambda r: r.id)
    if fmt == "hf":
        from compiler.export.hf import write_hf_folder

        return write_hf_folder(ordered, manifest, target)
    write_atomic(target, FORMATS[fmt][1](ordered, manifest, target.suffix))
    return target


def write_atomic(path: Path, content: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: the file appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with temp.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


# What a version's manifest says about the prompt under test and the evaluator columns.


def prompt_variables(manifest: Mapping[str, Any], rows: Sequence[Row] = ()) -> list[str]:
    """The prompt's variables in declaration order (from the rows when the manifest has no config)."""
    declared = ((manifest.get("config") or {}).get("prompt") or {}).get("variables") or {}
    names = [str(name) for name in declared]
    return names or sorted({name for row in rows for name in row.inputs})


def primary_variable(manifest: Mapping[str, Any], rows: Sequence[Row] = ()) -> str:
    """The case's main input (the user's message, question or request): the first required variable."""
    declared = ((manifest.get("config") or {}).get("prompt") or {}).get("variables") or {}
    required = [str(n) for n, v in declared.items() if not isinstance(v, Mapping) or v.get("required", True)]
    names = required or prompt_variables(manifest, rows)
    return names[0] if names else "input"


def evaluator_columns(manifest: Mapping[str, Any], rows: Sequence[Row] = ()) -> dict[str, dict[str, Any]]:
    """Column name -> {type, description, values}, in declaration order."""
    declared = (manifest.get("config") or {}).get("columns") or {}
    if declared:
        return {str(name): dict(spec or {}) for name, spec in declared.items()}
    return {name: {"type": "text"} for name in sorted({n for row in rows for n in row.expected})}


def reference_text(row: Row, columns: Mapping[str, Mapping[str, Any]]) -> str:
    """The expected answer as one string: the first text column (e.g. expected_behavior, reference_answer)."""
    for name, spec in columns.items():
        if spec.get("type", "text") == "text" and row.expected.get(name):
            return str(row.expected[name])
    return "; ".join(f"{k}: {_plain(v)}" for k, v in row.expected.items())


def render_prompt(manifest: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
    """The prompt under test with this case's inputs filled in: exactly what the model under test reads."""
    text = ((manifest.get("config") or {}).get("prompt") or {}).get("text")
    if not text:
        return "\n".join(f"{k}: {v}" for k, v in inputs.items() if v not in (None, ""))
    values = {name: "" for name in prompt_variables(manifest)} | dict(inputs)
    return str(_prompt_template(str(text)).render(values)).strip()


@lru_cache(maxsize=8)
def _prompt_template(text: str) -> Any:
    """Compiled once per prompt text: compiling dominates rendering on large versions."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    return env.from_string(text)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _cell_label(cell: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items())


def row_metadata(row: Row, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Where a case came from, so a failing case leads back to its row, cell and version."""
    meta: dict[str, Any] = {
        "id": row.id,
        "dataset": manifest.get("dataset"),
        "version": manifest.get("version"),
        "source": row.source,
        "strategy": row.strategy,
        "variant": row.variant,
        "cell": _cell_label(row.cell),
        "review_status": row.review_status,
    }
    for name, value in row.cell.items():  # flat too: promptfoo's --filter-metadata intent=refund
        meta.setdefault(name, value)
    return {k: v for k, v in meta.items() if v is not None}


def _jsonl(records: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


# promptfoo: https://www.promptfoo.dev/docs/configuration/test-cases/


def promptfoo_tests(rows: Sequence[Row], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """promptfoo test cases: vars = the prompt's variables, one graded assertion per evaluator column."""
    variables = prompt_variables(manifest, rows)
    columns = evaluator_columns(manifest, rows)
    tests = []
    for row in rows:
        kind = row.strategy + (f"/{row.variant}" if row.variant else "") if row.strategy else row.source
        tests.append(
            {
                "description": f"{kind}: {_cell_label(row.cell)}",
                "vars": {
                    name: "" if row.inputs.get(name) is None else str(row.inputs[name]) for name in variables
                },
                "assert": [
                    a
                    for name, spec in columns.items()
                    if (a := _assertion(name, spec, row.expected.get(name)))
                ],
                "metadata": row_metadata(row, manifest),
            }
        )
    return tests


def _assertion(name: str, spec: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    """One `llm-rubric` per column: generated expectations describe content, they are rarely verbatim text."""
    if value is None or value == "" or value == []:
        return None
    about = str(spec.get("description") or name).rstrip(". ")
    kind = spec.get("type", "text")
    if kind == "text":
        rubric = f"{about}: {value}"
    elif kind == "list":
        items = "\n".join(f"- {item}" for item in value)
        rubric = f"{about}. The response covers each of these, in substance if not verbatim:\n{items}"
    elif kind == "enum":
        options = ", ".join(str(v) for v in spec.get("values") or ())
        rubric = f"{about}. The correct choice here is `{value}`" + (
            f" (one of: {options})." if options else "."
        )
    else:
        rubric = f"{about}. Expected: {_plain(value)}."
    return {"type": "llm-rubric", "value": rubric, "metric": name}


def _encode_promptfoo(rows: Sequence[Row], manifest: Mapping[str, Any], suffix: str) -> bytes:
    tests = promptfoo_tests(rows, manifest)
    if suffix == ".json":
        return (json.dumps(tests, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    import yaml

    # libyaml's emitter when present (six times faster on 10k rows); both write YAML that loads the same.
    class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        pass

    def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None  # multi-line rubrics and messages stay readable
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _text)
    head = (
        f"# promptfoo test cases: {manifest.get('dataset')} version {manifest.get('version')}, "
        f"{len(tests)} test{'' if len(tests) == 1 else 's'}, exported by dsc.\n# Use them with `tests: file://<this file>` in promptfooconfig.yaml; "
        "the prompt under test is config.prompt.text in the version's manifest.json.\n"
    )
    body = yaml.dump(tests, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return (head + body).encode("utf-8")


# DeepEval: https://deepeval.com/docs/evaluation-datasets


def deepeval_goldens(rows: Sequence[Row], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Goldens: input = the main variable, context = the other variables, expected_output = the reference."""
    primary = primary_variable(manifest, rows)
    others = [name for name in prompt_variables(manifest, rows) if name != primary]
    columns = evaluator_columns(manifest, rows)
    return [
        {
            "input": str(row.inputs.get(primary) or ""),
            "expected_output": reference_text(row, columns),
            "context": [str(row.inputs[name]) for name in others if row.inputs.get(name) not in (None, "")]
            or None,
            "name": row.id,
            "additional_metadata": row_metadata(row, manifest)
            | {"inputs": row.inputs, "expected": row.expected},
        }
        for row in rows
    ]


def _encode_deepeval(rows: Sequence[Row], manifest: Mapping[str, Any], suffix: str) -> bytes:
    goldens = deepeval_goldens(rows, manifest)
    if suffix == ".jsonl":
        return _jsonl(goldens)
    return (json.dumps(goldens, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# Inspect AI: https://inspect.aisi.org.uk/datasets.html


def inspect_samples(rows: Sequence[Row], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Samples: input = the rendered prompt, target = the reference, metadata = cell, strategy and expectations."""
    columns = evaluator_columns(manifest, rows)
    return [
        {
            "id": row.id,
            "input": render_prompt(manifest, row.inputs),
            "target": reference_text(row, columns),
            "metadata": row_metadata(row, manifest) | {"inputs": row.inputs, "expected": row.expected},
        }
        for row in rows
    ]


# OpenAI evals: https://github.com/openai/evals/blob/main/docs/build-eval.md


def openai_evals_samples(rows: Sequence[Row], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Chat samples: the rendered prompt as the user turn (it already holds the case), ideal = the reference."""
    columns = evaluator_columns(manifest, rows)
    return [
        {
            "input": [{"role": "user", "content": render_prompt(manifest, row.inputs)}],
            "ideal": reference_text(row, columns),
            "id": row.id,
            "metadata": row_metadata(row, manifest) | {"expected": row.expected},
        }
        for row in rows
    ]


Encoder = Callable[[Sequence[Row], Mapping[str, Any], str], bytes]
FORMATS: dict[str, tuple[str, Encoder]] = {
    "promptfoo": (".yaml", _encode_promptfoo),
    "deepeval": (".json", _encode_deepeval),
    "inspect": (".jsonl", lambda rows, manifest, _: _jsonl(inspect_samples(rows, manifest))),
    "openai-evals": (".jsonl", lambda rows, manifest, _: _jsonl(openai_evals_samples(rows, manifest))),
    "hf": ("", lambda rows, manifest, _: b""),  # a folder: written by compiler.export.hf
}
