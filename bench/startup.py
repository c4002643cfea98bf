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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(
            f"bench: {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return wall, done.stdout + done.stderr


def best(args: list[str], cwd: Path, env: dict[str, str], runs: int = 3) -> float:
    return min(timed(args, cwd, env)[0] for _ in range(runs))


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
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DSC_PROJECT", "VIRTUAL_ENV")}
        if not args.warm_cache:
            env.update(UV_CACHE_DIR=str(work / "uv-cache"), PIP_NO_CACHE_DIR="1")
        install, _ = timed(["make", ".venv/.installed-runtime"], clone, env)
        first, first_out = timed(["make", "compile"], clone, env)
        dsc = str(clone / ".venv/bin/dsc")
        noop, noop_out = timed([dsc, "compile"], clone, env)
        shutil.rmtree(clone / ".dsc" / "fingerprints")
        full_noop, _ = timed([dsc, "compile"], clone, env)  # the same no-op found by replaying the journal
        timed([dsc, "compile"], clone, env)  # remembers the fingerprint again
        plan = best([dsc, "plan"], clone, env)
        (clone / "conf" / "dataset" / "wide.yaml").write_text(wide_space())
        plan_wide = best([dsc, "plan", "dataset=wide"], clone, env)
        small, kernel = first_kernel_call(clone, env)
        big_args = [
            dsc,
            "compile",
            f"size={args.rows}",
            f"out_dir={work}/big",
            f"journal_dir={work}/big-journal",
        ]
        big, _ = timed(big_args, clone, env)
    print(first_out.strip().splitlines()[-1] if first_out.strip() else "")
    print(noop_out.strip().splitlines()[0])
    print()
    print(
        f"{'figure (' + branch + ', ' + ('warm' if args.warm_cache else 'cold') + ' caches)':58}{'measured':>10}{'goal':>10}"
    )
    print(f"{'fresh clone `make compile`, wall s':58}{install + first:>10.1f}")
    print(f"{'  install: venv, uv, runtime deps (s)':58}{install:>10.1f}")
    print(f"{'  first compile, no __pycache__, no journal (s)':58}{first:>10.2f}{'<= 5':>10}")
    print(f"{'unchanged recompile, fingerprint (s)':58}{noop:>10.2f}{'<= 0.5':>10}")
    print(
        f"{'  peer: same no-op found by a full compile (s)':58}{full_noop:>10.2f}{'':>10}{full_noop / noop:>8.1f}x"
    )
    print(f"{'dsc plan support_bot, best of 3 (s)':58}{plan:>10.2f}{'<= 0.6':>10}")
    print(f"{'dsc plan 100 two-valued dimensions (2^100), best of 3 (s)':58}{plan_wide:>10.2f}{'<= 1.0':>10}")
    print(f"{'near-dup of 180 texts, exact small path (s)':58}{small:>10.3f}")
    print(
        f"{'  peer: numba kernels, first call, cold cache (s)':58}{kernel:>10.2f}{'':>10}{kernel / small:>8.0f}x"
    )
    print(
        f"{f'offline compile, {args.rows} rows, ms per row (wall)':58}{big / args.rows * 1000:>10.3f}{'<= 0.3':>10}"
    )


if __name__ == "__main__":
    main()
