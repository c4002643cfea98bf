"""The small-input near-duplicate path (a compile's few thousand texts) beside the numba kernels it stands in for.

Run: .venv/bin/python bench/dedupe_small.py
On bench/near_corpus.py's corpus (edits made in words and characters, not by the engine's measure), at
threshold 0.8, per shingling and row count: the exact prefix-filter join below `SMALL_ROWS`, and the MinHash +
LSH kernels on the same texts (warm: their one-time numba compile is not counted). Best of 3 each; it says
whether `SMALL_ROWS` sits where the two paths cross.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import importlib.util  # noqa: E402

import polars as pl  # noqa: E402

from compiler.screen.near.exact import SMALL_ROWS, find_near_duplicates_small  # noqa: E402
from compiler.screen.near.index import find_near_duplicates  # noqa: E402


def _near_corpus() -> ModuleType:
    """bench/near_corpus.py by path: bench/ on sys.path would shadow `coverage` (bench/coverage.py) for numba."""
    spec = importlib.util.spec_from_file_location("near_corpus", ROOT / "bench" / "near_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate_corpus = _near_corpus().generate_corpus


def best(run: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(f"SMALL_ROWS = {SMALL_ROWS}; threshold 0.8; best of 3, seconds\n")
    find_near_duplicates(pl.Series(["warm up the kernels", "warm up the kernel"]), 0.8)  # numba compiles once
    print(f"{'shingling':10}{'rows':>7}{'small path':>12}{'kernels':>10}{'small / kernels':>17}")
    for shingle, ngram in (("word", 1), ("word", 3), ("char", 5)):
        for rows in (500, 1000, 2000, 4000):
            texts = generate_corpus(rows, 7, 20, 80)["text"]
            listed = texts.to_list()
            small = best(functools.partial(find_near_duplicates_small, listed, 0.8, shingle, ngram))
            kernel = best(functools.partial(find_near_duplicates, texts, 0.8, shingle=shingle, ngram=ngram))
            print(f"{shingle}:{ngram:<8}{rows:>7}{small:>12.3f}{kernel:>10.3f}{small / kernel:>16.1f}x")
    # what the small path saves a compile: the kernels in a process that has not imported numba yet
    script = (
        "import time; t = time.perf_counter(); import polars as pl; "
        "from compiler.screen.near.index import find_near_duplicates; "
        "find_near_duplicates(pl.Series(['a b c'] * 2000), 0.8); print(time.perf_counter() - t)"
    )
    fresh = min(
        float(subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout)
        for _ in range(3)
    )  # fmt: skip
    print(f"\nkernels in a fresh process (numba import, cached kernels loaded, 2000 texts): {fresh:.3f} s")
    print("the small path pays off where its time stays below that figure")


if __name__ == "__main__":
    main()
