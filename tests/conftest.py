"""Shared fixtures: the real conf/ composed with Hydra, and throwaway copies of the project to break."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from compiler.spec.compose import PACKAGE_ROOT, Project

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A copy of conf/ in a temporary working directory (outputs land there too); its templates/ starts
    empty, so dsc's built-in templates apply until a test writes one of the same name."""
    shutil.copytree(PACKAGE_ROOT / "conf", tmp_path / "conf")
    (tmp_path / "templates").mkdir()
    shutil.copytree(PACKAGE_ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSC_PROJECT", str(tmp_path))
    yield Project(conf_dir=tmp_path / "conf", templates_dir=tmp_path / "templates")


def copy_project(target: Path, folders: tuple[str, ...] = ("conf", "data")) -> Path:
    """A copy of the checkout's conf/ and data/ (no curated rows) at `target`: a project of its own."""
    for folder in folders:
        if (PACKAGE_ROOT / folder).is_dir():
            shutil.copytree(PACKAGE_ROOT / folder, target / folder)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a copied config file; the test fails loudly if the text is not there.

    A file the project does not have yet (a built-in catalogue or template) is first copied from the
    package, as a user overrides a built-in file: same name in the project's conf/<group>/ or templates/."""
    if not path.exists():
        parts = path.parts
        for anchor in ("templates", "conf"):
            if anchor in parts:
                rest = parts[len(parts) - parts[::-1].index(anchor) :]
                builtin = PACKAGE_ROOT / "compiler" / "builtin" / anchor / Path(*rest)
                if builtin.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(builtin.read_bytes())
                break
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="session", autouse=True)
def near_duplicate_kernels(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compile numba's kernels once per test run: the first worker compiles them into numba's on-disk cache
    under a lock, the other workers wait and then load them from that cache instead of compiling again."""
    import fcntl

    import polars as pl

    from compiler.screen.near.index import find_near_duplicates

    lock_path = tmp_path_factory.getbasetemp().parent / "numba-kernels.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            find_near_duplicates(pl.Series("text", ["warm the kernels up", "warm the kernels up now"]), 0.8)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
