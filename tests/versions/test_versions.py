"""Review, promote, diff and verify on real versions compiled with the offline LM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.cli.main import main
from compiler.core.rows import Row
from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import Project
from compiler.versions.store import Version, read_rows

OVERRIDES = ["size=16", "dedupe.near=null"]


@pytest.fixture
def version(project: Project) -> Version:
    return compile_dataset(OVERRIDES, project=project).version


def _rows(version: Version) -> list[Row]:
    return read_rows(version)


def test_decisions_survive_a_recompile(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows(version)
    assert main(["review", "approve", rows[0].id[:12], "--reason", "looks right"]) == 0
    assert main(["review", "reject", rows[1].id, "--reason", "implausible"]) == 0
    again = compile_dataset(OVERRIDES, project=project)
    status = {r.id: r.review_status for r in _rows(again.version)}
    assert status[rows[0].id] == "approved"
    assert rows[1].id not in status  # rejected rows leave the dataset; top-up or spare rows take the place
    assert len(status) == 16
    manifest = json.loads((again.version.path / "manifest.json").read_text())
    assert manifest["counts"]["review_dropped"] == 1
    capsys.readouterr()
    assert main(["review", "list", str(again.version.path), "--status", "approved"]) == 0
    assert rows[0].id[:16] in capsys.readouterr().out


def test_review_list_shows_each_row_by_its_longest_input(
    version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {r.id[:16]: r for r in _rows(version)}
    assert any(len(r.inputs) > 1 for r in rows.values()), "the space needs rows with several inputs"
    capsys.readouterr()
    assert main(["review", "list", str(version.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(rows)
    for line in lines:
        row = rows[line[:16]]
        longest = max((str(v) for v in row.inputs.values()), key=len)
        assert line.endswith(" ".join(longest.split())[:80]), line


def test_diff_names_each_row_by_its_longest_input(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    def first_is_shorter(r: Row) -> bool:
        values = [str(v) for v in r.inputs.values()]
        return len(values[0]) < max(map(len, values))

    row = next(r for r in _rows(version) if first_is_shorter(r))
    assert main(["review", "approve", row.id, "--reason", "fine"]) == 0
    again = compile_dataset(OVERRIDES, project=project).version
    capsys.readouterr()
    assert main(["diff", str(version.path), str(again.path)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(f"~ {row.id[:12]}"))
    longest = " ".join(max((str(v) for v in row.inputs.values()), key=len).split())
    assert line.endswith(longest[:70] + ("..." if len(longest) > 70 else "")), line


def test_an_edit_is_applied_and_rehashed(project: Project, version: Version) -> None:
    row = next(r for r in _rows(version) if r.expected["verdict"] != "refuse")
    assert (
        main(
            [
                "review",
                "edit",
                row.id[:10],
                "--set",
                "expected.verdict=refuse",
                "--set",
                "expected.must_include=[receipt, order number]",
            ]
        )
        == 0
    )
    again = compile_dataset(OVERRIDES, project=project)
    edited = [r for r in _rows(again.version) if r.provenance.get("origin") == row.id]
    assert len(edited) == 1
    new = edited[0]
    assert new.expected["verdict"] == "refuse" and new.expected["must_include"] == ["receipt", "order number"]
    assert new.review_status == "edited" and new.id != row.id and new.id == new.expected_id()
    assert main(["verify", str(again.version.path)]) == 0


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        pytest.param("expected.verdikt=refuse", "did you mean `verdict`", id="unknown-column"),
        pytest.param("inputs.mood=grumpy", "no input `mood`", id="unknown-input"),
        pytest.param("expected.needs_human=maybe", "is a bool column", id="wrong-type-bool"),
        pytest.param("expected.verdict=shrug", "one of answer, refuse, escalate", id="enum-value"),
        pytest.param("verdict=refuse", "write --set expected.verdict=refuse", id="no-section"),
    ],
)
def test_bad_edits_print_one_line(
    version: Version, capsys: pytest.CaptureFixture[str], assignment: str, message: str
) -> None:
    row = _rows(version)[0]
    assert main(["review", "edit", row.id, "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_misspelt_dataset_or_a_dataset_s_unknown_version_get_their_own_hints(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    other = compile_dataset(["dataset=rag_qa", "size=12"], project=project).version
    assert main(["show", "suport_bot"]) == 2  # it listed the newest versions of every dataset
    assert (
        "suport_bot: is not a version; did you mean `support_bot` (its newest version)?"
        in capsys.readouterr().err
    )
    assert main(["show", "support_bot/zz"]) == 2  # only support_bot's versions, not rag_qa's newer one
    err = capsys.readouterr().err
    assert f"newest versions: support_bot/{version.version}" in err and other.version not in err


def test_a_dataset_whose_index_is_gone_says_to_repair_it(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    (version.path.parent / "versions.jsonl").unlink()
    assert main(["show", "support_bot"]) == 2
    assert capsys.readouterr().err.strip() == (
        "dsc: error: support_bot: names a dataset whose index is missing (outputs/support_bot/versions.jsonl); "
        "run `dsc repair support_bot` to rebuild it from the version folders"
    )
    assert main(["repair", "support_bot"]) == 0 and main(["show", "support_bot"]) == 0


def test_review_list_cell_filter_checks_the_value(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    # a misspelt value listed `0 rows`, as if nothing matched
    assert main(["review", "list", str(version.path), "--cell", "intent=refnd"]) == 2
    assert (
        "--cell intent=refnd: intent has no value `refnd`; did you mean `refund`?" in capsys.readouterr().err
    )
    assert main(["review", "list", str(version.path), "--cell", "intent=refund"]) == 0
    assert "intent=refund" in capsys.readouterr().out


def test_a_version_prefix_names_it_under_its_dataset_too(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    short = version.version[:4]
    for ref in (short, f"support_bot/{short}"):  # as git takes a short hash
        assert main(["show", ref]) == 0, ref
        assert capsys.readouterr().out.startswith(f"support_bot {version.version}")
    for ref in ("support_bot/*", "support_bot/[0-9a-f]", "*"):  # a glob character is a character
        assert main(["show", ref]) == 2
        assert "is not a version" in capsys.readouterr().err
    assert main(["show", "support_bot/zz"]) == 2
    assert f"newest versions: support_bot/{version.version}" in capsys.readouterr().err


def test_unknown_row_and_version_suggest_the_closest(
    version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    row_id = _rows(version)[0].id
    typo = row_id[:9] + ("0" if row_id[9] != "0" else "1") + row_id[10:14]
    assert main(["review", "approve", typo]) == 2
    assert f"did you mean {row_id[:14]}" in capsys.readouterr().err
    assert main(["show", f"support_bot/{version.version[:-1]}x"]) == 2
    assert f"did you mean {version.version}" in capsys.readouterr().err


def test_promote_is_idempotent_and_needs_reviews(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows(version)
    assert main(["promote", str(version.path), "--to", "golden"]) == 2
    assert "still pending review" in capsys.readouterr().err
    for row in rows:
        assert main(["review", "approve", row.id]) == 0
    assert main(["promote", str(version.path), "--to", "golden"]) == 0
    assert main(["promote", str(version.path), "--to", "golden"]) == 0
    lines = (Path("datasets") / "support_bot" / "golden.jsonl").read_text().splitlines()
    assert len(lines) == len(rows)
    promoted = [json.loads(line) for line in lines]
    assert {p["provenance"]["row_id"] for p in promoted} == {r.id for r in rows}
    assert all(p["source"] == "golden" and p["outcome"] == "approve" for p in promoted)


def test_diff_of_a_version_with_itself_is_empty(version: Version, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(version.path), str(version.path)]) == 0
    assert "0 added, 0 removed, 0 review changes" in capsys.readouterr().out


def test_a_dataset_name_stands_for_its_newest_version(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = compile_dataset(["size=17", "dedupe.near=null"], project=project).version
    assert newer.version != version.version
    for ref in ("support_bot", "outputs/support_bot", "outputs/support_bot/"):
        assert main(["show", ref]) == 0
        assert capsys.readouterr().out.startswith(f"support_bot {newer.version}  ")
    assert main(["diff", str(version.path), "support_bot"]) == 0
    assert f"support_bot/{version.version} -> support_bot/{newer.version}" in capsys.readouterr().out


def test_diff_counts_changes_per_strategy_and_cell(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    other = compile_dataset(["size=16", "dedupe.near=null", "seed=99"], project=project).version
    capsys.readouterr()
    assert main(["diff", str(version.path), str(other.path), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### dsc diff") and "| strategy | added | removed | review |" in out


@pytest.mark.parametrize("name", ["cases.jsonl", "cases.parquet", "manifest.json", "drops.jsonl"])
def test_verify_catches_a_flipped_byte_in_each_file(
    version: Version, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = version.path / name
    data = bytearray(path.read_bytes())
    if not data:
        data.extend(b"x")
    else:
        index = len(data) // 2
        data[index] = (data[index] + 1) % 256 if data[index] != ord("\n") else ord(" ")
    path.write_bytes(bytes(data))
    assert main(["verify", str(version.path)]) == 1
    assert name in capsys.readouterr().err
    assert main(["show", str(version.path)]) == 2
    err = capsys.readouterr().err
    assert "modified after it was written" in err and len(err.strip().splitlines()) == 1


def test_verify_accepts_files_for_pre_commit(version: Version) -> None:
    assert main(["verify", str(version.path / "cases.jsonl"), str(version.path / "manifest.json")]) == 0
    hooks = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
    assert "dsc verify" in hooks.read_text()


def test_verify_of_a_folder_checks_every_version_in_it(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = compile_dataset(["size=17", "dedupe.near=null"], project=project).version
    staging = version.path.parent / ".tmp-x"
    staging.mkdir()
    (staging / "manifest.json").write_text("{}")  # a publish that died half-way is not a version
    for folder in ("outputs", "outputs/support_bot"):
        assert main(["verify", folder]) == 0
        shown = sorted(line.split("/")[-1] for line in capsys.readouterr().out.splitlines())
        assert shown == sorted([version.version, newer.version])
    (newer.path / "cases.jsonl").write_text("")
    assert main(["verify", "outputs"]) == 1
    out, err = capsys.readouterr()
    assert f"ok: outputs/support_bot/{version.version}" in out and newer.version in err


def test_rows_duplicating_curated_rows_are_dropped_with_the_reason(
    project: Project, version: Version
) -> None:
    row = _rows(version)[0]
    assert main(["review", "approve", row.id]) == 0
    assert main(["promote", str(version.path), "--to", "golden", "--allow-pending"]) == 0
    again = compile_dataset(OVERRIDES, project=project)
    drops = [json.loads(line) for line in (again.version.path / "drops.jsonl").read_text().splitlines()]
    dropped = [d for d in drops if d["id"] == row.id]
    assert dropped and dropped[0]["reason"] == "existing:golden" and dropped[0]["similarity"] == 1.0
    assert row.id not in {r.id for r in _rows(again.version)}
    assert len(_rows(again.version)) == 16


def test_near_duplicates_of_earlier_versions_are_dropped(project: Project, version: Version) -> None:
    from compiler.core.rows import Row as RowType
    from compiler.screen.dedupe import Candidate, ExistingRow, drop_duplicates

    old = _rows(version)[0]
    text = old.inputs["customer_message"]
    words = text.split()
    words[len(words) // 2] = "banana"
    near = RowType.build(
        "synthetic",
        old.strategy,
        old.variant,
        old.cell,
        {**old.inputs, "customer_message": " ".join(words)},
        old.expected,
        {},
    )
    fresh = RowType.build(
        "synthetic",
        old.strategy,
        old.variant,
        old.cell,
        {
            "customer_message": "Completely new "
            "question about a warranty claim for a broken kettle bought in May.",
            "order_context": "",
        },
        old.expected,
        {},
    )
    result = drop_duplicates(
        [Candidate(near, None), Candidate(fresh, None)],
        0.6,
        ["customer_message"],
        [ExistingRow(version.version, old)],
    )
    assert [c.row.id for c in result.survivors] == [fresh.id]
    assert result.drops[0].reason == f"existing:{version.version}" and result.drops[0].kept_id == old.id


def _decisions() -> list[dict[str, object]]:
    path = Path("reviews") / "support_bot.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_review_verbs_reach_any_version_by_unique_prefix(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = compile_dataset(["size=10", "dedupe.near=null", "seed=11"], project=project).version
    newest_ids = {r.id for r in _rows(newer)}
    row = next(r for r in _rows(version) if r.id not in newest_ids)  # only in the older version
    prefix = next(
        row.id[:n] for n in range(4, 33) if sum(r.id.startswith(row.id[:n]) for r in _rows(version)) == 1
    )
    assert main(["review", "approve", "--version", str(version.path), prefix, "--reviewer", "ana"]) == 0
    assert main(["review", "approve", row.id[:10], "--reviewer", "ana"]) == 0  # no --version: every version
    assert [(d["id"], d["reviewer"], d["version"]) for d in _decisions()] == [
        (row.id, "ana", version.version)
    ] * 2
    capsys.readouterr()
    assert main(["review", "approve", "--version", str(newer.path), row.id[:12]]) == 2
    assert f"no row with this id in support_bot/{newer.version}" in capsys.readouterr().err


def test_the_reviewer_defaults_to_git_user_name(
    version: Version, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "gitconfig"
    config.write_text("[user]\n\tname = Grace Hopper\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    row = _rows(version)[0]
    assert main(["review", "reject", row.id, "--reason", "vague"]) == 0
    assert _decisions()[-1]["reviewer"] == "Grace Hopper"


def test_an_edited_row_keeps_its_origin_across_edits(project: Project, version: Version) -> None:
    row = next(r for r in _rows(version) if r.source == "synthetic")
    assert (
        main(
            ["review", "edit", "--version", str(version.path), row.id[:8], "--set", "expected.verdict=refuse"]
        )
        == 0
    )
    assert main(["review", "edit", row.id[:8], "--set", "expected.needs_human=true"]) == 0
    assert _decisions()[-1]["edits"] == {"expected.verdict": "refuse", "expected.needs_human": True}
    again = compile_dataset(OVERRIDES, project=project).version
    edited = [r for r in _rows(again) if r.provenance.get("origin") == row.id]
    assert (
        len(edited) == 1 and edited[0].expected["verdict"] == "refuse" and edited[0].expected["needs_human"]
    )
    assert main(["review", "edit", edited[0].id[:10], "--set", "expected.verdict=escalate"]) == 0
    third = compile_dataset(OVERRIDES, project=project).version
    assert [r.provenance["origin"] for r in _rows(third) if r.provenance.get("origin")] == [row.id]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([], {"approved", "pending"}, id="default-approved-and-pending"),
        pytest.param(["--status", "approved"], {"approved"}, id="approved"),
        pytest.param(
            ["--status", "rejected", "--status", "pending"], {"rejected", "pending"}, id="repeatable"
        ),
    ],
)
def test_export_filters_rows_by_review_status(
    version: Version, tmp_path: Path, statuses: list[str], expected: set[str]
) -> None:
    rows = _rows(version)
    assert main(["review", "approve", rows[0].id, rows[1].id]) == 0
    assert main(["review", "reject", rows[2].id, "--reason", "off topic"]) == 0
    out = tmp_path / "exported"
    assert main(["export", str(version.path), "--format", "inspect", "--out", str(out), *statuses]) == 0
    exported = len((out / "samples.jsonl").read_text().splitlines())
    want = {"approved": 2, "rejected": 1, "pending": len(rows) - 3}
    assert exported == sum(want[s] for s in expected)


def test_diff_labels_cells_in_declaration_order_across_curated_and_synthetic_rows() -> None:
    from compiler.versions.diff import diff_rows, format_diff

    declared = {"intent": "refund", "difficulty": "hard", "channel": "chat"}
    synthetic = Row.build("synthetic", "direct", None, declared, {"m": "a"}, {"v": "x"}, {})
    curated = Row.build("golden", None, None, dict(sorted(declared.items())), {"m": "b"}, {"v": "y"}, {})
    diff = diff_rows([], [synthetic, curated], ["intent", "difficulty", "channel"])
    text = format_diff(diff, "a", "b", markdown=True)
    assert text.count("| intent=refund, difficulty=hard, channel=chat | 2 | 0 | 0 |") == 1
    assert "channel=chat, difficulty=hard" not in text


def test_diff_shows_review_changes_and_replaced_rows_apart(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [r for r in _rows(version) if r.source == "synthetic"]
    assert main(["review", "approve", rows[0].id, rows[1].id]) == 0
    assert main(["review", "reject", rows[2].id, "--reason", "implausible"]) == 0
    assert main(["review", "edit", rows[3].id, "--set", "expected.verdict=escalate"]) == 0
    again = compile_dataset(OVERRIDES, project=project).version
    capsys.readouterr()
    assert main(["diff", str(version.path), str(again.path)]) == 0
    out = capsys.readouterr().out
    new_ids = {r.id for r in _rows(again)} - {r.id for r in _rows(version)}
    replaced = len(new_ids) - 1  # every new id but the edit's is a row topped up in place of the rejected one
    assert f"{replaced} added, 1 removed, 3 review changes" in out
    assert "pending -> approved 2" in out and "pending -> edited 1" in out
    assert f"- {rows[2].id[:12]}" in out


def test_diff_refuses_two_datasets(
    project: Project, version: Version, capsys: pytest.CaptureFixture[str]
) -> None:
    other = compile_dataset(["dataset=rag_qa", "size=8", "dedupe.near=null"], project=project).version
    capsys.readouterr()
    assert main(["diff", str(version.path), str(other.path), "--markdown"]) == 2
    err = capsys.readouterr().err
    assert "are different datasets" in err and len(err.strip().splitlines()) == 1


def test_the_checks_column_is_what_a_list_of_dicts_per_row_gives(project: Project) -> None:
    """cases.parquet's checks are built from one flat column (fast); the bytes must be those of polars
    reading each row's list of check dicts, also for rows without checks and checks with null fields."""
    import dataclasses
    import io

    import polars as pl

    from compiler.spec.compose import PACKAGE_ROOT, load_spec
    from compiler.versions.store import parquet_bytes, rows_frame

    spec = load_spec([], project)
    lines = (
        (PACKAGE_ROOT / "outputs" / "support_bot" / "e4897cbc4854" / "cases.jsonl").read_text().splitlines()
    )
    rows = [Row.from_json(line) for line in lines]
    rows = [dataclasses.replace(r, checks=()) if i % 3 == 0 else r for i, r in enumerate(rows)]
    rows[1] = dataclasses.replace(rows[1], checks=({"name": "schema", "passed": None, "detail": None},))
    frame = rows_frame(spec, rows)
    ordered = sorted(rows, key=lambda r: r.id)
    per_row = [[{k: c.get(k) for k in ("name", "passed", "detail")} for c in r.checks] for r in ordered]
    reference = frame.with_columns(pl.Series("checks", per_row, dtype=frame.schema["checks"]))
    assert frame.columns == reference.columns and frame.equals(reference)
    buffer = io.BytesIO()
    reference.rechunk().write_parquet(buffer, compression="zstd", statistics=False)
    assert parquet_bytes(spec, rows) == buffer.getvalue()
    assert rows_frame(spec, []).height == 0
