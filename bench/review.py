"""Review figures: what a config change costs with stable plans (rows kept, new LM calls) beside the same
change planned from scratch, and `dsc review serve` time to first paint with 5,000 rows in Chromium beside
`dsc review list` over the same rows.

Run: PYTHONPATH=. .venv/bin/python bench/review.py [--size 60] [--rows 5000]
Every scenario runs in its own fresh project (own journal): base compile, change, recompile; "from
scratch" is the same recompile with the parent's plan withheld (what dsc did before stable plans).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# bench/coverage.py would shadow the `coverage` package that numba imports
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from compiler.core.rows import Row  # noqa: E402
from compiler.pipeline import compile as pipeline  # noqa: E402
from compiler.spec.compose import Project  # noqa: E402
from compiler.versions.store import (  # noqa: E402
    publish_version,  # noqa: E402
    read_manifest,
    read_rows,
    render_cases,
    version_id,
)

Change = Callable[[dict[str, Any]], None]


def _add_value(space: dict[str, Any]) -> None:
    space["dimensions"]["channel"]["values"]["phone"] = 1


def _remove_value(space: dict[str, Any]) -> None:
    del space["dimensions"]["channel"]["values"]["social_media"]


def _change_weight(space: dict[str, Any]) -> None:
    space["dimensions"]["intent"]["values"]["refund"] = 5


def _grow_size(space: dict[str, Any]) -> None:
    space["size"] = round(space["size"] * 1.1)


def _add_constraint(space: dict[str, Any]) -> None:
    space["constraints"].append("channel == 'social_media' -> difficulty != 'hard'")


CHANGES: dict[str, Change] = {
    "one value added": _add_value,
    "one value removed": _remove_value,
    "a weight changed": _change_weight,
    "size +10%": _grow_size,
    "a constraint added": _add_constraint,
}


def _project(base: Path, size: int) -> Project:
    for name in ("conf", "templates", "data"):
        shutil.copytree(ROOT / name, base / name)
    path = base / "conf" / "dataset" / "support_bot.yaml"
    space = yaml.safe_load(path.read_text())
    space["size"] = size
    path.write_text("# @package _global_\n" + yaml.safe_dump(space, sort_keys=False))
    return Project(conf_dir=base / "conf", templates_dir=base / "templates")


def _edit(project: Project, change: Change) -> None:
    path = project.conf_dir / "dataset" / "support_bot.yaml"
    space = yaml.safe_load(path.read_text())
    change(space)
    path.write_text("# @package _global_\n" + yaml.safe_dump(space, sort_keys=False))


def measure_change(change: Change, size: int, stable: bool) -> tuple[int, int, int, int]:
    """(rows kept, parent's generated rows whose cells still exist, new LM calls, LM calls of the base)."""
    with tempfile.TemporaryDirectory(prefix="dsc-bench-review-") as tmp:
        base = Path(tmp)
        project = _project(base, size)
        cwd = os.getcwd()
        os.chdir(base)
        original = pipeline.seed_for
        try:
            first = pipeline.compile_dataset([], project=project)
            _edit(project, change)
            if not stable:
                pipeline.seed_for = lambda spec, parent: None  # type: ignore[assignment]
            second = pipeline.compile_dataset([], project=project)
        finally:
            pipeline.seed_for = original  # type: ignore[assignment]
            os.chdir(cwd)
        carry = second.carry
        if carry is None:  # the same rows: the version is unchanged, every row kept
            same = sum(1 for r in first.rows if r.source == "synthetic")
            return same, same, second.calls, first.calls
        return carry.kept, carry.in_space, second.calls, first.calls


def fabricate_version(base: Path, rows: int) -> Path:
    """A real compile for its manifest, then a version of `rows` rows in that space, published whole."""
    project = _project(base, 20)
    cwd = os.getcwd()
    os.chdir(base)
    try:
        small = pipeline.compile_dataset([], project=project)
        manifest = read_manifest(small.version)
        template = read_rows(small.version)
    finally:
        os.chdir(cwd)
    dims = {n: list(d["values"]) for n, d in manifest["config"]["dimensions"].items()}
    rng = random.Random(5)
    built = []
    for i in range(rows):
        like = template[i % len(template)]
        cell = {n: rng.choice(v) for n, v in dims.items()}
        words = " ".join(
            rng.choice(["refund", "order", "parcel", "late", "broken", "please", "account"])
            for _ in range(40)
        )
        inputs = {k: f"{words} #{i}" if isinstance(v, str) else v for k, v in like.inputs.items()}
        built.append(
            Row.build(
                "synthetic",
                like.strategy or "direct",
                like.variant,
                cell,
                inputs,
                like.expected,
                like.provenance,
                checks=like.checks,
            )
        )
    cases = render_cases(built)
    version = version_id(cases)
    spec = SimpleNamespace(out_dir=str(base / "outputs"), name="support_bot")
    publish_version(spec, version, {"cases.jsonl": cases}, {**manifest, "version": version, "rows": rows})  # type: ignore[arg-type]
    return base / "outputs" / "support_bot" / version


async def first_paint(url: str) -> tuple[float, float]:
    """(first contentful paint, rows listed) in ms after navigation, in headless Chromium."""
    from tests.devtools import Browser

    async with Browser() as browser:
        page = await browser.new_page(url)
        await page.wait_for("!!document.body && document.body.dataset.ready === '1'", timeout=120)
        paint = await page.evaluate(
            "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)[0] || -1"
        )
        ready = await page.evaluate("performance.now()")
        listed = await page.evaluate("document.querySelectorAll('#list li[data-id]').length")
        assert listed > 0
        return float(paint), float(ready)


def measure_serve(rows: int) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory(prefix="dsc-bench-serve-") as tmp:
        base = Path(tmp)
        folder = fabricate_version(base, rows)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DSC_PROJECT": str(base)}
        started = time.perf_counter()
        listing = subprocess.run(
            [sys.executable, "-m", "compiler.cli", "review", "list", str(folder)], cwd=base, env=env,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        list_seconds = time.perf_counter() - started
        assert len(listing.stdout.splitlines()) == rows
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "compiler.cli", "review", "serve", str(folder), "--port", "0", "--no-browser"],
            cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            up = time.perf_counter() - started
            url = line.split(" at ", 1)[1].split()[0]
            paint, ready = asyncio.run(first_paint(url))
        finally:
            server.terminate()
            server.wait(timeout=10)
        return up, paint, ready, list_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=60)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    print(
        f"config changes on support_bot (size {args.size}), offline LM; stable plans vs planned from scratch"
    )
    print(
        "rows kept: of the parent's generated rows whose cells still exist; new LM calls: of the base compile's"
    )
    print(f"{'change':22}{'rows kept':>18}{'from scratch':>16}{'new LM calls':>16}{'from scratch':>16}")
    for name, change in CHANGES.items():
        kept, parent, calls, base_calls = measure_change(change, args.size, stable=True)
        kept0, _, calls0, _ = measure_change(change, args.size, stable=False)
        print(
            f"{name:22}{f'{kept}/{parent} {kept / parent:.0%}':>18}{f'{kept0}/{parent} {kept0 / parent:.0%}':>16}"
            f"{f'{calls}/{base_calls}':>16}{f'{calls0}/{base_calls}':>16}"
            f"   calls x{calls0 / max(calls, 1):.1f} fewer"
        )
    up, paint, ready, list_seconds = measure_serve(args.rows)
    print()
    print(
        f"dsc review serve with {args.rows:,} rows: server up in {up:.2f} s; in Chromium first contentful paint "
        f"{paint:.0f} ms, all rows listed and filterable {ready:.0f} ms after navigation"
    )
    print(
        f"peer: dsc review list over the same {args.rows:,} rows: {list_seconds:.2f} s "
        f"(ratio serve-ready / list = {ready / 1000 / list_seconds:.2f})"
    )


if __name__ == "__main__":
    main()
