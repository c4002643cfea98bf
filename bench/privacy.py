"""Precision and recall of the privacy gate per detector on a generated corpus (tests/privacy_corpus.py):
private values written as people write them (UK/US phones, cards with dots, dashes, thin or full-width
spaces and digits, IBANs with dashes, IDN and obfuscated e-mails) and look-alikes (order numbers, dates,
versions, prices, tracking ids, checksum-invalid cards and IBANs). With --peer, the same corpus goes
through another checkout's gate (e.g. /work/main, before these formats) in a subprocess, side by side.

    python bench/privacy.py [--seed 7] [--per-kind 200] [--peer /work/main]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(root: Path, seed: int, per_kind: int) -> dict[str, object]:
    """Score the corpus with the gate of the checkout at `root` (this process must have it first on sys.path)."""
    spec = importlib.util.spec_from_file_location("privacy_corpus", ROOT / "tests" / "privacy_corpus.py")
    assert spec is not None and spec.loader is not None
    corpus_module = importlib.util.module_from_spec(spec)
    sys.modules["privacy_corpus"] = corpus_module
    spec.loader.exec_module(corpus_module)
    corpus = corpus_module.build_corpus(seed, per_kind)
    start = time.perf_counter()
    scores, missed, flagged = corpus_module.measure(corpus)
    seconds = time.perf_counter() - start
    return {
        "texts": len(corpus),
        "seconds": seconds,
        "scores": {k: [v.tp, v.fp, v.fn, v.precision, v.recall] for k, v in scores.items()},
        "missed": dict(missed.most_common()),
        "flagged": dict(flagged.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-kind", type=int, default=200)
    parser.add_argument("--peer", type=Path, help="another checkout whose compiler/privacy to compare")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:  # the peer's side: print its figures for the parent
        print(json.dumps(run(Path(sys.path[0]), args.seed, args.per_kind)))
        return
    sys.path.insert(0, str(ROOT))
    mine = run(ROOT, args.seed, args.per_kind)
    peer = None
    if args.peer is not None:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, runpy; sys.argv = sys.argv[1:]; "
                f"sys.path.insert(0, {str(args.peer.resolve())!r}); runpy.run_path(sys.argv[0], run_name='__main__')",
                str(Path(__file__).resolve()),
                "--json",
                "--seed",
                str(args.seed),
                "--per-kind",
                str(args.per_kind),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(args.peer.resolve())},
        )
        peer = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"corpus: seed {args.seed}, {mine['texts']} texts ({args.per_kind} per positive kind)")
    header = f"{'detector':<10}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>8}"
    print(header + (f"   | peer {'precision':>9}{'recall':>8}" if peer else ""))
    for name, (tp, fp, fn, precision, recall) in mine["scores"].items():  # type: ignore[union-attr]
        line = f"{name:<10}{tp:>6}{fp:>6}{fn:>6}{precision:>11.3f}{recall:>8.3f}"
        if peer:
            p = peer["scores"][name]  # type: ignore[index]
            line += f"   |      {p[3]:>9.3f}{p[4]:>8.3f}"
        print(line)
    for label, result in (("this gate", mine), ("peer", peer)):
        if result is None:
            continue
        rate = result["texts"] / result["seconds"]  # type: ignore[operator]
        print(
            f"{label}: {rate:,.0f} texts/s; missed by form {result['missed']}; look-alikes flagged {result['flagged']}"
        )
    if peer:
        ratio = (peer["texts"] / peer["seconds"]) / (mine["texts"] / mine["seconds"])  # type: ignore[operator]
        print(f"speed: this gate takes {ratio:.2f}x the peer's time per text")


if __name__ == "__main__":
    main()
