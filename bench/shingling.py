"""Which shingling makes `near: T` mean what users mean? Pairwise P/R per shingling and threshold.

    .venv/bin/python bench/shingling.py [--rows 20000] [--lengths 8-20,20-80] [--thresholds 0.7,0.8,0.85,0.9]

On corpora from bench/near_corpus.py (labels are the edits made, not a similarity), for each text length
range, shingling and threshold: pairwise precision and recall of dsc's clusters, the share of each kind of
variant found in its original's cluster, and the share of hard negatives wrongly merged.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import polars as pl

_BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))

from compiler.screen.near.index import find_near_duplicates  # noqa: E402


def load_bench_module(name: str):  # type: ignore[no-untyped-def]
    """Import bench/<name>.py by path (bench/ is not on sys.path: its coverage.py would shadow a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", _BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_pairs(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the ground truth."""
    frame = pl.DataFrame({"p": predicted, "t": truth})

    def pairs(*keys: str) -> int:
        sizes = frame.group_by(*keys).len()["len"].cast(pl.Int64)
        return int((sizes * (sizes - 1) // 2).sum())

    both = pairs("p", "t")
    return both / max(pairs("p"), 1), both / max(pairs("t"), 1)


def found_by_kind(corpus: pl.DataFrame, kept_of: np.ndarray) -> dict[str, float]:
    """Per variant kind, the share whose row landed in its original's cluster (negatives: wrongly merged)."""
    frame = corpus.with_columns(label=pl.Series(kept_of))
    original = frame.filter(pl.col("kind") == "original").select("cluster", original_label="label")
    joined = frame.join(original, on="cluster", how="left")
    out = {}
    for kind in ("words", "typos", "reorder", "noise"):
        part = joined.filter(pl.col("kind") == kind)
        out[kind] = float((part["label"] == part["original_label"]).mean() or 0.0)
    negatives = frame.filter(pl.col("kind") == "negative")
    sizes = frame.group_by("label").len()
    merged = negatives.join(sizes, on="label")["len"] > 1
    out["negative"] = float(merged.mean() or 0.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--lengths", default="8-20,20-80")
    parser.add_argument("--thresholds", default="0.7,0.8,0.85,0.9")
    parser.add_argument("--shinglings", default="word:1,word:2,word:3,char:3,char:4,char:5,char:6")
    args = parser.parse_args()
    corpus_module = load_bench_module("near_corpus")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    header = f"{'words':>6} {'shingles':<8} {'T':>5} {'P':>7} {'R':>7}" + "".join(
        f"{k:>9}" for k in ("words", "typos", "reorder", "noise", "neg")
    )
    print(header)
    print("-" * len(header))
    for lengths in args.lengths.split(","):
        low, high = (int(x) for x in lengths.split("-"))
        corpus = corpus_module.generate_corpus(args.rows, 7, low, high)
        truth = corpus["cluster"].to_numpy()
        for shingling in args.shinglings.split(","):
            kind, ngram = shingling.split(":")
            for threshold in thresholds:
                found = find_near_duplicates(corpus["text"], threshold, shingle=kind, ngram=int(ngram))  # type: ignore[arg-type]
                precision, recall = score_pairs(found.kept_of, truth)
                shares = found_by_kind(corpus, found.kept_of)
                print(
                    f"{lengths:>6} {shingling:<8} {threshold:>5.2f} {precision:>7.4f} {recall:>7.4f}"
                    + "".join(f"{v:>9.3f}" for v in shares.values()),
                    flush=True,
                )
        print()


if __name__ == "__main__":
    main()
