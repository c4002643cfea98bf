"""Semantic dedupe throughput with the local hashing embedder: exact matching beside the usearch ANN path.

    .venv/bin/python bench/semantic.py [--rows 100000] [--ann-rows 100000] [--threshold 0.9]

On bench/near_corpus.py's corpus (20-80 word requests with planted rewordings): rows/s of embedding
(`embed_with_hashing`), then of matching every row by both methods on the same vectors in the same run:
exact (blocked matrix products over every earlier row) and ANN (usearch HNSW, `exact_rows=0`) on the first
--ann-rows rows; wall and CPU seconds of each, which one `find_semantic_duplicates` picks at that size
(`EXACT_ROWS`), and the share of exact drops the ANN path also makes (its recall). Peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import sys
import time
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))

from compiler.screen.near.hashing import embed_with_hashing  # noqa: E402
from compiler.screen.semantic import EXACT_ROWS, find_semantic_duplicates  # noqa: E402


def timed(step):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    value = step()
    return value, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--ann-rows", type=int, default=None, help="rows the ANN path runs on (default: all)")
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("bench_near_corpus", _BENCH / "near_corpus.py")
    assert spec is not None and spec.loader is not None
    corpus_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus_module)
    texts = corpus_module.generate_corpus(args.rows, 7)["text"]
    print(f"{args.rows:,} rows, cosine >= {args.threshold}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)  # fmt: skip
    embed_with_hashing(texts.head(100))  # loads the cached kernels
    vectors, embed_s, embed_cpu = timed(lambda: embed_with_hashing(texts))
    print(f"  embed (local hashing, {vectors.shape[1]} dims) {embed_s:7.2f} s ({embed_cpu:6.2f} CPU s) "
          f"{args.rows / embed_s:>9,.0f} rows/s", flush=True)  # fmt: skip
    exact, exact_s, exact_cpu = timed(
        lambda: find_semantic_duplicates(vectors, args.threshold, exact_rows=len(vectors))
    )
    print(f"  match, exact (all pairs)    {exact_s:7.2f} s ({exact_cpu:6.2f} CPU s) {args.rows / exact_s:>9,.0f} rows/s"
          f"  dropped {int((exact.dup_of >= 0).sum()):,}", flush=True)  # fmt: skip
    n = min(args.ann_rows or args.rows, args.rows)
    ann, ann_s, ann_cpu = timed(lambda: find_semantic_duplicates(vectors[:n], args.threshold, exact_rows=0))
    dropped_exact, dropped_ann = exact.dup_of[:n] >= 0, ann.dup_of >= 0  # a prefix's drops are the whole's
    recall = (dropped_exact & dropped_ann).sum() / max(dropped_exact.sum(), 1)
    print(f"  match, ANN (usearch HNSW)   {ann_s:7.2f} s ({ann_cpu:6.2f} CPU s) {n / ann_s:>9,.0f} rows/s"
          f"  on {n:,} rows: finds {recall:.4f} of the exact drops, agrees on {(dropped_exact == dropped_ann).mean():.4f} of rows")  # fmt: skip
    chosen = "exact" if args.rows <= EXACT_ROWS else "ANN"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  dedupe picks {chosen} at {args.rows:,} rows (EXACT_ROWS {EXACT_ROWS:,}); peak RSS {peak:,.0f} MB"
    )


if __name__ == "__main__":
    main()
