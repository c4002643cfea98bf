"""Read a user's YAML file as data, bounded, before Hydra sees it: size, depth and alias expansion are
capped, and every key and scalar is reported with its dotted path and line, without building the tree.

PyYAML's event parser is iterative, so a 10,000-deep list or a "billion laughs" file costs time linear in
its text here; OmegaConf would recurse into the first and expand the second exponentially.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from compiler.core.errors import ConfigError

MAX_BYTES = 2_000_000  # a test space with long prompts is a few kB
MAX_DEPTH = 32  # the deepest built-in config nests 4 levels
MAX_NODES = 200_000  # after expanding aliases


@dataclass(frozen=True)
class Scalar:
    path: tuple[str, ...]  # keys and list indices from the file's top
    value: str
    line: int
    is_key: bool
    quoted: bool


@dataclass
class ScannedFile:
    """What a user's YAML file says, as flat records: enough to check it without composing it."""

    display: str
    package: str | None  # the `# @package` header, if any
    scalars: list[Scalar] = field(default_factory=list)
    aliases: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    top_list_line: int | None = None  # where the file's top node starts when it is a list, not a mapping

    def values(self, *prefix: str) -> list[Scalar]:
        return [s for s in self.scalars if not s.is_key and s.path[: len(prefix)] == prefix]


@dataclass
class _Frame:
    path: tuple[str, ...]
    mapping: bool
    anchor: str | None
    nodes: int = 1
    depth: int = 0  # deepest nesting below this node
    index: int = 0
    key: str | None = None  # the pending key of a mapping, None when a key is expected


def package_header(text: str) -> str | None:
    """Hydra's `# @package X` header from the file's leading comment lines."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            return None
        body = stripped.lstrip("#").strip()
        if body.startswith("@package"):
            return body[len("@package") :].strip()
    return None


def _fail(display: str, line: int, what: str) -> ConfigError:
    return ConfigError(f"{display}:{line}: {what}")


def scan_yaml_file(path: Path, display: str) -> ScannedFile:
    """Every key and scalar of the file with its path and line; ConfigError when a limit is passed."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read it ({type(exc).__name__}); check the file") from exc
    if size > MAX_BYTES:
        raise ConfigError(
            f"{display}: {size:,} bytes, more than the {MAX_BYTES:,} a config file may hold; "
            "move data into sources files"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot read it as UTF-8 text ({type(exc).__name__})") from exc
    return scan_yaml_text(text, display)


# libyaml's parser yields the same events about 8x faster than PyYAML's. It words errors differently, so
# a failure is re-read with PyYAML's, which words it as before; and it accepts tabs where PyYAML refuses
# them, so a text with a tab goes to PyYAML's directly (checked on ~5,900 YAML files: same events).
_FAST_LOADER: type | None = getattr(yaml, "CSafeLoader", None)


def scan_yaml_text(text: str, display: str) -> ScannedFile:
    """Every key and scalar of `text` with its path and line; ConfigError when it does not parse or a
    limit is passed (worded by PyYAML's parser, as before libyaml read it)."""
    if _FAST_LOADER is not None and "\t" not in text:
        try:
            return _scan_events(text, display, _FAST_LOADER)
        except Exception:  # noqa: BLE001 (whatever it was, PyYAML's parser says it as before)
            pass
    return _scan_events(text, display, yaml.SafeLoader)


_NULLS = ("", "~", "null", "Null", "NULL")  # an empty file, or one that says null: Hydra reads no keys
NOT_A_MAPPING = "not a mapping of keys; a config file holds `key: value` lines, e.g. `name: example`"


def _scan_events(text: str, display: str, loader: type) -> ScannedFile:
    scanned = ScannedFile(display, package_header(text))
    stack: list[_Frame] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, depth below it)
    total = 0

    def place() -> tuple[tuple[str, ...], bool]:
        """The path of the node that starts now, and whether it is a mapping key."""
        if not stack:
            return (), False
        top = stack[-1]
        if top.mapping:
            if top.key is None:
                return top.path, True
            return (*top.path, top.key), False
        return (*top.path, str(top.index)), False

    def count(nodes: int) -> None:
        nonlocal total
        total += nodes
        if total > MAX_NODES:
            raise _fail(display, line, f"expands to more than {MAX_NODES:,} nodes (aliases?); simplify it")

    def finish(nodes: int, depth: int, key_text: str | None = None) -> None:
        """A node of `nodes` expanded nodes ended: count it into its parent and advance the parent."""
        if not stack:
            return
        top = stack[-1]
        top.nodes += nodes
        top.depth = max(top.depth, depth + 1)
        if top.mapping:
            top.key = (key_text if key_text is not None else "?") if top.key is None else None
        else:
            top.index += 1

    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.AliasEvent):
                path, is_key = place()
                if event.anchor not in anchors:
                    raise _fail(display, line, f"alias *{event.anchor} refers to itself or to nothing")
                scanned.aliases.append((path, line))
                nodes, depth = anchors[event.anchor]
                count(nodes)
                if len(stack) + depth > MAX_DEPTH:
                    raise _fail(display, line, f"nests deeper than {MAX_DEPTH} levels; flatten it")
                finish(nodes, depth, f"*{event.anchor}" if is_key else None)
            elif isinstance(event, yaml.ScalarEvent):
                if not stack and not (event.style is None and event.value in _NULLS):
                    raise _fail(display, line, f"is the single value {event.value[:40]!r}, {NOT_A_MAPPING}")
                path, is_key = place()
                quoted = event.style in ("'", '"')
                scanned.scalars.append(Scalar(path, event.value, line, is_key, quoted))
                if event.anchor:
                    anchors[event.anchor] = (1, 0)
                count(1)
                finish(1, 0, event.value if is_key else None)
            elif isinstance(event, yaml.CollectionStartEvent):
                if not stack and isinstance(event, yaml.SequenceStartEvent):
                    scanned.top_list_line = line  # refused where it lands at the top (`check_scanned`)
                path, is_key = place()
                if len(stack) + 1 > MAX_DEPTH:
                    raise _fail(display, line, f"nests deeper than {MAX_DEPTH} levels; flatten it")
                count(1)
                stack.append(
                    _Frame(
                        path if not is_key else (*path, "?"),
                        isinstance(event, yaml.MappingStartEvent),
                        event.anchor,
                    )
                )
            elif isinstance(event, yaml.CollectionEndEvent):
                frame = stack.pop()
                if frame.anchor:
                    anchors[frame.anchor] = (frame.nodes, frame.depth)
                finish(frame.nodes, frame.depth, "?")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
        raise ConfigError(f"{where}: YAML does not parse ({exc.problem}); {yaml_fix(exc.problem)}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{display}: YAML does not parse ({exc}); fix the syntax") from None
    return scanned


def yaml_fix(problem: str | None) -> str:
    """How to fix a YAML parse error: a tab gets its own advice (editors hide them)."""
    if problem and "'\\t'" in problem:
        return "indent with spaces: YAML does not allow tabs there"
    return "fix the syntax there"
