"""The stages of a compile after planning: generate until full, then the files of the version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import xxhash

from compiler.core.cells import cell_label
from compiler.core.rows import Row
from compiler.generate.calls import Generated, generate_cases
from compiler.generate.templates import RenderedCase, render_cases
from compiler.pipeline.context import CompileContext
from compiler.plan.cases import CaseSpec, Plan, plan_top_up
from compiler.screen.candidates import judge_plausibility, screen_candidates
from compiler.screen.checks import row_checks
from compiler.screen.decisions import Decision
from compiler.screen.dedupe import Candidate, DedupeResult, ExistingRow, compared_text
from compiler.screen.near.warm import kernels_loading_for
from compiler.screen.select import Selection, select_rows
from compiler.sources.gather import SourceBundle, scrub_generated


@dataclass(frozen=True)
class Screening:
    """What new rows are screened against: review decisions and existing coverage."""

    decisions: Mapping[str, Decision]
    existing: Sequence[ExistingRow]


@dataclass(frozen=True)
class Generation:
    """The outcome of generating until full: every candidate, the screened survivors and the selection."""

    candidates: tuple[Candidate, ...]
    screened: DedupeResult
    selection: Selection
    counts: Counter[str]
    failures: Counter[str]
    rounds: int
    privacy: Counter[str] = field(default_factory=Counter)


def prompt_hash(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8"))


class CandidateRows:
    """Rows built from answers as they arrive during the fan-out (`add`, in batches), in plan order at the
    end (`finish`): the scrubbing and hashing run while requests are in flight, not after the last one.

    Each row is scrubbed and hashed on its own, so batching by arrival changes no byte of any row.
    """

    BATCH = 512  # one privacy prefilter per batch: polars compiles its regex on every call

    def __init__(self, ctx: CompileContext, privacy: Counter[str]) -> None:
        self.ctx = ctx
        self.privacy = privacy
        self.waiting: list[Generated] = []
        self.built: dict[int, Candidate] = {}  # by id() of the Generated, which the fan-out's results keep

    def add(self, item: Generated) -> None:
        if item.inputs is None:
            return
        self.waiting.append(item)
        if len(self.waiting) >= self.BATCH:
            self._build()

    def finish(self, generated: Sequence[Generated]) -> tuple[list[Candidate], Counter[str]]:
        failures: Counter[str] = Counter(item.error or "unknown" for item in generated if item.inputs is None)
        answered = [item for item in generated if item.inputs is not None]
        self.waiting = [item for item in answered if id(item) not in self.built]
        self._build()
        candidates = [self.built[id(item)] for item in answered]
        self.built.clear()
        return candidates, failures

    def _build(self) -> None:
        items, self.waiting = self.waiting, []
        if not items:
            return
        pairs = [(dict(item.inputs or {}), dict(item.expected or {})) for item in items]
        scrubbed = scrub_generated(self.ctx.spec, pairs, self.privacy)
        identity = self.ctx.lm.identity
        for item, (inputs, expected) in zip(items, scrubbed, strict=True):
            provenance = {"trace_id": None, "prompt_hash": prompt_hash(item.instruction), "lm": identity}
            case = item.case
            row = Row.build(
                "synthetic", case.strategy, case.variant, dict(case.cell), inputs, expected, provenance
            )
            self.built[id(item)] = Candidate(row, case, row_checks(self.ctx.spec, row))


def short_cases(
    plan: Plan, selection: Selection, used_slots: Counter[tuple[str, str | None, Any]], round_no: int
) -> list[CaseSpec]:
    """Fresh samples for the (strategy, cell) pairs that fell short, with the variants they were planned with."""
    # rows missing from the dataset: refill every short cell; otherwise only cells that lost all their
    # rows (their tuples would go uncovered), since other cells of the strategy already filled the room
    short = {
        (s.strategy, s.cell): s.wanted - s.got for s in selection.short if selection.missing or s.got == 0
    }
    requests = []
    for case in plan.cases:
        if not case.primary:
            continue
        key = (case.strategy, cell_label(case.cell))
        if short.get(key, 0) > 0:
            requests.append((case.strategy, case.variant, case.cell, 1))
            short[key] -= 1
    return plan_top_up(plan, requests, round_no, used_slots)


def screening_inputs(
    bundle: SourceBundle,
    fixed: Sequence[Row],
    decisions: Mapping[str, Decision],
    earlier: Sequence[ExistingRow],
) -> Screening:
    """Curated rows (when `dedupe.existing` names them), production rows and earlier versions' rows."""
    existing = [
        ExistingRow(label, row) for label, row in bundle.existing if "curated" in bundle.spec.dedupe.existing
    ]
    existing += [ExistingRow("production", row) for row in fixed if row.source == "production"]
    return Screening(decisions, [*existing, *earlier])


def generate_until_full(
    ctx: CompileContext, plan: Plan, rendered: Sequence[RenderedCase], screening: Screening
) -> Generation:
    """Generate, screen and select; top up the cells that fell short, up to `max_rounds` times."""
    spec = ctx.spec
    privacy: Counter[str] = Counter()
    verdicts: dict[str, tuple[float, str]] = {}
    candidates: list[Candidate] = []
    failures: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    used_slots: Counter[tuple[str, str | None, Any]] = Counter()
    for case in plan.cases:
        key = (case.strategy, case.variant, case.cell)
        used_slots[key] = max(used_slots[key], case.slot + 1)
    batch = list(rendered)
    ctx.progress.expect(len(batch))
    rounds = 0
    while True:
        rows = CandidateRows(ctx, privacy)

        def on_done(item: Generated, rows: CandidateRows = rows) -> None:
            ctx.progress.advance(item)
            rows.add(item)

        # the screen after the fan-out compares these rows with each other and with existing coverage
        texts = len(candidates) + len(batch) + len(screening.existing)
        with kernels_loading_for(spec.dedupe.near, spec.dedupe.shingle, spec.dedupe.ngram, texts):
            generated = generate_cases(spec, ctx.lm, batch, on_done=on_done, program=ctx.generator)
        new, new_failures = rows.finish(generated)
        failures += new_failures
        candidates.extend(new)
        screened = screen_candidates(spec, candidates, screening.decisions, screening.existing, ctx.lm)
        if spec.checks.plausibility:
            screened = judge_plausibility(spec, ctx.lm, screened, verdicts)
        selection = select_rows(plan, screened.survivors)
        if not selection.short or rounds >= spec.max_rounds:
            break
        rounds += 1
        extra = short_cases(plan, selection, used_slots, rounds)
        if not extra:
            break
        batch = render_cases(spec, ctx.project.templates_dir, extra)
        ctx.progress.expect(len(batch))
        counts["top_up"] += len(batch)
    counts.update(stage_counts(candidates, failures, screened, selection))
    if spec.dedupe.semantic is not None:
        counts["semantic_dropped"] = sum(1 for d in screened.drops if d.reason == "semantic")
    return Generation(tuple(candidates), screened, selection, counts, failures, rounds, privacy)


def stage_counts(
    candidates: Sequence[Candidate], failures: Counter[str], screened: DedupeResult, selection: Selection
) -> dict[str, int]:
    """Rows in and out of each screening stage, as the manifest records them."""
    reasons = [d.reason for d in screened.drops]
    return {
        "generated": len(candidates) + sum(failures.values()),
        "failed": sum(failures.values()),
        "exact_dropped": reasons.count("exact"),
        "near_dropped": reasons.count("near"),
        "existing_dropped": sum(1 for r in reasons if r.startswith("existing:")),
        "check_dropped": sum(1 for r in reasons if r.startswith("check:")),
        "review_dropped": sum(1 for r in reasons if r.startswith("review:")),
        "survivors": len(screened.survivors),
        "selected": len(selection.rows),
    }


def program_hash(ctx: CompileContext) -> str:
    """Hash of the generator program: how it was chosen and its whole state (signature, instructions,
    demos: `dump_state()`), so a changed or re-optimized program is a changed program."""
    return ctx.generator.program_hash()


def drop_records(ctx: CompileContext, generation: Generation, rows: Sequence[Row]) -> list[dict[str, Any]]:
    """drops.jsonl's records: every dropped row with the row it lost to and the texts that were compared."""
    row_by_id = {c.row.id: c.row for c in generation.candidates}
    selected_ids = {r.id for r in rows}
    on = ctx.spec.dedupe.on
    records = []
    for d in generation.screened.drops:
        entry: dict[str, Any] = {
            "id": d.id,
            "kept_id": d.kept_id,
            "similarity": d.similarity,
            "reason": d.reason,
        }
        if d.id in row_by_id:
            entry["text"] = compared_text(row_by_id[d.id], on)
        if d.kept_id != d.id and d.kept_id not in selected_ids and d.kept_id in row_by_id:
            entry["kept_text"] = compared_text(row_by_id[d.kept_id], on)
        records.append(entry)
    return records
