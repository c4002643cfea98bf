"""Start-up figures as a user meets them, side by side with their goals and peers, in one run.

Run: python3 bench/startup.py [--rows 10000] [--branch BRANCH] [--warm-cache]
A `git clone` of this repository into a temporary folder stands for a fresh machine: `make compile` is
timed as its two parts (creating .venv and installing, then the first compile with no __pycache__ and
no journal), then the no-op recompile, `dsc plan` on support_bot and on a generated 100-dimension space
(2^100 cells), and the offline compile's cost per row at --rows. Package caches start empty unless
--warm-cache (uv and pip then reuse this machine's caches). Nothing is asserted: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


DROPPED_ENV = ("PYTHONPATH", "DSC_PROJECT", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
CPU: dict[str, float] = {}  # figure -> child CPU seconds (user + system), beside its wall time


def timed(args: list[str], cwd: Path, env: dict[str, str], figure: str = "") -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if figure:
        CPU[figure] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        sys.exit(
            f"bench: {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return wall, done.stdout + done.stderr


def forget(clone: Path, *caches: str) -> None:
    """Drop remembered work under .dsc/ (compose: Hydra's compositions; plans: printed plans)."""
    for name in caches:
        shutil.rmtree(clone / ".dsc" / name, ignore_errors=True)


def best(
    args: list[str], cwd: Path, env: dict[str, str], figure: str, runs: int = 3, cold: tuple[str, ...] = ()
) -> float:
    """The best wall of `runs`; `cold` names the caches dropped before each run (warm: none)."""
    walls = []
    for i in range(runs):
        forget(cwd, *cold)
        walls.append(timed(args, cwd, env, f"{figure}{i}")[0])
    CPU[figure] = min(CPU.pop(f"{figure}{i}") for i in range(runs))
    return min(walls)


def wide_space(dimensions: int = 100) -> str:
    lines = [
        "name: wide",
        f"description: A generated test space of {dimensions} two-valued dimensions.",
        "prompt:",
        '  text: "Request: {{ request }}"',
        "  variables:",
        "    request: {description: The request.}",
        "dimensions:",
        *(f"  d{i:03d}: [a{i}, b{i}]" for i in range(dimensions)),
        "columns:",
        "  expected_behavior: {type: text}",
        "strategies: {direct: 1}",
        "size: 40",
        "coverage: 2",
        "seed: 1",
    ]
    return "\n".join(lines) + "\n"


def first_kernel_call(clone: Path, env: dict[str, str]) -> tuple[float, float]:
    """The near-duplicate step on 180 texts: the small exact path, and the numba kernels with a cold cache."""
    code = (
        "import time, sys; texts = [f'customer {i % 60} asks about order {i} and the refund window' "
        "for i in range(180)]; import polars as pl; t = time.perf_counter(); "
        "from compiler.screen.near.exact import find_near_duplicates_small as f; f(texts, 0.85); "
        "small = time.perf_counter() - t; t = time.perf_counter(); "
        "from compiler.screen.near.index import find_near_duplicates as g; "
        "g(pl.Series(texts, dtype=pl.String), 0.85); print(small, time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        out = timed([str(clone / ".venv/bin/python"), "-c", code], clone, {**env, "NUMBA_CACHE_DIR": cache})[
            1
        ]
    small, kernel = (float(x) for x in out.split()[-2:])
    return small, kernel


def _plan_rows(title: str, name: str, plans: dict[str, float], goal: float) -> list[Any]:
    """Warm (composition and printed plan remembered), then its peers: composed from cache, and cold."""
    warm, composed, cold = plans[name], plans[f"{name}_composed"], plans[f"{name}_cold"]
    return [
        (f"{title}, warm, best of 3", warm, goal, CPU[name], ""),
        (
            "  composition remembered, plan computed",
            composed,
            None,
            CPU[f"{name}_composed"],
            f"{composed / warm:.1f}x",
        ),
        ("  cold: Hydra composes, plan computed", cold, goal, CPU[f"{name}_cold"], f"{cold / warm:.1f}x"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--branch", default=None, help="the branch to clone (default: the checked-out one)")
    parser.add_argument("--warm-cache", action="store_true", help="reuse this machine's uv and pip caches")
    args = parser.parse_args()
    branch = (
        args.branch
        or subprocess.run(
            ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="dsc-startup-") as tmp:
        work = Path(tmp)
        clone = work / "clone"
        subprocess.run(["git", "clone", "-q", "--branch", branch, str(ROOT), str(clone)], check=True)
        # a user's shell: no PYTHONPATH or DSC_PROJECT, and Python writes .pyc files as it does by default
        # (PYTHONDONTWRITEBYTECODE=1 would recompile dsc's own modules from source on every run)
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        if not args.warm_cache:
            env.update(UV_CACHE_DIR=str(work / "uv-cache"), PIP_NO_CACHE_DIR="1")
        install, _ = timed(["make", ".venv/.installed-runtime"], clone, env, "install")
        first, first_out = timed(["make", "compile"], clone, env, "first")
        dsc = str(clone / ".venv/bin/dsc")
        noop, noop_out = timed([dsc, "compile"], clone, env, "noop")
        noop = min(noop, best([dsc, "compile"], clone, env, "noop"))
        noop_cold = best([dsc, "compile"], clone, env, "noop_cold", cold=("compose",))
        shutil.rmtree(clone / ".dsc" / "fingerprints")
        full_noop, _ = timed(
            [dsc, "compile"], clone, env, "full_noop"
        )  # the same no-op found by replaying the journal
        timed([dsc, "compile"], clone, env)  # remembers the fingerprint again
        plans = {}
        (clone / "conf" / "dataset" / "wide.yaml").write_text(wide_space())
        for name, words in (("plan", [dsc, "plan"]), ("plan_wide", [dsc, "plan", "dataset=wide"])):
            plans[f"{name}_cold"] = best(
                words, clone, env, f"{name}_cold", cold=("compose", "plans", "arrays")
            )
            plans[f"{name}_composed"] = best(words, clone, env, f"{name}_composed", cold=("plans", "arrays"))
            plans[name] = best(words, clone, env, name)
        small, kernel = first_kernel_call(clone, env)
        big_args = [
            dsc,
            "compile",
            f"size={args.rows}",
            f"out_dir={work}/big",
            f"journal_dir={work}/big-journal",
        ]
        big_cold, _ = timed(big_args, clone, env, "big_cold")  # numba compiles the kernels it needs first
        shutil.rmtree(work / "big")
        shutil.rmtree(work / "big-journal")
        big, _ = timed(big_args, clone, env, "big")  # the kernels are in numba's cache now
    print(first_out.strip().splitlines()[-1] if first_out.strip() else "")
    print(noop_out.strip().splitlines()[0])
    rows = [
        ("fresh clone `make compile`", install + first, None, CPU["install"] + CPU["first"], ""),
        ("  install: venv, uv, runtime deps", install, None, CPU["install"], ""),
        ("  first compile, no __pycache__, no journal", first, 5.0, CPU["first"], ""),
        ("unchanged recompile (fingerprint), warm, best of 4", noop, 0.5, CPU["noop"], ""),
        (
            "  cold: Hydra composes first, best of 3",
            noop_cold,
            None,
            CPU["noop_cold"],
            f"{noop_cold / noop:.1f}x",
        ),
        (
            "  peer: same no-op found by a full compile",
            full_noop,
            None,
            CPU["full_noop"],
            f"{full_noop / noop:.1f}x",
        ),
        *_plan_rows("dsc plan support_bot", "plan", plans, 0.6),
        *_plan_rows("dsc plan 100 two-valued dimensions (2^100)", "plan_wide", plans, 1.0),
        ("near-dup of 180 texts, exact small path", small, None, None, ""),
        ("  peer: numba kernels, first call, cold cache", kernel, None, None, f"{kernel / small:.0f}x"),
    ]
    print()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores; cpu = child user+system seconds")
    print("cold = .dsc/compose, plans and arrays dropped before each run; warm = all remembered")
    caches = "warm" if args.warm_cache else "cold"
    print(f"{f'figure, seconds ({branch}, {caches} caches)':56}{'wall':>9}{'goal':>8}{'cpu':>9}  ratio")
    for name, wall, goal, cpu, ratio in rows:
        goal_text = f"<= {goal:g}" if goal else ""
        cpu_text = f"{cpu:.2f}" if cpu is not None else ""
        print(f"{name:56}{wall:>9.2f}{goal_text:>8}{cpu_text:>9}  {ratio}")
    per_row, cpu_row = big / args.rows * 1000, CPU["big"] / args.rows * 1000
    print(f"{f'offline compile, {args.rows} rows, ms per row':56}{per_row:>9.3f}{'<= 0.3':>8}{cpu_row:>9.3f}")
    cold_row, cold_cpu = big_cold / args.rows * 1000, CPU["big_cold"] / args.rows * 1000
    print(
        f"{'  peer: the same, kernels not yet in numba cache':56}{cold_row:>9.3f}{'':>8}{cold_cpu:>9.3f}"
        f"  {cold_row / per_row:.1f}x"
    )


if __name__ == "__main__":
    main()
