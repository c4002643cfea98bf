"""Benchmark `dsc dedupe` against datasketch, whole processes, on a corpus defined by edits (not by Jaccard).

    .venv/bin/python bench/dedupe.py [--rows 100000,1000000] [--shinglings word:1,word:3,char:5]
                                     [--baseline-rows 100000] [--threshold 0.8] [--semantic-rows 100000]
                                     [--repeat 3]

The corpus (bench/near_corpus.py) is short requests of 20-80 words with planted near-duplicates: word
edits, typos, swapped sentences, case/punctuation/spacing noise, exact copies, and hard negatives; each
row's cluster is the edit that made it. For every size and shingling, two whole processes are timed:
`python -m compiler.cli dedupe corpus.parquet --on text --annotate` (start-up, reading, kernels and the
annotated Parquet written) and a datasketch 2.0.0 process (`pip install -e '.[bench]'`) that reads the
same file, gets the same normalised shingles (dsc's reference `shingle_text`, xxh32 hashes), builds
MinHash sketches (128 permutations, its default; dsc sketches with its own NUM_PERM, 96, since it verifies
every candidate exactly) and MinHashLSH at the same threshold, and keeps an LSH candidate when
its MinHash estimate reaches the threshold. Wall seconds, CPU seconds and peak RSS come from `wait4` on
each child; dsc runs --repeat times (3) and the run with the median wall time is reported, beside all
of them, while the slower datasketch process runs once. Before timing, one untimed dsc run on 5,000 rows
(above the small path's 2,000) compiles or loads the numba kernels, so the first timed run after a kernel
edit does not pay ~15 s of JIT. Above
--baseline-rows datasketch runs on whole clusters (every k-th) and its rows/s is extrapolated; say so when quoting it. Precision and recall are pairwise, against the planted clusters;
R(J) is recall against the pairs of planted clusters whose exact Jaccard, in that shingling, reaches the
threshold (what the shingling can see: two word edits put word 3-grams below 0.8 by definition).
R(row) is recall as dedupe promises it: of the rows with an earlier row of their planted cluster at or above
the threshold, the share dropped. It differs from R(J) where a cluster keeps two rows below the threshold of
each other: a row like both joins one (no transitive closure), and its pair with the other counts as missed.
Last, on the --semantic-rows corpus, `dsc dedupe --semantic` (local hashing embedder) and the same command
without --semantic run as whole processes, and one line prints the rows/s of both.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

# bench/ holds a coverage.py that would shadow the `coverage` package numba probes for: run from the repo root.
_BENCH = Path(__file__).resolve().parent
_ROOT = _BENCH.parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path.insert(0, str(_ROOT))

NUM_PERM = 128  # datasketch's own default; it keeps a pair on its MinHash estimate, so it needs them all
SEED = 7
CACHE = Path(tempfile.gettempdir()) / "dsc-bench-dedupe-v2"


def load_bench_module(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", _BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus_path(rows: int, stride: int = 1) -> Path:
    """The corpus as Parquet (text, cluster, kind), or every stride-th cluster of it."""
    path = CACHE / f"corpus-{rows}-{SEED}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        load_bench_module("near_corpus").generate_corpus(rows, SEED).write_parquet(path)
        print(f"  generated {rows:,} rows in {time.perf_counter() - started:.0f}s -> {path}", file=sys.stderr)
    if stride == 1:
        return path
    sample = CACHE / f"corpus-{rows}-{SEED}-every-{stride}.parquet"
    if not sample.exists():
        pl.read_parquet(path).filter(pl.col("cluster") % stride == 0).write_parquet(sample)
    return sample


# --- the processes measured -------------------------------------------------------------------------------


def run_process(args: list[str]) -> dict:
    """Run one child to completion; its wall seconds, CPU seconds and peak RSS (from wait4)."""
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=_ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    out, err = child.stdout.read().decode(), child.stderr.read().decode()  # type: ignore[union-attr]
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({child.returncode}):\n{err}")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
        "stdout": out,
    }


def measure_dsc(path: Path, shingle: str, ngram: int, threshold: float, repeat: int = 1) -> dict:
    """`repeat` whole `dsc dedupe` processes one after another; the run with the median wall time, and
    every run's wall seconds under "walls"."""
    out = CACHE / f"dsc-{path.stem}-{shingle}{ngram}.parquet"
    args = [sys.executable, "-m", "compiler.cli", "dedupe", str(path), "--on", "text", "--annotate"]
    args += ["--near", str(threshold), "--shingle", shingle, "--ngram", str(ngram), "--out", str(out)]
    runs = sorted((run_process(args) for _ in range(max(1, repeat))), key=lambda run: run["seconds"])
    result = runs[len(runs) // 2]
    result["walls"] = [run["seconds"] for run in runs]
    dup_of = pl.read_parquet(out, columns=["dup_of"])["dup_of"]
    result["labels"] = dup_of.fill_null(pl.Series(np.arange(len(dup_of)))).to_numpy()
    return result


def measure_semantic(path: Path, threshold: float) -> tuple[dict, dict]:
    """`dsc dedupe --semantic` (local embedder) and the same command without it, as whole processes."""
    results = []
    for semantic in ([], ["--semantic", "--threshold", str(threshold)]):
        out = CACHE / f"dsc-{path.stem}-semantic{len(semantic)}.parquet"
        args = [sys.executable, "-m", "compiler.cli", "dedupe", str(path), "--on", "text", "--annotate"]
        results.append(run_process(args + ["--out", str(out), *semantic]))
        kinds = pl.read_parquet(out, columns=["dup_kind"])["dup_kind"].value_counts()
        results[-1]["drops"] = dict(zip(kinds["dup_kind"].to_list(), kinds["count"].to_list(), strict=True))
    return results[0], results[1]


def report_semantic(rows: int, threshold: float) -> str:
    """One line: lexical dedupe (word unigrams at 0.85) beside lexical + semantic, rows/s of each."""
    lexical, semantic = measure_semantic(corpus_path(rows), threshold)
    drops = semantic["drops"]
    compared = rows - drops.get("exact", 0) - drops.get("near", 0)
    return (
        f"semantic dedupe at {rows:,} rows (dsc dedupe --semantic, local hashing embedder, cosine >= {threshold}, "
        f"defaults otherwise): {semantic['seconds']:.1f} s ({semantic['cpu']:.1f} CPU s) {rows / semantic['seconds']:,.0f} "
        f"rows/s, peak {semantic['peak_mb']:,.0f} MB, drops exact {drops.get('exact', 0):,} near {drops.get('near', 0):,} "
        f"semantic {drops.get('semantic', 0):,} (embedded and compared: the {compared:,} rows lexical dedupe kept) | lexical only: {lexical['seconds']:.1f} s ({lexical['cpu']:.1f} CPU s) "
        f"{rows / lexical['seconds']:,.0f} rows/s"
    )  # fmt: skip


def measure_datasketch(path: Path, shingle: str, ngram: int, threshold: float) -> dict:
    labels = CACHE / f"datasketch-{path.stem}-{shingle}{ngram}.npy"
    args = [sys.executable, str(Path(__file__).resolve()), "--worker", str(path), "--labels", str(labels)]
    args += ["--shinglings", f"{shingle}:{ngram}", "--threshold", str(threshold)]
    result = run_process(args)
    result["labels"] = np.load(labels)
    return result


def warm_kernels(path: Path, threshold: float) -> None:
    """One untimed dsc run above the small path's 2,000 rows: numba compiles or loads its cached kernels."""
    sample = CACHE / "warm-5000.parquet"
    pl.read_parquet(path).head(5000).write_parquet(sample)
    measure_dsc(sample, "word", 1, threshold)


def cluster_with_datasketch(path: Path, shingle: str, ngram: int, threshold: float, labels_out: Path) -> None:
    """The datasketch process: read, shingle as dsc does, MinHash, LSH, verify by the MinHash estimate."""
    import xxhash
    from datasketch import MinHash, MinHashLSH

    from compiler.screen.near.index import shingle_text

    texts = pl.read_parquet(path, columns=["text"])["text"].to_list()
    shingles = [[s.encode() for s in shingle_text(t or "", shingle, ngram)] for t in texts]  # type: ignore[arg-type]
    sketches = MinHash.bulk(shingles, num_perm=NUM_PERM, hashfunc=xxhash.xxh32_intdigest)
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i, sketch in enumerate(sketches):
            if shingles[i]:
                session.insert(i, sketch, check_duplication=False)
    kept_of = np.arange(len(texts))
    for i, sketch in enumerate(sketches):  # in order: a row joins the earlier row it matches first
        if shingles[i]:
            earlier = sorted(j for j in lsh.query(sketch) if j < i)
            for j in earlier:
                if sketch.jaccard(sketches[j]) >= threshold:
                    kept_of[i] = kept_of[j]
                    break
    np.save(labels_out, kept_of)


# --- scoring and report -----------------------------------------------------------------------------------


def score_pairs(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the ground truth."""
    frame = pl.DataFrame({"p": predicted, "t": truth})

    def pairs(*keys: str) -> int:
        sizes = frame.group_by(*keys).len()["len"].cast(pl.Int64)
        return int((sizes * (sizes - 1) // 2).sum())

    both = pairs("p", "t")
    return both / max(pairs("p"), 1), both / max(pairs("t"), 1)


def jaccard_recall(path: Path, predicted: np.ndarray, shingle: str, ngram: int, threshold: float) -> float:
    """Pairwise recall against the shingling's own truth: planted pairs whose exact Jaccard reaches the threshold.

    Recall against the planted clusters asks for pairs a shingling cannot reach (two edits in 20 words leave
    word 3-grams far below 0.8); this asks only for the pairs whose shingle sets do meet the threshold.
    """
    found, total = _count_jaccard_pairs(*planted_clusters(path, shingle, ngram), predicted, threshold)
    return found / max(total, 1)


@functools.lru_cache(maxsize=2)  # both recalls of a figure read the same corpus and shingling
def planted_clusters(path: Path, shingle: str, ngram: int) -> tuple[np.ndarray, ...]:
    """(order, bounds, shingles, starts, counts): the rows sorted by planted cluster (in row order within
    one), where each cluster starts in that order, and every row's shingle hashes as dsc's kernel makes them."""
    from compiler.screen.near.sketch import sketch_texts

    frame = pl.read_parquet(path, columns=["text", "cluster"])
    one = np.ones(1, dtype=np.uint16)
    _, _, shingles, starts, counts = sketch_texts(
        frame["text"], shingle == "word", ngram, one, one, np.ones(1, dtype=np.uint64), 1, 1
    )
    order = np.argsort(frame["cluster"].to_numpy(), kind="stable")
    bounds = np.flatnonzero(np.diff(frame["cluster"].to_numpy()[order], prepend=-1, append=-1))
    return order, bounds, shingles, starts, counts


def _count_jaccard_pairs(order, bounds, shingles, starts, counts, predicted, threshold):  # type: ignore[no-untyped-def]
    from numba import njit

    @njit(cache=False)
    def count(order, bounds, shingles, starts, counts, predicted, threshold):  # type: ignore[no-untyped-def]
        found = total = 0
        for g in range(bounds.shape[0] - 1):
            members = order[bounds[g] : bounds[g + 1]]
            sets = [np.unique(shingles[starts[i] : starts[i] + counts[i]]) for i in members]
            for x in range(members.shape[0]):
                for y in range(x + 1, members.shape[0]):
                    a, b = sets[x], sets[y]
                    both = np.intersect1d(a, b).shape[0]
                    union = a.shape[0] + b.shape[0] - both
                    if union > 0 and both / union >= threshold:
                        total += 1
                        found += predicted[members[x]] == predicted[members[y]]
        return found, total

    return count(order, bounds, shingles, starts, counts, predicted, threshold)


def drop_recall(path: Path, labels: np.ndarray, shingle: str, ngram: int, threshold: float) -> float:
    """The share of rows dropped among those with an earlier row of their planted cluster whose exact Jaccard
    reaches the threshold (a row is dropped when its resolved label is another row)."""
    dropped, total = _count_droppable_rows(*planted_clusters(path, shingle, ngram), labels, threshold)
    return dropped / max(total, 1)


def _count_droppable_rows(order, bounds, shingles, starts, counts, labels, threshold):  # type: ignore[no-untyped-def]
    from numba import njit

    @njit(cache=False)
    def count(order, bounds, shingles, starts, counts, labels, threshold):  # type: ignore[no-untyped-def]
        dropped = total = 0
        for g in range(bounds.shape[0] - 1):
            members = order[bounds[g] : bounds[g + 1]]
            sets = [np.unique(shingles[starts[i] : starts[i] + counts[i]]) for i in members]
            for x in range(1, members.shape[0]):
                for y in range(x):
                    a, b = sets[x], sets[y]
                    both = np.intersect1d(a, b).shape[0]
                    union = a.shape[0] + b.shape[0] - both
                    if a.shape[0] > 0 and b.shape[0] > 0 and both / union >= threshold:
                        total += 1
                        dropped += labels[members[x]] != members[x]
                        break
        return dropped, total

    return count(order, bounds, shingles, starts, counts, labels, threshold)


def resolve(labels: np.ndarray) -> np.ndarray:
    """Follow dup_of links to the kept row, so every row is labelled by its cluster's kept row."""
    labels = labels.copy()
    for _ in range(64):
        nxt = labels[labels]
        if (nxt == labels).all():
            break
        labels = nxt
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000", help="comma-separated corpus sizes, e.g. 100000,1000000")
    parser.add_argument("--shinglings", default="word:1,word:3,char:5")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument(
        "--baseline-rows", type=int, default=100_000, help="datasketch on about this many rows"
    )
    parser.add_argument(
        "--semantic-rows", type=int, default=100_000, help="rows of the semantic dedupe figure (0: skip it)"
    )
    parser.add_argument("--semantic-threshold", type=float, default=0.9)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="dsc runs per figure, the median reported (the machine is noisy)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--labels", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    shinglings = [(s.split(":")[0], int(s.split(":")[1])) for s in args.shinglings.split(",")]
    if args.worker:
        cluster_with_datasketch(args.worker, *shinglings[0], args.threshold, args.labels)
        return

    from compiler.screen.near.index import NUM_PERM as DSC_PERM

    print(f"threshold {args.threshold}; permutations: dsc {DSC_PERM} (each candidate verified by its exact Jaccard), "
          f"datasketch {NUM_PERM} (its default; keeps estimates); whole processes; speed-up in wall and CPU seconds; "
          f"{os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start (neighbours slow wall times; CPU s is steadier)")  # fmt: skip
    header = (
        f"{'rows':>9} {'shingles':<8} | {'dsc s (cpu)':>13} {'rows/s':>9} {'peak MB':>8} {'P':>7} {'R':>7} {'R(J)':>7} "
        f"{'R(row)':>7} | {'datasketch s (cpu)':>19} {'rows/s':>8} {'peak MB':>8} {'P':>7} {'R':>7} {'R(J)':>7} "
        f"{'R(row)':>7} | "
        f"{'speed-up':>8} {'CPU':>6}"
    )
    lines = [header, "-" * len(header)]
    print("\n".join(lines), flush=True)
    warm_kernels(corpus_path(int(args.rows.split(",")[0])), args.threshold)
    for rows in (int(r) for r in args.rows.split(",")):
        path = corpus_path(rows)
        truth = pl.read_parquet(path, columns=["cluster"])["cluster"].to_numpy()
        stride = -(-rows // args.baseline_rows)
        sample = corpus_path(rows, stride)
        sample_truth = pl.read_parquet(sample, columns=["cluster"])["cluster"].to_numpy()
        for shingle, ngram in shinglings:
            ours = measure_dsc(path, shingle, ngram, args.threshold, args.repeat)
            theirs = measure_datasketch(sample, shingle, ngram, args.threshold)
            our_labels = resolve(ours["labels"])
            our_p, our_r = score_pairs(our_labels, truth)
            their_p, their_r = score_pairs(theirs["labels"], sample_truth)
            our_rj = jaccard_recall(path, our_labels, shingle, ngram, args.threshold)
            their_rj = jaccard_recall(sample, theirs["labels"], shingle, ngram, args.threshold)
            our_rr = drop_recall(path, our_labels, shingle, ngram, args.threshold)
            their_rr = drop_recall(sample, theirs["labels"], shingle, ngram, args.threshold)
            our_rate, their_rate = rows / ours["seconds"], len(sample_truth) / theirs["seconds"]
            their_seconds = rows / their_rate
            line = (
                f"{rows:>9,} {shingle}:{ngram:<6} | {ours['seconds']:>6.1f} ({ours['cpu']:>4.1f}) {our_rate:>9,.0f} "
                f"{ours['peak_mb']:>8,.0f} {our_p:>7.4f} {our_r:>7.4f} {our_rj:>7.4f} {our_rr:>7.4f} | "
                f"{their_seconds:>8.1f} ({theirs['cpu'] * rows / len(sample_truth):>7.1f}) {their_rate:>8,.0f} "
                f"{theirs['peak_mb']:>8,.0f} {their_p:>7.4f} {their_r:>7.4f} {their_rj:>7.4f} {their_rr:>7.4f} | "
                f"{our_rate / their_rate:>7.1f}x "
                f"{theirs['cpu'] * rows / len(sample_truth) / ours['cpu']:>5.1f}x"
            )  # fmt: skip
            lines.append(line)
            print(line, flush=True)
            if args.repeat > 1:
                walls = ", ".join(f"{wall:.2f}" for wall in ours["walls"])
                note = f"  (dsc: the median of {args.repeat} runs; walls {walls} s)"
                lines.append(note)
                print(note, flush=True)
        if stride > 1:
            note = f"  ({rows:,} rows: datasketch on every {stride}th cluster, {len(sample_truth):,} rows, extrapolated)"
            lines.append(note)
            print(note, flush=True)
    if args.semantic_rows:
        line = report_semantic(args.semantic_rows, args.semantic_threshold)
        lines.append(line)
        print(line, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at end", flush=True)
    print(json.dumps({"rows": args.rows, "shinglings": args.shinglings}), file=sys.stderr)


if __name__ == "__main__":
    main()
