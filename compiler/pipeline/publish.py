"""The last stage: a version's files, built in full, then handed to the store to publish whole."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from compiler.core.rows import Row
from compiler.generate.templates import template_hashes
from compiler.pipeline.context import CompileContext
from compiler.pipeline.stages import Generation, drop_records, program_hash
from compiler.plan.cases import Plan
from compiler.report.html import render_report
from compiler.sources.gather import SourceBundle
from compiler.spec.model import Spec
from compiler.versions.lineage import PLAN, plan_bytes
from compiler.versions.manifest import BuildRecord, build_manifest
from compiler.versions.store import (
    CASES,
    MANIFEST,
    PARQUET,
    Version,
    dataset_dir,
    find_version,
    latest_version,
    parquet_bytes,
    publish_version,
    render_cases,
    version_id,
)


def latest_manifest(spec: Spec) -> dict[str, Any] | None:
    """The newest version's manifest (production evidence compares against it), or None."""
    folder = dataset_dir(spec.out_dir, spec.name)
    latest = latest_version(folder)
    path = folder / latest / MANIFEST if latest else None
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None


def publish(
    ctx: CompileContext, plan: Plan, bundle: SourceBundle, generation: Generation, rows: Sequence[Row]
) -> tuple[Version, bool]:
    """The version of these rows: found unchanged, or built (manifest, drops, report) and published whole."""
    spec = ctx.spec
    cases = render_cases(rows)
    version = version_id(cases)
    found = find_version(spec, version)
    if found is not None:
        return found, False
    record = BuildRecord(
        version=version,
        parent=latest_version(dataset_dir(spec.out_dir, spec.name)),
        rows=rows,
        selection=generation.selection,
        screened=generation.screened,
        counts=generation.counts,
        rounds=generation.rounds,
        failures=generation.failures,
        program_hash=program_hash(ctx),
        templates=template_hashes(ctx.project.templates_dir, [s.name for s in spec.strategies]),
        lm_identity=ctx.lm.identity,
        stats=ctx.lm.stats,
    )
    manifest = build_manifest(spec, plan, record)
    manifest.update(bundle.manifest)
    if generation.privacy:
        manifest["privacy"] = {"generated": dict(sorted(generation.privacy.items()))}
    drops = drop_records(ctx, generation, rows)
    dimensions = [(d.name, [v.name for v in d.values]) for d in spec.dimensions]
    files = {
        CASES: cases,
        PARQUET: parquet_bytes(spec, rows),
        "drops.jsonl": "".join(
            json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in drops
        ).encode(),
        "report.html": render_report(manifest, list(rows), drops, dimensions),
        PLAN: plan_bytes(plan),  # seeds the next compile's plan (stable plans)
    }
    return publish_version(spec, version, files, manifest)
