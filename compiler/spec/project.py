"""A user's repository of test spaces: found like git finds its root, made by `dsc init`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from compiler.core.atomic import write_atomic
from compiler.core.errors import UsageError

BUILTIN = Path(__file__).resolve().parents[1] / "builtin"  # groups and templates shipped in the package
IGNORED = ".dsc/"


def find_root(start: Path) -> Path | None:
    """The nearest folder from `start` upwards holding conf/config.yaml."""
    for folder in (start, *start.parents):
        if (folder / "conf" / "config.yaml").is_file():
            return folder
    return None


@dataclass(frozen=True)
class Project:
    """conf/ (and optional templates/) under a root folder; built-in groups fill in what it lacks."""

    conf_dir: Path
    templates_dir: Path

    @staticmethod
    def locate() -> Project:
        """DSC_PROJECT, else the nearest parent of the working directory with conf/config.yaml."""
        forced = os.environ.get("DSC_PROJECT")
        if forced:
            root = Path(forced).resolve()
            if not (root / "conf" / "config.yaml").is_file():
                raise UsageError(
                    f"DSC_PROJECT={forced}: no conf/config.yaml there; point it at a dsc project "
                    f"or run `dsc init` in that folder"
                )
            return Project.at(root)
        found = find_root(Path.cwd().resolve())
        if found is None:
            raise UsageError(
                f"{Path.cwd()}: not inside a dsc project (no conf/config.yaml here or in any parent "
                f"folder); run `dsc init` to make this folder one"
            )
        return Project.at(found)

    @staticmethod
    def at(root: Path) -> Project:
        return Project(conf_dir=(root / "conf").resolve(), templates_dir=(root / "templates").resolve())

    @property
    def root(self) -> Path:
        """The project folder: every relative path in the config resolves from it."""
        return self.conf_dir.parent

    def template_names(self) -> frozenset[str]:
        folders = (BUILTIN / "templates", self.templates_dir)
        return frozenset(p.stem for d in folders for p in d.glob("*.j2") if not p.name.startswith("_"))

    def group_file(self, group: str, option: str) -> Path:
        """The file an option of a config group comes from: the project's own, else the built-in one."""
        own = self.conf_dir / group / f"{option}.yaml"
        builtin = BUILTIN / "conf" / group / f"{option}.yaml"
        return own if own.is_file() or not builtin.is_file() else builtin

    def group_options(self, group: str) -> list[str]:
        folders = (self.conf_dir / group, BUILTIN / "conf" / group)
        return sorted({p.stem for d in folders for p in d.glob("*.yaml")})

    def is_group(self, name: str) -> bool:
        return (self.conf_dir / name).is_dir() or (BUILTIN / "conf" / name).is_dir()

    def global_dataset(self) -> bool:
        """Whether conf/config.yaml picks the dataset as `dataset@_global_` (its files need no directive)."""
        text = (self.conf_dir / "config.yaml").read_text(encoding="utf-8", errors="replace")
        return "dataset@_global_" in text


def init_project(root: Path) -> list[Path]:
    """Scaffold a repository of test spaces in `root`: conf/config.yaml, one example space, .gitignore."""
    config = root / "conf" / "config.yaml"
    if config.exists():
        raise UsageError(f"{config}: already exists; {root} is a dsc project already (nothing written)")
    written: list[Path] = []
    example = root / "conf" / "dataset" / "example.yaml"
    if not example.exists():
        write_atomic(example, (BUILTIN / "init" / "example.yaml").read_bytes())
        written.append(example)
    write_atomic(config, (BUILTIN / "init" / "config.yaml").read_bytes())
    written.append(config)
    ignore = root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    if IGNORED not in lines and IGNORED.rstrip("/") not in lines:
        text = "\n".join(lines) + ("\n" if lines else "")
        write_atomic(ignore, (text + (BUILTIN / "init" / "gitignore").read_text(encoding="utf-8")).encode())
        written.append(ignore)
    return written
