"""Hydra composition at the edge: conf/ + overrides -> a validated Spec, with user errors made readable."""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compiler.core import lazy
from compiler.core.confine import shown_path
from compiler.core.errors import ConfigError
from compiler.spec.libyaml import libyaml_while_composing
from compiler.spec.model import DATASET_KEYS, Origins, Spec
from compiler.spec.project import Project
from compiler.spec.safety import check_config_safety, mask_override
from compiler.spec.validate.dataset import validate_config
from compiler.spec.validate.fields import closest_name

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # dsc's own checkout (tests and benchmarks use it)
BUILTIN_SEARCHPATH = "pkg://compiler.builtin.conf"
GLOBAL_GROUPS = ("dataset", "experiment")  # groups whose keys sit at the top level of the spec
_MISSING_KEY = re.compile(r"Could not override '([^']+)'")
_OVERRIDE = re.compile(r"^(?P<prefix>[+~]{0,2})(?P<group>[A-Za-z_][\w.]*)(?P<rest>=.*)?$", re.S)


_AT_GLOBAL = re.compile(r"^(?P<prefix>\+?)(?P<group>dataset|experiment)@_global_(?P<rest>=.*)$", re.S)


def user_override(text: str) -> str:
    """An override as the user wrote it (`dataset=x`, `+experiment=x`), from the form Hydra was given."""
    match = _AT_GLOBAL.match(text)
    return f"{match['prefix']}{match['group']}{match['rest']}" if match else text


def hydra_overrides(overrides: Sequence[str], project: Project) -> list[str]:
    """The user's overrides as Hydra needs them: `dataset=x` picks `dataset@_global_`, `+experiment=x`
    lands at the top level, and the built-in groups are on the search path."""
    result: list[str] = []
    for text in overrides:
        match = _OVERRIDE.match(text)
        if match and match["rest"] and match["group"] in GLOBAL_GROUPS:
            group, prefix = match["group"], match["prefix"]
            if group == "dataset" and not prefix and project.global_dataset():
                text = f"dataset@_global_{match['rest']}"
            elif group == "dataset" and not prefix:
                pass  # an older conf/config.yaml with `- dataset: x` and `# @package _global_` files
            elif group == "experiment" and prefix == "+":
                text = f"+experiment@_global_{match['rest']}"
            elif group == "experiment" and not prefix:
                raise ConfigError(
                    f"command line: `{text}`: experiment is not in the defaults list; "
                    f"write `+{text}` to add one"
                )
        result.append(text)
    return [*result, f"hydra.searchpath=[{BUILTIN_SEARCHPATH}]"]


def _override_keys(overrides: Sequence[str], project: Project) -> dict[str, str]:
    """Dotted keys set on the command line (choosing a group option like lm=openai sets no key)."""
    keys: dict[str, str] = {}
    for text in overrides:
        key = text.split("=", 1)[0].lstrip("+~").strip()
        if key and "/" not in key and "@" not in key and not project.is_group(key):
            keys[key] = mask_override(text)  # errors quote overrides: never a key's value
    return keys


def compose_config(overrides: Sequence[str], project: Project) -> tuple[dict[str, Any], Origins]:
    """Compose conf/config.yaml with Hydra overrides into a plain dict plus where each part came from.

    `key=value` sets a key whether or not the composed files hold it (`dedupe.shingle=char` on a dataset
    that writes only `dedupe: {near: 0.85}`): Hydra refuses to override a missing key, so that override is
    retried as `++key=value`, and the spec's validation says whether the key exists (with a did-you-mean).
    """
    check_config_safety([project.conf_dir], overrides, project.root)
    attempt = list(overrides)
    while True:
        try:
            raw, choices = _compose_once(hydra_overrides(attempt, project), project)
        except (
            lazy.hydra_errors.HydraException,
            lazy.omegaconf_errors.OmegaConfBaseException,
            ValueError,
        ) as exc:
            retry = with_missing_key_added(exc, attempt)
            if retry is not None:
                attempt = retry
                continue
            raise ConfigError(explain_hydra_error(exc, project, overrides)) from exc
        except Exception as exc:  # the YAML parser's errors surface as several third-party types
            if type(exc).__module__.startswith("yaml"):
                raise ConfigError(explain_hydra_error(exc, project, overrides)) from exc
            raise
        return raw, origins_for(choices, overrides, project)


def _compose_once(overrides: list[str], project: Project) -> tuple[dict[str, Any], dict[str, Any]]:
    OmegaConf = lazy.omegaconf.OmegaConf
    with (
        libyaml_while_composing(),
        lazy.hydra.initialize_config_dir(config_dir=str(project.conf_dir), version_base="1.3"),
    ):
        cfg = lazy.hydra.compose("config", overrides=overrides, return_hydra_config=True)
        choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
        OmegaConf.set_struct(cfg, False)
        cfg.pop("hydra")
        raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict) and isinstance(choices, dict)
    return {str(k): v for k, v in raw.items()}, {str(k): v for k, v in choices.items()}


def with_missing_key_added(exc: BaseException, overrides: Sequence[str]) -> list[str] | None:
    """The overrides with the plain `key=value` Hydra could not apply (no such key yet) as `++key=value`."""
    missing = _MISSING_KEY.search(" ".join(str(exc).split()))
    if missing is None:
        return None
    for i, text in enumerate(overrides):
        if "=" in text and text.split("=", 1)[0] == missing[1]:
            return [*overrides[:i], f"++{text}", *overrides[i + 1 :]]
    return None


def origins_for(choices: dict[str, Any], overrides: Sequence[str], project: Project) -> Origins:
    """Which file each top-level key came from, given Hydra's group choices."""
    files = {
        group: shown_path(project.group_file(group, str(choices.get(group))))
        for group in ("lm", "personas", "tactics", "optimizer")
    }
    files["generator"] = shown_path(project.conf_dir / "config.yaml")
    dataset = choices.get("dataset@_global_", choices.get("dataset"))
    dataset_file = shown_path(project.conf_dir / "dataset" / f"{dataset}.yaml")

    files.update({key: dataset_file for key in DATASET_KEYS})
    # unknown top-level keys most likely come from the dataset file (its keys are global)
    return Origins(
        files=files,
        default_file=dataset_file,
        overrides=_override_keys(overrides, project),
        dataset=str(dataset) if dataset is not None else None,
    )


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


def _typed(overrides: Sequence[str], group: str) -> str:
    """The override the user typed for a group (or `group=...` if none)."""
    return next(
        (o for o in overrides if o.lstrip("+~").split("=", 1)[0].split("@")[0] == group), f"{group}=..."
    )


def explain_hydra_error(exc: BaseException, project: Project, overrides: Sequence[str] = ()) -> str:
    """Hydra's and OmegaConf's errors as one line: which override or file, what is wrong, how to fix it."""
    message = " ".join(str(exc).split())
    lowered = message.lower()
    plugin = re.search(r"Could not find 'hydra/(launcher|sweeper)/([^']+)'", message)
    if plugin:
        kind, name = plugin[1], plugin[2]
        listed = re.search(rf"Available options in 'hydra/{kind}':(.*?)Config search path", str(exc), re.S)
        installed = listed[1].split() if listed else []
        hint = closest_name(name, installed)
        if hint:  # `jobllib`: a typo of an installed one
            return f"command line: `hydra/{kind}={name}`: no Hydra {kind} `{name}`; did you mean `hydra/{kind}={hint}`?"
        plugins = (
            "`pip install hydra-joblib-launcher` (dsc's extra `dsc[joblib]`) adds `joblib`, "
            "`hydra-submitit-launcher` (`dsc[submitit]`) adds `submitit_local` and `submitit_slurm`"
            if kind == "launcher"
            else "e.g. `pip install hydra-optuna-sweeper` adds `optuna`"
        )
        return (
            f"command line: `hydra/{kind}={name}`: no Hydra {kind} `{name}` is installed; {kind}s are "
            f"Hydra plugins: {plugins}"
        )
    missing = re.search(r"Could not find '([^'/]+)/([^']+)'", message)
    if missing:
        group, option = missing[1].split("@")[0], missing[2]
        options = project.group_options(group)
        hint = closest_name(option, options)
        fix = (
            f"did you mean `{group}={hint}`?" if hint else f"pick one of: {', '.join(options) or 'none yet'}"
        )
        return (
            f"command line: `{_typed(overrides, group)}`: Could not find '{group}/{option}' "
            f"(no conf/{group}/{option}.yaml); {fix}"
        )
    if "error parsing override" in lowered or "override_grammar" in lowered or "lexer" in lowered:
        bad = next((o for o in overrides if "=" not in o and not o.startswith("~")), None)
        if bad is not None and ":" in bad:
            key, _, value = bad.partition(":")
            return f"command line: `{bad}` is not an override (Error parsing override); write `{key}={value}`"
        # a bare word on the command line is most likely a test space's name (an exact name is its own closest)
        space = closest_name(bad, project.group_options("dataset")) if bad is not None else None
        if space:
            return (
                f"command line: `{bad}` is not an override (they are key=value); "
                f"to pick a test space write `dataset={space}`"
            )
        at = re.search(r"at input '(.+)'", message)
        named = [o for o in overrides if "=" in o and (o in message or (at is not None and at[1] in o))]
        if bad is None and named and not named[0].isascii():
            key, _, value = named[0].partition("=")
            simple = not any(ch in value for ch in "'\"[]{},")
            items = value[1:-1].split(",") if value.startswith("[") and value.endswith("]") else []
            flat = items and not any(ch in value[1:-1] for ch in "'\"[]{}")
            example = (
                f"`{key}='{value}'`"
                if simple
                else f"`{key}=[{','.join(repr(i.strip()) for i in items)}]`"
                if flat
                else "`key=['English','日本語']`"
            )
            return (
                f"command line: `{named[0]}` does not parse as an override: Hydra reads letters beyond ASCII "
                f"(é, ß, 日本語) only inside quotes; write {example}"
            )
        if bad is None and named:  # key=value, but the value (or a key inside it) breaks Hydra's grammar
            return (
                f"command line: `{named[0]}` does not parse as an override; quote a value that holds spaces "
                "or any of = , : [ ] { } (e.g. `key='a=b'`), and keep keys inside {...} plain names "
                "(a ~value is set in the YAML file)"
            )
        first = message.split(" See https")[0]
        return f"command line: {first}; write overrides as key=value (see `dsc --help`)"
    ambiguous = re.search(r"Ambiguous value for argument '([^']+)'", message)
    if ambiguous:  # `seed=1,2` without -m: Hydra's message lists its three readings in one run-on sentence
        key, _, value = ambiguous[1].partition("=")
        return (
            f"command line: `{ambiguous[1]}`: a comma-separated value is a sweep; add -m to run one job per "
            f"value (`-m {ambiguous[1]}`), or write `{key}=[{value}]` for a list or "
            f"`{key}='{value}'` for text"
        )
    undeletable = re.search(r"Could not delete from config\. '([^']+)' does not exist", message)
    if undeletable:
        key = undeletable[1]
        return f"command line: `~{key}`: the composed config sets no `{key}`, so there is nothing to delete; drop `~{key}`"
    absent = re.search(r"config group '([^']+)' does not exist", message)
    if absent:
        group = absent[1]
        return (
            f"command line: `{_typed(overrides, group)}`: there is no conf/{group}/ folder in "
            f"{project.root}; add conf/{group}/<name>.yaml first"
        )
    appendable = re.search(r"Could not override '([^']+)'.*use \+(\S+)", message)
    if appendable and not project.is_group(appendable[1].split(".")[0]):
        key = appendable[1]
        top = key.split(".")[0]
        known = [k for k in (*DATASET_KEYS, "lm", "budget", "checks", "dedupe") if k != top]
        close = difflib.get_close_matches(top, known, n=1)
        hint = (
            f"; did you mean `{close[0]}`?"
            if close
            else "; check the spelling against conf/config.yaml and the dataset file"
        )
        return f"command line: `{key}` is not a known config key{hint} (`+{appendable[2]}` would add it as a new key)"
    if appendable:
        return (
            f"command line: `{appendable[2]}`: {appendable[1]} is not in the defaults list of "
            f"conf/config.yaml; write `+{appendable[2]}` to add it"
        )
    if "error merging override" in lowered:
        cause = " ".join(str(exc.__cause__ or "").split()).split(" full_key:")[0]
        return (
            f"command line: {message}: {cause or 'the value does not fit the existing key'}; "
            f"give a value of the same shape as the key in the config"
        )
    in_file = re.search(r"In '([^']+)': Could not override '([^']+)'", message)
    if in_file and in_file[1] != "config":  # `defaults: [override /personas: x]` in a dataset file
        group = in_file[2]
        return (
            f"{shown_path(project.conf_dir / in_file[1])}.yaml: `override /{group}` needs `{group}` in the "
            f"defaults list of {shown_path(project.conf_dir / 'config.yaml')} above the `dataset@_global_` line; "
            "move the dataset line to the end of that list"
        )
    if "could not override" in lowered or "not in struct" in lowered:
        key = message.split("'")[1] if "'" in message else "?"
        return (
            f"command line: `{key}` is not a known config key; check the spelling "
            f"against conf/config.yaml and the dataset file"
        )
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        from compiler.spec.safety.yaml_scan import yaml_fix

        where = shown_path(Path(getattr(mark, "name", "?")))
        problem = getattr(exc, "problem", "") or message
        return (
            f"{where}:{mark.line + 1}:{mark.column + 1}: YAML does not parse ({problem}); {yaml_fix(problem)}"
        )
    return f"{shown_path(project.conf_dir)}: {message}"


def load_spec(overrides: Sequence[str], project: Project | None = None, *, remembered: bool = False) -> Spec:
    """Compose, then validate: the single way a command turns conf/ into a Spec.

    `remembered` (the command line's choice) reuses the composition stored under a byte-identical
    fingerprint of Hydra's inputs (see compiler/spec/cache.py; a new one is written by `write_queued` once
    the command has succeeded); validation runs either way."""
    from compiler.spec import cache

    project = project or Project.locate()
    folder = cache.cache_folder(project, list(overrides)) if remembered else None
    key = cache.compose_key(list(overrides), project) if folder is not None else None
    found = cache.recall(folder, key) if folder is not None and key is not None else None
    raw, origins = found if found is not None else compose_config(overrides, project)
    composed = copy.deepcopy(raw) if key is not None and found is None else None
    spec = validate_config(raw, origins, project.template_names(), project.root)
    if folder is not None and key is not None and composed is not None:
        cache.remember(folder, key, composed, origins)  # written once the command succeeds
    return spec
