"""The command line: the only place that parses arguments, prints, and turns errors into exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from compiler.cli.locate import project_paths, shown
from compiler.cli.optimize import add_optimize_verb, run_optimize
from compiler.cli.versions import VERSION_COMMANDS, add_version_verbs
from compiler.core import lazy
from compiler.core.errors import DscError, UsageError
from compiler.spec.paths import path_overrides

if TYPE_CHECKING:
    from compiler.spec.model import LMSpec

OVERRIDES_HELP = "Hydra overrides, e.g. dataset=rag_qa size=60 seed=3 strategies.adversarial=5 lm=offline"


class _Parser(argparse.ArgumentParser):
    argv: Sequence[str] = ()  # the command line being parsed, to suggest a fix for an unknown --option

    def error(self, message: str) -> NoReturn:
        unknown = message.partition("unrecognized arguments: ")[2].split()
        flag = next((a for a in unknown if a.startswith("--")), None)
        if flag is not None:
            import difflib

            known = [o for o in self._option_string_actions if o.startswith("--")]
            for action in self._actions:  # the top parser reports unknown options of the verb's parser
                if isinstance(action, argparse._SubParsersAction):
                    verb = next((a for a in _Parser.argv if a in action.choices), None)
                    known += list(action.choices[verb]._option_string_actions) if verb else []
            close = difflib.get_close_matches(flag.split("=")[0], known, n=1, cutoff=0.75)
            if close:
                raise UsageError(f"`{flag}` is not an option of dsc; did you mean `{close[0]}`?")
            raise UsageError(f"`{flag}` is not an option of dsc; {_as_override(flag, _Parser.argv)}")
        raise UsageError(f"{self.prog}: {message}; see `{self.prog} --help`")


def _as_override(flag: str, argv: Sequence[str]) -> str:
    """How to write an unknown `--key value` as the Hydra override it probably meant."""
    key, _, value = flag[2:].partition("=")
    if not value:
        following = list(argv)[list(argv).index(flag) + 1 :] if flag in argv else []
        value = following[0] if following and not following[0].startswith("-") else "<value>"
    return f"settings are Hydra overrides: write `{key.replace('-', '_')}={value}` (see `dsc --help`)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dsc",
        description="dsc compiles a declarative test space (conf/*.yaml) into a "
        "versioned LLM evaluation dataset under outputs/<dataset>/<version>/.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    compile_ = verbs.add_parser(
        "compile",
        help="plan, generate, dedupe, select and write a version",
        description="Compile the test space into a version. Recompiling an unchanged "
        "config makes no LM call and writes nothing.",
    )
    compile_.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    compile_.add_argument("-m", "--multirun", action="store_true", help="Hydra multirun: one version per job")
    plan = verbs.add_parser(
        "plan",
        help="show the plan: cells, strategy mix, LM calls (no LM is called)",
        description="Show the test space, its cells, the allocation per strategy and the "
        "number of LM calls. No LM is called.",
    )
    plan.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    plan.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    show = verbs.add_parser(
        "show",
        help="summarise a version",
        description="Summarise a version: counts, strategy and source mix, drops, shortfall, usage.",
    )
    show.add_argument("version", help="outputs/<dataset>/<version>, <dataset>/<version> or a version id")
    show.add_argument("--json", action="store_true", help="print the manifest")
    init = verbs.add_parser(
        "init",
        help="make a folder a repository of test spaces",
        description="Write conf/config.yaml, conf/dataset/example.yaml and a .gitignore for .dsc/; dsc's "
        "built-in LM backends, catalogues and templates need no copy.",
    )
    init.add_argument("path", nargs="?", default=".", help="the repository folder (default: here)")
    add_version_verbs(verbs)
    add_optimize_verb(verbs)
    return parser


def _plan_json(plan: Any, usage: Any) -> dict[str, Any]:
    spec = plan.spec
    return {
        "estimate": {
            "calls": usage.calls,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": round(usage.cost(spec), 4),
        },
        "dataset": spec.name,
        "size": spec.size,
        "lm": spec.lm.model,
        "lm_calls": len(plan.cases),
        "strategies": dict(plan.targets),
        "planned_per_strategy": dict(Counter(c.strategy for c in plan.cases)),
        "coverage": {
            "strength": plan.cells.strength,
            "required_tuples": plan.cells.required_tuples,
            "covered_tuples": plan.covered_tuples(),
            "excluded_tuples": plan.cells.excluded_tuples,
            "rows": plan.cells.array_rows,
            "array": [dict(c) for c in plan.cells.array],
        },
        "cases": [
            {
                "strategy": c.strategy,
                "variant": c.variant,
                "cell": dict(c.cell),
                "slot": c.slot,
                "primary": c.primary,
            }
            for c in plan.cases
        ],
    }


def _print_plan(plan: Any, usage: Any) -> None:
    spec = plan.spec
    primary = [c for c in plan.cases if c.primary]
    cells = plan.cells
    print(
        f"dataset {spec.name}: {spec.size} rows, {len(plan.cases)} LM calls planned "
        f"(overgenerate x{spec.overgenerate:g}), lm {spec.lm.model}, seed {spec.seed}"
    )
    print(
        f"estimate: {usage.calls} calls, ~{usage.input_tokens:,} input + ~{usage.output_tokens:,} output tokens, "
        f"~${usage.cost(spec):.4f} at ${spec.lm.price_input:g}/${spec.lm.price_output:g} per 1M tokens"
        + (
            f"; budget: max_calls={spec.budget.max_calls}, max_usd={spec.budget.max_usd}"
            if spec.budget.max_calls is not None or spec.budget.max_usd is not None
            else ""
        )
    )
    print(
        f"coverage: strength {cells.strength}, {cells.required_tuples} required tuples "
        f"({cells.excluded_tuples} excluded by constraints), covering array of {cells.array_rows} rows, "
        f"{plan.covered_tuples()} tuples covered by the planned rows"
    )
    names = [s.name for s in spec.strategies]
    width = max(30, *(len(f"{d.name}={v.name}") + 4 for d in spec.dimensions for v in d.values))
    print()
    print(
        f"{'':{width}}" + "".join(f"{n[:12]:>13}" for n in names) + f"{'total':>7}{'share':>7}{'weight':>8}"
    )
    counts = Counter((c.strategy, d, v) for c in primary for d, v in c.cell)
    print(f"{'rows':{width}}" + "".join(f"{dict(plan.targets)[n]:>13}" for n in names) + f"{spec.size:>7}")
    for dim in spec.dimensions:
        total_weight = sum(v.weight for v in dim.values) or 1.0
        for value in dim.values:
            row = [counts[(n, dim.name, value.name)] for n in names]
            share = sum(row) / max(1, len(primary))
            print(
                f"  {dim.name + '=' + value.name:{width - 2}}"
                + "".join(f"{x:>13}" for x in row)
                + f"{sum(row):>7}{share:>7.0%}{value.weight / total_weight:>8.0%}"
            )
    print()
    print(f"covering array ({cells.array_rows} rows):")
    widths = [max(len(d.name), *(len(v.name) for v in d.values)) for d in spec.dimensions]
    print("  " + "  ".join(f"{d.name:{w}}" for d, w in zip(spec.dimensions, widths, strict=True)))
    for cell in cells.array:
        print("  " + "  ".join(f"{v:{w}}" for (_, v), w in zip(cell, widths, strict=True)))


def _print_weights(evidence: dict[str, Any]) -> None:
    """Base and evidence-adjusted weights side by side, with the trace statistics behind them."""
    stats = evidence.get("evidence", {})
    print()
    print(
        f"production evidence: {stats.get('usable', 0)} usable traces of {stats.get('rows', 0)}, "
        f"cut-off {stats.get('cutoff')}; weights before and after evidence:"
    )
    print(f"  {'value':34}{'base':>8}{'adjusted':>10}{'traces':>8}{'share':>7}{'errors':>8}{'novel':>7}")
    for dim, values in evidence.get("weights", {}).items():
        per_value = stats.get("dimensions", {}).get(dim, {})
        for value, (base, adjusted) in values.items():
            s = per_value.get(value, {})
            print(
                f"  {dim + '=' + value:34}{base:>8.2f}{adjusted:>10.2f}{s.get('traces') or 0:>8}"
                f"{s.get('share') or 0:>7.0%}{s.get('error_rate') or 0:>8.0%}{s.get('novelty') or 0:>7.0%}"
            )


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
    warning = result.plan.coverage_warning()
    if warning:
        print(f"dsc: warning: {warning}", file=sys.stderr)
    if result.created:
        print(f"compiled {result.spec.name}: {len(result.rows)} rows -> {shown(version.path)}")
    else:
        print(
            f"unchanged: {version.version} -> {shown(version.path)} ({len(result.rows)} rows, nothing written)"
        )
    print(f"  strategies: {by_strategy}")
    print(f"  sources:    {by_source}")
    print(
        f"  generated {counts.get('generated', 0)}, failed {counts.get('failed', 0)}, "
        f"exact duplicates dropped {counts.get('exact_dropped', 0)}, near {counts.get('near_dropped', 0)}, "
        f"of existing coverage {counts.get('existing_dropped', 0)}, failed checks {counts.get('check_dropped', 0)}, "
        f"top-up rounds {result.rounds}"
    )
    if result.selection.missing or result.selection.short:
        cells = "; ".join(f"{s.strategy} [{s.cell}] {s.got}/{s.wanted}" for s in result.selection.short[:5])
        more = f" (+{len(result.selection.short) - 5} more)" if len(result.selection.short) > 5 else ""
        if result.selection.missing:
            print(f"  shortfall: {result.selection.missing} rows missing; short cells: {cells}{more}")
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
        print(f"  {pending} rows pending review (`dsc review list {shown(version.path)} --status pending`)")
    print(f"  report: {shown(version.path / 'report.html')}")
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
        )


def _print_unchanged(found: Any) -> None:
    """The summary of a version found unchanged from its fingerprint, read from its manifest."""
    manifest = found.manifest
    strategies = ", ".join(
        f"{k} {v.get('selected')}" for k, v in sorted(manifest.get("strategies", {}).items())
    )
    sources = ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("sources", {}).items()))
    print(
        f"unchanged: {found.version.version} -> {shown(found.version.path)} "
        f"({manifest.get('rows')} rows, nothing to do)"
    )
    print(f"  strategies: {strategies}")
    print(f"  sources:    {sources}")
    print(f"  report: {shown(found.version.path / 'report.html')}")
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


def run_plan(args: argparse.Namespace) -> int:
    from compiler.generate.estimate import estimate_usage
    from compiler.generate.templates import check_templates, render_case
    from compiler.spec.compose import Project, load_spec

    project = Project.locate()
    spec = load_spec(args.overrides, project, remembered=True)
    check_templates(spec, project.templates_dir)
    evidence: dict[str, Any] = {}
    if spec.sources is not None and spec.sources.production is not None:
        from compiler.sources.gather import gather_sources

        bundle = gather_sources(spec)
        spec, evidence = bundle.spec, bundle.manifest
    from compiler.plan.stable import plan_stable
    from compiler.versions.lineage import parent_version, seed_for

    plan = plan_stable(spec, seed_for(spec, parent_version(spec)))  # what `dsc compile` will plan
    warning = plan.coverage_warning()
    if warning:
        print(f"dsc: warning: {warning}", file=sys.stderr)
    usage = estimate_usage(spec, [render_case(spec, project.templates_dir, case) for case in plan.cases])
    if args.json:
        print(
            json.dumps(
                {**_plan_json(plan, usage), **({"weights": evidence["weights"]} if evidence else {})},
                ensure_ascii=False,
            )
        )
    else:
        _print_plan(plan, usage)
        if evidence:
            _print_weights(evidence)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from compiler.versions.store import read_manifest, resolve_version
    from compiler.versions.verify import require_intact

    version = require_intact(resolve_version(args.version, project_paths(args).out_dir))
    manifest = read_manifest(version)
    if args.json:
        print(json.dumps(manifest, indent=2, ensure_ascii=False))
        return 0
    counts = manifest.get("counts", {})
    print(f"{manifest['dataset']} {manifest['version']}  ({version.path})")
    print(
        f"  parent: {manifest.get('parent') or '-'}   lm: {manifest['lm']['identity']}   seed: {manifest['seed']}"
    )
    print(
        f"  rows: {manifest['rows']}   sources: "
        + ", ".join(f"{k} {v}" for k, v in manifest.get("sources", {}).items())
    )
    print(
        "  strategies: "
        + ", ".join(f"{k} {v['selected']}/{v['target']}" for k, v in manifest.get("strategies", {}).items())
    )
    print("  stages: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    drops = manifest.get("drops", {})
    print("  drops: " + (", ".join(f"{k} {v}" for k, v in drops.items()) or "none"))
    failures = manifest.get("failures", {})
    print("  failures: " + (", ".join(f"{k} {v}" for k, v in failures.items()) or "none"))
    short = manifest.get("shortfall", {})
    if short.get("missing_rows") or short.get("cells"):
        print(
            f"  shortfall: {short.get('missing_rows', 0)} rows missing, {len(short.get('cells', []))} short cells"
        )
    usage = manifest.get("usage", {})
    if usage:
        print(
            f"  usage: {usage.get('requests', 0)} requests, {usage.get('input_tokens', 0)} input + "
            f"{usage.get('output_tokens', 0)} output tokens, ${usage.get('cost_usd', 0):.4f}"
        )
    return 0


def run_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from compiler.spec.project import find_root, init_project

    root = Path(args.path)
    enclosing = find_root(root.resolve().parent)
    for path in init_project(root):
        print(f"wrote {path}")
    if enclosing is not None:
        print(
            f"note: {root.resolve()} sits inside the dsc project {enclosing}; inside it, dsc now uses this one"
        )
    print("next: dsc plan dataset=example, then dsc compile dataset=example")
    return 0


COMMANDS = {
    "compile": run_compile,
    "plan": run_plan,
    "show": run_show,
    "init": run_init,
    "optimize": run_optimize,
    **VERSION_COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _Parser.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        words = list(sys.argv[1:] if argv is None else argv)
        # verbs without Hydra overrides still take the path keys (out_dir=..., reviews_dir=...)
        ours, words = path_overrides(words) if words[:1] not in (["compile"], ["plan"]) else ([], words)
        args = parser.parse_args(words)
        args.path_overrides = ours
        if args.verb is None:
            parser.print_help()
            return 2
        return COMMANDS[args.verb](args)
    except DscError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"dsc: error: {line}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `dsc plan | head`: the reader left, which is not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(
            "dsc: interrupted; answers received so far are kept, run the same command again to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
