"""The compile pipeline: spec -> plan -> render -> generate -> dedupe -> select -> write."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import xxhash

from compiler.spec.compose import Project
from compiler.screen.dedupe import Candidate, ExistingRow
from compiler.versions.manifest import build_manifest
from compiler.plan.cases import CaseSpec, Plan, plan_cases, plan_top_up
from compiler.generate.templates import RenderedCase, check_templates, render_case
from compiler.versions.review import load_decisions
from compiler.core.rows import Row
from compiler.screen.candidates import judge_plausibility, load_existing, screen_candidates
from compiler.screen.select import Selection, select_rows
from compiler.sources.gather import gather_sources, scrub_generated
from compiler.spec.model import Spec
from compiler.versions.store import Version, write_version


@dataclass
class CompileResult:
    spec: Spec
    plan: Plan
    version: Version
    created: bool
    selection: Selection
    counts: dict[str, int]
    rounds: int
    calls: int
    replayed: int
    seconds: float
    failures: Counter[str] = field(default_factory=Counter)
    shard: str | None = None  # "i/N" for a shard run, which fills the journal and writes no version
    fixed: tuple[Row, ...] = ()  # curated and production rows that joined as they are

    @property
    def rows(self) -> list[Row]:
        return list(self.fixed) + [c.row for c in self.selection.rows]

    def rows_by(self, key: str) -> Counter[str]:
        return Counter(getattr(row, key) or "-" for row in self.rows)


def _prompt_hash(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8"))


def _to_candidates(
    spec: Spec, generated: Sequence[Any], lm_identity: str, privacy: Counter[str]
) -> tuple[list[Candidate], Counter[str]]:
    candidates: list[Candidate] = []
    failures: Counter[str] = Counter(item.error or "unknown" for item in generated if item.inputs is None)
    answered = [item for item in generated if item.inputs is not None]
    scrubbed = scrub_generated(spec, [(item.inputs, item.expected) for item in answered], privacy)
    for item, (inputs, expected) in zip(answered, scrubbed, strict=True):
        row = Row.build(
            "synthetic",
            item.case.strategy,
            item.case.variant,
            dict(item.case.cell),
            inputs,
            expected,
            {"trace_id": None, "prompt_hash": _prompt_hash(item.instruction), "lm": lm_identity},
        )
        candidates.append(Candidate(row, item.case))
    return candidates, failures


def _latest_manifest(spec: Spec) -> dict[str, Any] | None:
    from compiler.versions.store import MANIFEST, dataset_dir, latest_version

    folder = dataset_dir(spec.out_dir, spec.name)
    latest = latest_version(folder)
    path = folder / latest / MANIFEST if latest else None
    return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None


def _generate_shard(
    spec: Spec,
    plan: Plan,
    rendered: Sequence[RenderedCase],
    handle: Any,
    journal: Any,
    on_progress: Callable[[int, int, Any], None] | None,
    started: float,
) -> CompileResult:
    """Generate this shard's slice of the plan (case index mod count) into the shared journal."""
    from compiler.generate.calls import generate_cases

    mine = [item for item in rendered if item.case.index % spec.shard.count == spec.shard.index]
    done = 0

    def progress(_: Any) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, len(mine), handle.stats)

    try:
        generate_cases(spec, handle, mine, on_done=progress)
    finally:
        journal.close()
    from compiler.screen.select import Selection
    from compiler.versions.store import Version, dataset_dir

    empty = Selection((), (), (), 0)
    return CompileResult(
        spec,
        plan,
        Version(spec.name, "", dataset_dir(spec.out_dir, spec.name)),
        False,
        empty,
        {"planned": len(plan.cases), "shard_cases": len(mine)},
        0,
        handle.stats.calls,
        handle.stats.replayed,
        time.perf_counter() - started,
        shard=f"{spec.shard.index}/{spec.shard.count}",
    )


def _short_cases(
    plan: Plan, selection: Selection, used_slots: Counter[tuple[str, str | None, Any]], round_no: int
) -> list[CaseSpec]:
    """Fresh samples for the (strategy, cell) pairs that fell short, with the variants they were planned with."""
    # rows missing from the dataset: refill every short cell; otherwise only cells that lost all their
    # rows (their tuples would go uncovered), since other cells of the strategy already filled the room
    short = {
        (s.strategy, s.cell): s.wanted - s.got for s in selection.short if selection.missing or s.got == 0
    }
    from compiler.plan.space import cell_label

    requests = []
    for case in plan.cases:
        if not case.primary:
            continue
        key = (case.strategy, cell_label(case.cell))
        if short.get(key, 0) > 0:
            requests.append((case.strategy, case.variant, case.cell, 1))
            short[key] -= 1
    return plan_top_up(plan, requests, round_no, used_slots)


def compile_dataset(
    overrides: Sequence[str],
    *,
    project: Project | None = None,
    on_progress: Callable[[int, int, Any], None] | None = None,
    spec: Spec | None = None,
) -> CompileResult:
    """Compile a test space into a version on disk (or find it unchanged)."""
    from compiler.generate.backends import open_lm
    from compiler.spec.compose import load_spec
    from compiler.generate.calls import build_signature, generate_cases, label_production_rows
    from compiler.generate.journal import Journal

    started = time.perf_counter()
    project = project or Project.locate()
    spec = spec or load_spec(overrides, project)
    check_templates(spec, project.templates_dir)
    bundle = gather_sources(spec, _latest_manifest(spec))
    spec = bundle.spec  # weights biased by production evidence, when there is any
    fixed = bundle.fixed  # curated and production rows: they join as they are
    plan = plan_cases(replace(spec, size=spec.size - len(fixed)))  # synthetic rows fill the rest
    examples = bundle.snippets([c.cell for c in plan.cases])
    rendered = [render_case(plan.spec, project.templates_dir, case, examples) for case in plan.cases]
    # small flush groups: a kill -9 loses at most a quarter of a concurrency's worth of answers
    journal = Journal(
        Path(spec.journal_dir) / "journal" / spec.name, flush_every=max(1, min(16, spec.lm.concurrency // 4))
    )
    handle = open_lm(spec.lm, journal, spec.budget)
    if bundle.trace_cases and (spec.shard.count == 1 or spec.shard.index == 0):
        fixed = label_production_rows(spec, handle, fixed, bundle.trace_cases)
    if spec.shard.count > 1:
        journal.flush()
        return _generate_shard(spec, plan, rendered, handle, journal, on_progress, started)
    counts: Counter[str] = Counter(planned=len(plan.cases), labelled=len(bundle.trace_cases))
    decisions = load_decisions(spec.name, Path(spec.reviews_dir))
    existing = [
        ExistingRow(label, row) for label, row in bundle.existing if "curated" in spec.dedupe.existing
    ]
    existing += [ExistingRow("production", row) for row in fixed if row.source == "production"]
    existing += load_existing(spec)
    privacy: Counter[str] = Counter()
    verdicts: dict[str, tuple[float, str]] = {}
    all_candidates: list[Candidate] = []
    failures: Counter[str] = Counter()
    used_slots: Counter[tuple[str, str | None, Any]] = Counter()
    for case in plan.cases:
        key = (case.strategy, case.variant, case.cell)
        used_slots[key] = max(used_slots[key], case.slot + 1)
    batch: list[RenderedCase] = rendered
    progress = {"done": 0, "total": len(batch)}

    def advance(_: Any) -> None:
        progress["done"] += 1
        if on_progress is not None:
            on_progress(progress["done"], progress["total"], handle.stats)

    try:
        rounds = 0
        while True:
            generated = generate_cases(spec, handle, batch, on_done=advance)
            candidates, new_failures = _to_candidates(spec, generated, handle.identity, privacy)
            failures += new_failures
            all_candidates.extend(candidates)
            deduped = screen_candidates(spec, all_candidates, decisions, existing, handle)
            if spec.checks.plausibility:
                deduped = judge_plausibility(spec, handle, deduped, verdicts)
            selection = select_rows(plan, deduped.survivors)
            if not selection.short or rounds >= spec.max_rounds:
                break
            rounds += 1
            extra = _short_cases(plan, selection, used_slots, rounds)
            if not extra:
                break
            batch = [render_case(spec, project.templates_dir, case) for case in extra]
            progress["total"] += len(batch)
            counts["top_up"] += len(batch)
    finally:
        journal.close()
    counts.update(
        generated=len(all_candidates) + sum(failures.values()),
        failed=sum(failures.values()),
        exact_dropped=sum(1 for d in deduped.drops if d.reason == "exact"),
        near_dropped=sum(1 for d in deduped.drops if d.reason == "near"),
        existing_dropped=sum(1 for d in deduped.drops if d.reason.startswith("existing:")),
        check_dropped=sum(1 for d in deduped.drops if d.reason.startswith("check:")),
        review_dropped=sum(1 for d in deduped.drops if d.reason.startswith("review:")),
        survivors=len(deduped.survivors),
        selected=len(selection.rows),
    )
    if spec.dedupe.semantic is not None:
        counts["semantic_dropped"] = sum(1 for d in deduped.drops if d.reason == "semantic")
    rows = list(fixed) + [c.row for c in selection.rows]
    signature = build_signature(spec)
    program_hash = xxhash.xxh3_64_hexdigest(
        (
            signature.instructions
            + "|"
            + json.dumps({k: str(v.annotation) for k, v in signature.fields.items()}, sort_keys=True)
        ).encode()
    )

    built: dict[str, Any] = {}
    row_by_id = {c.row.id: c.row for c in all_candidates}
    selected_ids = {r.id for r in rows}

    def manifest(version: str, parent: str | None) -> dict[str, Any]:
        built["manifest"] = build_manifest(
            spec,
            plan,
            project,
            version,
            parent,
            rows,
            selection,
            deduped,
            counts,
            rounds,
            failures,
            program_hash,
            handle.identity,
            handle.stats,
        )
        built["manifest"].update(bundle.manifest)
        if privacy:
            built["manifest"]["privacy"] = {"generated": dict(sorted(privacy.items()))}
        return built["manifest"]

    def extra_files(version: str) -> dict[str, bytes]:
        from compiler.screen.dedupe import compared_text
        from compiler.report.html import render_report

        drop_dicts = []
        for d in deduped.drops:
            entry: dict[str, Any] = {
                "id": d.id,
                "kept_id": d.kept_id,
                "similarity": d.similarity,
                "reason": d.reason,
            }
            if d.id in row_by_id:
                entry["text"] = compared_text(row_by_id[d.id], spec.dedupe.on)
            if d.kept_id != d.id and d.kept_id not in selected_ids and d.kept_id in row_by_id:
                entry["kept_text"] = compared_text(row_by_id[d.kept_id], spec.dedupe.on)
            drop_dicts.append(entry)
        drops = "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in drop_dicts)
        report = render_report(
            built["manifest"],
            list(rows),
            drop_dicts,
            [(d.name, [v.name for v in d.values]) for d in spec.dimensions],
        )
        return {"drops.jsonl": drops.encode("utf-8"), "report.html": report}

    version, created = write_version(spec, rows, manifest, extra_files)
    return CompileResult(
        spec,
        plan,
        version,
        created,
        selection,
        dict(counts),
        rounds,
        handle.stats.calls,
        handle.stats.replayed,
        time.perf_counter() - started,
        failures,
        fixed=tuple(fixed),
    )
