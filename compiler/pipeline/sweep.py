"""Hydra multirun: one compile per job on Hydra's own launchers, then a summary comparing the versions."""

from __future__ import annotations

import itertools
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xxhash

from compiler.core import lazy
from compiler.core.atomic import write_atomic
from compiler.core.errors import ConfigError, DscError
from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import (
    Project,
    explain_hydra_error,
    hydra_overrides,
    spec_from_job,
    user_override,
    with_missing_key_added,
)
from compiler.spec.paths import read_paths
from compiler.spec.safety import check_config_safety
from compiler.versions.store import MANIFEST, read_index, read_manifest_file


def run_sweep_job(cfg: Any) -> dict[str, Any]:
    """One Hydra job: compile with the job's overrides; a user mistake fails this job only."""
    hydra_cfg = lazy.hydra_config.HydraConfig.get()
    overrides = [str(o) for o in hydra_cfg.overrides.task]
    shown = [user_override(o) for o in overrides]  # what the summary and errors say: the user's own words
    job = int(hydra_cfg.job.num)
    spec = None
    try:
        project = Project.locate()
        spec = spec_from_job(cfg, overrides, project)
        result = compile_dataset(overrides, project=project, spec=spec)
    except DscError as exc:
        for line in str(exc).splitlines():
            print(f"dsc: error: job {job} ({' '.join(shown)}): {line}", file=sys.stderr)
        failed = {"job": job, "overrides": shown, "status": "failed", "error": str(exc).splitlines()[0]}
        if (
            spec is not None
        ):  # a validated spec: its dataset's sweeps/ gets the summary even if every job failed
            failed.update(dataset=spec.name, out_dir=spec.out_dir)
        return failed
    if result.shard is not None:
        return {
            "job": job,
            "overrides": shown,
            "status": "shard",
            "shard": result.shard,
            "calls": result.calls,
            "dataset": result.spec.name,
        }
    return {
        "job": job,
        "overrides": shown,
        "status": "ok",
        "dataset": result.spec.name,
        "version": result.version.version,
        "path": str(result.version.path),
        "out_dir": result.spec.out_dir,
        "created": result.created,
        "calls": result.calls,
    }


def _sweep_retrying(overrides: Sequence[str], project: Project) -> Any:
    """The sweep's batches of jobs; a key the files do not hold yet is set with ++ (as a single compile
    does) and validation judges it."""
    attempt = list(overrides)
    while True:
        try:
            return _sweep(attempt, project)
        except RuntimeError as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            if "srun" not in str(exc) or not any("submitit" in f.filename for f in frames):
                raise
            # the Slurm launcher on a machine that is not a Slurm cluster: the machine, not a bug
            raise ConfigError(
                "command line: `hydra/launcher=submitit_slurm`: this machine has no Slurm (`srun` not found); "
                "run the sweep from a Slurm login node, or use hydra/launcher=submitit_local or joblib here"
            ) from None
        except (lazy.hydra_errors.HydraException, lazy.omegaconf_errors.OmegaConfBaseException) as exc:
            retry = with_missing_key_added(exc, attempt)
            if retry is None:
                raise ConfigError(explain_hydra_error(exc, project, overrides)) from exc
            attempt = retry


def run_multirun(overrides: Sequence[str], project: Project | None = None) -> list[dict[str, Any]]:
    """Run every job of the sweep through Hydra's sweeper and launcher; returns one record per job."""

    project = project or Project.locate()
    check_config_safety([project.conf_dir], overrides, project.root)  # before Hydra runs any callback
    # "earlier versions" for every job are the ones that exist now, whatever order parallel jobs finish in
    out = read_paths(project.conf_dir, overrides).out_dir
    cutoff = {d.name: len(read_index(d)) for d in out.iterdir() if d.is_dir()} if out.is_dir() else {}
    # Set for the jobs (a launcher's worker processes inherit it), and unset after: a later compile in this
    # process is no sweep job (it would skip its fingerprint and pin "earlier" to this sweep's start).
    before = os.environ.get("DSC_INDEX_CUTOFF")
    os.environ["DSC_INDEX_CUTOFF"] = json.dumps(cutoff)
    try:
        batches = _sweep_retrying(overrides, project)
    finally:
        if before is None:
            os.environ.pop("DSC_INDEX_CUTOFF", None)
        else:
            os.environ["DSC_INDEX_CUTOFF"] = before
    records: list[dict[str, Any]] = []
    for job in itertools.chain.from_iterable(batches or []):
        if job.status == lazy.hydra_utils.JobStatus.COMPLETED:
            records.append(job._return_value)
        else:  # a bug inside a job: keep its traceback visible, and the other jobs' results
            error = job._return_value
            records.append(
                {
                    "job": len(records),
                    "overrides": [user_override(str(o)) for o in job.overrides or []],
                    "status": "failed",
                    "error": f"{type(error).__name__}: {error}",
                }
            )
            print(f"dsc: job {len(records) - 1} crashed: {type(error).__name__}: {error}", file=sys.stderr)
    return sorted(records, key=lambda r: r["job"])


def _sweep(overrides: list[str], project: Project) -> Any:
    with lazy.hydra.initialize_config_dir(
        config_dir=str(project.conf_dir), version_base="1.3", job_name="dsc"
    ):
        hydra = lazy.hydra_global.GlobalHydra.instance().hydra
        assert hydra is not None
        return hydra.multirun(
            config_name="config",
            task_function=run_sweep_job,
            overrides=hydra_overrides(overrides, project),
            with_log_configuration=False,
        )


def _version_facts(path: Path) -> dict[str, Any]:
    manifest = read_manifest_file(path / MANIFEST)
    ids = [
        json.loads(line)["id"]
        for line in (path / "cases.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    usage, coverage = manifest.usage, manifest.coverage
    return {
        "rows": manifest.rows,
        "strategies": {k: v.selected for k, v in manifest.strategies.items()},
        "sources": dict(manifest.sources),
        "tuples": f"{coverage.planned_covered_tuples}/{coverage.required_tuples}",
        "drops": dict(manifest.drops),
        "check_failures": dict(manifest.check_failures),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": usage.cost_usd,
        "ids": ids,
    }


def summarise_sweep(records: Sequence[dict[str, Any]], out_dir: Path | None = None) -> tuple[str, list[Path]]:
    """Write <out_dir>/<dataset>/sweeps/<sweep>.json and .md for every dataset in the sweep (each job's own
    out_dir; `out_dir`, by default the project's, when no job got as far as a version)."""
    sweep = (
        "sweep-"
        + xxhash.xxh3_64_hexdigest(json.dumps([r["overrides"] for r in records], sort_keys=True).encode())[
            :10
        ]
    )
    jobs = []
    facts: dict[int, dict[str, Any]] = {}
    for record in records:
        entry = {k: v for k, v in record.items() if k not in ("path", "out_dir")}
        if record["status"] == "ok":
            facts[record["job"]] = _version_facts(Path(record["path"]))
            entry.update({k: v for k, v in facts[record["job"]].items() if k != "ids"})
        jobs.append(entry)
    overlap = []
    for a, b in itertools.combinations(sorted(facts), 2):
        shared = len(set(facts[a]["ids"]) & set(facts[b]["ids"]))
        overlap.append({"jobs": [a, b], "shared_rows": shared})
    summary = {"sweep": sweep, "jobs": jobs, "overlap": overlap}
    text = format_sweep(summary)
    written: list[Path] = []
    default = out_dir if out_dir is not None else read_paths(Project.locate().conf_dir).out_dir
    places = {(str(r["dataset"]), Path(r.get("out_dir") or default)) for r in records if r.get("dataset")}
    for dataset, root in sorted(places) or [("_failed", default)]:
        folder = root / dataset / "sweeps"
        write_atomic(
            folder / f"{sweep}.json", (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode()
        )
        write_atomic(folder / f"{sweep}.md", text.encode("utf-8"))
        written += [folder / f"{sweep}.md", folder / f"{sweep}.json"]
    return text, written


def format_sweep(summary: dict[str, Any]) -> str:
    lines = [
        f"## {summary['sweep']}",
        "",
        "| job | overrides | status | version | rows | strategies | sources | tuples | drops | checks failed "
        "| tokens in/out | cost $ |",
        "|---:|---|---|---|---:|---|---|---|---|---|---|---:|",
    ]
    for job in summary["jobs"]:
        if job["status"] != "ok":
            detail = job.get("error") or f"shard {job.get('shard')} ({job.get('calls', 0)} LM calls)"
            lines.append(
                f"| {job['job']} | {' '.join(job['overrides'])} | {job['status']} | {detail} "
                "| | | | | | | | |"
            )
            continue

        def mix(values: dict[str, Any]) -> str:
            return ", ".join(f"{k} {v}" for k, v in values.items()) or "-"

        lines.append(
            f"| {job['job']} | {' '.join(job['overrides'])} | ok | {job['version']} | {job['rows']} "
            f"| {mix(job['strategies'])} | {mix(job['sources'])} | {job['tuples']} | {mix(job['drops'])} "
            f"| {mix(job['check_failures'])} | {job['input_tokens']}/{job['output_tokens']} | {job['cost_usd']:.4f} |"
        )
    if summary["overlap"]:
        lines += ["", "| jobs | shared rows |", "|---|---:|"]
        lines += [f"| {a} & {b} | {o['shared_rows']} |" for o in summary["overlap"] for a, b in [o["jobs"]]]
    return "\n".join(lines) + "\n"
