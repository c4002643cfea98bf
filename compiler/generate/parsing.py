"""DSPy's answer parsing (ChatAdapter and JSONAdapter `parse`), with one pydantic validator per annotation.

DSPy 3.4's `parse_value` builds a fresh `pydantic.TypeAdapter` for every typed field of every answer: about
a fifth of dsc's client CPU per call. These are DSPy's own functions with the validator built once per
annotation; the values, and the errors for answers that do not parse, are the same (tests/test_program.py
compares them with DSPy's on the same answers).
"""

from __future__ import annotations

import ast
import enum
import types
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin

import json_repair
import pydantic
import regex
from dspy.adapters.chat_adapter import field_header_pattern
from dspy.adapters.types.base_type import Type as DspyType
from dspy.adapters.utils import _annotation_is_subclass, apply_output_field_defaults, find_enum_member
from dspy.utils.exceptions import AdapterParseError


@lru_cache(maxsize=256)
def _cached_validator(annotation: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(annotation)


def validator(annotation: Any) -> pydantic.TypeAdapter[Any]:
    """The TypeAdapter of an annotation, built once (a fresh one when the annotation is not hashable)."""
    try:
        return _cached_validator(annotation)
    except TypeError:
        return pydantic.TypeAdapter(annotation)


def parse_value(value: Any, annotation: Any) -> Any:
    """`dspy.adapters.utils.parse_value`, with cached validators."""
    if annotation is str:
        return str(value)
    if isinstance(annotation, enum.EnumMeta):
        return find_enum_member(annotation, value)
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = get_args(annotation)
        if value in allowed:
            return value
        if isinstance(value, str):
            v = value.strip()
            if v.startswith(("Literal[", "str[")) and v.endswith("]"):
                v = v[v.find("[") + 1 : -1]
            if len(v) > 1 and v[0] == v[-1] and v[0] in "\"'":
                v = v[1:-1]
            if v in allowed:
                return v
            value = v  # coerce string forms of non-string members (e.g. "2" for Literal[1, 2, 3]) below
    if not isinstance(value, str):
        return validator(annotation).validate_python(value)
    if (
        origin in (Union, types.UnionType)
        and type(None) in get_args(annotation)
        and str in get_args(annotation)
    ):
        return validator(annotation).validate_python(value)
    candidate = json_repair.loads(value)  # "" on failure
    if candidate == "" and value != "":
        try:
            candidate = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            candidate = value
    try:
        return validator(annotation).validate_python(candidate)
    except pydantic.ValidationError as e:
        if _annotation_is_subclass(annotation, DspyType):
            try:  # a dspy.Type may have its own parser for the original value
                return validator(annotation).validate_python(value)
            except pydantic.ValidationError:
                raise e from None
        raise


def parse_chat(signature: Any, completion: str) -> dict[str, Any]:
    """`dspy.ChatAdapter.parse`."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in completion.splitlines():
        match = field_header_pattern.match(line.strip())
        if match:
            remaining = line[match.end() :].strip()
            sections.append((match.group(1), [remaining] if remaining else []))
        else:
            sections[-1][1].append(line)
    joined = [(k, "\n".join(v).strip()) for k, v in sections]
    outputs = signature.output_fields
    fields: dict[str, Any] = {}
    for k, v in joined:
        if k is not None and k not in fields and k in outputs:
            try:
                fields[k] = parse_value(v, outputs[k].annotation)
            except ValueError as e:
                raise AdapterParseError(
                    adapter_name="ChatAdapter",
                    signature=signature,
                    lm_response=completion,
                    message=f"Failed to parse field {k} with value {v} from the LM response. Error message: {e}",
                ) from e
    fields = apply_output_field_defaults(signature, fields)
    if fields.keys() != outputs.keys():
        raise AdapterParseError(
            adapter_name="ChatAdapter", signature=signature, lm_response=completion, parsed_result=fields
        )
    return fields


def parse_json(adapter_name: str, signature: Any, completion: str) -> dict[str, Any]:
    """`dspy.JSONAdapter.parse`."""
    fields = json_repair.loads(completion)
    if not isinstance(fields, dict):
        match = regex.search(r"\{(?:[^{}]|(?R))*\}", completion, regex.DOTALL)
        if match:
            completion = match.group(0)
            fields = json_repair.loads(completion)
    if not isinstance(fields, dict):
        raise AdapterParseError(
            adapter_name="JSONAdapter",
            signature=signature,
            lm_response=completion,
            message="LM response cannot be serialized to a JSON object.",
        )
    outputs = signature.output_fields
    fields = {k: v for k, v in fields.items() if k in outputs}
    for k, v in fields.items():
        try:
            fields[k] = parse_value(v, outputs[k].annotation)
        except ValueError as exc:
            raise AdapterParseError(
                adapter_name=adapter_name,
                signature=signature,
                lm_response=completion,
                message=f"Failed to parse field {k}: {exc}",
                parsed_result=fields,
            ) from exc
    fields = apply_output_field_defaults(signature, fields)
    if fields.keys() != outputs.keys():
        raise AdapterParseError(
            adapter_name="JSONAdapter", signature=signature, lm_response=completion, parsed_result=fields
        )
    return fields
