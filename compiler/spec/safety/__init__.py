"""Config is data: the checks every user file and override pass before Hydra composes them.

Nothing a dataset, experiment, catalogue, lm file or a user's config.yaml says may run code (`_target_`,
Hydra callbacks, launchers, logging), read the environment or a file into a value (`oc.env`, `oc.decode`,
custom resolvers), or exhaust the parser (size, depth, aliases). The command line may pick a launcher or
sweeper and set their options; nothing else under `hydra`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from compiler.core import lazy
from compiler.core.errors import ConfigError
from compiler.spec.safety.files import user_files
from compiler.spec.safety.rules import check_scanned, mask_override, override_problem

# resolvers no composition may call, whichever file or override names them
REMOVED_RESOLVERS = ("oc.env", "oc.decode")

__all__ = ["check_config_safety", "mask_override", "project_plugins"]


def restrict_resolvers() -> None:
    """Unregister OmegaConf's resolvers that read the environment or parse strings into config."""
    OmegaConf = lazy.omegaconf.OmegaConf
    for name in REMOVED_RESOLVERS:
        if OmegaConf.has_resolver(name):
            OmegaConf.clear_resolver(name)


def project_plugins(root: Path) -> list[str]:
    """`hydra_plugins` folders inside the project on sys.path: Hydra would import them as code."""
    found = []
    # the environment dsc runs in (a .venv inside the project, say) holds installed packages, not project files
    installed = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for entry in sys.path:
        base = Path(entry or ".").resolve()
        if any(base.is_relative_to(prefix) for prefix in installed):
            continue
        folder = base / "hydra_plugins"
        if folder.is_dir() and folder.is_relative_to(root.resolve()):
            found.append(str(folder))
    return found


def check_config_safety(conf_dirs: Sequence[Path], overrides: Sequence[str], root: Path) -> None:
    """Raise one ConfigError listing every unsafe key, value or override, each with its file and line."""
    problems: list[str] = []
    for text in overrides:
        reason = override_problem(text, from_cli=True)
        if reason is not None:
            problems.append(f"command-line override `{mask_override(text)}`: {reason}")
    for conf in conf_dirs:
        hydra_dir = conf / "hydra"
        if hydra_dir.is_dir() and any(hydra_dir.rglob("*.yaml")):
            problems.append(
                f"{hydra_dir}: user files may not configure Hydra (launchers, callbacks, logging); "
                "delete the folder and pick a launcher on the command line, e.g. hydra/launcher=joblib"
            )
    for folder in project_plugins(root):
        problems.append(
            f"{folder}: a hydra_plugins folder in the project would run as code inside dsc; remove it"
        )
    for user_file in user_files(conf_dirs, overrides, root):
        problems += check_scanned(user_file.scanned, user_file.landing, user_file.role)
    restrict_resolvers()
    if problems:
        raise ConfigError("\n".join(problems))
