"""Semantic dedupe throughput with the local hashing embedder, exact matching beside the usearch ANN path.

    .venv/bin/python bench/semantic.py [--rows 100000] [--exact-rows 20000] [--threshold 0.9]

On bench/near_corpus.py's corpus (20-80 word requests with planted rewordings): rows/s of embedding
(`embed_with_hashing`) and of matching (`find_semantic_duplicates`: usearch HNSW above --exact-rows, every
pair below), wall and CPU seconds of each, and on a --exact-rows sample the share of rows whose drop
decision the ANN path shares with exact matching (its recall of what exact matching drops).
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
from pathlib import Path

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))

from compiler.screen.near.hashing import embed_with_hashing  # noqa: E402
from compiler.screen.semantic import find_semantic_duplicates  # noqa: E402


def timed(step):  # type: ignore[no-untyped-def]
    started, cpu = time.perf_counter(), time.process_time()
    value = step()
    return value, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--exact-rows", type=int, default=20_000)
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("bench_near_corpus", _BENCH / "near_corpus.py")
    assert spec is not None and spec.loader is not None
    corpus_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus_module)
    texts = corpus_module.generate_corpus(args.rows, 7)["text"]
    embed_with_hashing(texts.head(100))  # loads the cached kernels
    vectors, embed_s, embed_cpu = timed(lambda: embed_with_hashing(texts))
    found, match_s, match_cpu = timed(lambda: find_semantic_duplicates(vectors, args.threshold))
    sample = vectors[: args.exact_rows]
    exact, exact_s, exact_cpu = timed(lambda: find_semantic_duplicates(sample, args.threshold))
    ann, ann_s, ann_cpu = timed(lambda: find_semantic_duplicates(sample, args.threshold, exact_rows=0))
    dropped_exact, dropped_ann = exact.dup_of >= 0, ann.dup_of >= 0
    recall = (dropped_exact & dropped_ann).sum() / max(dropped_exact.sum(), 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.rows:,} rows, {vectors.shape[1]} dimensions, cosine >= {args.threshold}, peak RSS {peak:,.0f} MB"
    )
    print(
        f"  embed (local hashing)      {embed_s:7.2f} s ({embed_cpu:6.2f} CPU s) {args.rows / embed_s:>10,.0f} rows/s"
    )
    path = "ANN (usearch)" if args.rows > 20_000 else "exact"
    print(f"  match, {path:<19} {match_s:7.2f} s ({match_cpu:6.2f} CPU s) {args.rows / match_s:>10,.0f} rows/s"
          f"  dropped {int((found.dup_of >= 0).sum()):,}")  # fmt: skip
    print(f"  on {len(sample):,} rows: exact {exact_s:.2f} s ({exact_cpu:.2f} CPU s), ANN {ann_s:.2f} s "
          f"({ann_cpu:.2f} CPU s); ANN finds {recall:.4f} of the exact drops, "
          f"agrees on {(dropped_exact == dropped_ann).mean():.4f} of rows")  # fmt: skip


if __name__ == "__main__":
    main()
