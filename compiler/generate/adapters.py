"""dsc's DSPy adapters: DSPy's ChatAdapter and JSONAdapter, with the same bytes on the wire and the same
parsed values, minus the per-call work that depends only on the signature or the value's type.

Per call DSPy rebuilds the system message and the output reminder (fresh pydantic TypeAdapters), formats
every `str` input through a pydantic TypeAdapter, and validates every typed output field through a new one
(4-6 TypeAdapters per call for a test space's signature). Here the signature-only parts are computed once,
a `str` input is its own text, and an answer that is plainly a value of the field's type (`true`, `3`,
`["a", "b"]`, an enum member) is read directly; anything else goes through DSPy's `parse_value` as before.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, get_args, get_origin

import dspy
from dspy.adapters.utils import apply_output_field_defaults, format_field_value, parse_value
from dspy.utils.exceptions import AdapterParseError

HEADER = re.compile(r"\[\[ ## (\w+) ## \]\]")  # ChatAdapter's field marker
JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,17})?(?:[eE][-+]?[0-9]{1,3})?")
PLAIN_BOOLS = {"true": True, "false": False, "True": True, "False": False}  # JSON and Python spellings
UNSURE = object()  # a fast reader's "not plainly a value of this type": DSPy's parse_value decides


class CachedPrompt:
    """An adapter mixin: the per-signature parts of the prompt computed once, `str` inputs as they are."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._system: dict[Any, str] = {}
        self._reminder: dict[Any, str | None] = {}

    def format_system_message(self, signature: type[dspy.Signature]) -> str:
        if signature not in self._system:
            self._system[signature] = super().format_system_message(signature)  # type: ignore[misc]
        return self._system[signature]

    def user_message_output_requirements(self, signature: type[dspy.Signature]) -> str | None:
        if signature not in self._reminder:
            self._reminder[signature] = super().user_message_output_requirements(signature)  # type: ignore[misc]
        return self._reminder[signature]

    def format_user_message_content(
        self,
        signature: type[dspy.Signature],
        inputs: dict[str, Any],
        prefix: str = "",
        suffix: str = "",
        main_request: bool = False,
    ) -> str:
        """The ChatAdapter's user message; a plain `str` value needs no pydantic round trip to be its text."""
        parts = [prefix]
        for name, info in signature.input_fields.items():
            if name in inputs:
                value = inputs[name]
                text = value if type(value) is str else format_field_value(field_info=info, value=value)
                parts.append(f"[[ ## {name} ## ]]\n{text}")
        if main_request:
            reminder = self.user_message_output_requirements(signature)
            if reminder is not None:
                parts.append(reminder)
        parts.append(suffix)
        return "\n\n".join(parts).strip()


def split_sections(completion: str) -> list[tuple[str | None, str]]:
    """(field name or None, text) in answer order, as ChatAdapter reads its markers: a marker starts a line
    (after leading blanks), text after it on the same line belongs to that field."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in completion.splitlines():
        found = HEADER.match(line.strip())
        if found is None:
            sections[-1][1].append(line)
            continue
        # DSPy cuts the rest of the line at the stripped line's offset: kept so, byte for byte
        rest = line[found.end() :].strip()
        sections.append((found.group(1), [rest] if rest else []))
    return [(name, "\n".join(lines).strip()) for name, lines in sections]


def read_value(text: str, annotation: Any) -> Any:
    """`parse_value(text, annotation)`, read directly when the text is plainly a value of the type."""
    if annotation is str:
        return text
    fast = _read_plain(text, annotation)
    return parse_value(text, annotation) if fast is UNSURE else fast


def _read_plain(text: str, annotation: Any) -> Any:
    """The value when `text` is a JSON literal of exactly `annotation`'s kind, else UNSURE."""
    if annotation is bool:
        return PLAIN_BOOLS.get(text, UNSURE)
    if annotation is int:
        return json.loads(text) if JSON_INT.fullmatch(text) else UNSURE
    if annotation is float:  # through the JSON value, as DSPy reads it: "-0" is 0.0, not -0.0
        return float(json.loads(text)) if JSON_NUMBER.fullmatch(text) else UNSURE
    origin = get_origin(annotation)
    if origin is Literal:
        return text if text in get_args(annotation) else UNSURE
    if origin is list and get_args(annotation) == (str,):
        return _read_text_list(text)
    return UNSURE


def _read_text_list(text: str) -> Any:
    if not text.startswith("["):
        return UNSURE
    try:
        value = json.loads(text)
    except ValueError:
        return UNSURE
    if type(value) is not list or not all(type(item) is str for item in value):
        return UNSURE
    return value


class FastChatParse:
    """An adapter mixin: ChatAdapter's `parse`, reading plain typed values without a pydantic TypeAdapter."""

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        outputs = signature.output_fields
        fields: dict[str, Any] = {}
        for name, text in split_sections(completion):
            if name is None or name in fields or name not in outputs:
                continue
            try:
                fields[name] = read_value(text, outputs[name].annotation)
            except ValueError as exc:
                raise AdapterParseError(
                    adapter_name="ChatAdapter",
                    signature=signature,
                    lm_response=completion,
                    message=f"the answer's `{name}` ({text[:80]!r}) is not a {outputs[name].annotation}: {exc}",
                ) from exc
        fields = apply_output_field_defaults(signature, fields)
        if fields.keys() != outputs.keys():
            raise AdapterParseError(
                adapter_name="ChatAdapter", signature=signature, lm_response=completion, parsed_result=fields
            )
        return fields


class LeanChatAdapter(CachedPrompt, FastChatParse, dspy.ChatAdapter):
    """DSPy's ChatAdapter, byte for byte; no JSON fallback call (dsc re-asks with a new sample id instead)."""

    def __init__(self) -> None:
        super().__init__(use_json_adapter_fallback=False)


class LeanJSONAdapter(CachedPrompt, dspy.JSONAdapter):
    """DSPy's JSONAdapter: native structured output (`response_format`) where the engine declares it."""


def make_adapter(kind: str) -> dspy.Adapter:
    return LeanJSONAdapter() if kind == "json" else LeanChatAdapter()
