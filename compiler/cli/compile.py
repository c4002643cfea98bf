"""`dsc compile`: the compile (or its no-op), a progress bar on a terminal, and the summary it prints."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from compiler.core import lazy
from compiler.core.confine import shown_path

if TYPE_CHECKING:
    from compiler.spec.model import LMSpec


def _print_summary(result: Any) -> None:
    version = result.version
    counts = result.counts
    if result.shard is not None:
        print(
            f"shard {result.shard} of {result.spec.name}: {result.counts['shard_cases']} cases, "
            f"{result.calls} LM calls ({result.replayed} replayed), {result.seconds:.1f} s; "
            f"run `dsc compile` without shard.* once every shard is done to assemble the version"
        )
        return
    if result.note:
        print(f"repaired: {result.note}")
    by_strategy = ", ".join(f"{k} {v}" for k, v in sorted(result.rows_by("strategy").items()) if k != "-")
    by_source = ", ".join(f"{k} {v}" for k, v in sorted(result.rows_by("source").items()))
    for line in ([result.coverage] if result.coverage else []) + list(result.warnings):
        print(f"dsc: warning: {line}", file=sys.stderr)
    if result.created:
        print(f"compiled {result.spec.name}: {len(result.rows)} rows -> {shown_path(version.path)}")
    else:
        print(
            f"unchanged: {version.version} -> {shown_path(version.path)} ({len(result.rows)} rows, nothing written)"
        )
    print(f"  strategies: {by_strategy}")
    print(f"  sources:    {by_source}")
    print(
        f"  generated {counts.get('generated', 0)}, failed {counts.get('failed', 0)}, "
        f"exact duplicates dropped {counts.get('exact_dropped', 0)}, near {counts.get('near_dropped', 0)}, "
        + (f"semantic {counts['semantic_dropped']}, " if "semantic_dropped" in counts else "")
        + f"of existing coverage {counts.get('existing_dropped', 0)}, failed checks {counts.get('check_dropped', 0)}, "
        f"top-up rounds {result.rounds}"
    )
    if result.selection.missing or result.selection.short:
        cells = "; ".join(f"{s.strategy} [{s.cell}] {s.got}/{s.wanted}" for s in result.selection.short[:5])
        more = f" (+{len(result.selection.short) - 5} more)" if len(result.selection.short) > 5 else ""
        if result.selection.missing:
            print(
                f"  shortfall: {result.selection.missing} rows missing; short cells: {cells}{more}. The space "
                f"gave fewer distinct rows than size={result.spec.size} after {result.rounds} top-up rounds: "
                "add dimensions or values, lower size, raise max_rounds, or raise dedupe.near"
            )
        else:
            print(
                f"  {len(result.selection.short)} cells got fewer rows than planned, filled from other cells "
                f"of their strategy: {cells}{more}"
            )
    if result.failures:
        from compiler.pipeline.failures import describe_failures

        failed = sum(result.failures.values())
        print(
            f"  published with {failed} failed LM calls of {counts.get('generated', 0)} "
            f"({describe_failures(result.failures)}), within max_failure_rate={result.spec.max_failure_rate:g}; "
            "failed calls are not journaled: a rerun asks them again (and may make a new version)"
        )
    pending = sum(1 for row in result.rows if row.review_status == "pending")
    if pending:
        print(
            f"  {pending} rows pending review (`dsc review list {shown_path(version.path)} --status pending`)"
        )
    print(f"  report: {shown_path(version.path / 'report.html')}")
    print(
        f"  {result.calls} LM calls ({result.replayed} answers replayed from the journal), "
        f"{result.seconds:.1f} s"
    )
    carry = result.carry
    if carry is not None:
        print(
            f"  change from {carry.parent}: kept {carry.kept} of {carry.in_space} generated rows whose cells "
            f"still exist ({carry.share:.0%}; {carry.parent_rows - carry.in_space} left the space), "
            f"{result.calls} new LM calls"
            + (
                f"; {', '.join(carry.asked_anew)} changed, so the LM was asked anew"
                if carry.asked_anew and carry.kept < carry.in_space
                else ""
            )
        )


def _print_unchanged(found: Any) -> None:
    """The summary of a version found unchanged from its fingerprint, read from its manifest."""
    manifest = found.manifest
    strategies = ", ".join(f"{k} {v.selected}" for k, v in sorted(manifest.strategies.items()))
    sources = ", ".join(f"{k} {v}" for k, v in sorted(manifest.sources.items()))
    print(
        f"unchanged: {found.version.version} -> {shown_path(found.version.path)} "
        f"({manifest.rows} rows, nothing to do)"
    )
    print(f"  strategies: {strategies}")
    print(f"  sources:    {sources}")
    print(f"  report: {shown_path(found.version.path / 'report.html')}")
    print(f"  0 LM calls; inputs match the fingerprint of this version, {found.seconds:.2f} s")


def _progress_printer(lm: LMSpec) -> tuple[Any, Any]:
    """A rich progress bar on a terminal; nothing when output is not a terminal (CI logs stay readable)."""
    if not sys.stderr.isatty():
        return None, None
    from compiler.generate.estimate import cost_usd

    rich = lazy.rich_progress
    TextColumn = rich.TextColumn
    progress = rich.Progress(
        TextColumn("generating"),
        rich.BarColumn(),
        rich.MofNCompleteColumn(),
        rich.TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        rich.TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=lazy.rich_console.Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("generate", total=None, info="", rate="")

    def update(done: int, total: int, stats: Any) -> None:
        speed = progress.tasks[0].speed
        spend = cost_usd(lm, stats.input_tokens, stats.output_tokens)
        progress.update(
            task,
            completed=done,
            total=total,
            rate=f"{speed:.0f}/s" if speed else "",
            info=f"calls {stats.calls} replayed {stats.replayed} retries {stats.retries} "
            f"failed {stats.failures} ${spend:.4f}",
        )

    return progress, update


def run_compile(args: argparse.Namespace) -> int:
    from compiler.pipeline.noop import Unchanged, compile_or_reuse
    from compiler.spec.compose import Project, load_spec

    project = Project.locate()
    if args.multirun:
        from compiler.pipeline.sweep import run_multirun, summarise_sweep

        records = run_multirun(args.overrides, project)
        text, written = summarise_sweep(records)
        print(text)
        print("sweep summary: " + ", ".join(str(p) for p in written))
        return 1 if any(r["status"] == "failed" for r in records) else 0

    spec = load_spec(args.overrides, project, remembered=True)
    progress, update = _progress_printer(spec.lm)
    if progress is not None:
        with progress:
            result = compile_or_reuse(args.overrides, project, spec, on_progress=update)
    else:
        result = compile_or_reuse(args.overrides, project, spec)
    if isinstance(result, Unchanged):
        _print_unchanged(result)
    else:
        _print_summary(result)
    return 0
