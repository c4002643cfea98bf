"""A repository of test spaces, as a user has one: `dsc init`, found from any subfolder, paths from its root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.cli.main import main
from compiler.core.errors import UsageError
from compiler.spec.compose import load_spec
from compiler.spec.project import Project, find_root, init_project


def _new_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "evals"
    repo.mkdir()
    monkeypatch.delenv("DSC_PROJECT", raising=False)
    monkeypatch.chdir(repo)
    assert main(["init"]) == 0
    return repo


def test_init_writes_config_example_and_gitignore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _new_repo(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()} == {
        "conf/config.yaml",
        "conf/dataset/example.yaml",
        ".gitignore",
    }
    assert ".dsc/" in (repo / ".gitignore").read_text().splitlines()
    assert "dsc plan dataset=example" in out
    assert "@package" not in (repo / "conf/dataset/example.yaml").read_text()


def test_init_keeps_an_existing_gitignore_and_refuses_a_second_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    init_project(tmp_path)
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "*.pyc"
    before = (tmp_path / "conf/config.yaml").read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "already" in err
    assert (tmp_path / "conf/config.yaml").read_bytes() == before


def test_a_new_repository_compiles_from_a_subfolder_and_writes_at_its_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _new_repo(tmp_path, monkeypatch)
    deeper = repo / "notes" / "drafts"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)
    capsys.readouterr()
    assert main(["compile", "dataset=example"]) == 0
    out = capsys.readouterr().out
    versions = list((repo / "outputs" / "example").glob("*/manifest.json"))
    assert len(versions) == 1
    assert json.loads(versions[0].read_text())["rows"] == 24
    assert (repo / ".dsc" / "journal" / "example").is_dir()
    assert not any(deeper.iterdir())  # nothing written where the command ran
    assert "report.html" in out


def test_half_an_emoji_escaped_in_yaml_is_one_line_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """YAML's "\\ud83d" is a string no file can hold (it crashed in pydantic with a traceback)."""
    repo = _new_repo(tmp_path, monkeypatch)
    example = repo / "conf/dataset/example.yaml"
    text = example.read_text()
    assert "\ndescription:" in text
    example.write_text(
        text.replace("\ndescription:", '\ndescription: "Support \\ud83d bot"\nold_description:', 1)
    )
    example.write_text(example.read_text().replace("old_description:", "#", 1))
    capsys.readouterr()
    assert main(["compile", "dataset=example"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "conf/dataset/example.yaml: description: holds \\ud83d, half of a UTF-16 pair" in err
    assert not (repo / "outputs").exists()


def test_the_cli_outside_any_project_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "compiler.cli", "plan"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "dsc init" in done.stderr
    assert not any(tmp_path.iterdir())


def test_dsc_plan_as_a_process_prints_the_whole_plan_and_remembers_it(tmp_path: Path) -> None:
    # `dsc plan` ends without interpreter teardown: stdout through a pipe must be whole (far over a pipe's
    # 64 KiB) and the plan and composition it remembers must be written before it leaves.
    init_project(tmp_path)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    args = [sys.executable, "-m", "compiler.cli", "plan", "--json", "dataset=example", "size=600"]
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) > 65536 and len(json.loads(done.stdout)["cases"]) >= 600
    assert list((tmp_path / ".dsc" / "plans").iterdir()) and list((tmp_path / ".dsc" / "compose").iterdir())
    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == done.stdout


def test_dsc_compile_as_a_process_leaves_its_version_journal_and_atexit_work_done(tmp_path: Path) -> None:
    # `dsc compile` ends without interpreter teardown, but as a normal exit does otherwise: threads joined
    # and atexit handlers run (a DSPy callback's flush), after the version and the journal are on disk.
    init_project(tmp_path)
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: open('atexit-ran', 'w').write('yes'))\n"
        "sys.argv = ['dsc', 'compile', 'dataset=example']\n"
        "from compiler.cli.main import main\n"
        "sys.exit(main())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "atexit-ran").read_text() == "yes"
    manifests = list((tmp_path / "outputs" / "example").glob("*/manifest.json"))
    assert len(manifests) == 1 and json.loads(manifests[0].read_text())["rows"] == 24
    assert "report.html" in done.stdout
    again = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "unchanged" in again.stdout
    journal = tmp_path / ".dsc" / "journal" / "example"
    assert journal.is_dir() and sum(f.stat().st_size for f in journal.rglob("*") if f.is_file()) > 0


def test_dsc_project_that_is_not_a_project_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DSC_PROJECT", str(tmp_path))
    with pytest.raises(UsageError, match="no conf/config.yaml there"):
        Project.locate()


def test_the_nearest_parent_with_a_config_is_the_root(tmp_path: Path) -> None:
    init_project(tmp_path)
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    assert find_root(inner) == tmp_path
    init_project(tmp_path / "a")
    assert find_root(inner) == tmp_path / "a"
    assert find_root(Path("/")) is None or find_root(Path("/")) == Path("/")


def test_a_project_file_overrides_the_built_in_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _new_repo(tmp_path, monkeypatch)
    (repo / "conf" / "tactics").mkdir()
    (repo / "conf" / "tactics" / "default.yaml").write_text("only_one: {description: Just this one.}\n")
    (repo / "templates").mkdir()
    (repo / "templates" / "haiku.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}A haiku.{% endblock %}'
    )
    spec = load_spec(["+strategies.haiku=1"], Project.locate())
    assert [t.id for t in spec.tactics] == ["only_one"]
    assert "haiku" in {s.name for s in spec.strategies}
    assert Path(spec.out_dir) == repo / "outputs"


def test_every_built_in_file_is_package_data() -> None:
    """A non-editable install ships what compiler/builtin holds: pyproject's globs cover every file."""
    import tomllib

    from compiler.spec.compose import PACKAGE_ROOT
    from compiler.spec.project import BUILTIN

    config = tomllib.loads((PACKAGE_ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["compiler.builtin"]
    files = [p for p in BUILTIN.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert len(files) >= 15
    for path in files:
        relative = path.relative_to(BUILTIN)
        assert any(relative.match(g) and len(relative.parts) == len(Path(g).parts) for g in globs), relative
