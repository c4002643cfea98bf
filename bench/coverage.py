"""Covering-array size and speed: dsc against allpairspy (same process) and PICT's published counts.

Run: .venv/bin/python bench/coverage.py   (allpairspy is a bench-only dependency: pip install allpairspy==2.5.1)
Coverage is re-checked here by brute force for both tools, so a short array that misses tuples shows.
"""

from __future__ import annotations

import itertools
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from compiler.plan.covering.array import build_covering_array

ALLPAIRSPY_TIMEOUT_S = 60
SEED = 1


@dataclass(frozen=True)
class Case:
    name: str
    levels: tuple[int, ...]
    strength: int
    pict_rows: int | None  # PICT's reference count (seed 1), where known
    optimum: int | None = None  # proven minimum, where known


CASES = (
    Case("3^4 t=2", (3,) * 4, 2, 12, optimum=9),
    Case("3^13 t=2", (3,) * 13, 2, 19, optimum=15),
    Case("4^15 t=2", (4,) * 15, 2, 37),
    Case("5^10 t=2", (5,) * 10, 2, 45),
    Case("10^20 t=2", (10,) * 20, 2, 213),
    Case("2^100 t=2", (2,) * 100, 2, 16, optimum=10),
    Case("3^10 t=3", (3,) * 10, 3, None),
    Case("4^8 t=3", (4,) * 8, 3, None),
)


@dataclass(frozen=True)
class Run:
    rows: int
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time: steadier than wall clock on a shared machine
    coverage: float  # fraction of t-tuples the rows cover


class Timeout(Exception):
    pass


def count_covered(rows: np.ndarray, levels: tuple[int, ...], strength: int) -> float:
    """Fraction of all t-tuples present in some row, counted independently of either tool."""
    covered = total = 0
    for dims in itertools.combinations(range(len(levels)), strength):
        radix = np.cumprod((1,) + tuple(levels[d] for d in dims[:-1]))
        covered += len(np.unique(rows[:, dims] @ radix)) if len(rows) else 0
        total += int(np.prod([levels[d] for d in dims]))
    return covered / total


def run_dsc(case: Case) -> Run:
    start, cpu_start = time.perf_counter(), time.process_time()
    result = build_covering_array([[1.0] * n for n in case.levels], case.strength, seed=SEED)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    rows = np.array(result.rows)
    return Run(len(rows), seconds, cpu_seconds, count_covered(rows, case.levels, case.strength))


def run_allpairspy(case: Case) -> Run | str:
    try:
        from allpairspy import AllPairs
    except ImportError:
        return "not installed"

    def on_alarm(signum: int, frame: object) -> None:
        raise Timeout

    previous: Callable[..., object] | int | None = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(ALLPAIRSPY_TIMEOUT_S)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        rows = list(AllPairs([list(range(n)) for n in case.levels], n=case.strength))
    except Timeout:
        return f"skipped (> {ALLPAIRSPY_TIMEOUT_S} s)"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    array = np.array(rows, dtype=np.int64).reshape(len(rows), len(case.levels))
    return Run(len(rows), seconds, cpu_seconds, count_covered(array, case.levels, case.strength))


def format_run(run: Run | str) -> list[str]:
    if isinstance(run, str):
        return [run, "", "", ""]
    return [str(run.rows), f"{run.seconds:.2f}", f"{run.cpu_seconds:.2f}", f"{run.coverage:.1%}"]


def main() -> None:
    header = [
        "case",
        "dsc rows",
        "s",
        "cpu s",
        "cov",
        "allpairspy rows",
        "s",
        "cpu s",
        "cov",
        "PICT",
        "optimum",
    ]
    table = [header]
    incomplete = False
    for case in CASES:
        dsc, allpairspy = run_dsc(case), run_allpairspy(case)
        incomplete |= isinstance(allpairspy, Run) and allpairspy.coverage < 1.0
        known = [str(n) if n is not None else "-" for n in (case.pict_rows, case.optimum)]
        table.append([case.name, *format_run(dsc), *format_run(allpairspy), *known])
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(
                [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            )
        )
    print(f"\nseed {SEED}; s = wall clock, cpu s = this process's CPU time (steadier on a busy machine);")
    print("cov = share of all t-tuples covered, re-checked by brute force here.")
    print("PICT = its published pairwise row counts (seed 1); PICT itself is not run here.")
    if incomplete:
        print(
            "allpairspy misses tuples where its cov < 100% (its n=3 mode), so those row counts do not compare."
        )


if __name__ == "__main__":
    main()
