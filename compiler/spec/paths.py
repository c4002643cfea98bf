"""Where a project keeps its files: out_dir, reviews_dir, datasets_dir, journal_dir, read from one place.

`dsc compile` gets them from the composed config (`Spec`); verbs that work on files already on disk (show,
review, promote, diff, export, verify, repair, sweeps) read the same keys from conf/ without composing
with Hydra: conf/config.yaml, then the dataset file it picks (dataset keys are global, so a dataset file
may set them too), then `key=value` on the command line. Both go through `paths_from`, so one default and
one rule hold for every verb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.core.errors import ConfigError

PATH_DEFAULTS = {
    "out_dir": "outputs",
    "journal_dir": ".dsc",
    "reviews_dir": "reviews",
    "datasets_dir": "datasets",
}


@dataclass(frozen=True)
class Paths:
    out_dir: Path
    journal_dir: Path
    reviews_dir: Path
    datasets_dir: Path


def paths_from(raw: Mapping[str, Any]) -> Paths:
    """The four folders of a resolved config (missing keys take the defaults of conf/config.yaml)."""
    return Paths(**{key: Path(str(raw.get(key) or default)) for key, default in PATH_DEFAULTS.items()})


def _yaml_keys(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import yaml  # only the verbs that read conf/ without Hydra need it

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: YAML does not parse; fix the syntax there") from None
    return data if isinstance(data, dict) else {}


def _default_dataset(config: Mapping[str, Any]) -> str | None:
    for item in config.get("defaults") or ():
        if not isinstance(item, Mapping):
            continue
        for key in ("dataset@_global_", "dataset"):
            if isinstance(item.get(key), str):
                return str(item[key])
    return None


def path_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split `out_dir=...`-style words (the path keys, and `dataset=`) from the other arguments."""
    keys = (*PATH_DEFAULTS, "dataset")
    ours = [a for a in argv if a.partition("=")[0].lstrip("+") in keys and "=" in a]
    return ours, [a for a in argv if a not in ours]


def read_paths(conf_dir: Path, overrides: Sequence[str] = (), dataset: str | None = None) -> Paths:
    """The folders a plain `dsc compile <overrides>` would use, without composing the whole config."""
    config = _yaml_keys(conf_dir / "config.yaml")
    given = {k.lstrip("+"): v for k, _, v in (o.partition("=") for o in overrides)}
    chosen = given.get("dataset") or dataset or _default_dataset(config)
    raw = {k: config[k] for k in PATH_DEFAULTS if k in config}
    if chosen and "/" not in chosen and not chosen.startswith("."):
        raw.update(
            {
                k: v
                for k, v in _yaml_keys(conf_dir / "dataset" / f"{chosen}.yaml").items()
                if k in PATH_DEFAULTS
            }
        )
    raw.update({k: v for k, v in given.items() if k in PATH_DEFAULTS})
    found = paths_from(raw)
    root = conf_dir.parent  # relative folders resolve from the project root, whatever the working directory
    return Paths(**{key: root / getattr(found, key) for key in PATH_DEFAULTS})
