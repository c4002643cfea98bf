"""Cold `dsc plan` of this checkout beside a base commit's, alternating runs, in one scratch project.

Run: python3 bench/plan_cold.py [--base ed1552b] [--runs 3]
The base commit is exported with `git archive`; a scratch project holds copies of conf/, data/ and datasets/ plus the
100-dimension space of bench/startup.py. Before every run .dsc/ is dropped (no remembered composition,
plan or array), so each figure is what a first `dsc plan` costs. It also checks that both print the same
bytes. Prints the best wall of --runs per side, their ratio and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import wide_space  # noqa: E402 (bench/ is not a package)

ROOT = Path(__file__).resolve().parent.parent


def run_plan(code: Path, project: Path, dataset: str) -> tuple[float, str]:
    shutil.rmtree(project / ".dsc", ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DSC_PROJECT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(code)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "plan", f"dataset={dataset}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench: plan dataset={dataset} with {code} failed:\n{done.stderr[-2000:]}")
    return wall, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="ed1552b")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base, project = Path(scratch) / "base", Path(scratch) / "project"
        archive = subprocess.run(["git", "archive", args.base], cwd=ROOT, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(base, filter="data")
        for folder in ("conf", "data", "datasets"):  # support_bot reads traces and curated rows
            if (ROOT / folder).is_dir():
                shutil.copytree(ROOT / folder, project / folder)
        (project / "conf" / "dataset" / "wide.yaml").write_text(wide_space())
        print(f"{'cold dsc plan':32}{'this checkout':>15}{args.base:>15}{'ratio':>8}  same bytes")
        for dataset in ("wide", "support_bot"):
            walls: dict[Path, list[float]] = {ROOT: [], base: []}
            outputs: dict[Path, str] = {}
            for _ in range(args.runs):
                for code in (base, ROOT):
                    wall, outputs[code] = run_plan(code, project, dataset)
                    walls[code].append(wall)
            new, old = min(walls[ROOT]), min(walls[base])
            same = outputs[ROOT] == outputs[base]
            print(f"{'dataset=' + dataset:32}{new:>14.2f}s{old:>14.2f}s{new / old:>8.2f}  {same}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
