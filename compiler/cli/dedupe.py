"""`dsc dedupe FILE`: exact, near-duplicate and paraphrase dedupe of any JSONL, Parquet or CSV file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from compiler.core.errors import UsageError


def add_dedupe_verb(verbs: Any) -> None:
    dedupe = verbs.add_parser(
        "dedupe",
        help="drop exact and near-duplicate rows of any JSONL, Parquet or CSV file",
        description="Cluster exact and near-duplicate rows (MinHash + LSH over word or character "
        "shingles, verified by their exact Jaccard similarity) and keep the first row of each cluster.",
    )
    dedupe.add_argument("input", help="a .jsonl/.ndjson, .parquet or .csv file")
    dedupe.add_argument(
        "--on", required=True, help="column(s) to compare, comma-separated; a.b reaches a field"
    )
    dedupe.add_argument(
        "--near",
        type=float,
        default=0.85,
        help="collapse rows whose shingle sets overlap at least this much (Jaccard); default 0.85",
    )
    dedupe.add_argument(
        "--shingle",
        default="word",
        help="word (default) or char: compare sets of words or of character n-grams",
    )
    dedupe.add_argument(
        "--ngram", type=int, help="words or characters per shingle (default: 1 for word, 3 for char)"
    )
    dedupe.add_argument("--exact-only", action="store_true", help="only drop rows whose text is identical")
    dedupe.add_argument(
        "--semantic",
        action="store_true",
        help="also drop paraphrases: rows whose embedding's cosine with an earlier kept row reaches --threshold",
    )
    dedupe.add_argument("--threshold", type=float, help="cosine threshold of --semantic (default 0.9)")
    dedupe.add_argument(
        "--embedder",
        help="--semantic's embedder: local/hashing (default, no network) or a dspy.Embedder model",
    )
    dedupe.add_argument("--out", help="output file (default: <stem>.dedup<ext> beside the input)")
    dedupe.add_argument(
        "--annotate",
        action="store_true",
        help="write every row with dup_of (input index of the kept row) and dup_kind",
    )


def run_dedupe(args: argparse.Namespace) -> int:
    from compiler.screen.dedupe_file import dedupe_file
    from compiler.spec.model import LOCAL_EMBEDDER, SemanticDedupe

    columns = [c.strip() for c in args.on.split(",") if c.strip()]
    if not args.semantic and (args.threshold is not None or args.embedder is not None):
        flag = "--threshold" if args.threshold is not None else "--embedder"
        raise UsageError(f"{flag}: only means something with --semantic; add --semantic or drop {flag}")
    semantic = None
    if args.semantic:
        threshold = 0.9 if args.threshold is None else args.threshold
        semantic = SemanticDedupe(embedder=args.embedder or LOCAL_EMBEDDER, threshold=threshold)
    result = dedupe_file(
        Path(args.input),
        columns,
        None if args.exact_only else args.near,
        Path(args.out) if args.out else None,
        args.annotate,
        shingle=args.shingle,
        ngram=args.ngram,
        semantic=semantic,
    )
    paraphrases = f", {result.semantic} semantic" if semantic is not None else ""
    done = "marked (dup_of, dup_kind), every row written" if args.annotate else "dropped"
    kept = f"{result.kept} unique" if args.annotate else f"{result.kept} kept"
    print(
        f"{result.rows_in} rows in: {kept}, {result.exact} exact and {result.near} near"
        f"{paraphrases} duplicates {done}, {result.empty} with empty text (kept) -> {result.out_path}"
    )
    return 0
