"""Which YAML files a composition will read, found from the defaults lists and the overrides without Hydra,
so each can be checked before Hydra parses it. A choice that is not a plain name (a sweep `a,b`, a glob,
`choice(...)`) selects every file of its group: checking too much is safe, too little is not."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from compiler.spec.safety.yaml_scan import ScannedFile, scan_yaml_file

PLAIN_NAME = re.compile(r"^[\w.\-/]+$")
MAX_FILES = 500


@dataclass(frozen=True)
class Choice:
    group: str  # "" for the primary config's own folder
    option: str
    package: str | None  # from `group@package` in a defaults list or an override


@dataclass(frozen=True)
class UserFile:
    path: Path
    scanned: ScannedFile
    group: str
    landing: tuple[str, ...]  # where its top-level keys land in the composed config
    role: str  # primary, experiment or group


def _landing(group: str, package: str | None) -> tuple[str, ...]:
    if package is None:
        return tuple(p for p in group.split("/") if p)
    if package == "_global_" or package.startswith("_global_."):
        return tuple(package.split(".")[1:])
    group_parts = [p for p in group.split("/") if p]
    text = package.replace("_group_", ".".join(group_parts)).replace("_name_", "")
    return tuple(p for p in text.split(".") if p)


def _options(conf_dirs: Sequence[Path], group: str) -> list[str]:
    names: set[str] = set()
    for conf in conf_dirs:
        folder = conf / group
        if folder.is_dir():
            names.update(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))
    return sorted(names)


def _expand(conf_dirs: Sequence[Path], group: str, value: str) -> list[str]:
    value = value.strip().strip("'\"")
    if value in ("", "null"):
        return []
    if PLAIN_NAME.match(value):
        return [value]
    return _options(conf_dirs, group)


def _is_group(conf_dirs: Sequence[Path], group: str) -> bool:
    return bool(group) and any((conf / group).is_dir() for conf in conf_dirs)


def override_choices(conf_dirs: Sequence[Path], overrides: Sequence[str]) -> tuple[list[Choice], set[str]]:
    """Group choices made on the command line, and the groups it removes (`~group`)."""
    chosen: list[Choice] = []
    removed: set[str] = set()
    for text in overrides:
        key, _, value = text.partition("=")
        name, _, package = key.strip().lstrip("+").partition("@")
        if name.startswith("~"):
            removed.add(name[1:])
            continue
        if _is_group(conf_dirs, name):
            chosen += [Choice(name, o, package or None) for o in _expand(conf_dirs, name, value)]
    return chosen, removed


def defaults_choices(scanned: ScannedFile, group: str, conf_dirs: Sequence[Path]) -> list[Choice]:
    """The entries of a file's own defaults list, relative to its group."""
    here = "/".join(group.split("/")[:-1]) if group else ""
    choices: list[Choice] = []
    keys: dict[tuple[str, ...], str] = {
        s.path: s.value for s in scanned.scalars if s.is_key and len(s.path) == 2
    }
    for scalar in scanned.values("defaults"):
        if len(scalar.path) == 2:  # `- name`: a config of this file's own group
            if scalar.value != "_self_":
                name, _, package = scalar.value.partition("@")
                choices.append(Choice(here, name.lstrip("/"), package or None))
            continue
        entry = keys.get(scalar.path[:2])
        if entry is None:
            continue
        words = entry.replace("override ", "").replace("optional ", "").strip()
        name, _, package = words.partition("@")
        target = name[1:] if name.startswith("/") else "/".join(p for p in (here, name) if p)
        choices += [Choice(target, o, package or None) for o in _expand(conf_dirs, target, scalar.value)]
    return choices


def _find(conf_dirs: Sequence[Path], group: str, option: str) -> Path | None:
    for conf in conf_dirs:
        path = conf / group / f"{option}.yaml" if group else conf / f"{option}.yaml"
        if path.is_file():
            return path
    return None


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def user_files(conf_dirs: Sequence[Path], overrides: Sequence[str], root: Path) -> Iterator[UserFile]:
    """config.yaml, then every file its defaults list and the overrides pick, each scanned once."""
    primary = _find(conf_dirs, "", "config")
    if primary is None:
        return
    cli, removed = override_choices(conf_dirs, overrides)
    cli_groups = {c.group for c in cli}
    scanned = scan_yaml_file(primary, _display(primary, root))
    yield UserFile(primary, scanned, "", (), "primary")
    defaults = defaults_choices(scanned, "config", conf_dirs)
    queue = [c for c in defaults if c.group not in cli_groups | removed]
    # `dataset=travel` picks the option of the defaults entry `dataset@_global_`: it lands where that entry does
    packages = {c.group: c.package for c in defaults if c.package is not None}
    queue += [replace(c, package=packages.get(c.group)) if c.package is None else c for c in cli]
    seen: set[Path] = {primary.resolve()}
    while queue and len(seen) < MAX_FILES:
        choice = queue.pop(0)
        path = _find(conf_dirs, choice.group, choice.option)
        if path is None or path.resolve() in seen:
            continue  # a missing file is Hydra's error to report
        seen.add(path.resolve())
        scanned = scan_yaml_file(path, _display(path, root))
        package = choice.package if choice.package is not None else scanned.package
        role = "experiment" if choice.group.split("/")[0] == "experiment" else "group"
        yield UserFile(path, scanned, choice.group, _landing(choice.group, package), role)
        queue += defaults_choices(scanned, f"{choice.group}/{choice.option}", conf_dirs)
        for param in scanned.values("hydra", "sweeper", "params"):
            group = param.path[3].lstrip("+")
            if _is_group(conf_dirs, group):
                queue += [Choice(group, o, None) for o in _expand(conf_dirs, group, param.value)]
