"""The compile pipeline: spec -> sources -> plan -> render -> generate until full -> publish."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from compiler.core import heap
from compiler.core.rows import Row
from compiler.generate.calls import label_production_rows
from compiler.generate.templates import RenderedCase, check_templates, render_cases
from compiler.pipeline.context import CompileContext, ProgressCallback, open_context
from compiler.pipeline.failures import require_answers
from compiler.pipeline.publish import publish
from compiler.pipeline.shard import generate_shard
from compiler.pipeline.stages import generate_until_full, screening_inputs
from compiler.plan.cases import Plan
from compiler.plan.stable import plan_stable
from compiler.screen.decisions import Decision
from compiler.screen.select import Selection
from compiler.sources.gather import SourceBundle, gather_sources
from compiler.spec.compose import Project, load_spec
from compiler.spec.model import Spec
from compiler.versions.lineage import CarryOver, carry_over, parent_version, previous_sourcing, seed_for
from compiler.versions.review import load_decisions
from compiler.versions.store import Version, dataset_dir, load_existing


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
    note: str = ""  # what publishing repaired (a lost index entry, a damaged folder rebuilt)
    carry: CarryOver | None = None  # what this version kept of its parent's generated rows
    warnings: tuple[str, ...] = ()  # what the CLI shows on stderr: inputs dsc left out of the compile
    coverage: str = ""  # the plan's coverage warning, sized with the rows that joined as they are

    @property
    def rows(self) -> list[Row]:
        return list(self.fixed) + [c.row for c in self.selection.rows]

    def rows_by(self, key: str) -> Counter[str]:
        return Counter(getattr(row, key) or "-" for row in self.rows)


def compile_dataset(
    overrides: Sequence[str],
    *,
    project: Project | None = None,
    on_progress: ProgressCallback | None = None,
    spec: Spec | None = None,
) -> CompileResult:
    """Compile a test space into a version on disk (or find it unchanged)."""
    with heap.held():  # the collector off the heap that existed before, young objects in batches
        return _compile(overrides, project, on_progress, spec)


def _compile(
    overrides: Sequence[str], project: Project | None, on_progress: ProgressCallback | None, spec: Spec | None
) -> CompileResult:
    started = time.perf_counter()
    project = project or Project.locate()
    spec = spec or load_spec(overrides, project)
    check_templates(spec, project.templates_dir)
    bundle = gather_sources(spec, previous_sourcing(spec))  # evidence biases the spec's weights
    parent = parent_version(spec)  # its plan seeds this one, so a small change keeps what it can
    plan = plan_stable(
        replace(bundle.spec, size=bundle.spec.size - len(bundle.fixed)), seed_for(spec, parent)
    )  # synthetic rows fill the rest
    rendered = render_plan(project, plan, bundle)
    with open_context(project, bundle.spec, on_progress) as ctx:
        decisions = load_decisions(ctx.spec.name, Path(ctx.spec.reviews_dir))
        fixed = approved_production(label_production(ctx, bundle), decisions)
        if ctx.spec.shard.count > 1:
            return shard_result(ctx, plan, generate_shard(ctx, rendered), started)
        screening = screening_inputs(bundle, fixed, decisions, load_existing(ctx.spec))
        generation = generate_until_full(ctx, plan, rendered, screening)
    generation.counts.update(planned=len(plan.cases), labelled=len(bundle.trace_cases))
    require_answers(ctx.spec, generation.failures, generation.counts["generated"])  # else exit 3, no version
    rows = [*fixed, *(c.row for c in generation.selection.rows)]
    version, created, note = publish(ctx, plan, bundle, generation, rows)
    stats = ctx.lm.stats
    carry = carry_over(ctx.spec, parent, rows, version) if parent is not None and created else None
    return CompileResult(
        ctx.spec, plan, version, created, generation.selection, dict(generation.counts), generation.rounds,
        stats.calls, stats.replayed, time.perf_counter() - started, generation.failures, fixed=tuple(fixed),
        note=note, carry=carry, warnings=tuple(w for w in (plan.ruled_out_warning(),) if w) + bundle.warnings(),
        coverage=plan.coverage_warning(len(bundle.fixed), bundle.size_for) or "",
    )  # fmt: skip


def render_plan(project: Project, plan: Plan, bundle: SourceBundle) -> list[RenderedCase]:
    """Every planned case's instruction, with representative production snippets per cell."""
    examples = bundle.snippets([c.cell for c in plan.cases])
    return render_cases(plan.spec, project.templates_dir, plan.cases, examples)


def approved_production(fixed: list[Row], decisions: Mapping[str, Decision]) -> list[Row]:
    """Production rows a reviewer approved carry `approved` into the version (they said `pending` again while
    the review log and `promote` had them approved); curated rows join as their file holds them. A reject or
    edit of a production row is refused when it is made (`review.decision_refusal`): the trace is the source."""
    approved = {row_id for row_id, d in decisions.items() if d.status == "approved"}
    return [
        replace(row, review_status="approved") if row.source == "production" and row.id in approved else row
        for row in fixed
    ]


def label_production(ctx: CompileContext, bundle: SourceBundle) -> list[Row]:
    """Curated and production rows, the production ones labelled with their evaluator columns (shard 0 only)."""
    if bundle.trace_cases and (ctx.spec.shard.count == 1 or ctx.spec.shard.index == 0):
        return label_production_rows(ctx.spec, ctx.lm, bundle.fixed, bundle.trace_cases)
    return list(bundle.fixed)


def shard_result(ctx: CompileContext, plan: Plan, shard_cases: int, started: float) -> CompileResult:
    spec = ctx.spec
    return CompileResult(
        spec, plan, Version(spec.name, "", dataset_dir(spec.out_dir, spec.name)), False, Selection((), (), (), 0),
        {"planned": len(plan.cases), "shard_cases": shard_cases}, 0, ctx.lm.stats.calls, ctx.lm.stats.replayed,
        time.perf_counter() - started, shard=f"{spec.shard.index}/{spec.shard.count}",
    )  # fmt: skip
