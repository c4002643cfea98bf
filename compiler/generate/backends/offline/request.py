"""Reading a DSPy request the way the offline LM does: the output fields the system message lists, the input
sections of a user message, the case JSON among them, and the demos (earlier user/assistant turns)."""

from __future__ import annotations

import ast
import json
import re
from functools import lru_cache
from typing import Any

from compiler.generate.backends.offline.columns import OutputField

_OUTPUTS_HEADER = "Your output fields are:\n"
_FIELD_LINE = re.compile(r"^\d+\. `(\w+)` \((.+?\):.*)$")
_SECTION = re.compile(r"^\[\[ ## (\w+) ## \]\]$", re.MULTILINE)


def _literal_values(inner: str) -> tuple[Any, ...]:
    """The values of `Literal[...]` as DSPy renders them: each value in the quotes it lacks, and only when it
    has both kinds in single quotes with \\' escaped. A closing quote is one followed by ", " or the end."""
    values: list[Any] = []
    i, n = 0, len(inner)
    while i < n:
        quote = inner[i]
        if quote in "'\"":
            k = inner.find(quote, i + 1)
            value: Any = None
            while k >= 0:
                raw = inner[i + 1 : k]
                if k + 1 == n or inner.startswith(", ", k + 1):
                    if quote == '"' or "'" not in raw:
                        value = raw
                        break
                    if '"' in raw and "'" not in raw.replace("\\'", ""):
                        value = raw.replace("\\'", "'")
                        break
                k = inner.find(quote, k + 1)
            if value is None:  # not DSPy's rendering after all: keep the rest as one value
                k, value = n, inner[i + 1 :]
            values.append(value)
            i = k + 1
        else:
            k = inner.find(", ", i)
            k = n if k < 0 else k
            try:
                values.append(ast.literal_eval(inner[i:k]))
            except (ValueError, SyntaxError):
                values.append(inner[i:k])
            i = k
        i += 2 if inner.startswith(", ", i) else n
    return tuple(values)


def _split_annotation(rest: str) -> tuple[str, str]:
    """`Literal['):']): desc` -> (`Literal['):']`, ` desc`): a Literal's annotation ends at the `]):` after
    its last value (a value may hold `):` or `]` itself); any other annotation at the first `):`."""
    if rest.startswith("Literal["):
        i = 8
        while i < len(rest):
            if rest[i] in "'\"":  # a quoted value closes at its quote followed by ", " or "]"
                k = i + 1
                while k < len(rest) and not (rest[k] == rest[i] and rest.startswith((", ", "]"), k + 1)):
                    k += 2 if rest[k] == "\\" else 1
                i = k + 1
            else:
                k = min((j for j in (rest.find(", ", i), rest.find("]", i)) if j >= 0), default=len(rest))
                i = k
            if rest.startswith("]):", i):
                return rest[: i + 1], rest[i + 3 :]
            if not rest.startswith(", ", i):
                break
            i += 2
    end = rest.find("):")
    return rest[:end], rest[end + 2 :]


def _field_kind(annotation: str) -> tuple[str, tuple[Any, ...]]:
    if annotation.startswith("Literal[") and annotation.endswith("]"):
        return "enum", _literal_values(annotation[8:-1])
    if annotation.startswith(("list[", "List[", "tuple[")):
        return "list", ()
    return {"bool": "bool", "int": "int", "float": "number"}.get(annotation, "text"), ()


@lru_cache(maxsize=256)
def read_output_fields(system: str) -> tuple[OutputField, ...]:
    """The output fields listed in a DSPy system message, in order, with their kinds."""
    start = system.find(_OUTPUTS_HEADER)
    if start < 0:
        return ()
    fields = []
    for line in system[start + len(_OUTPUTS_HEADER) :].splitlines():
        match = _FIELD_LINE.match(line)
        if match is None:
            if line.startswith("All interactions") or not line.strip():
                break
            continue
        annotation, description = _split_annotation(match.group(2))
        kind, values = _field_kind(annotation.strip())
        fields.append(OutputField(match.group(1), kind, description.strip(), values))
    return tuple(fields)


def read_inputs(user: str) -> dict[str, str]:
    """The `[[ ## name ## ]]` sections of a user message, without the trailing output requirements."""
    inputs: dict[str, str] = {}
    matches = list(_SECTION.finditer(user))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(user)
        body = user[match.end() : end]
        if i + 1 == len(matches):
            cut = body.rfind("\n\nRespond with")
            body = body[:cut] if cut >= 0 else body
        inputs[match.group(1)] = body.strip()
    return inputs


def find_case(inputs: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
    for name in sorted(inputs, key=lambda n: n != "case"):
        text = inputs[name]
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                return name, value
    return None, {}


def read_demos(messages: Any) -> list[dict[str, Any]]:
    """The output sections of every assistant turn before the last user turn: the demos DSPy put there."""
    demos = []
    for message in messages:
        if message.role == "assistant":
            text = message.text or ""
            sections = read_inputs(text) or _json_object(text)
            if sections:
                demos.append(sections)
    return demos


def _json_object(text: str) -> dict[str, Any]:
    """A JSONAdapter demo: one JSON object of output fields."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
