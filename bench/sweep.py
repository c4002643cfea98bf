"""Sweeps and shards: basic launcher vs joblib for a 4-job sweep, and 4 shards vs one process on a 100 ms server.

Run: .venv/bin/python bench/sweep.py [--rows 400] [--shard-rows 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.llm_server import MockLLMServer  # noqa: E402


def dsc(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "DSC_PROJECT": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"dsc {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--shard-rows", type=int, default=300)
    args = parser.parse_args()
    sweep = ["compile", "-m", f"size={args.rows}", "seed=1,2,3,4"]
    with tempfile.TemporaryDirectory() as tmp:
        basic = dsc(sweep, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        joblib = dsc([*sweep, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], Path(tmp))
    with MockLLMServer(latency=0.1) as server:
        http = [
            "lm=openai_compatible",
            f"lm.api_base={server.base_url}",
            "lm.model=mock",
            f"size={args.shard_rows}",
            "max_rounds=0",
        ]
        with tempfile.TemporaryDirectory() as tmp:
            single = dsc(["compile", *http, "lm.concurrency=32"], Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            shards = dsc(
                [
                    "compile",
                    "-m",
                    *http,
                    "lm.concurrency=8",
                    "shard.count=4",
                    "shard.index=range(0,4)",
                    "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=4",
                ],
                Path(tmp),
            )
            assemble = dsc(["compile", *http, "lm.concurrency=8"], Path(tmp))
    calls = round(args.shard_rows * 1.5)
    ideal = calls / 32 * 0.1
    print(f"{'figure':58}{'seconds':>10}{'ratio':>9}")
    print(f"{f'4-job sweep, {args.rows} rows each, offline, basic launcher':58}{basic:>10.2f}{1.0:>9.2f}")
    print(f"{'  same sweep, joblib launcher (2 workers, 2 cores)':58}{joblib:>10.2f}{joblib / basic:>9.2f}")
    print(f"{f'{calls} calls at 100 ms, one process, concurrency 32':58}{single:>10.2f}{1.0:>9.2f}")
    print(f"{'  4 shards x concurrency 8 (joblib, 4 workers)':58}{shards:>10.2f}{shards / single:>9.2f}")
    print(f"{'  + assembling compile (0 LM calls)':58}{assemble:>10.2f}{(shards + assemble) / single:>9.2f}")
    print(f"{'  ideal for the calls alone (calls / 32 x 100 ms)':58}{ideal:>10.2f}")


if __name__ == "__main__":
    main()
