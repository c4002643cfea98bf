"""Make's no-op for compiles: a fingerprint of everything a version depends on, checked before planning.

The fingerprint covers the resolved config (catalogues and LM settings included), every template, the
curated rows and production traces (their bytes), the review decisions, the dataset's versions index
(earlier versions are existing coverage) and dsc itself (its version and the bytes of its code and
built-in files). `<journal_dir>/fingerprints/<dataset>.json` maps fingerprints to versions; a mapping is
used only when its version folder is whole and passes `dsc verify`'s checks, else the compile runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from compiler.core.atomic import write_atomic
from compiler.core.build import dsc_build
from compiler.core.errors import StoreError
from compiler.spec.model import Spec
from compiler.spec.project import BUILTIN, Project
from compiler.versions.manifest import Manifest
from compiler.versions.paths import INDEX, MANIFEST, Version, dataset_dir, read_index, version_id

if TYPE_CHECKING:  # the compile itself (dspy and all) is imported only when there is work to do
    from compiler.pipeline.compile import CompileResult
    from compiler.pipeline.context import ProgressCallback

KEEP = 32  # fingerprints remembered per dataset
PLANS_KEEP = 8  # printed plans remembered per dataset


@dataclass(frozen=True)
class Unchanged:
    """A compile found unchanged from its fingerprint: nothing planned, generated or written."""

    spec: Spec
    version: Version
    manifest: Manifest
    seconds: float


def _input_files(project: Project, spec: Spec) -> list[Path]:
    """Every file the version may read. A superset is safe (it only recompiles more often), and globbing
    here keeps the no-op free of polars, numpy and jinja imports."""
    files = sorted((BUILTIN / "templates").glob("*.j2")) + sorted(project.templates_dir.glob("*.j2"))
    curated = Path(spec.datasets_dir) / spec.name
    files += sorted(p for p in curated.rglob("*") if p.is_file()) if curated.is_dir() else []
    files += [Path(source.path) for source in (spec.sources.curated if spec.sources is not None else ())]
    production = spec.sources.production if spec.sources is not None else None
    files += list(production.files) if production is not None else []
    files.append(Path(spec.reviews_dir) / f"{spec.name}.jsonl")
    files.append(dataset_dir(spec.out_dir, spec.name) / INDEX)
    return files


def fingerprint(project: Project, spec: Spec) -> str:
    """One hash over everything the version of this spec depends on."""
    digest = xxhash.xxh3_128(dsc_build().encode())
    digest.update(json.dumps(spec.resolved, sort_keys=True, default=str).encode())
    for path in _input_files(project, spec):
        resolved = path if path.is_absolute() else project.root / path
        content = resolved.read_bytes() if resolved.is_file() else b"\0missing"
        digest.update(f"\0{resolved}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


def _store(spec: Spec) -> Path:
    return Path(spec.journal_dir) / "fingerprints" / f"{spec.name}.json"


def _remembered(spec: Spec) -> dict[str, str]:
    try:
        data = json.loads(_store(spec).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet, or damaged: the compile runs and writes a fresh one
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def find_unchanged(project: Project, spec: Spec) -> Unchanged | None:
    """The version this exact input compiled to before, if it is still on disk and intact."""
    if spec.shard.count > 1 or "DSC_INDEX_CUTOFF" in os.environ:
        return None
    started = time.perf_counter()
    version_id = _remembered(spec).get(fingerprint(project, spec))
    if version_id is None:
        return None
    folder = dataset_dir(spec.out_dir, spec.name)
    manifest = intact_manifest(folder, version_id)
    if manifest is None:
        return None  # missing or damaged: never trusted, the compile runs
    return Unchanged(
        spec, Version(spec.name, version_id, folder / version_id), manifest, time.perf_counter() - started
    )


def intact_manifest(folder: Path, version: str) -> Manifest | None:
    """The version's manifest if its files hash as the manifest and the index record them, else None."""
    try:
        manifest_bytes = (folder / version / MANIFEST).read_bytes()
        manifest = Manifest.from_json(json.loads(manifest_bytes))
        entry = next((e for e in reversed(read_index(folder)) if e.get("version") == version), None)
        if entry is None or entry.get("manifest_hash") != xxhash.xxh3_64_hexdigest(manifest_bytes):
            return None
        if not manifest.files:
            return None
        for name, expected in manifest.files.items():
            content = (folder / version / name).read_bytes()
            if xxhash.xxh3_64_hexdigest(content) != expected:
                return None
            if name == "cases.jsonl" and version_id(content) != version:
                return None
    except (OSError, ValueError, StoreError):
        return None
    return manifest


def remember(project: Project, spec: Spec, version: Version) -> None:
    """Map the inputs as they are now (the version's own index entry included) to the version."""
    known = _remembered(spec)
    key = fingerprint(project, spec)
    if known.get(key) == version.version:
        return
    known.pop(key, None)
    known[key] = version.version
    kept = dict(list(known.items())[-KEEP:])
    write_atomic(_store(spec), (json.dumps(kept, indent=1) + "\n").encode())


def compile_or_reuse(
    overrides: Sequence[str], project: Project, spec: Spec, on_progress: ProgressCallback | None = None
) -> CompileResult | Unchanged:
    """`compile_dataset`, skipped entirely when the fingerprint names an intact version."""
    found = find_unchanged(project, spec)
    if found is not None:
        return found
    from compiler.pipeline.compile import compile_dataset

    result = compile_dataset(overrides, project=project, spec=spec, on_progress=on_progress)
    if result.shard is None and not result.failures and "DSC_INDEX_CUTOFF" not in os.environ:
        remember(project, spec, result.version)  # the spec as loaded, before evidence adjusts weights
    return result


def plan_key(project: Project, spec: Spec, variant: str) -> str | None:
    """The key of `dsc plan`'s output: the compile's fingerprint (every input of the plan is an input of
    the version) and the output form. None where the fingerprint is not trusted for a compile either."""
    if spec.shard.count > 1 or "DSC_INDEX_CUTOFF" in os.environ:
        return None
    return xxhash.xxh3_128_hexdigest(f"plan-1\0{variant}\0{fingerprint(project, spec)}".encode())


def _plans(spec: Spec) -> Path:
    return Path(spec.journal_dir) / "plans" / f"{spec.name}.json"


def _remembered_plans(spec: Spec) -> dict[str, Any]:
    try:
        data = json.loads(_plans(spec).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recall_plan(spec: Spec, key: str) -> tuple[str, str] | None:
    """The plan printed (stdout, stderr) for exactly these inputs before, if remembered."""
    entry = _remembered_plans(spec).get(key)
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("out", "err")):
        return None
    return entry["out"], entry["err"]


def remember_plan(spec: Spec, key: str, out: str, err: str) -> None:
    known = _remembered_plans(spec)
    known.pop(key, None)
    known[key] = {"out": out, "err": err}
    with contextlib.suppress(OSError):  # a read-only journal plans every time
        write_atomic(_plans(spec), (json.dumps(dict(list(known.items())[-PLANS_KEEP:])) + "\n").encode())
