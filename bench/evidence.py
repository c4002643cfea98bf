"""Benchmark production evidence: ingest 10 million traces with statistics, and the privacy gate's throughput.

    .venv/bin/python bench/evidence.py [--rows 10000000] [--gate-rows 200000]

The traces are generated once (seeded) as 10 Parquet parts in a temp dir with a realistic nested schema:
id, ts (timestamp, UTC), request{text, channel, locale}, response{text, latency_ms}, labels{intent, behavior},
eval{failed, score}; texts are support requests (opening, one of 50 intent phrasings with a product and an
order number, sometimes a legal or "quick question" clause, a sign-off), ~2% carry a planted private value.
Each measurement runs in a fresh subprocess: wall and CPU seconds and peak memory (ru_maxrss).
"ingest + statistics" is load_traces (two dimensions mapped from fields, one from keyword rules) plus
compute_evidence, adjust_weights and select_snippets. The gate runs scrub_frame over the request texts of
the first --gate-rows traces (vectorised prefilter, Python validators on candidates) and, for comparison,
scrub_row on every row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

# bench/ holds a coverage.py that would shadow the `coverage` package: run from the repo root.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _BENCH]
sys.path.insert(0, str(_BENCH.parent))

SEED = 7
PARTS = 10
CACHE = Path(tempfile.gettempdir()) / "dsc-bench-evidence"
TARGET_SECONDS, TARGET_GB = 15.0, 4.0

INTENTS = {
    "refund": [
        "I would like a refund for the {p}, order {o}.",
        "please refund my money for order {o}, the {p} broke.",
        "the {p} arrived broken, I want my money back ({o}).",
        "can I return the {p} from order {o}?",
        "I was charged twice for order {o}, please refund one.",
        "my refund for {o} never arrived.",
        "how long does a refund for the {p} take? Order {o}.",
        "I returned the {p} two weeks ago, {o}.",
        "the {p} is not as described, refund order {o} please.",
        "refund status for {o}?",
    ],
    "shipping_status": [
        "where is my {p}? Order {o}.",
        "my package has not arrived yet, order {o}.",
        "tracking shows no update for order {o}.",
        "when will the {p} ship? {o}",
        "the courier says delivered but no {p} here ({o}).",
        "can you expedite order {o}?",
        "is order {o} stuck in customs?",
        "delivery date for the {p}, order {o}?",
        "wrong address on order {o}, can you redirect it?",
        "the {p} is late, order {o}.",
    ],
    "cancel_order": [
        "please cancel order {o}.",
        "I changed my mind, cancel the {p} ({o}).",
        "can you stop the shipment of order {o}?",
        "cancel my pre-order of the {p}, {o}.",
        "I ordered two {p}s by mistake, cancel one of order {o}.",
        "cancel {o}, found it cheaper.",
        "is it too late to cancel order {o}?",
        "cancel the {p} please, order {o}.",
        "remove the {p} from order {o}.",
        "I want to cancel order {o} before it ships.",
    ],
    "account_access": [
        "I cannot log in to my account since the update.",
        "the password reset link does not work.",
        "my account is locked after too many attempts.",
        "two-factor codes never arrive.",
        "someone changed the email on my account!",
        "the app logs me out every minute.",
        "I can't see my orders after logging in, e.g. {o}.",
        "how do I change my account email?",
        "my account was deleted but I have order {o}.",
        "login says session expired.",
    ],
    "product_question": [
        "does the {p} work with a Mac?",
        "is the {p} compatible with USB-C charging?",
        "what warranty comes with the {p}?",
        "does the {p} come with a power adapter?",
        "can the {p} be used in Europe?",
        "is there a newer model of the {p}?",
        "how heavy is the {p}?",
        "what's in the box of the {p}?",
        "does the {p} support Bluetooth 5.3?",
        "is the {p} refurbished or new?",
    ],
}
PRODUCTS = [
    "Sony WH-1000XM5 headphones",
    "27-inch 4K monitor",
    "MacBook Air charger",
    "MX Keys keyboard",
    "Samsung T7 SSD",
    "Kindle Paperwhite",
    "GoPro Hero 12",
    "Dyson V15 vacuum",
    "USB-C dock",
    "RTX 4070",
]
OPENINGS = ["Hi,", "Hello,", "Hey,", "Good morning,", "Dear support,", "Hi team,", "Excuse me,", ""]
CLAUSES = [
    "",
    "",
    "",
    "",
    " My lawyer says this is a legal matter.",
    " I have a contract deadline.",
    " Just a quick question.",
    " Thanks in advance!",
]
CLOSINGS = ["Thanks.", "Thank you!", "Regards, Sam", "Cheers", "Please help.", "Best wishes", "", ""]
PII = [
    "Mail me at maria.gonzalez@gmail.com.",
    "Call me on +1 (415) 555-0134.",
    "My card is 4111 1111 1111 1111.",
    "Refund to IBAN DE89 3704 0044 0532 0130 00.",
    "My SSN is 536-22-1847.",
    "Blocked IP 203.0.113.42.",
    "My key sk-proj-Xq7LmN2pR9sT4vW8yZ1aB3cD5eF6gH0j fails.",
    "Text me at 415-555-0199.",
]
CONFIG = {
    "path": "part-*.parquet",
    "fields": {
        "input": "request.text",
        "output": "response.text",
        "behavior": "labels.behavior",
        "error": "eval.failed",
        "timestamp": "ts",
        "trace_id": "id",
    },
    "map": {
        "intent": {"field": "labels.intent"},
        "channel": {"field": "request.channel"},
        "difficulty": {"rules": {"hard": ["legal", "contract", "lawyer"], "easy": ["quick question"]}},
    },
    "weight_by": ["error_rate", "novelty"],
    "since": "2026-10-01",
    "snippets": 3,
}


def _pick(options: list[str], index: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(options)).gather(index)


def generate_part(rows: int, seed: int) -> pl.DataFrame:
    """One part of the trace corpus; vectorised (numpy indices, polars string assembly)."""
    rng = np.random.default_rng(seed)
    names = list(INTENTS)
    phrasings = [t for name in names for t in INTENTS[name]]
    intent = rng.choice(len(names), rows, p=[0.35, 0.3, 0.1, 0.1, 0.15])
    failed = rng.random(rows) < np.array([0.05, 0.03, 0.1, 0.2, 0.02])[intent]
    frame = pl.DataFrame(
        {
            "intent": intent.astype(np.int64),
            "phrase": (intent * 10 + rng.integers(0, 10, rows)).astype(np.int64),
            "product": rng.integers(0, len(PRODUCTS), rows),
            "order": rng.integers(1_000_000, 9_999_999, rows),
            "open": rng.integers(0, len(OPENINGS), rows),
            "clause": rng.integers(0, len(CLAUSES), rows),
            "close": rng.integers(0, len(CLOSINGS), rows),
            "channel": rng.integers(0, 3, rows),
            "pii": np.where(rng.random(rows) < 0.02, rng.integers(0, len(PII), rows), -1),
            "ts": (1_788_220_800 + rng.integers(0, 90 * 86400, rows)) * 1_000_000,
            "failed": failed,
            "row": np.arange(rows) + seed * 10**9,
        }
    )
    body = (
        _pick(phrasings, pl.col("phrase"))
        .str.replace("{p}", _pick(PRODUCTS, pl.col("product")), literal=True)
        .str.replace("{o}", pl.col("order").cast(pl.String), literal=True)
    )
    pii = pl.when(pl.col("pii") >= 0).then(_pick(PII, pl.col("pii").clip(0))).otherwise(pl.lit(""))
    text = pl.concat_str(
        [
            _pick(OPENINGS, pl.col("open")),
            body,
            _pick(CLAUSES, pl.col("clause")),
            pii,
            _pick(CLOSINGS, pl.col("close")),
        ],
        separator=" ",
    ).str.strip_chars()
    return frame.select(
        id=pl.lit("tr-") + pl.col("row").cast(pl.String),
        ts=pl.col("ts").cast(pl.Datetime("us", "UTC")),
        request=pl.struct(
            text=text,
            channel=_pick(["chat", "email", "social_media"], pl.col("channel")),
            locale=pl.lit("en-US"),
        ),
        response=pl.struct(
            text=pl.lit("Thanks for reaching out about order ")
            + pl.col("order").cast(pl.String)
            + pl.lit(". I have checked your request and will follow up shortly."),
            latency_ms=(pl.col("order") % 3000).cast(pl.Int32),
        ),
        labels=pl.struct(
            intent=_pick(names, pl.col("intent")),
            behavior=pl.when(pl.col("failed")).then(pl.lit("wrong_policy")).otherwise(pl.lit("resolved")),
        ),
        eval=pl.struct(failed=pl.col("failed"), score=(pl.col("order") % 100).cast(pl.Float32) / 100),
    )


def corpus_dir(rows: int) -> Path:
    path = CACHE / f"rows-{rows}-seed-{SEED}"
    if not (path / "done").exists():
        path.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for part in range(PARTS):
            generate_part(rows // PARTS, SEED * 100 + part).write_parquet(
                path / f"part-{part:02d}.parquet", row_group_size=250_000
            )
        (path / "done").touch()
        print(f"generated {rows:,} traces in {time.perf_counter() - started:.0f} s into {path}", flush=True)
    return path


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024**2  # Linux: KiB -> GiB


def run_ingest(path: Path) -> dict[str, object]:
    from compiler.sources.evidence import compute_evidence
    from compiler.sources.snippets import select_snippets
    from compiler.sources.traces import load_traces
    from compiler.sources.weights import adjust_weights
    from compiler.spec.compose import load_spec
    from compiler.spec.validate.production import ProductionSource

    dims = load_spec([]).dimensions
    source = ProductionSource.from_config(CONFIG, dims, path)
    started = time.perf_counter()
    traces = load_traces(source, dims)
    loaded = time.perf_counter()
    evidence = compute_evidence(traces, dims)
    weights = adjust_weights(dims, evidence, source.weight_by)
    snippets = select_snippets(traces, dims)
    done = time.perf_counter()
    cpu, peak = _usage()
    return {
        "rows": traces.rows,
        "seconds": done - started,
        "load": loaded - started,
        "stats": done - loaded,
        "cpu": cpu,
        "peak_gb": peak,
        "pool": traces.pool.height,
        "pii": traces.pii,
        "weights": {
            d: {v: round(w[1], 3) for v, w in vs.items()} for d, vs in weights.items() if d == "intent"
        },
        "snippet": snippets["intent=refund"][0],
    }


def run_gate(path: Path, rows: int) -> dict[str, object]:
    from compiler.privacy.gate import prefilter_pattern, scrub_frame, scrub_row

    texts = (
        pl.scan_parquet(path / "part-*.parquet")
        .head(rows)
        .select(text=pl.col("request").struct.field("text"))
        .collect()
    )
    planted = texts.filter(
        pl.any_horizontal(pl.col("text").str.contains(p, literal=True) for p in PII)
    ).height
    candidates = texts.filter(pl.col("text").str.contains(prefilter_pattern())).height
    started = time.perf_counter()
    scrubbed, counts = scrub_frame(texts, ["text"])
    frame_seconds = time.perf_counter() - started
    sample = texts["text"].head(min(rows, 50_000)).to_list()
    started = time.perf_counter()
    for text in sample:
        scrub_row({"text": text})
    row_seconds = time.perf_counter() - started
    cpu, peak = _usage()
    return {
        "rows": texts.height,
        "planted": planted,
        "candidates": candidates,
        "found": sum(counts.values()),
        "frame_rate": texts.height / frame_seconds,
        "row_rate": len(sample) / row_seconds,
        "peak_gb": peak,
        "cpu": cpu,
    }


def measure(kind: str, path: Path, rows: int) -> dict[str, object]:
    """One measurement in a fresh interpreter, so peak memory is its own."""
    command = [sys.executable, __file__, "--worker", kind, "--corpus", str(path), "--gate-rows", str(rows)]
    started = time.perf_counter()
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--gate-rows", type=int, default=200_000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = run_ingest(args.corpus) if args.worker == "ingest" else run_gate(args.corpus, args.gate_rows)
        print(json.dumps(worker, default=str))
        return
    path = corpus_dir(args.rows)
    size = sum(p.stat().st_size for p in path.glob("*.parquet")) / 1024**2
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other work slows wall times); "
        f"corpus {args.rows:,} traces, {PARTS} Parquet parts, {size:,.0f} MB"
    )
    ingest = measure("ingest", path, args.gate_rows)
    gate = measure("gate", path, args.gate_rows)
    rows = [
        ("ingest + statistics, wall s", f"{ingest['seconds']:.1f}", f"<= {TARGET_SECONDS:g}"),
        (
            "  load_traces / statistics + weights + snippets",
            f"{ingest['load']:.1f} / {ingest['stats']:.1f}",
            "",
        ),
        ("  CPU s (whole process)", f"{ingest['cpu']:.1f}", ""),
        ("  peak memory GB (ru_maxrss)", f"{ingest['peak_gb']:.2f}", f"<= {TARGET_GB:g}"),
        ("  traces/s", f"{int(ingest['rows']) / float(ingest['seconds']):,.0f}", ""),  # type: ignore[call-overload]
        (f"privacy gate scrub_frame rows/s ({gate['rows']:,} rows)", f"{gate['frame_rate']:,.0f}", ""),
        (
            "  rows with planted values / prefilter candidates",
            f"{gate['planted']:,} / {gate['candidates']:,}",
            "",
        ),
        ("  values redacted", f"{gate['found']:,}", ""),
        ("privacy gate scrub_row rows/s (no prefilter)", f"{gate['row_rate']:,.0f}", ""),
    ]
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'measure':<{width}}{'measured':>14}{'target':>10}")
    print("-" * (width + 24))
    for name, value, target in rows:
        print(f"{name:<{width}}{value:>14}{target:>10}")
    print(f"\npool {ingest['pool']} texts, pii in pool {ingest['pii']}")
    print(f"intent weights (base 3/2/1/1/2 -> adjusted): {ingest['weights']}")
    print(f"a refund snippet: {ingest['snippet']!r}")


if __name__ == "__main__":
    main()
