"""Durability figures, each beside its peer: what the journal's size cap saves, what the locked appends and
the check of an existing version cost.

Usage: python -m bench.durability [--huge N] [--size ROWS]   (from the checkout's root)

1. Loading a journal that holds N answers of 20 MB (the issue's endpoint) among 2,000 normal ones:
   with the cap (oversize lines skipped unparsed) vs without (every line parsed, as before).
2. Journaling 4,000 answers in flush groups of 4: `append_lines` (lock, newline check, no fsync) vs a
   plain open file handle (as before).
3. An unchanged recompile: the whole `compile_dataset` call, and inside it the integrity check of the
   existing version that now runs (so a damaged folder is rebuilt, not reported `unchanged`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.generate.journal import Answer, Journal, answer_cap  # noqa: E402


def _journal_dir(folder: Path, huge: int) -> Path:
    folder.mkdir(parents=True)
    with (folder / "seg.jsonl").open("w") as handle:
        for i in range(2000):
            handle.write(json.dumps({"key": f"k{i}", "text": "a" * 2000, "in": 1, "out": 1}) + "\n")
        for i in range(huge):
            handle.write(json.dumps({"key": f"h{i}", "text": "x" * 20_000_000, "in": 1, "out": 1}) + "\n")
    return folder


def bench_load(base: Path, huge: int) -> None:
    folder = _journal_dir(base / "journal", huge)
    size = sum(p.stat().st_size for p in folder.iterdir())
    timings = {}
    for label, cap in (("capped", answer_cap(1024)), ("uncapped", 10**12)):
        tracemalloc.start()
        started = time.perf_counter()
        journal = Journal(folder, max_chars=cap)
        seconds = time.perf_counter() - started
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        timings[label] = (seconds, len(journal), held)
        del journal
    (capped, kept, mem_c), (uncapped, everything, mem_u) = timings["capped"], timings["uncapped"]
    print(f"1. journal load, {size / 1e6:.0f} MB ({huge} answers of 20 MB among 2,000):")
    print(f"   capped   {capped:7.3f} s, {kept} answers kept, {mem_c / 1e6:6.1f} MB held")
    print(f"   uncapped {uncapped:7.3f} s, {everything} answers kept, {mem_u / 1e6:6.1f} MB held")
    print(f"   -> uncapped is {uncapped / capped:.1f}x slower and holds {mem_u / mem_c:.0f}x the memory")


def bench_append(base: Path) -> None:
    line = json.dumps({"key": "k", "text": "a" * 2000, "in": 1, "out": 1}) + "\n"
    folder = base / "append"
    folder.mkdir()
    journal = Journal(folder, flush_every=4, flush_seconds=1e9)
    answer = Answer("a" * 2000, 1, 1)
    started = time.perf_counter()
    for i in range(4000):
        journal.record(f"k{i}", answer)
    journal.close()
    locked = time.perf_counter() - started
    started = time.perf_counter()
    with (base / "plain.jsonl").open("a") as handle:
        pending = []
        for _ in range(4000):
            pending.append(line)
            if len(pending) >= 4:
                handle.write("".join(pending))
                handle.flush()
                pending.clear()
    plain = time.perf_counter() - started
    print("2. journaling 4,000 answers in groups of 4:")
    print(
        f"   append_lines {locked * 1e3:7.1f} ms   plain handle {plain * 1e3:7.1f} ms   -> {locked / plain:.1f}x"
    )


def bench_unchanged(base: Path, size: int) -> None:
    from compiler.pipeline.compile import compile_dataset
    from compiler.spec.compose import Project
    from compiler.versions.verify import verify_version

    project_dir = base / "project"
    for name in ("conf", "templates", "data"):
        shutil.copytree(ROOT / name, project_dir / name)
    os.chdir(project_dir)
    os.environ["DSC_PROJECT"] = str(project_dir)
    project = Project.locate()
    overrides = [f"size={size}", "~sources"]
    first = compile_dataset(overrides, project=project)
    started = time.perf_counter()
    again = compile_dataset(overrides, project=project)
    whole = time.perf_counter() - started
    assert not again.created and again.version == first.version
    started = time.perf_counter()
    findings = verify_version(again.version)
    check = time.perf_counter() - started
    assert not findings
    print(f"3. unchanged recompile of {size} rows (offline LM):")
    print(f"   whole compile {whole:6.2f} s   integrity check of the existing version {check * 1e3:6.1f} ms")
    print(f"   -> the check is {check / whole:.1%} of the unchanged recompile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--huge", type=int, default=5, help="answers of 20 MB in the journal")
    parser.add_argument("--size", type=int, default=120, help="rows of the recompiled dataset")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        bench_load(base, args.huge)
        bench_append(base)
        bench_unchanged(base, args.size)


if __name__ == "__main__":
    main()
