"""Hydra composition at the edge: conf/ + overrides -> a validated Spec, with user errors made readable."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.core import lazy
from compiler.core.errors import ConfigError
from compiler.spec.model import DATASET_KEYS, Origins, Spec
from compiler.spec.safety import check_config_safety, mask_override
from compiler.spec.validate.dataset import validate_config

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Project:
    """Where a user's conf/ and templates/ live: the working directory if it has them, else the checkout."""

    conf_dir: Path
    templates_dir: Path

    @staticmethod
    def locate() -> Project:
        root = Path(os.environ.get("DSC_PROJECT", "."))
        if not (root / "conf" / "config.yaml").is_file():
            root = PACKAGE_ROOT
        return Project(conf_dir=(root / "conf").resolve(), templates_dir=(root / "templates").resolve())

    @property
    def root(self) -> Path:
        """The project folder: source paths in a dataset file are relative to it."""
        return self.conf_dir.parent

    def template_names(self) -> frozenset[str]:
        return frozenset(p.stem for p in self.templates_dir.glob("*.j2") if not p.name.startswith("_"))


def _override_keys(overrides: Sequence[str], project: Project) -> dict[str, str]:
    """Dotted keys set on the command line (choosing a group option like lm=openai sets no key)."""
    keys: dict[str, str] = {}
    for text in overrides:
        key = text.split("=", 1)[0].lstrip("+~").strip()
        if key and "/" not in key and not (project.conf_dir / key).is_dir():
            keys[key] = mask_override(text)  # errors quote overrides: never a key's value
    return keys


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def compose_config(overrides: Sequence[str], project: Project) -> tuple[dict[str, Any], Origins]:
    """Compose conf/config.yaml with Hydra overrides into a plain dict plus where each part came from."""
    OmegaConf = lazy.omegaconf.OmegaConf
    check_config_safety([project.conf_dir], overrides, project.root)
    try:
        with lazy.hydra.initialize_config_dir(config_dir=str(project.conf_dir), version_base="1.3"):
            cfg = lazy.hydra.compose("config", overrides=list(overrides), return_hydra_config=True)
            choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
            OmegaConf.set_struct(cfg, False)
            cfg.pop("hydra")
            raw = OmegaConf.to_container(cfg, resolve=True)
    except (
        lazy.hydra_errors.HydraException,
        lazy.omegaconf_errors.OmegaConfBaseException,
        ValueError,
    ) as exc:
        raise ConfigError(explain_hydra_error(exc, project)) from exc
    except Exception as exc:  # the YAML parser's errors surface as several third-party types
        if type(exc).__module__.startswith("yaml"):
            raise ConfigError(explain_hydra_error(exc, project)) from exc
        raise
    assert isinstance(raw, dict) and isinstance(choices, dict)
    plain_choices = {str(k): v for k, v in choices.items()}
    return {str(k): v for k, v in raw.items()}, origins_for(plain_choices, overrides, project)


def origins_for(choices: dict[str, Any], overrides: Sequence[str], project: Project) -> Origins:
    """Which file each top-level key came from, given Hydra's group choices."""
    conf = project.conf_dir
    files = {
        "lm": _relative(conf / "lm" / f"{choices.get('lm')}.yaml"),
        "personas": _relative(conf / "personas" / f"{choices.get('personas')}.yaml"),
        "tactics": _relative(conf / "tactics" / f"{choices.get('tactics')}.yaml"),
    }
    dataset_file = _relative(conf / "dataset" / f"{choices.get('dataset')}.yaml")

    files.update({key: dataset_file for key in DATASET_KEYS})
    # unknown top-level keys most likely come from the dataset file (its keys are global)
    return Origins(files=files, default_file=dataset_file, overrides=_override_keys(overrides, project))


def spec_from_job(cfg: Any, overrides: Sequence[str], project: Project) -> Spec:
    """The Spec of a Hydra multirun job, from the config Hydra already composed for it."""
    OmegaConf = lazy.omegaconf.OmegaConf
    choices = OmegaConf.to_container(lazy.hydra_config.HydraConfig.get().runtime.choices)
    raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict) and isinstance(choices, dict)
    raw.pop("hydra", None)
    plain = {str(k): v for k, v in raw.items()}
    return validate_config(
        plain,
        origins_for({str(k): v for k, v in choices.items()}, overrides, project),
        project.template_names(),
        project.root,
    )


def explain_hydra_error(exc: BaseException, project: Project) -> str:
    message = " ".join(str(exc).split())
    lowered = message.lower()
    if "could not find" in lowered and "available options" in lowered:
        head = message.split("Config search path")[0].strip()
        head = head.replace("Available options in", "; available options in")
        return f"command line: {head}; pick one of the listed files"
    if "error parsing override" in lowered or "override_grammar" in lowered:
        first = message.split(" See https")[0]
        return f"command line: {first}; write overrides as key=value (see `dsc --help`)"
    if "error merging override" in lowered:
        cause = " ".join(str(exc.__cause__ or "").split()).split(" full_key:")[0]
        return (
            f"command line: {message}: {cause or 'the value does not fit the existing key'}; "
            f"give a value of the same shape as the key in the config"
        )
    if "could not override" in lowered or "not in struct" in lowered:
        key = message.split("'")[1] if "'" in message else "?"
        return (
            f"command line: `{key}` is not a known config key; check the spelling "
            f"against conf/config.yaml and the dataset file"
        )
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = _relative(Path(getattr(mark, "name", "?")))
        problem = getattr(exc, "problem", "") or message
        return f"{where}:{mark.line + 1}:{mark.column + 1}: YAML does not parse ({problem}); fix the syntax there"
    return f"{_relative(project.conf_dir)}: {message}"


def load_spec(overrides: Sequence[str], project: Project | None = None) -> Spec:
    """Compose, then validate: the single way a command turns conf/ into a Spec."""
    project = project or Project.locate()
    raw, origins = compose_config(overrides, project)
    return validate_config(raw, origins, project.template_names(), project.root)
