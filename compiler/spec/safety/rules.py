"""What a user's config may say: no Hydra settings, no `_target_`, no resolver that reads the environment or
a file. Each check returns problems as `file:line: key: what; how to fix` lines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from compiler.core import lazy
from compiler.spec.safety.yaml_scan import NOT_A_MAPPING, Scalar, ScannedFile

# keys Hydra's instantiate() reads: with them a config names Python code to run
OBJECT_KEYS = frozenset({"_target_", "_args_", "_partial_", "_recursive_", "_convert_"})
# resolvers that only read other config values; oc.env, oc.decode and custom ones are refused
SAFE_RESOLVERS = frozenset({"oc.select", "oc.dict.keys", "oc.dict.values"})
# what the primary config.yaml may say about Hydra: where its run folders go, nothing that runs code
PRIMARY_HYDRA_KEYS = {
    ("run", "dir"): "dir",
    ("sweep", "dir"): "dir",
    ("sweep", "subdir"): "dir",
    ("output_subdir",): "null",
    ("job", "chdir"): "false",
}
RUN_DIR_NODES = frozenset({"hydra.job.num", "hydra.job.id", "hydra.job.name"})
CLI_HYDRA_GROUPS = frozenset({"hydra/launcher", "hydra/sweeper"})
CLI_HYDRA_PREFIXES = ("hydra.launcher.", "hydra.sweeper.")
# the last word of a key that holds a secret (`api_key`, `lm.token`, `client_secret`), not `max_tokens`
SECRET_KEY = re.compile(
    r"(?:^|[._-])(?:api_?key|[a-z]*_?token|secret|password|passwd|credentials?)$", re.IGNORECASE
)
CREDENTIALS_IN_URL = re.compile(r"(?<=://)[^/@\s]*@")
FIX_HYDRA = (
    "user files may not configure Hydra; remove it (pick a launcher or sweeper on the command line, "
    "e.g. hydra/launcher=joblib hydra.launcher.n_jobs=2)"
)


def interpolation_problems(
    text: str, resolvers: frozenset[str] = SAFE_RESOLVERS, nodes: frozenset[str] | None = None
) -> list[str]:
    """What is unsafe in the `${...}` interpolations of one string (empty if none are)."""
    if "${" not in text:
        return []
    grammar_parser = lazy.omegaconf_grammar_parser
    try:
        tree = grammar_parser.parse(text, parser_rule="configValue")
    except Exception:  # OmegaConf's GrammarParseError, or antlr's own
        return ["is not a valid interpolation; escape a literal `${` as `\\${`"]
    problems: list[str] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        kind = type(node).__name__
        if kind == "InterpolationResolverContext":
            name = node.resolverName().getText()
            args = node.sequence().getText() if node.sequence() is not None else ""
            if name not in resolvers:
                problems.append(
                    f"uses the resolver `{name}`, which may read the environment or files into values; "
                    "only plain references and oc.select are allowed (keys come through lm.api_key_env)"
                )
            elif args.lstrip(".").startswith("hydra"):
                problems.append(f"reads Hydra's settings through `{name}`; refer to dsc keys only")
        elif kind == "InterpolationNodeContext":
            key = node.getText()[2:-1]
            if nodes is not None and key in nodes:
                pass
            elif key.lstrip(".").startswith("hydra") or "${" in key:
                problems.append(f"refers to `{key}`; refer to dsc keys only, not to Hydra's settings")
        pending.extend(node.getChildren() if hasattr(node, "getChildren") else [])
    return problems


def _dotted(parts: Iterable[str]) -> str:
    return ".".join(parts) or "(top)"


def _defaults_problem(scalar: Scalar) -> str | None:
    """A defaults-list entry that reaches into Hydra's own groups or computes its choice."""
    text = scalar.value
    words = text.replace("override ", "").replace("optional ", "").strip().lstrip("/")
    group, _, package = words.partition("@")
    if group.startswith("hydra") or package.startswith("hydra"):
        return f"chooses Hydra's own config `{text}`; {FIX_HYDRA}"
    if "${" in text:
        return "computes a defaults choice with an interpolation; name the config file"
    return None


def _hydra_value_problem(kind: str, scalar: Scalar) -> str | None:
    value = scalar.value.strip()
    if kind == "null":
        return None if value in ("", "null", "~", "Null", "NULL") else "must stay null (no .hydra folder)"
    if kind == "false":
        return (
            None if value.lower() == "false" else "must stay false (dsc's paths are relative to the project)"
        )
    bad = interpolation_problems(value, frozenset({"now"}), RUN_DIR_NODES)
    if bad:
        return bad[0]
    literal = re.sub(r"\$\{[^}]*\}", "x", value)
    if literal.startswith(("/", "~", "\\")) or ".." in literal.replace("\\", "/").split("/"):
        return "must be a folder inside the project (relative, no `..`), e.g. .dsc/hydra/run"
    return None


def check_scanned(scanned: ScannedFile, landing: tuple[str, ...], role: str) -> list[str]:
    """Problems of one file whose top-level keys land at `landing` in the composed config."""
    problems: list[str] = []
    refused: list[tuple[str, ...]] = []
    if scanned.top_list_line is not None and not landing:  # Hydra cannot merge a list into the config's top
        line = scanned.top_list_line
        return [f"{scanned.display}:{line}: is a list (`- item` lines or [...]), {NOT_A_MAPPING}"]

    def add(line: int, key: tuple[str, ...], message: str) -> None:
        if any(key[: len(r)] == r for r in refused):
            return  # one line per refused subtree
        refused.append(key)
        problems.append(f"{scanned.display}:{line}: {_dotted(key)}: {message}")

    for scalar in scanned.scalars:
        key = (*scalar.path, scalar.value) if scalar.is_key else scalar.path
        if scalar.path[:1] == ("defaults",) and len(scalar.path) >= 2:
            if (reason := _defaults_problem(scalar)) is not None:
                add(scalar.line, scalar.path[:2], reason)
            continue
        if scalar.is_key and scalar.value in OBJECT_KEYS:
            add(
                scalar.line, key, "names Python code for Hydra to instantiate; config is data, remove the key"
            )
            continue
        full = (*landing, *key)
        if full[:1] == ("hydra",):
            reason = _hydra_problem(full[1:], scalar, role)
            if reason is not None:
                add(scalar.line, key, reason)
            continue
        if not scalar.is_key:
            for reason in interpolation_problems(scalar.value)[:1]:
                add(scalar.line, key, reason)
    for path, line in scanned.aliases:
        if (*landing, *path)[:1] == ("hydra",):
            add(line, path, "uses a YAML alias inside Hydra's settings; write the values out")
    return problems


def _hydra_problem(rest: tuple[str, ...], scalar: Scalar, role: str) -> str | None:
    """None when this key or value under `hydra.` is one the file's role allows."""
    if role == "primary":
        for allowed, kind in PRIMARY_HYDRA_KEYS.items():
            if scalar.is_key and allowed[: len(rest)] == rest:
                return None
            if not scalar.is_key and rest == allowed:
                return _hydra_value_problem(kind, scalar)
    if role == "experiment" and rest[:2] == ("sweeper", "params")[: len(rest[:2])]:
        if len(rest) <= 2 and scalar.is_key:
            return None
        if len(rest) == 3 and scalar.is_key:
            return override_problem(f"{rest[2]}=x", from_cli=False)
        if len(rest) == 3 and not scalar.is_key:
            if "$" in scalar.value or "_target_" in scalar.value:
                return "sweep values are plain lists such as 1,4,8; no interpolation, no `_target_`"
            return None
    return FIX_HYDRA


def override_problem(text: str, *, from_cli: bool = True) -> str | None:
    """Why an override (`key=value`) may not be used, or None."""
    key, _, value = text.partition("=")
    name, _, package = key.strip().lstrip("+~").partition("@")
    parts = re.split(r"[./]", name)
    if any(part in OBJECT_KEYS for part in parts) or "_target_" in value:
        return "names Python code for Hydra to instantiate (`_target_`); config is data"
    if parts[0] == "hydra" or package.startswith("hydra"):
        if not from_cli:
            return FIX_HYDRA
        if name in CLI_HYDRA_GROUPS or (name.startswith(CLI_HYDRA_PREFIXES) and len(parts) >= 3):
            return None if "${" not in value else "a launcher setting may not use interpolations"
        return (
            "only the launcher and sweeper may be configured on the command line "
            "(hydra/launcher=NAME, hydra.launcher.KEY=VALUE, hydra/sweeper=NAME, hydra.sweeper.KEY=VALUE)"
        )
    reasons = interpolation_problems(value)
    return reasons[0] if reasons else None


def mask_config(node: Any) -> Any:
    """A composed config with the value of every secret-named key (api_key, token, password, ...) as ***."""
    if isinstance(node, dict):
        return {
            k: "***" if SECRET_KEY.search(str(k)) and v is not None else mask_config(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [mask_config(v) for v in node]
    return node


def mask_override(text: str) -> str:
    """An override as it may be shown: the value of a secret key, or a URL's credentials, replaced."""
    key, sep, value = text.partition("=")
    if not sep:
        return text
    if SECRET_KEY.search(key.strip().lstrip("+~")):
        return f"{key}=***"
    return f"{key}={CREDENTIALS_IN_URL.sub('***@', value)}"
