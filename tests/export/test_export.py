"""Every export: same bytes for the same version, canonical labels on every row, a folder that stays the user's.

The per-format tests (test_export_<format>.py) run each export in its own tool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from compiler.core.errors import TemplateError, UsageError
from compiler.core.rows import Row
from compiler.export.base import (
    canonical_cell,
    cell_label,
    read_space,
    render_prompt,
    row_metadata,
    split_prompt,
)
from compiler.export.folder import MARKER
from compiler.export.formats import FORMATS, build_export, export_version
from compiler.versions.manifest import Manifest
from tests.export_runs import Version, committed_version, compiled_version

VERSIONS = {"support_bot": committed_version, "agent_tools": lambda: compiled_version("agent_tools")}


@pytest.fixture(scope="module", params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> Version:
    return VERSIONS[request.param]()


def tricky(row: Row) -> Row:
    """The same row with text that breaks naive YAML, JSON, Jinja or Nunjucks writers."""
    name = next(iter(row.inputs))
    text = 'Line one: "quoted" #not-a-comment\n- not a list\n  {{ not_a_var }} {% raw %}\n\u00e9 \u4e2d\u6587 \U0001f600 \\ end '
    return replace(row, inputs={**row.inputs, name: text})


def test_unknown_format_is_a_usage_error_naming_the_formats(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match="unknown export format `csv`; use one of: deepeval, dspy, hf, inspect"
    ):
        export_version([], Manifest(dataset="d", version="v"), "csv", tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_same_version_exports_the_same_bytes_and_leaves_no_temp_files(
    version: Version, tmp_path: Path, fmt: str
) -> None:
    rows = [tricky(version.rows[0]), *version.rows[1:]]
    first = export_version(rows, version.manifest, fmt, tmp_path / "a")
    second = export_version(list(reversed(rows)), version.manifest, fmt, tmp_path / "b")
    again = export_version(rows, version.manifest, fmt, tmp_path / "a")  # re-export in place

    def files(path: Path) -> dict[str, bytes]:
        return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}

    assert first == again == tmp_path / "a"
    assert files(first) == files(second)
    assert "README.md" in files(first) and MARKER in files(first)
    assert not [p for p in tmp_path.rglob(".*") if p.name != MARKER]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_export_has_a_readme_that_says_how_to_run_it(version: Version, fmt: str) -> None:
    files = build_export(version.rows, version.manifest, fmt)
    readme = files["README.md"].decode("utf-8")
    title = f"# {version.manifest.dataset} `{version.manifest.version}` for "
    assert readme.startswith("---\n" if fmt == "hf" else title)  # the hf README is the Hub's dataset card
    assert "## Run" in readme or "## Use" in readme
    assert all("/" not in name or not name.startswith("/") for name in files)


def test_the_cell_label_has_every_dimension_in_declared_order_null_when_unknown() -> None:
    version = committed_version()
    space = version.space
    production = [r for r in version.rows if r.source == "production" and len(r.cell) < len(space.dimensions)]
    curated = [r for r in version.rows if r.source in ("regression", "golden")]
    assert production and curated, "the committed version should hold production and curated rows"
    for row in version.rows:
        cell = canonical_cell(row, space)
        assert list(cell) == list(version.manifest.config["dimensions"])
        assert all(cell[k] == row.cell.get(k) for k in cell)
        meta = row_metadata(row, space)
        assert meta["cell"] == cell and all(meta[k] == cell[k] for k in cell)
        assert meta["strategy"] == row.strategy and "strategy" in meta
    # curated rows store their cell keys sorted, synthetic rows in declaration order: one label for both
    a, b = curated[0], next(r for r in version.rows if r.source == "synthetic")
    same = replace(b, cell=dict(sorted(b.cell.items())))
    assert cell_label(canonical_cell(same, space)) == cell_label(canonical_cell(b, space))
    assert "=?" in cell_label(canonical_cell(production[0], space))
    assert cell_label(canonical_cell(a, space)).split(", ")[0].startswith(space.dimensions[0] + "=")


def test_the_prompts_fixed_lines_become_the_system_message() -> None:
    version = committed_version()
    space = version.space
    row = version.rows[0]
    system, user = split_prompt(space, row.inputs)
    assert system.startswith("You are the support agent") and "{{" not in system
    assert row.inputs[space.primary] in user and "{{" not in user
    assert render_prompt(space, row.inputs) == f"{system}\n{user}"


@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("Reply to: {{ 100 // (customer_message|length - 40) }}", "ZeroDivisionError"),
        ("Reply to: {{ customer_message * 100000 }}", "SecurityError"),
    ],
    ids=["data-dependent-error", "unbounded-text"],
)
def test_a_prompt_that_fails_on_a_rows_inputs_is_one_line(prompt: str, reason: str) -> None:
    """The compile renders the prompt with placeholders; a row's own inputs can still break it at export."""
    space = replace(committed_version().space, prompt=prompt)
    name = space.variables[0]
    assert render_prompt(space, {name: "short"})  # fine for most rows
    with pytest.raises(
        TemplateError, match=r"^prompt.text fails when rendered with a row's inputs \(" + reason
    ) as err:
        render_prompt(space, {name: "x" * 40})
    assert "\n" not in str(err.value)


def test_a_file_the_export_did_not_write_is_never_overwritten_without_force(tmp_path: Path) -> None:
    version = committed_version()
    out = tmp_path / "evals"
    out.mkdir()
    (out / "README.md").write_text("the team's own notes\n")
    (out / "keep.txt").write_text("x")
    folder = export_version(version.rows, version.manifest, "promptfoo", out)
    assert folder == out / f"support_bot-{version.manifest.version}-promptfoo"  # a folder of its own
    assert (out / "README.md").read_text() == "the team's own notes\n"

    (folder / "promptfooconfig.yaml").write_text("# edited by hand\n")
    before = {p: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(
        UsageError, match=r"promptfooconfig.yaml: exists and was not written by this export.*--force"
    ):
        export_version(version.rows, version.manifest, "promptfoo", folder)
    assert {p: p.read_bytes() for p in folder.iterdir()} == before  # nothing half-written
    export_version(version.rows, version.manifest, "promptfoo", folder, force=True)
    assert (folder / "promptfooconfig.yaml").read_text().startswith("# promptfoo eval of support_bot")

    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / MARKER).write_text("{not json")  # a damaged marker claims nothing
    (stranger / "README.md").write_text("mine\n")
    inside = export_version(version.rows, version.manifest, "inspect", stranger)
    assert inside.parent == stranger and (stranger / "README.md").read_text() == "mine\n"


def test_an_export_stays_inside_out(tmp_path: Path) -> None:
    version = committed_version()
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "registry").symlink_to(outside, target_is_directory=True)
    (out / MARKER).write_text(json.dumps({"format": "openai-evals", "files": {}}))
    with pytest.raises(UsageError, match="registry: is a symlink"):
        export_version(version.rows, version.manifest, "openai-evals", out, force=True)
    assert not any(outside.iterdir())
    hostile = replace(version.manifest, dataset="../../escape", version="../x")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "other").write_text("")
    folder = export_version(version.rows, hostile, "dspy", tmp_path / "busy")
    assert folder.parent == tmp_path / "busy" and ".." not in folder.name
    assert (tmp_path / "busy" / "other").exists()


def test_dsc_export_writes_a_folder_and_refuses_to_clobber(tmp_path: Path) -> None:
    version_dir = sorted((Path(__file__).parents[2] / "outputs" / "support_bot").glob("*/manifest.json"))[
        -1
    ].parent
    env = {
        **os.environ,
        "DSC_PROJECT": str(Path(__file__).parents[2]),
    }  # the clone: its committed example version
    command = [sys.executable, "-m", "compiler.cli", "export", str(version_dir), "--format", "inspect"]
    done = subprocess.run([*command, "--out", str(tmp_path / "x")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x" / "task.py").is_file() and "README.md" in done.stdout
    (tmp_path / "x" / "task.py").write_text("# mine\n")
    refused = subprocess.run(
        [*command, "--out", str(tmp_path / "x")], capture_output=True, text=True, env=env
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--force" in refused.stderr
    assert (tmp_path / "x" / "task.py").read_text() == "# mine\n"
    (tmp_path / "f.txt").write_text("")
    a_file = subprocess.run(
        [*command, "--out", str(tmp_path / "f.txt")], capture_output=True, text=True, env=env
    )
    assert a_file.returncode == 2 and "is a file" in a_file.stderr
    bad = subprocess.run([*command[:-1], "csv"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "--format csv: unknown" in bad.stderr


def test_a_space_without_config_still_exports_from_its_rows(tmp_path: Path) -> None:
    version = committed_version()
    bare = Manifest(dataset="bare", version="v1")
    for fmt in sorted(FORMATS):
        files = build_export(version.rows[:3], bare, fmt)
        assert files["README.md"]
    assert read_space(bare, version.rows).dimensions  # taken from the rows


def test_a_misspelt_format_on_the_command_line_gets_a_did_you_mean(
    project: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.main import main

    assert main(["export", "outputs/support_bot/0123456789ab", "--format", "dpsy"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "dsc: error: --format dpsy: unknown (did you mean `dspy`?); use one of: deepeval, dspy, hf, inspect, "
        "openai-evals, promptfoo\n"
    )
