"""`dsc optimize`: a DSPy optimizer improves the generator program on planned cases, scored by dsc's metric.

The trainset and a held-out valset are planned cases (`dspy.Example(instruction=, case=)`), split by the
seed. Every LM call of the optimizer, the program and the judge goes through the journal and the budget, so
an optimization killed half way resumes without paying again and stops cleanly at `budget.max_usd`. The
result is saved with `.save()` to `programs/<dataset>.json`; compiling with
`generator.state=programs/<dataset>.json` records its path and hash in the version's manifest.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from compiler.core import lazy
from compiler.core.atomic import write_atomic
from compiler.core.errors import ConfigError
from compiler.generate.adapters import make_adapter
from compiler.generate.program import Generator
from compiler.generate.templates import RenderedCase, case_payload, check_templates
from compiler.pipeline.compile import render_plan
from compiler.pipeline.context import CompileContext, open_context
from compiler.pipeline.metric import CaseMetric, mean_score
from compiler.plan.cases import CaseSpec, plan_cases
from compiler.sources.gather import gather_sources
from compiler.spec.compose import Project, load_spec
from compiler.spec.model import Spec
from compiler.versions.lineage import previous_sourcing


@dataclass(frozen=True)
class OptimizeResult:
    dataset: str
    path: Path
    optimizer: str
    train: int
    held_out: int
    before: float  # the metric on the held-out cases, unoptimized program
    after: float  # ... and optimized
    demos: int
    calls: int
    replayed: int
    seconds: float


def split_cases(
    spec: Spec, rendered: Sequence[RenderedCase]
) -> tuple[list[RenderedCase], list[RenderedCase], str]:
    """Primary planned cases shuffled by the seed: the first `trainset` train, the next `valset` are held out.

    When the plan is smaller than the built-in optimizer's sizes, they shrink in proportion (and the third
    value says so); sizes the user set are refused instead, since they asked for that many.
    """
    primary = [r for r in rendered if r.case.primary]
    order = list(range(len(primary)))
    random.Random(spec.seed).shuffle(order)
    train, held = spec.optimizer.trainset, spec.optimizer.valset
    note = ""
    if len(primary) < train + held:
        have = len(primary)
        if spec.optimizer.sizes_set_in or have < 3:
            where = spec.optimizer.sizes_set_in or spec.generator.where
            raise ConfigError(
                f"{where}: optimizer.trainset + optimizer.valset: {train + held} cases asked for but the "
                f"plan has {have} (one per planned cell); raise size or lower them, e.g. "
                f"optimizer.trainset={max(2, have // 2)} optimizer.valset={max(1, have - have // 2)}"
            )
        note = (
            f"optimizer: the plan has {have} cases, fewer than the {train} + {held} the {spec.optimizer.kind} "
            "optimizer trains and scores on by default"
        )
        train = max(2, min(have - 1, round(have * train / (train + held))))
        held = have - train
        note += f"; using {train} and {held} (set optimizer.trainset and optimizer.valset, or raise size)"
    chosen = [primary[i] for i in order[: train + held]]
    return chosen[:train], chosen[train:], note


def to_examples(spec: Spec, items: Sequence[RenderedCase]) -> list[Any]:
    return [
        lazy.dspy.Example(instruction=r.instruction, case=case_payload(spec, r.case, 0)).with_inputs(
            "instruction", "case"
        )
        for r in items
    ]


def build_optimizer(spec: Spec, metric: CaseMetric, lm: Any) -> Any:
    """The DSPy optimizer `optimizer.kind` names, sequential (one thread: the journal's order is the plan's)."""
    dspy = lazy.dspy
    setting = spec.optimizer
    if setting.kind == "mipro":
        return dspy.MIPROv2(
            metric=metric,
            auto="light",
            num_threads=1,
            max_bootstrapped_demos=setting.max_demos,
            max_labeled_demos=0,
            seed=spec.seed,
            verbose=False,
        )
    if setting.kind == "gepa":
        metric.feedback = True
        return dspy.GEPA(metric=metric, auto="light", reflection_lm=lm, num_threads=1, seed=spec.seed)
    return dspy.BootstrapFewShot(
        metric=metric,
        metric_threshold=0.75,
        max_bootstrapped_demos=setting.max_demos,
        max_labeled_demos=0,
        max_rounds=setting.rounds,
        max_errors=setting.trainset + 1,  # a failed example is skipped; a stopped run stops (see above)
    )


def predict_all(ctx: CompileContext, program: Any, examples: Sequence[Any]) -> list[Any]:
    """The program's prediction per example (None where it failed), through one asyncio fan-out."""
    generator = Generator(program, ctx.spec.generator, None, _async=hasattr(type(program), "aforward"))

    async def run() -> list[Any]:
        ctx.lm.engine.home_loop = asyncio.get_running_loop()
        semaphore = asyncio.Semaphore(2 * ctx.spec.lm.concurrency)

        async def one(example: Any) -> Any:
            async with semaphore:
                try:
                    return await generator.acall(**example.inputs())
                except lazy.dspy_exceptions.LMError as exc:
                    if getattr(exc, "error_class", None) is None:
                        raise
                    return None
                except Exception as exc:  # a parse failure scores 0; anything else is not the program's
                    if type(exc).__name__ == "AdapterParseError":
                        return None
                    raise

        try:
            return list(await asyncio.gather(*(one(e) for e in examples)))
        finally:
            ctx.lm.engine.home_loop = None

    return asyncio.run(run())


def save_program(program: Any, path: Path) -> None:
    """program.save(...) (DSPy's JSON state), published atomically."""
    with tempfile.TemporaryDirectory() as scratch:
        temp = Path(scratch) / path.name
        program.save(str(temp))
        content = temp.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, content)


def optimize_program(
    overrides: Sequence[str],
    *,
    project: Project | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> OptimizeResult:
    """Optimize the generator program of a test space and save it to programs/<dataset>.json; `on_warning`
    hears, before any LM call, what the run changed of what was asked (a small plan's smaller splits)."""
    started = time.perf_counter()
    project = project or Project.locate()
    spec = load_spec(overrides, project)
    check_templates(spec, project.templates_dir)
    bundle = gather_sources(spec, previous_sourcing(spec))
    plan = plan_cases(replace(bundle.spec, size=bundle.spec.size - len(bundle.fixed)))
    train_items, held_items, note = split_cases(spec, render_plan(project, plan, bundle))
    if note and on_warning is not None:
        on_warning(note)
    trainset, held_out = to_examples(spec, train_items), to_examples(spec, held_items)
    cases: dict[str, CaseSpec] = {
        e.case: r.case for e, r in zip(trainset + held_out, train_items + held_items, strict=True)
    }
    target = project.root / (spec.optimizer.out or f"programs/{spec.name}.json")
    with open_context(project, bundle.spec, None) as ctx:
        metric = CaseMetric(ctx.spec, ctx.lm, cases)
        student = ctx.generator.program
        with lazy.dspy.context(
            lm=ctx.lm.lm, adapter=make_adapter(spec.generator.adapter), disable_history=True
        ):
            payloads = [e.case for e in held_out]
            before = mean_score(metric, payloads, predict_all(ctx, student, held_out))
            optimizer = build_optimizer(ctx.spec, metric, ctx.lm.lm)
            metric.pool = []
            try:
                optimized = optimizer.compile(student.deepcopy(), trainset=trainset)
            finally:  # optimizers count a failed call as one bad example: a stopped run must stop here
                if ctx.lm.engine.stopped is not None:
                    raise ctx.lm.engine.stopped
            metric.feedback = False
            after = mean_score(metric, payloads, predict_all(ctx, optimized, held_out))
        save_program(optimized, target)
    demos = sum(len(p.demos) for _, p in optimized.named_predictors())
    stats = ctx.lm.stats
    return OptimizeResult(
        spec.name, target, spec.optimizer.kind, len(trainset), len(held_out), before, after, demos,
        stats.calls, stats.replayed, time.perf_counter() - started,
    )  # fmt: skip
