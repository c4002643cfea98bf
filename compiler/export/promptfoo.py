"""promptfoo: a complete `promptfooconfig.yaml` that `promptfoo eval` runs as it is (after choosing models).

List columns become deterministic assertions (`icontains-all`, `not-icontains-any`, a `javascript` check of
the tool calls in order, an empty list asserted as no call); every other column is an `llm-rubric` whose text
shows the grader the case's input, so "ignores the irrelevant details" can be judged.
https://www.promptfoo.dev/docs/configuration/reference/
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from compiler.core.rows import Row
from compiler.export.base import (
    Column,
    Space,
    expectation,
    input_values,
    known_tools,
    plain,
    read_space,
    readme,
    row_metadata,
    tool_name,
    yaml_text,
)
from compiler.versions.manifest import Manifest

CONFIG = "promptfooconfig.yaml"
# Placeholders the user replaces: any promptfoo provider id works (openai:..., anthropic:..., ollama:...).
MODEL_UNDER_TEST = "openai:chat:gpt-4.1-mini"
GRADER = "openai:chat:gpt-4.1"


def build_promptfoo(rows: Sequence[Row], manifest: Manifest) -> dict[str, bytes]:
    space = read_space(manifest, rows)
    tools = {c.name: known_tools(rows, c, space) for c in space.columns if c.kind == "list"}
    config = {
        "description": f"{space.dataset} {space.version}: {space.description}".strip(),
        "prompts": [{"raw": space.prompt or _fallback_prompt(space), "label": space.dataset}],
        "providers": [{"id": MODEL_UNDER_TEST, "label": "model-under-test"}],
        "defaultTest": {"options": {"provider": GRADER}},
        "tests": [_test(row, space, tools) for row in rows],
    }
    head = (
        f"# promptfoo eval of {space.dataset} version {space.version} ({len(rows)} tests), exported by dsc.\n"
        "# Set `providers` (the model under test) and `defaultTest.options.provider` (the grader), then run:\n"
        "#   promptfoo eval -c promptfooconfig.yaml\n"
    )
    return {CONFIG: yaml_text(config, head), "README.md": _readme(space, len(rows))}


def _fallback_prompt(space: Space) -> str:
    return "\n".join(f"{name}: {{{{ {name} }}}}" for name in space.variables)


def _test(row: Row, space: Space, tools: Mapping[str, list[str]]) -> dict[str, Any]:
    kind = row.strategy + (f"/{row.variant}" if row.variant else "") if row.strategy else row.source
    meta = row_metadata(row, space)
    asserts = [
        a
        for column in space.columns
        if (a := assertion(column, row.expected.get(column.name), space, tools.get(column.name, [])))
    ]
    return {
        "description": f"{kind}: {meta['cell_label']}",
        "vars": input_values(row, space),
        "assert": asserts,
        "metadata": meta,
    }


def assertion(column: Column, value: Any, space: Space, tools: Sequence[str]) -> dict[str, Any] | None:
    """The check of one column: deterministic for lists, a rubric that sees the input for the rest."""
    if value is None or value == "":
        return None
    if column.kind == "list":
        items = [str(v) for v in value]
        role = column.list_role
        if role == "tool_calls":
            return {
                "type": "javascript",
                "value": tool_calls_check(list(value), tools),
                "metric": column.name,
            }
        if not items:
            return None  # nothing required, nothing forbidden
        kind = "not-icontains-any" if role == "exclude" else "icontains-all"
        return {"type": kind, "value": items, "metric": column.name}
    return {"type": "llm-rubric", "value": rubric(column, value, space), "metric": column.name}


def rubric(column: Column, value: Any, space: Space) -> str:
    """The grader's instruction: the input (as promptfoo variables), then what the response must satisfy."""
    shown = "\n".join(f"{name}: {{{{ {name} }}}}" for name in space.variables)
    if column.kind in ("enum", "bool"):
        options = ", ".join(column.values) if column.kind == "enum" else "yes, no"
        want = (
            f"Classify the response by {column.about.lower()} (one of: {options}). "
            f"It passes only if the class is `{plain(value)}`."
        )
    elif column.kind == "text":
        want = f"The response passes if it does this: {_raw(str(value))}"
    else:
        want = f"The response passes if it is consistent with this: {_raw(expectation(column, value))}"
    return f"The input the response answers:\n{shown}\n\n{want}"


def _raw(text: str) -> str:
    """Literal text inside a rubric, which promptfoo renders as a Nunjucks template."""
    if "{{" in text or "{%" in text or "{#" in text:
        return "{% raw %}" + text.replace("{% endraw %}", "{ % endraw % }") + "{% endraw %}"
    return text


def tool_calls_check(expected: Sequence[Any], tools: Sequence[str]) -> str:
    """JavaScript: the expected tools are called in this order; an empty list means no known tool is called.

    A call is `name(` in text or `"name": "..."` in a JSON tool call (what providers return for tool use).
    """
    names = [tool_name(c) for c in expected]
    known = sorted(set(tools) | set(names))
    return "\n".join(
        [
            f"const expected = {json.dumps(names)};",
            f"const known = {json.dumps(known)};",
            "const text = typeof output === 'string' ? output : JSON.stringify(output);",
            "const called = [];",
            r"for (const m of text.matchAll(/\"name\"\s*:\s*\"([\w.-]+)\"|\b([A-Za-z_]\w*)\s*\(/g)) {",
            "  const name = m[1] || m[2];",
            "  if (known.includes(name)) called.push(name);",
            "}",
            "let next = 0;",
            "for (const name of called) if (next < expected.length && name === expected[next]) next++;",
            "const pass = expected.length === 0 ? called.length === 0 : next === expected.length;",
            "const want = expected.length ? expected.join(' then ') : 'no tool call';",
            "return {pass, score: pass ? 1 : 0, reason: `expected ${want}; called ${called.join(', ') || 'none'}`};",
        ]
    )


def _readme(space: Space, rows: int) -> bytes:
    return readme(
        space,
        "promptfoo",
        rows,
        [
            "## Run",
            "",
            "1. In `promptfooconfig.yaml`, set `providers` to the model under test and",
            "   `defaultTest.options.provider` to the grading model (any promptfoo provider id).",
            "2. `npx promptfoo@latest eval -c promptfooconfig.yaml` (promptfoo needs Node 22 or later), then",
            "   `npx promptfoo@latest view`.",
            "",
            "List columns are checked without a model: `icontains-all` for required items, `not-icontains-any` for",
            "forbidden ones, a JavaScript check that tool calls happen in the expected order (an empty list means no",
            "tool call). Text, enum and bool columns are `llm-rubric` assertions whose text shows the grader the",
            "case's input. Every test's `metadata` carries the row id, source, strategy and the full cell, so",
            "`promptfoo eval --filter-metadata intent=refund` runs one slice.",
            "",
            "Note: promptfoo renders `{{ }}` inside var values and reads a var that starts with `file://` as a",
            "file; a case input that looks like either is interpreted by promptfoo, not sent as written.",
        ],
    )
