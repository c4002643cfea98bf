"""Hydra multirun on real launchers: versions per job, a consistent index, shards that assemble exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project


def _dsc(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if not (cwd / "conf").is_dir():
        copy_project(cwd)
    env = {**os.environ, "DSC_PROJECT": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "compiler.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "sweeps" not in p.parts
    }


def test_a_joblib_sweep_writes_one_version_per_job_and_a_summary(tmp_path: Path) -> None:
    done = _dsc(
        [
            "compile",
            "-m",
            "size=12",
            "strategies.adversarial=1,6",
            "seed=1,2",
            "dedupe.near=null",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    index = [
        json.loads(line)
        for line in (tmp_path / "outputs/support_bot/versions.jsonl").read_text().splitlines()
    ]
    versions = {entry["version"] for entry in index}
    assert len(index) == 4 and len(versions) == 4
    assert all((tmp_path / "outputs/support_bot" / v / "manifest.json").is_file() for v in versions)
    summary = json.loads(next((tmp_path / "outputs/support_bot/sweeps").glob("*.json")).read_text())
    assert [job["status"] for job in summary["jobs"]] == ["ok"] * 4
    assert {job["version"] for job in summary["jobs"]} == versions
    assert len(summary["overlap"]) == 6
    assert "| job | overrides |" in done.stdout
    assert not (tmp_path / "outputs").joinpath("2026").exists()  # Hydra's run folders stay out of outputs/


def test_the_summary_shows_the_overrides_as_the_user_wrote_them(tmp_path: Path) -> None:
    # it showed `dataset@_global_=support_bot`, the form dsc hands Hydra
    done = _dsc(["compile", "-m", "dataset=support_bot", "size=12", "seed=1,2", "dedupe.near=null"], tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(next((tmp_path / "outputs/support_bot/sweeps").glob("*.json")).read_text())
    assert [job["overrides"] for job in summary["jobs"]] == [
        ["dataset=support_bot", "size=12", f"seed={seed}", "dedupe.near=null"] for seed in (1, 2)
    ]
    table = done.stdout[done.stdout.index("| job | overrides |") :]
    assert "_global_" not in table  # (Hydra's own launcher log above it names the form Hydra was given)
    assert "| 0 | dataset=support_bot size=12 seed=1 dedupe.near=null | ok |" in done.stdout


@pytest.mark.parametrize(
    ("launcher", "message"),
    [
        # submitit's RuntimeError ("Could not detect srun") came out as a traceback
        (
            "submitit_slurm",
            "this machine has no Slurm (`srun` not found); run the sweep from a Slurm login node",
        ),
        ("jobllib", "no Hydra launcher `jobllib`; did you mean `hydra/launcher=joblib`?"),
    ],
)
def test_a_launcher_this_machine_cannot_run_is_one_line(tmp_path: Path, launcher: str, message: str) -> None:
    import shutil

    if launcher == "submitit_slurm" and shutil.which("srun"):
        pytest.skip("this machine is a Slurm node")
    done = _dsc(["compile", "-m", f"hydra/launcher={launcher}", "size=12", "seed=1,2"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert message in done.stderr
    assert not (tmp_path / "outputs").exists()


def test_a_failing_job_does_not_stop_the_others(tmp_path: Path) -> None:
    done = _dsc(["compile", "-m", "size=0,12", "dedupe.near=null"], tmp_path)
    assert done.returncode == 1
    assert "size: must be >= 1" in done.stderr and "Traceback" not in done.stderr
    summary = json.loads(next((tmp_path / "outputs/support_bot/sweeps").glob("*.json")).read_text())
    assert [job["status"] for job in summary["jobs"]] == ["failed", "ok"]


def test_a_sweep_whose_jobs_all_fail_after_validation_summarises_in_its_dataset(tmp_path: Path) -> None:
    copy_project(tmp_path)
    golden = tmp_path / "datasets/support_bot/golden.jsonl"
    golden.parent.mkdir(parents=True, exist_ok=True)
    golden.write_text('{"customer_message": "hi"}\nnot json\n')
    done = _dsc(["compile", "-m", "size=8,9", "dedupe.near=null"], tmp_path)
    assert done.returncode == 1
    assert "golden.jsonl:2: not valid JSON" in done.stderr and "Traceback" not in done.stderr
    summary = json.loads(next((tmp_path / "outputs/support_bot/sweeps").glob("*.json")).read_text())
    assert [job["status"] for job in summary["jobs"]] == ["failed", "failed"]
    assert not (tmp_path / "outputs/_failed").exists()


def test_four_joblib_shards_assemble_byte_identical_to_one_run(tmp_path: Path) -> None:
    sharded, single = tmp_path / "sharded", tmp_path / "single"
    sharded.mkdir()
    single.mkdir()
    common = ["size=30", "dedupe.near=null", "max_rounds=0"]
    done = _dsc(
        ["compile", "-m", "shard.index=range(0,4)", "shard.count=4", *common, "hydra/launcher=joblib"],
        sharded,
    )
    assert done.returncode == 0, done.stderr
    assert not (sharded / "outputs/support_bot/versions.jsonl").exists()  # shards write no version
    assembled = _dsc(["compile", *common], sharded)
    assert "0 LM calls" in assembled.stdout
    assert _dsc(["compile", *common], single).returncode == 0
    assert _tree(sharded / "outputs") == _tree(single / "outputs")


def test_submitit_local_launcher_runs_jobs(tmp_path: Path) -> None:
    done = _dsc(
        ["compile", "-m", "size=10", "seed=1,2", "dedupe.near=null", "hydra/launcher=submitit_local"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "outputs/support_bot/versions.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["shard.index=4", "shard.count=4"], "shard.index: is 4 but must be in [0, 4)", id="index-too-big"
        ),
        pytest.param(["shard.count=0"], "shard.count: must be >= 1", id="count-below-one"),
    ],
)
def test_bad_shards_print_one_line(tmp_path: Path, overrides: list[str], message: str) -> None:
    done = _dsc(["compile", *overrides], tmp_path)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_experiments_compose(tmp_path: Path) -> None:
    done = _dsc(["plan", "--json", "+experiment=release_pressure"], tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["size"] == 200 and plan["coverage"]["strength"] == 3


def test_a_sweep_sets_keys_the_dataset_file_does_not_hold(tmp_path: Path) -> None:
    """`dedupe.shingle` is not in support_bot.yaml: swept as typed, without Hydra's `+`, and validated."""
    done = _dsc(["compile", "-m", "size=8", "dedupe.shingle=char,line"], tmp_path)
    assert done.returncode == 1
    assert "dedupe.shingle: unknown shingle 'line'; use word or char" in done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(next((tmp_path / "outputs/support_bot/sweeps").glob("*.json")).read_text())
    assert [job["status"] for job in summary["jobs"]] == ["ok", "failed"]


def test_a_sweep_in_a_process_leaves_later_compiles_unpinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep run in-process (a notebook, a script) marks its jobs with DSC_INDEX_CUTOFF, then unsets it:
    a compile after it is no sweep job, so it writes its no-op fingerprint again."""
    from compiler.core.errors import DscError
    from compiler.pipeline.noop import compile_or_reuse
    from compiler.pipeline.sweep import run_multirun
    from compiler.spec.compose import Project, load_spec

    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSC_INDEX_CUTOFF", raising=False)
    project = Project.locate()
    records = run_multirun(["size=6", "seed=1,2"], project)
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert "DSC_INDEX_CUTOFF" not in os.environ
    with pytest.raises(DscError):  # a launcher that is not installed: the sweep fails, the mark goes too
        run_multirun(["size=6", "seed=1,2", "hydra/launcher=jobblib"], project)
    assert "DSC_INDEX_CUTOFF" not in os.environ
    spec = load_spec(["size=6", "seed=3"], project)
    compile_or_reuse(["size=6", "seed=3"], project, spec)
    assert (Path(spec.journal_dir) / "fingerprints" / "support_bot.json").is_file()
