"""Exports of a version for the tools that run evaluations: each a folder that tool runs with one command.

| format         | main file                       | run with                                              |
|----------------|---------------------------------|-------------------------------------------------------|
| `promptfoo`    | promptfooconfig.yaml            | `promptfoo eval -c promptfooconfig.yaml`              |
| `inspect`      | task.py + samples.jsonl         | `inspect eval task.py --model ...`                    |
| `deepeval`     | goldens.json + run_deepeval.py  | `python run_deepeval.py` (GEval criteria per column)  |
| `openai-evals` | registry/ (evals + data)        | `oaieval <model> <dataset> --registry_path registry`  |
| `hf`           | data/*.parquet + README.md card | `datasets.load_dataset(<folder>)`                     |
| `dspy`         | examples.jsonl + load_examples.py | `dspy.Example` records for an optimizer or evaluate |

Every export also writes a README.md on how to run it. Rows go out sorted by id with stable key order, so
the same version always exports to the same bytes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path

from compiler.core.errors import UsageError
from compiler.core.rows import Row
from compiler.export.folder import choose_folder, write_files
from compiler.versions.manifest import Manifest

Builder = Callable[[Sequence[Row], Manifest], dict[str, bytes]]
# format -> (module, builder): imported on use, so `dsc export --format promptfoo` never loads pyarrow.
FORMATS: dict[str, tuple[str, str]] = {
    "promptfoo": ("compiler.export.promptfoo", "build_promptfoo"),
    "inspect": ("compiler.export.inspect", "build_inspect"),
    "deepeval": ("compiler.export.deepeval", "build_deepeval"),
    "openai-evals": ("compiler.export.openai_evals", "build_openai_evals"),
    "hf": ("compiler.export.hf", "build_hf"),
    "dspy": ("compiler.export.dspy", "build_dspy"),
}


def build_export(rows: Sequence[Row], manifest: Manifest, fmt: str) -> dict[str, bytes]:
    """The export's files (relative path -> bytes) for rows sorted by id."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format `{fmt}`; use one of: {', '.join(sorted(FORMATS))}")
    module, name = FORMATS[fmt]
    builder: Builder = getattr(importlib.import_module(module), name)
    return builder(sorted(rows, key=lambda r: r.id), manifest)


def export_version(
    rows: Sequence[Row], manifest: Manifest, fmt: str, out: Path, *, force: bool = False
) -> Path:
    """Write `rows` as `fmt` into the folder `out` and return the folder written.

    `out` is used when it does not exist, is empty or holds an earlier export of the same format; any other
    folder (the project root, say) gets `<dataset>-<version>-<fmt>/` inside it. A file there that this
    export did not write is never replaced unless `force`.
    """
    files = build_export(rows, manifest, fmt)
    default = f"{manifest.dataset}-{manifest.version}-{fmt}"
    folder = choose_folder(Path(out), default, fmt)
    write_files(folder, files, fmt, force=force)
    return folder
