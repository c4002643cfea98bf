"""`dsc optimize`: argument parsing and printing; the work is compiler.pipeline.optimize."""

from __future__ import annotations

import argparse
import sys
from typing import Any

OPTIMIZE_HELP = "Hydra overrides, e.g. dataset=support_bot optimizer=gepa budget.max_usd=5"


def add_optimize_verb(verbs: Any) -> None:
    optimize = verbs.add_parser(
        "optimize",
        help="improve the generator program with a DSPy optimizer; writes programs/<dataset>.json",
        description="Run a DSPy optimizer (optimizer=bootstrap|mipro|gepa) on planned cases, scored by dsc's "
        "checks, the plausibility judge and a near-duplicate penalty; every LM call is journaled and "
        "budgeted. Compile with the result by generator.state=programs/<dataset>.json.",
    )
    optimize.add_argument("overrides", nargs="*", help=OPTIMIZE_HELP)


def run_optimize(args: argparse.Namespace) -> int:
    from compiler.core.confine import shown_path
    from compiler.pipeline.optimize import optimize_program

    def warn(line: str) -> None:
        print(f"dsc: warning: {line}", file=sys.stderr, flush=True)

    result = optimize_program(args.overrides, on_warning=warn)
    shown = shown_path(result.path)
    print(f"optimized ({result.optimizer}): {shown}, {result.demos} demos")
    print(
        f"  held-out metric on {result.held_out} planned cases: {result.before:.3f} -> {result.after:.3f} "
        f"(trained on {result.train})"
    )
    print(
        f"  {result.calls} LM calls ({result.replayed} answers replayed from the journal), {result.seconds:.1f} s"
    )
    print(f"  compile with it: dsc compile dataset={result.dataset} generator.state={shown}")
    return 0
