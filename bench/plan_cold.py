"""Cold `dsc plan` of this checkout beside a base commit's, alternating runs, in one scratch project.

Run: python3 bench/plan_cold.py [--base ed1552b] [--runs 3] [--no-bytecode]
The base commit is exported with `git archive`; a scratch project holds copies of conf/, data/ and datasets/ plus the
100-dimension space of bench/startup.py. Before every run .dsc/ is dropped (no remembered composition,
plan or array), so each figure is what a first `dsc plan` costs. Python may write bytecode (as an
installed dsc has it, and a clone after its first command; an inherited PYTHONDONTWRITEBYTECODE would
make every run recompile dsc's sources); --no-bytecode measures that case. It also checks that both print
the same bytes. Prints the best wall of --runs per side with the child's CPU seconds (user + system, less
sensitive to other load on the machine), their ratio and the load average; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
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


def run_plan(code: Path, project: Path, dataset: str, bytecode: bool) -> tuple[float, float, str]:
    """Wall and CPU seconds of one cold `dsc plan`, and what it printed."""
    shutil.rmtree(project / ".dsc", ignore_errors=True)
    dropped = ("DSC_PROJECT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONPATH"] = str(code)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "plan", f"dataset={dataset}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        sys.exit(f"bench: plan dataset={dataset} with {code} failed:\n{done.stderr[-2000:]}")
    return wall, cpu, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="ed1552b")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-bytecode", action="store_true", help="set PYTHONDONTWRITEBYTECODE=1")
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
        print(
            f"{'cold dsc plan (wall / cpu)':32}{'this checkout':>17}{args.base:>17}{'ratio':>13}  same bytes"
        )
        for dataset in ("wide", "support_bot"):
            walls: dict[Path, list[float]] = {ROOT: [], base: []}
            cpus: dict[Path, list[float]] = {ROOT: [], base: []}
            outputs: dict[Path, str] = {}
            for _ in range(args.runs):
                for code in (base, ROOT):
                    wall, cpu, outputs[code] = run_plan(code, project, dataset, not args.no_bytecode)
                    walls[code].append(wall)
                    cpus[code].append(cpu)
            new, old = min(walls[ROOT]), min(walls[base])
            new_cpu, old_cpu = min(cpus[ROOT]), min(cpus[base])
            same = outputs[ROOT] == outputs[base]
            print(
                f"{'dataset=' + dataset:32}{new:>8.2f}s /{new_cpu:>5.2f}s{old:>8.2f}s /{old_cpu:>5.2f}s"
                f"{new / old:>7.2f} /{new_cpu / old_cpu:>4.2f}  {same}"
            )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
