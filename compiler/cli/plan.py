"""`dsc plan`: the plan of a test space as tables or JSON, with its LM-call and token estimate.

No LM is called. The printed plan is remembered under the compile's fingerprint of every input (see
compiler/pipeline/noop.py): an unchanged space prints it again without planning (see `replay_plan`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections import Counter
from typing import Any

# From this size on, planning and rendering every prompt takes seconds (~0.2 ms a row): say so before it starts
SAY_WORKING_FROM = 20_000

OVERRIDES_HELP = "Hydra overrides, e.g. dataset=rag_qa size=60 seed=3 strategies.adversarial=5 lm=offline"


def _plan_json(plan: Any, usage: Any, fixed: Counter[str]) -> dict[str, Any]:
    spec = plan.spec
    return {
        "estimate": {
            "calls": usage.calls,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": round(usage.cost(spec), 4),
        },
        "dataset": spec.name,
        "size": spec.size + sum(fixed.values()),
        "synthetic": spec.size,
        "fixed": dict(sorted(fixed.items())),  # curated and production rows that join as they are
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


def shown_width(text: str) -> int:
    """Columns a text takes in a terminal: wide East Asian characters two, combining marks none."""
    import unicodedata

    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def padded(text: str, width: int) -> str:
    """`text` left-aligned in `width` terminal columns (f"{text:{width}}" counts characters, not columns)."""
    return text + " " * max(0, width - shown_width(text))


def _print_plan(plan: Any, usage: Any, fixed: Counter[str]) -> None:
    spec = plan.spec  # its size is the synthetic rows: curated and production rows join as they are
    primary = [c for c in plan.cases if c.primary]
    cells = plan.cells
    joined = "".join(f"{n} {source}, " for source, n in sorted(fixed.items()))
    labels = fixed.get("production", 0)
    print(
        f"dataset {spec.name}: {spec.size + sum(fixed.values())} rows"
        + (f" ({joined}{spec.size} synthetic)" if fixed else "")
        + f", {len(plan.cases)} LM calls planned (overgenerate x{spec.overgenerate:g})"
        + (f" + {labels} to label production rows" if labels else "")
        + f", lm {spec.lm.model}, seed {spec.seed}"
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
    width = max(30, *(shown_width(f"{d.name}={v.name}") + 4 for d in spec.dimensions for v in d.values))
    print()
    columns = [max(13, len(n) + 2) for n in names]  # a strategy's name heads its column, whole
    print(
        f"{'':{width}}"
        + "".join(f"{n:>{w}}" for n, w in zip(names, columns, strict=True))
        + f"{'total':>7}{'share':>7}{'weight':>8}"
    )
    counts = Counter((c.strategy, d, v) for c in primary for d, v in c.cell)
    print(
        f"{'rows':{width}}"
        + "".join(f"{dict(plan.targets)[n]:>{w}}" for n, w in zip(names, columns, strict=True))
        + f"{spec.size:>7}"
    )
    for dim in spec.dimensions:
        total_weight = sum(v.weight for v in dim.values) or 1.0
        for value in dim.values:
            row = [counts[(n, dim.name, value.name)] for n in names]
            share = sum(row) / max(1, len(primary))
            print(
                f"  {padded(dim.name + '=' + value.name, width - 2)}"
                + "".join(f"{x:>{w}}" for x, w in zip(row, columns, strict=True))
                + f"{sum(row):>7}{share:>7.0%}{value.weight / total_weight:>8.0%}"
            )
    negatives = [f"{d.name}={v.name}" for d in spec.dimensions for v in d.values if v.negative]
    targets = dict(plan.targets)
    carriers = [s.name for s in spec.strategies if s.negative and targets[s.name]]
    if negatives and carriers:
        shown = ", ".join(negatives[:3]) + (", ..." if len(negatives) > 3 else "")
        rows = sum(targets[n] for n in carriers)
        print(
            f"  negative values ({shown}) are drawn only in {', '.join(carriers)} ({rows} rows, at most one "
            "per case): their weight applies there, and the other values of their dimension share the rest"
        )
    print()
    print(f"covering array ({cells.array_rows} rows):")
    widths = [max(shown_width(d.name), *(shown_width(v.name) for v in d.values)) for d in spec.dimensions]
    print("  " + "  ".join(padded(d.name, w) for d, w in zip(spec.dimensions, widths, strict=True)))
    for cell in cells.array:
        print("  " + "  ".join(padded(v, w) for (_, v), w in zip(cell, widths, strict=True)))


def _print_weights(evidence: dict[str, Any]) -> None:
    """Base and evidence-adjusted weights side by side, with the trace statistics behind them."""
    stats = evidence.get("evidence", {})
    cutoff = stats.get("cutoff")
    novel = f"novel from {cutoff}" if cutoff else "no novelty cut-off (set sources.production.since)"
    print()
    print(
        f"production evidence: {stats.get('usable', 0)} usable traces of {stats.get('rows', 0)}, {novel}; "
        "weights before and after evidence:"
    )
    print(f"  {'value':34}{'base':>8}{'adjusted':>10}{'traces':>8}{'share':>7}{'errors':>8}{'novel':>7}")
    for dim, values in evidence.get("weights", {}).items():
        per_value = stats.get("dimensions", {}).get(dim, {})
        for value, (base, adjusted) in values.items():
            s = per_value.get(value, {})
            print(
                f"  {padded(dim + '=' + value, 34)}{base:>8.2f}{adjusted:>10.2f}{s.get('traces') or 0:>8}"
                f"{s.get('share') or 0:>7.0%}{s.get('error_rate') or 0:>8.0%}{s.get('novelty') or 0:>7.0%}"
            )
    usable = stats.get("usable", 0)
    unmapped = {dim: n for dim, n in stats.get("unmapped", {}).items() if n}
    if unmapped and usable:
        shown = ", ".join(f"{dim} {n} of {usable}" for dim, n in unmapped.items())
        print(f"  traces mapped to no value of the dimension (counted toward none): {shown}")


def _planned(args: argparse.Namespace, project: Any, spec: Any) -> tuple[str, str]:
    """The plan as printed (stdout) and its coverage warning (stderr, may be empty)."""
    from compiler.generate.estimate import estimate_usage
    from compiler.generate.templates import check_templates, render_cases

    check_templates(spec, project.templates_dir)
    if spec.size >= SAY_WORKING_FROM:
        calls = round(spec.size * spec.overgenerate)
        sys.stderr.write(
            f"dsc: planning {spec.size:,} rows and rendering their ~{calls:,} prompts for the estimate; "
            "at this size that takes a while\n"
        )
        sys.stderr.flush()
    from dataclasses import replace

    from compiler.plan.stable import plan_stable
    from compiler.sources.gather import gather_sources
    from compiler.versions.lineage import parent_version, previous_sourcing, seed_for

    # what `dsc compile` will plan: curated and production rows join as they are, synthetic rows fill the rest
    bundle = gather_sources(spec, previous_sourcing(spec))
    evidence = bundle.manifest if "weights" in bundle.manifest else {}
    warnings = list(bundle.warnings())
    fixed = Counter(row.source for row in bundle.fixed)
    spec = bundle.spec
    plan = plan_stable(
        replace(spec, size=spec.size - len(bundle.fixed)), seed_for(spec, parent_version(spec))
    )
    warning = plan.coverage_warning(len(bundle.fixed), bundle.size_for)
    warnings = [w for w in (plan.ruled_out_warning(), warning) if w] + warnings
    traces = [(case.input, case.output) for case in bundle.trace_cases.values()]
    usage = estimate_usage(spec, render_cases(spec, project.templates_dir, plan.cases), traces)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if args.json:
            weights = {"weights": evidence["weights"]} if evidence else {}
            print(json.dumps({**_plan_json(plan, usage, fixed), **weights}, ensure_ascii=False))
        else:
            _print_plan(plan, usage, fixed)
            if evidence:
                _print_weights(evidence)
    return out.getvalue(), "".join(f"dsc: warning: {line}\n" for line in warnings)


CFG_HELP = "print the composed config (Hydra's `--cfg job`, interpolations resolved) and exit"


def print_config(args: argparse.Namespace) -> int:
    """`--cfg job`: the config this command would run with, as YAML, before any checks of its values."""
    from compiler.core import lazy
    from compiler.core.errors import UsageError
    from compiler.generate.backends.redact import redact_secrets
    from compiler.spec.compose import Project, compose_config
    from compiler.spec.safety.rules import mask_config

    if getattr(args, "multirun", False):
        raise UsageError("--cfg job prints one job's config; drop -m and give one value per key")
    raw, _ = compose_config(args.overrides, Project.locate())
    text = lazy.omegaconf.OmegaConf.to_yaml(mask_config(raw))
    sys.stdout.write(redact_secrets(text))  # a key pasted into the config or an override stays out of logs
    return 0


def run_plan(args: argparse.Namespace) -> int:
    # Planning does no linear algebra (the covering array's one matrix product is on integers, numpy's
    # own loop): without this, loading numpy starts OpenBLAS's thread pool, 30-50 ms of a cold `dsc plan`.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from compiler.pipeline.noop import plan_key, recall_plan, remember_plan
    from compiler.spec.compose import Project, load_spec

    project = Project.locate()
    spec = load_spec(args.overrides, project, remembered=True)
    key = plan_key(project, spec, "json" if args.json else "text")
    found = recall_plan(spec, key) if key is not None else None
    out, err = found if found is not None else _planned(args, project, spec)
    sys.stderr.write(err)
    sys.stdout.write(out)
    if key is not None and found is None:
        remember_plan(spec, key, out, err)
    return 0
