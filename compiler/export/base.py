"""What every export shares: the test space as a version's manifest describes it, one row's canonical labels,
and the rendered prompt under test. Format modules import this; this imports no format module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from compiler.core.errors import TemplateError
from compiler.core.rows import Row
from compiler.versions.manifest import Manifest

_TOOL_CALLS = re.compile(r"tool_?calls?|tools?_called")
_EXCLUDED = re.compile(r"must_not|mustnt|forbidden|avoid|never|banned|exclude")
_TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")
_TAGS = re.compile(r"\{[{%#].*?[}%#]\}", re.S)
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@dataclass(frozen=True)
class Column:
    """An evaluator column: its type decides how each tool checks it (deterministic or graded)."""

    name: str
    kind: str  # text | list | enum | bool | int | number
    description: str
    values: tuple[str, ...] = ()

    @property
    def about(self) -> str:
        return (self.description or self.name.replace("_", " ")).rstrip(". ")

    @property
    def list_role(self) -> str:
        """How a list column is checked: `tool_calls` (in order, empty = none), `exclude` or `include`."""
        if _TOOL_CALLS.search(self.name):
            return "tool_calls"
        return "exclude" if _EXCLUDED.search(self.name) else "include"


@dataclass(frozen=True)
class Space:
    """The test space of one version: names and order of dimensions, variables and columns."""

    dataset: str
    version: str
    description: str
    prompt: str  # the Jinja text of the prompt under test ("" when the manifest has none)
    dimensions: tuple[str, ...]
    variables: tuple[str, ...]
    required: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def primary(self) -> str:
        """The case's main input (the user's message or request): the first required variable."""
        names = self.required or self.variables
        return names[0] if names else "input"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def read_space(manifest: Manifest, rows: Sequence[Row] = ()) -> Space:
    """The space from the manifest's resolved config; names seen in the rows fill what the config omits."""
    config = manifest.config
    prompt = config.get("prompt") or {}
    declared = prompt.get("variables") or {}
    variables = [str(n) for n in declared] or sorted({n for r in rows for n in r.inputs})
    required = [str(n) for n, v in declared.items() if not isinstance(v, Mapping) or v.get("required", True)]
    dims = [str(d) for d in config.get("dimensions") or {}]
    dims += sorted({d for r in rows for d in r.cell} - set(dims))
    columns = [
        Column(
            str(name),
            str((spec or {}).get("type", "text")),
            str((spec or {}).get("description") or ""),
            tuple(str(v) for v in (spec or {}).get("values") or ()),
        )
        for name, spec in (config.get("columns") or {}).items()
    ]
    known = {c.name for c in columns}
    columns += [
        Column(n, _infer_kind([r.expected.get(n) for r in rows]), "")
        for n in sorted({n for r in rows for n in r.expected} - known)
    ]
    return Space(
        dataset=manifest.dataset,
        version=manifest.version,
        description=" ".join(str(config.get("description") or "").split()),
        prompt=str(prompt.get("text") or ""),
        dimensions=tuple(dims),
        variables=tuple(variables),
        required=tuple(required),
        columns=tuple(columns),
    )


def _infer_kind(values: Sequence[Any]) -> str:
    """A column the manifest does not declare: its type from the values the rows hold."""
    seen = [v for v in values if v is not None]
    for kind, test in (
        ("list", lambda v: isinstance(v, list | tuple)),
        ("bool", lambda v: isinstance(v, bool)),
        ("int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        ("number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    ):
        if seen and all(test(v) for v in seen):
            return kind
    return "text"


def canonical_cell(row: Row, space: Space) -> dict[str, str | None]:
    """The cell with every dimension of the space, in declaration order; null where the row does not say."""
    return {name: row.cell.get(name) for name in space.dimensions}


def cell_label(cell: Mapping[str, str | None]) -> str:
    """One label per cell whatever the row's source: `intent=refund, difficulty=?, ...` in declared order."""
    return ", ".join(f"{k}={'?' if v is None else v}" for k, v in cell.items())


def row_metadata(row: Row, space: Space) -> dict[str, Any]:
    """Where a case came from, the same keys on every row, so grouped metrics and filters always work."""
    cell = canonical_cell(row, space)
    meta: dict[str, Any] = {
        "id": row.id,
        "dataset": space.dataset,
        "version": space.version,
        "source": row.source,
        "strategy": row.strategy,
        "variant": row.variant,
        "review_status": row.review_status,
        "cell_label": cell_label(cell),
        "cell": cell,
    }
    for (
        name,
        value,
    ) in cell.items():  # flat too: promptfoo's --filter-metadata intent=refund, Inspect's grouped()
        meta.setdefault(name, value)
    return meta


def input_values(row: Row, space: Space) -> dict[str, str]:
    """Every prompt variable as a string ("" when the case leaves it empty)."""
    return {n: "" if row.inputs.get(n) is None else str(row.inputs[n]) for n in space.variables}


def render_prompt(space: Space, inputs: Mapping[str, Any]) -> str:
    """The prompt under test with this case's inputs filled in: exactly what the model under test reads."""
    if not space.prompt:
        return "\n".join(f"{k}: {v}" for k, v in inputs.items() if v not in (None, ""))
    from compiler.core.sandbox import one_line

    values = {name: "" for name in space.variables} | dict(inputs)
    try:
        return str(_template(space.prompt).render(values)).strip()
    except Exception as exc:  # the prompt runs user expressions on this row's inputs
        raise TemplateError(
            f"prompt.text fails when rendered with a row's inputs ({one_line(exc)}); "
            "fix the expression in the dataset file and recompile"
        ) from exc


def split_prompt(space: Space, inputs: Mapping[str, Any]) -> tuple[str, str]:
    """(system, user): the prompt's leading lines without template syntax are the instructions."""
    lines = space.prompt.splitlines()
    head = next((i for i, line in enumerate(lines) if _TEMPLATE_SYNTAX.search(line)), len(lines))
    if head == 0 or head == len(lines):
        return "", render_prompt(space, inputs)
    system = "\n".join(lines[:head]).strip()
    rest = Space(**{**space.__dict__, "prompt": "\n".join(lines[head:])})
    return system, render_prompt(rest, inputs)


@lru_cache(maxsize=16)
def _template(text: str) -> Any:
    """Compiled once per prompt text: compiling dominates rendering on large versions."""
    import jinja2

    from compiler.core.sandbox import sandboxed_environment

    env = sandboxed_environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
    return env.from_string(text)


def plain(value: Any) -> str:
    """A column value as prose: yes/no for booleans, comma-joined lists."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


def tool_name(call: Any) -> str:
    """`search_flights(origin='BER')` -> `search_flights`; a {"name": ...} object -> its name."""
    if isinstance(call, Mapping):
        return str(call.get("name") or call.get("tool") or "")
    return str(call).split("(", 1)[0].strip()


def known_tools(rows: Sequence[Row], column: Column, space: Space | None = None) -> list[str]:
    """The tool names "no tool call" is checked against: every name a row of the version expects in
    `column`, and the snake_case names the prompt under test mentions outside its template tags."""
    names = {tool_name(c) for r in rows for c in r.expected.get(column.name) or () if tool_name(c)}
    if space is not None:
        names |= set(_SNAKE.findall(_TAGS.sub(" ", space.prompt))) - set(space.variables)
    return sorted(names)


def expectation(column: Column, value: Any) -> str:
    """One sentence a grader checks the answer against."""
    if column.kind == "enum":
        return f"{column.about}: the correct class is `{value}` (one of: {', '.join(column.values)})."
    if column.kind == "bool":
        return f"{column.about}: the correct answer is {plain(value)}."
    return f"{column.about}: {plain(value)}."


def jsonl(records: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def pretty_json(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def readme(space: Space, title: str, rows: int, body: Sequence[str]) -> bytes:
    """The export's README.md: what it is, then how to run it (`body`, Markdown lines)."""
    lines = [
        f"# {space.dataset} `{space.version}` for {title}",
        "",
        f"{rows} test case{'' if rows == 1 else 's'} exported by dsc from version `{space.version}` of "
        f"`{space.dataset}`. {space.description}".rstrip(),
        "",
        *body,
        "",
        "Re-exporting the same version writes the same bytes; dsc refuses to overwrite a file here it did not "
        "write (or that was edited since) unless `--force` is given.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def yaml_text(data: Any, head: str = "") -> bytes:
    """YAML that reads well: block scalars for multi-line text, keys in the order given."""
    import yaml

    # libyaml's emitter when present (six times faster on 10k rows); both write YAML that loads the same.
    class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        pass

    def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _text)
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return (head + body).encode("utf-8")
