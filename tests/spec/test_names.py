"""Dataset names become folder names: only safe ones, one file per name, refused in one line."""

from __future__ import annotations

import shutil

import pytest

from compiler.cli.main import main
from compiler.spec.project import Project
from tests.conftest import edit

BAD_NAMES = [
    pytest.param("../../etc", id="dot-dot"),
    pytest.param("a/b", id="slash"),
    pytest.param("bad\\u0000name", id="nul"),
    pytest.param("x" * 300, id="300-chars"),
    pytest.param(".", id="dot"),
    pytest.param("Support Bot", id="space-and-capitals"),
    pytest.param("-leading-dash", id="leading-dash"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_unsafe_name_is_refused_in_one_line_and_nothing_is_written(
    project: Project, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project.conf_dir / "dataset" / "support_bot.yaml", "name: support_bot", f'name: "{name}"')
    assert main(["compile", "size=12"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert "conf/dataset/support_bot.yaml: name: " in err and "not a usable dataset name" in err
    assert len(err) < 300
    root = project.root
    assert not (root / "outputs").exists() and not (root / ".dsc").exists()
    assert not (root.parent / "etc").exists()


def test_a_name_that_differs_from_its_file_name_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(
        project.conf_dir / "dataset" / "support_bot.yaml", project.conf_dir / "dataset" / "support_bot2.yaml"
    )
    assert main(["compile", "dataset=support_bot2", "size=12"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert (
        "conf/dataset/support_bot2.yaml: name: `support_bot` differs from the file's name `support_bot2`"
        in err
    )
    assert not (project.root / "outputs").exists()


def test_a_name_another_file_already_uses_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    other = project.conf_dir / "dataset" / "helpdesk.yaml"
    shutil.copy(project.conf_dir / "dataset" / "rag_qa.yaml", other)
    edit(other, "name: rag_qa", "name: support_bot")
    assert main(["plan", "size=12"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "`support_bot` is also the name in conf/dataset/helpdesk.yaml" in err


def test_a_name_override_on_the_command_line_cannot_point_at_another_dataset(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compile", "name=rag_qa", "size=12"]) == 2
    err = capsys.readouterr().err
    assert "command-line override `name=rag_qa`: name:" in err
    assert not (project.root / "outputs").exists()


def test_committed_dataset_files_are_named_as_their_files() -> None:
    folder = Project.locate().conf_dir / "dataset"
    for path in folder.glob("*.yaml"):
        assert f"\nname: {path.stem}\n" in "\n" + path.read_text(), path
        assert "@package" not in path.read_text()


def test_names_of_up_to_64_characters_are_allowed() -> None:
    from compiler.spec.validate.names import NAME

    assert NAME.fullmatch("support_bot") and NAME.fullmatch("a" * 64) and not NAME.fullmatch("a" * 65)
