"""End to end on the offline LM: every dataset compiles, recompiles are free, outputs are byte-identical."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from compiler.cli.main import main
from compiler.core.rows import ROW_KEYS, Row
from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import PACKAGE_ROOT, Project

DATASETS = sorted(p.stem for p in (PACKAGE_ROOT / "conf" / "dataset").glob("*.yaml"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_compiles_to_a_whole_version(project: Project, dataset: str) -> None:
    result = compile_dataset([f"dataset={dataset}", "size=24"], project=project)
    path = result.version.path
    assert result.created
    assert {p.name for p in path.iterdir()} >= {"cases.jsonl", "cases.parquet", "manifest.json"}
    lines = (path / "cases.jsonl").read_text().splitlines()
    assert len(lines) == 24
    rows = [Row.from_json(line) for line in lines]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert all(list(json.loads(line)) == list(ROW_KEYS) for line in lines)
    assert all(r.id == r.expected_id() for r in rows)
    synthetic = [r for r in rows if r.source == "synthetic"]
    assert {r.strategy for r in synthetic} == {"direct", "persona", "adversarial", "evaluator_aligned"}
    for row in rows:
        if row.source == "production":  # real traces join with their trace id, scrubbed, never generated
            assert row.provenance["trace_id"] and row.strategy is None
            continue
        assert row.provenance["lm"] == "offline/procedural-v2"
        assert sum(v.startswith("~") for v in row.cell.values()) <= (
            1 if row.strategy == "adversarial" else 0
        )
    frame = pl.read_parquet(path / "cases.parquet")
    assert frame["id"].to_list() == [r.id for r in rows]
    assert frame.schema["expected"].fields  # typed struct, not JSON strings
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["rows"] == 24 and manifest["version"] == path.name
    assert manifest["counts"]["selected"] == len(synthetic)
    index = (path.parent / "versions.jsonl").read_text().splitlines()
    assert json.loads(index[-1])["version"] == path.name


def test_a_compile_leaves_the_garbage_collector_as_it_found_it(project: Project) -> None:
    """dsc embedded in a user's process: the collector's thresholds and frozen heap come back as they were."""
    before = gc.get_threshold(), gc.get_freeze_count()
    compile_dataset(["size=12"], project=project)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_recompiling_unchanged_config_makes_no_call_and_writes_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compile", "size=30"]) == 0
    capsys.readouterr()
    outputs = project.conf_dir.parent / "outputs"
    before = {p: p.stat().st_mtime_ns for p in outputs.rglob("*")}
    result = compile_dataset(["size=30"], project=project)
    assert not result.created and result.calls == 0
    assert main(["compile", "size=30"]) == 0
    assert capsys.readouterr().out.startswith(f"unchanged: {result.version.version}")
    assert {p: p.stat().st_mtime_ns for p in outputs.rglob("*")} == before


def test_two_processes_write_byte_identical_versions(tmp_path: Path) -> None:
    trees = []
    for name in ("a", "b"):
        work = tmp_path / name
        work.mkdir()
        env = {
            **os.environ,
            "DSC_PROJECT": str(PACKAGE_ROOT),
            "PYTHONHASHSEED": str(len(name) * 17 + ord(name)),
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "compiler.cli",
                "compile",
                "dataset=rag_qa",
                "size=40",
                f"out_dir={work}/outputs",
                f"journal_dir={work}/.dsc",
            ],
            check=True,
            cwd=work,
            env=env,
            capture_output=True,
        )
        trees.append(_files(work / "outputs"))
    assert trees[0] == trees[1]
    assert any(name.endswith("cases.parquet") for name in trees[0])


def test_a_crash_while_writing_leaves_no_version(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import compiler.versions.store as store

    def explode(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated)")

    with monkeypatch.context() as patch:
        patch.setattr(pl.DataFrame, "write_parquet", explode)
        with pytest.raises(OSError, match="simulated"):
            compile_dataset(["size=20"], project=project)
    dataset_dir = project.conf_dir.parent / "outputs" / "support_bot"
    assert not dataset_dir.exists() or [p.name for p in dataset_dir.iterdir()] == []
    result = compile_dataset(["size=20"], project=project)  # the journal makes the retry free
    assert result.created and result.calls == 0
    assert store.read_index(dataset_dir)[-1]["version"] == result.version.version


def test_show_summarises_a_version(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    result = compile_dataset(["size=20"], project=project)
    assert main(["show", str(result.version.path)]) == 0
    out = capsys.readouterr().out
    assert result.version.version in out and "strategies:" in out and "drops:" in out
    assert main(["show", "support_bot/nope"]) == 2


def test_top_up_reaches_exactly_size_when_the_lm_repeats_itself(project: Project) -> None:
    # few cells and no overgeneration: the offline LM repeats itself, so rounds must refill cells
    overrides = [
        "dataset=agent_tools",
        "size=90",
        "overgenerate=1.0",
        "coverage=1",
        "max_rounds=6",
        "~dimensions.urgency",
        "~dimensions.request_shape",
    ]
    result = compile_dataset(overrides, project=project)
    manifest = json.loads((result.version.path / "manifest.json").read_text())
    assert manifest["rows"] == 90
    assert manifest["counts"]["exact_dropped"] + manifest["counts"]["near_dropped"] > 0
    assert manifest["top_up_rounds"] >= 1 and manifest["counts"]["top_up"] > 0
    assert manifest["shortfall"]["missing_rows"] == 0


def test_final_dataset_covers_every_required_pair(project: Project) -> None:
    import itertools

    result = compile_dataset(["size=60"], project=project)
    rows = [Row.from_json(line) for line in (result.version.path / "cases.jsonl").read_text().splitlines()]
    covered = {pair for r in rows for pair in itertools.combinations(sorted(r.cell.items()), 2)}
    array_pairs = {
        pair for cell in result.plan.cells.array for pair in itertools.combinations(sorted(cell), 2)
    }
    assert len(array_pairs) == result.plan.cells.required_tuples
    assert array_pairs <= covered


@pytest.mark.parametrize(
    "lm",
    [
        ["lm=openai_compatible", "lm.api_base=http://127.0.0.1:9/v1", "lm.model=m"],
        ["lm=dspy", "lm.model=gemini/x"],
    ],
)
def test_a_dollar_budget_without_a_price_is_refused_before_any_call(
    project: Project, capsys: pytest.CaptureFixture[str], lm: list[str]
) -> None:
    """lm.price 0/0 would count every call as $0 and never stop a budget.max_usd run: one line, exit 2."""
    assert main(["plan", *lm, "budget.max_usd=5"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "budget.max_usd: cannot be kept: lm.price is 0/0" in err, err
    assert main(["plan", *lm, "budget.max_usd=5", "lm.price.input=0.3", "lm.price.output=2.5"]) == 0
    assert "~$0." in capsys.readouterr().out


def test_a_dollar_budget_with_an_unpriced_provider_embedder_is_refused_before_any_call(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider's embeddings count toward budget.max_usd at dedupe.semantic.price; at 0 they would never
    stop the run: one line, exit 2. The local embedder costs nothing and needs no price."""
    semantic = "+dedupe.semantic={embedder: openai/text-embedding-3-small, threshold: 0.9}"
    assert main(["plan", semantic, "budget.max_usd=5"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "budget.max_usd: cannot be kept: dedupe.semantic.price is 0" in err
    priced = "+dedupe.semantic={embedder: openai/text-embedding-3-small, threshold: 0.9, price: 0.02}"
    assert main(["plan", priced, "budget.max_usd=5"]) == 0
    assert main(["plan", "+dedupe.semantic=true", "budget.max_usd=5"]) == 0
    capsys.readouterr()
    assert main(["plan", "+dedupe.semantic={embedder: local/hashing, price: -1}"]) == 2
    assert "dedupe.semantic.price" in capsys.readouterr().err


def test_budget_stops_cleanly_and_the_same_command_continues(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compile", "size=20", "budget.max_calls=12"]) == 2
    err = capsys.readouterr().err
    assert "budget.max_calls=12 reached after 12 LM calls" in err and "run the same command" in err
    assert not (project.conf_dir.parent / "outputs" / "support_bot").exists()
    result = compile_dataset(["size=20"], project=project)
    assert result.created and result.replayed >= 12
    paid = result.counts["planned"] + result.counts.get("top_up", 0) + result.counts["labelled"]
    assert result.calls == paid - 12


def test_plan_estimates_calls_tokens_and_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", "lm.price.input=1.0", "lm.price.output=2.0"]) == 0
    estimate = json.loads(capsys.readouterr().out)["estimate"]
    assert estimate["calls"] > 0 and estimate["input_tokens"] > estimate["output_tokens"] > 0
    expected = (estimate["input_tokens"] * 1.0 + estimate["output_tokens"] * 2.0) / 1e6
    assert abs(estimate["cost_usd"] - expected) < 1e-3


def test_the_plausibility_judge_keeps_only_cases_it_scores_high_enough(project: Project) -> None:
    result = compile_dataset(
        ["size=30", "checks.plausibility=true", "checks.min_plausibility=0.4"], project=project
    )
    rows = [Row.from_json(line) for line in (result.version.path / "cases.jsonl").read_text().splitlines()]
    judged = [c for r in rows if r.source == "synthetic" for c in r.checks if c["name"] == "plausibility"]
    assert len(judged) == sum(1 for r in rows if r.source == "synthetic")
    assert all(float(c["detail"].split(":")[0]) >= 0.4 for c in judged)
    manifest = json.loads((result.version.path / "manifest.json").read_text())
    assert manifest["check_failures"]["plausibility"] > 0  # the offline judge scores deterministically
    drops = [json.loads(x) for x in (result.version.path / "drops.jsonl").read_text().splitlines()]
    assert all(d["similarity"] < 0.4 for d in drops if d["reason"] == "check:plausibility")
    again = compile_dataset(
        ["size=30", "checks.plausibility=true", "checks.min_plausibility=0.4"], project=project
    )
    assert not again.created and again.calls == 0


def test_the_summary_counts_semantic_drops_when_semantic_dedupe_is_on(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.main import main

    assert main(["compile", "size=30", "~sources", "+dedupe.semantic={threshold: 0.6}"]) == 0
    out = capsys.readouterr().out
    version = next((project.conf_dir.parent / "outputs" / "support_bot").glob("*/manifest.json")).parent
    drops = [json.loads(x) for x in (version / "drops.jsonl").read_text().splitlines()]
    semantic = sum(1 for d in drops if d["reason"] == "semantic")
    assert semantic and f", semantic {semantic}, of existing coverage" in out  # it went unsaid
    assert main(["compile", "size=30", "~sources", "seed=8"]) == 0
    assert "semantic" not in capsys.readouterr().out


@pytest.mark.parametrize("embedder", ["local", "provider"], ids=["local-hashing", "loopback-provider"])
def test_semantic_dedupe_drops_rows_with_their_score_and_recompiles_for_free(
    project: Project, monkeypatch: pytest.MonkeyPatch, embedder: str
) -> None:
    from tests.llm_server import MockLLMServer

    with MockLLMServer() as server:
        monkeypatch.setenv("DSC_TEST_EMBED_KEY", "sk-test-embedding-key")
        semantic = (
            "+dedupe.semantic={threshold: 0.6}"
            if embedder == "local"
            else "+dedupe.semantic={embedder: openai/text-embedding-3-small, threshold: 0.95, "
            f"api_base: '{server.base_url}', api_key_env: DSC_TEST_EMBED_KEY}}"
        )
        overrides = ["size=30", semantic]
        result = compile_dataset(overrides, project=project)
        drops = [json.loads(x) for x in (result.version.path / "drops.jsonl").read_text().splitlines()]
        semantic_drops = [d for d in drops if d["reason"] == "semantic"]
        assert semantic_drops and all(
            d["similarity"] >= (0.6 if embedder == "local" else 0.95) for d in semantic_drops
        )
        manifest = (result.version.path / "manifest.json").read_text()
        assert f'"semantic_dropped": {len(semantic_drops)}' in manifest
        assert "sk-test-embedding-key" not in manifest
        requests = server.stats.requests
        assert (requests > 0) == (embedder == "provider")
        again = compile_dataset(overrides, project=project)
        assert not again.created and again.calls == 0
        assert server.stats.requests == requests  # embeddings come back from the journal


def test_plan_says_the_novelty_cut_off_and_how_many_traces_map_to_no_value(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """The evidence table names its cut-off as a date (or says there is none) and counts, per dimension,
    the traces its map gave no value, which count toward none of the dimension's weights."""
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    assert "novel from 2026-10-01T00:00:00;" in out and "None" not in out
    line = next(x for x in out.splitlines() if "traces mapped to no value" in x)
    assert re.search(r"difficulty \d+ of \d+", line), line
    assert main(["plan", "~sources.production.since"]) == 0
    assert "no novelty cut-off (set sources.production.since)" in capsys.readouterr().out
