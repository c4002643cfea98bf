"""The last stage: a version's files, built in full, then handed to the store to publish whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from compiler.core.rows import Row
from compiler.generate.templates import template_hashes
from compiler.pipeline.context import CompileContext
from compiler.pipeline.stages import Generation, drop_records, program_hash
from compiler.plan.cases import Plan
from compiler.report.html import render_report
from compiler.sources.gather import SourceBundle
from compiler.versions.build import BuildRecord, build_manifest
from compiler.versions.lineage import PLAN, plan_bytes
from compiler.versions.repair import reindex, remove_stale_staging, set_aside
from compiler.versions.store import (
    CASES,
    INDEX,
    MANIFEST,
    PARQUET,
    Version,
    dataset_dir,
    parent_of,
    parquet_bytes,
    publish_version,
    render_cases,
    version_id,
)
from compiler.versions.verify import Finding, verify_version


def settle_existing(folder: Path, dataset: str, version: str) -> tuple[bool, str]:
    """For a version folder that already exists: (intact, what was done). An intact one gets back the index
    entry a kill may have cost it; a damaged one is moved aside for the caller to rebuild."""
    found = Version(dataset, version, folder)
    if (folder / MANIFEST).is_file():
        findings = [f for f in verify_version(found) if Path(f.path.rsplit(":", 1)[0]).name != INDEX]
    else:
        findings = [Finding(str(folder / MANIFEST), "missing")]
    if not findings:
        return True, f"re-added {version} to {INDEX}, which a kill had left without it" if reindex(
            found
        ) else ""
    shutil.rmtree(set_aside(folder), ignore_errors=True)  # rebuilt from the journal next
    return False, f"rebuilt {version}, which was damaged ({findings[0].path}: {findings[0].problem})"


def publish(
    ctx: CompileContext, plan: Plan, bundle: SourceBundle, generation: Generation, rows: Sequence[Row]
) -> tuple[Version, bool, str]:
    """The version of these rows: found unchanged (its index entry restored if a kill lost it), or built
    (manifest, drops, report) and published whole; a damaged folder of the same version is rebuilt.
    Returns (version, created, a note on what was repaired)."""
    spec = ctx.spec
    cases = render_cases(rows)
    version = version_id(cases)
    folder = dataset_dir(spec.out_dir, spec.name)
    remove_stale_staging(folder)  # leftovers of a kill during staging
    note = ""
    if (folder / version).exists():
        intact, note = settle_existing(folder / version, spec.name, version)
        if intact:
            return Version(spec.name, version, folder / version), False, note
    record = BuildRecord(
        version=version,
        parent=parent_of(folder, version),
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
        sourcing=bundle.manifest,
        generator=ctx.generator.describe(),
        privacy=generation.privacy,
    )
    manifest = build_manifest(spec, plan, record)
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
    published, created = publish_version(spec, version, files, manifest)
    return published, created, note
