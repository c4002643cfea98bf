"""Benchmark dsc's duplicate finder against datasketch on a seeded corpus with planted clusters.

    .venv/bin/python bench/dedupe.py [--rows 100000,1000000] [--baseline-rows 100000]

The corpus is short requests (20-80 words) in shuffled priority order: originals, exact copies, near
duplicates (1-3 edited words plus case, punctuation and whitespace noise, kept only while the word-3-gram
Jaccard with the original stays >= 0.85) and hard negatives (a shared opening, Jaccard <= 0.6, their own
cluster). Every measurement runs in a fresh subprocess; rows/s times the dedupe call alone, after a small
warm-up that loads numba's cached kernels (dsc also reports its best of 3 calls: neighbours on a shared
machine slow single runs); peak memory is the process's ru_maxrss, corpus included. datasketch
(`pip install datasketch==2.0.0`) gets the same normalised word 3-grams, 128 permutations and threshold 0.8,
and joins an LSH candidate when its MinHash estimate reaches 0.8; above --baseline-rows it runs on whole
clusters (every k-th) of the corpus and its rows/s is extrapolated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np
import polars as pl

# bench/ holds a coverage.py that would shadow the `coverage` package numba probes for: run from the repo root.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))

from compiler.screen.near.index import (  # noqa: E402 (after the sys.path fix above)
    choose_bands,
    find_exact_duplicates,
    find_near_duplicates,
    shingle_text,
)

THRESHOLD = 0.8
NUM_PERM = 128
REPEATS = (
    3  # dsc runs: the first call is what one command costs, the best shows the machine without neighbours
)
SEED = 7
CACHE = Path(tempfile.gettempdir()) / "dsc-bench-dedupe"


# --- corpus -----------------------------------------------------------------------------------------------


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    """Return distinct lowercase pseudo-words; a few carry accents."""
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "st", "er", "an", "qu"]
    accents = {"e": "é", "u": "ü", "n": "ñ", "a": "à", "o": "ô"}
    words: set[str] = set()
    while len(words) < size:
        word = "".join(rng.choices(syllables, k=rng.randint(1, 3)))
        if rng.random() < 0.04:
            i = rng.randrange(len(word))
            word = word[:i] + accents.get(word[i], word[i]) + word[i + 1 :]
        words.add(word)
    shuffled = sorted(words)
    rng.shuffle(shuffled)  # so a word's frequency rank has nothing to do with its spelling
    return shuffled


def add_surface_noise(words: list[str], rng: random.Random) -> str:
    """Join words into a request with the case, punctuation and spacing noise normalisation removes."""
    out = []
    for word in words:
        roll = rng.random()
        if roll < 0.08:
            if roll < 0.03:
                word = word.capitalize()
            elif roll < 0.05:
                word = word.upper()
            elif roll < 0.07:
                word = f"“{word}”" if roll < 0.06 else f"({word})"
            else:
                word = unicodedata.normalize("NFD", word)
            if roll < 0.012:
                word += rng.choice([",", ".", ":", ";", "!", " —", "\n"])
        out.append(word)
    out[0] = out[0].capitalize()
    return " ".join(out) + rng.choice(["?", ".", "", "!", "  "])


def gram_jaccard(a: list[int], b: list[int]) -> float:
    grams_a = {tuple(a[i : i + 3]) for i in range(len(a) - 2)}
    grams_b = {tuple(b[i : i + 3]) for i in range(len(b) - 2)}
    return len(grams_a & grams_b) / len(grams_a | grams_b)


def edit_words(words: list[int], edits: int, rng: random.Random, vocab_size: int) -> list[int]:
    out = list(words)
    for _ in range(edits):
        at = rng.randrange(len(out))
        op = rng.random()
        if op < 0.6:
            out[at] = rng.randrange(vocab_size)
        elif op < 0.8:
            out.insert(at, rng.randrange(vocab_size))
        elif len(out) > 20:
            del out[at]
    return out


def generate_corpus(rows: int, seed: int) -> pl.DataFrame:
    """Return `rows` texts with their ground-truth cluster ids, shuffled into a random priority order."""
    rng = random.Random(seed)
    vocab = make_vocabulary(rng, 30_000)
    cdf = np.cumsum(1.0 / np.arange(1, len(vocab) + 1) ** 1.05)
    draw_rng = np.random.default_rng(seed)
    draws: list[int] = []
    openings = [[rng.randrange(400) for _ in range(rng.randint(2, 6))] for _ in range(300)]

    def fresh(length: int) -> list[int]:
        """Words drawn by frequency, never reused (a reused run would plant an unlabelled duplicate)."""
        if len(draws) < length:
            draws.extend(np.searchsorted(cdf, draw_rng.random(1 << 20) * cdf[-1]).tolist())
        taken = draws[-length:]
        del draws[-length:]
        return taken

    word_ids: list[list[int]] = []
    clusters: list[int] = []
    cluster = 0
    while len(word_ids) < rows:
        opening = rng.choice(openings)
        original = opening + fresh(rng.randint(20, 80) - len(opening))
        family = [original]
        roll = rng.random()
        if roll < 0.20:
            family += [original] * rng.randint(1, 3)
        elif roll < 0.45:
            for _ in range(rng.randint(1, 4)):
                edits = 1 + len(original) // 40
                variant = edit_words(original, edits, rng, len(vocab))
                while gram_jaccard(original, variant) < 0.85:
                    edits = max(1, edits - 1)
                    variant = edit_words(original, edits, rng, len(vocab))
                family += [variant] * (2 if rng.random() < 0.15 else 1)
        word_ids += family
        clusters += [cluster] * len(family)
        cluster += 1
        if roll >= 0.90:  # hard negatives: same opening and first part, a different request
            for _ in range(rng.randint(1, 2)):
                keep = int(len(original) * rng.uniform(0.4, 0.7))
                negative = original[:keep] + fresh(len(original) - keep)
                while gram_jaccard(original, negative) > 0.6:
                    keep = keep * 3 // 4
                    negative = original[:keep] + fresh(len(original) - keep)
                word_ids.append(negative)
                clusters.append(cluster)
                cluster += 1
    texts: list[str] = []
    for i, ids in enumerate(word_ids[:rows]):
        same_as_previous = i > 0 and ids is word_ids[i - 1]
        texts.append(texts[-1] if same_as_previous else add_surface_noise([vocab[w] for w in ids], rng))
    order = np.random.default_rng(seed).permutation(rows)
    return pl.DataFrame({"text": texts, "cluster": clusters[:rows]})[order]


def corpus_path(rows: int, seed: int) -> Path:
    path = CACHE / f"corpus-{rows}-{seed}.parquet"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generate_corpus(rows, seed).write_parquet(path)
        print(f"  generated {rows:,} rows in {time.perf_counter() - started:.0f}s -> {path}", file=sys.stderr)
    return path


# --- workers (each in its own process) --------------------------------------------------------------------


def cluster_with_datasketch(texts: list[str]) -> np.ndarray:
    import xxhash
    from datasketch import MinHash, MinHashLSH

    shingles = [[s.encode() for s in shingle_text(text, "word", 3)] for text in texts]
    sketches = MinHash.bulk(shingles, num_perm=NUM_PERM, hashfunc=xxhash.xxh32_intdigest)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i, sketch in enumerate(sketches):
            if shingles[i]:
                session.insert(i, sketch, check_duplication=False)
    parent = np.arange(len(texts))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, sketch in enumerate(sketches):
        if not shingles[i]:
            continue
        for j in lsh.query(sketch):
            if j != i and sketch.jaccard(sketches[j]) >= THRESHOLD:
                a, b = find(i), find(j)
                parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(len(texts))])


def cluster_exact_with_dict(texts: list[str]) -> np.ndarray:
    first: dict[str, int] = {}
    return np.array([first.setdefault(text, i) for i, text in enumerate(texts)])


def read_corpus(path: Path, stride: int) -> pl.DataFrame:
    """The corpus, or every stride-th ground-truth cluster of it (whole clusters, in corpus order)."""
    corpus = pl.read_parquet(path)
    return corpus if stride == 1 else corpus.filter(pl.col("cluster") % stride == 0)


def run_worker(tool: str, path: Path, stride: int, labels_out: Path) -> None:
    texts = read_corpus(path, stride)["text"]
    if tool.startswith("dsc"):
        find_near_duplicates(texts.head(1000), THRESHOLD)  # loads the cached numba kernels
    else:
        texts = texts.to_list()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs = []
    for _ in range(REPEATS if tool.startswith("dsc") else 1):  # the baselines are too slow to repeat
        started, cpu_started = time.perf_counter(), time.process_time()
        if tool == "dsc-near":
            labels = find_near_duplicates(texts, THRESHOLD, num_perm=NUM_PERM).kept_of
        elif tool == "dsc-exact":
            labels = find_exact_duplicates(texts)
        elif tool == "datasketch":
            labels = cluster_with_datasketch(texts)
        else:
            labels = cluster_exact_with_dict(texts)
        runs.append((time.perf_counter() - started, time.process_time() - cpu_started))
    np.save(labels_out, labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timing = {"seconds": runs[0][0], "best": min(runs)[0], "cpu": runs[0][1]}
    print(json.dumps({**timing, "rows": len(texts), "peak_mb": peak / 1024, "base_mb": rss_before / 1024}))


def measure(tool: str, path: Path, stride: int = 1) -> dict:
    labels_out = CACHE / f"labels-{tool}-{path.stem}-{stride}.npy"
    args = [sys.executable, __file__, "--worker", tool, "--corpus", str(path), "--stride", str(stride)]
    done = subprocess.run([*args, "--labels", str(labels_out)], check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["labels"] = np.load(labels_out)
    return result


# --- scoring and report -----------------------------------------------------------------------------------


def score_pairs(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall of a clustering against the ground truth."""
    frame = pl.DataFrame({"p": predicted, "t": truth})

    def pairs(*keys: str) -> int:
        sizes = frame.group_by(*keys).len()["len"].cast(pl.Int64)
        return int((sizes * (sizes - 1) // 2).sum())

    both = pairs("p", "t")
    return both / max(pairs("p"), 1), both / max(pairs("t"), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated corpus sizes")
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=100_000,
        help="run datasketch on whole clusters up to about this many rows",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stride", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--labels", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.corpus, args.stride, args.labels)
        return

    bands, rows_per_band = choose_bands(THRESHOLD, NUM_PERM)
    print(f"threshold {THRESHOLD}, {NUM_PERM} permutations, word 3-grams; dsc bands {bands}x{rows_per_band}")
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other work slows wall times)"
    )
    header = f"{'rows':>10}  {'measure':<30}{'dsc':>20}{'datasketch 2.0.0':>20}{'ratio':>9}"
    lines = [header, "-" * len(header)]
    for rows in (int(r) for r in args.rows.split(",")):
        path = corpus_path(rows, SEED)
        truth = pl.read_parquet(path, columns=["cluster"])["cluster"].to_numpy()
        near = measure("dsc-near", path)
        exact = measure("dsc-exact", path)
        stride = -(-rows // args.baseline_rows)
        sketch = measure("datasketch", path, stride)
        exact_dict = measure("python-dict", path)
        sample = sketch["rows"]
        dsc_rate, base_rate = rows / near["seconds"], sample / sketch["seconds"]
        dsc_p, dsc_r = score_pairs(near["labels"], truth)
        base_p, base_r = score_pairs(sketch["labels"], read_corpus(path, stride)["cluster"].to_numpy())
        note = (
            f"datasketch on every {stride}th cluster ({sample:,} rows), rows/s extrapolated"
            if stride > 1
            else ""
        )
        cells = [
            ("near-dup rows/s", f"{dsc_rate:,.0f}", f"{base_rate:,.0f}", f"{dsc_rate / base_rate:,.0f}x"),
            (f"near-dup rows/s, best of {REPEATS}", f"{rows / near['best']:,.0f}", "", ""),
            ("near-dup seconds (CPU s)", f"{near['seconds']:.2f} ({near['cpu']:.2f})",
             f"{rows / base_rate:.1f} ({sketch['cpu'] * rows / sample:.1f})", ""),
            ("peak RSS MB (corpus loaded)", f"{near['peak_mb']:,.0f} ({near['base_mb']:,.0f})",
             f"{sketch['peak_mb']:,.0f} ({sketch['base_mb']:,.0f})", ""),
            ("pairwise precision", f"{dsc_p:.4f}", f"{base_p:.4f}", ""),
            ("pairwise recall", f"{dsc_r:.4f}", f"{base_r:.4f}", ""),
            ("exact-dedupe rows/s (best)", f"{rows / exact['seconds']:,.0f} ({rows / exact['best']:,.0f})",
             f"{rows / exact_dict['seconds']:,.0f} (py dict)", ""),
            ("exact-dedupe peak RSS MB", f"{exact['peak_mb']:,.0f}", f"{exact_dict['peak_mb']:,.0f}", ""),
        ]  # fmt: skip
        for i, (name, ours, theirs, ratio) in enumerate(cells):
            label = f"{rows:>10,}" if i == 0 else " " * 10
            lines.append(f"{label}  {name:<30}{ours:>20}{theirs:>20}{ratio:>9}")
        if note:
            lines.append(" " * 12 + f"({note})")
        lines.append("")
        print("\n".join(lines[-len(cells) - 2 :]), file=sys.stderr, flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
