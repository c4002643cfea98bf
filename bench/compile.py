"""Offline compile throughput and `dsc plan` latency, printed beside their targets.

Run: .venv/bin/python bench/compile.py [--rows 10000] [--breakdown]
Each figure runs in a fresh subprocess with an empty journal, so nothing is replayed. `--breakdown` then
compiles the same rows once more in this process and splits the per-row time by stage, and the generation
stage into the offline engine (dsc's procedural LM), the journal, and the rest: DSPy's program call
(Predict, ChatAdapter format and parse, dspy.LM) with dsc's per-call code around it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, child CPU seconds and stdout of one dsc command."""
    env = {**os.environ, "DSC_PROJECT": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def breakdown(rows: int) -> None:
    """Per-row milliseconds of each stage of one in-process compile (imports and start-up excluded)."""
    import functools

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # bench/ itself must not shadow packages (bench/coverage.py would hide `coverage` from numba)
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    import compiler.pipeline.compile as pc
    import compiler.pipeline.stages as st
    from compiler.generate import journal
    from compiler.generate.backends.offline import engine
    from compiler.spec.compose import Project

    spent: dict[str, float] = {}

    def timed(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*args: object, **kwargs: object) -> object:
            started = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - started

        setattr(owner, name, wrapper)

    timed(pc, "render_plan", "render templates")
    timed(st, "generate_cases", "generate (fan-out)")
    timed(engine, "_respond", "  offline engine")
    timed(journal.Journal, "record", "  journal record")
    timed(st.CandidateRows, "_build", "rows: scrub, hash")
    timed(st, "screen_candidates", "screen: checks, dedupe")
    timed(pc, "publish", "publish: files, report")
    with tempfile.TemporaryDirectory() as tmp:
        project = Project(conf_dir=ROOT / "conf", templates_dir=ROOT / "templates")
        started = time.process_time()
        result = pc.compile_dataset(
            [f"size={rows}", f"out_dir={tmp}/outputs", f"journal_dir={tmp}/.dsc"], project=project
        )
        total = time.process_time() - started
    inner = spent["generate (fan-out)"] - spent["  offline engine"] - spent["  journal record"]
    print(f"\nin-process compile of {rows} rows, {result.calls} LM calls: CPU ms per row by stage")
    spent["  DSPy program call + dsc per call"] = inner
    order = ["render templates", "generate (fan-out)", "  offline engine", "  journal record"]
    order += ["  DSPy program call + dsc per call", "rows: scrub, hash", "screen: checks, dedupe"]
    for label in [*order, "publish: files, report"]:
        print(f"  {label:44}{spent.get(label, 0.0) / rows * 1000:>10.3f}")
    print(
        f"  {'everything else (plan, select, manifest)':44}{(total - sum(v for k, v in spent.items() if not k.startswith('  '))) / rows * 1000:>10.3f}"
    )
    print(f"  {'total':44}{total / rows * 1000:>10.3f}{'<= 0.3':>12}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--breakdown", action="store_true", help="also split one in-process compile by stage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plan_walls = [run(["plan"], work)[0] for _ in range(3)]
        wall, cpu, out = run(
            ["compile", f"size={args.rows}", f"out_dir={work}/outputs", f"journal_dir={work}/.dsc"], work
        )
        rewall, _, _ = run(
            ["compile", f"size={args.rows}", f"out_dir={work}/outputs", f"journal_dir={work}/.dsc"], work
        )
    print(out.strip())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print()
    print(f"{'figure':46}{'measured':>12}{'target':>12}")
    print(f"{'offline compile, support_bot, rows':46}{args.rows:>12}")
    print(f"{'  wall seconds':46}{wall:>12.2f}")
    print(f"{'  ms per row (wall)':46}{wall / args.rows * 1000:>12.3f}{'<= 0.3':>12}")  # issue #12
    print(f"{'  ms per row (cpu, all cores)':46}{cpu / args.rows * 1000:>12.3f}")
    print(f"{'  unchanged recompile, wall seconds':46}{rewall:>12.2f}")
    print(f"{'dsc plan wall seconds (best of 3, subprocess)':46}{min(plan_walls):>12.3f}{'<= 0.6':>12}")
    if args.breakdown:
        breakdown(args.rows)


if __name__ == "__main__":
    main()
