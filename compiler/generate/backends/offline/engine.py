"""The built-in offline LM (`lm=offline`): a deterministic procedural generator plugged into DSPy.

It is not a model and does not pretend to be one: it answers as `offline/procedural-v2`, and every text it
writes is assembled from templates and word banks (data/phrases.yaml, data/domains.yaml) chosen by the case
it is asked about. It writes from the test space itself: its description, prompt, variables, dimensions and
columns (`read`, `space`), each cell value turned into a situation the user describes (`situation`), the
persona and the tactic. Spaces that look like a shop, a travel agent or a product manual also get that
flavour's topic templates; any other space is written from its own words alone.

How it answers. `write_answer(system, user)` reads the output fields and their types from DSPy's system
message ("Your output fields are: 1. `name` (type): description"), reads the inputs from the user message
(`[[ ## name ## ]]` sections), finds the `case` JSON among them and writes every field from the case: the
prompt-under-test variables (shaped by strategy, persona, adversarial tactic and cell; `case`, `message`)
and the evaluator columns (consistent with the same facts by the rules in `rules`; `columns`, `answers`). It
answers in the format the adapter asked for: ChatAdapter sections ending with `[[ ## completed ## ]]`, or
one JSON object when JSONAdapter asked for one. Without a case (any other signature) it still answers every
field with a value of the right type.

Demos and judging. DSPy puts few-shot demos in the prompt as earlier user/assistant turns (`request.read_demos`);
the offline LM follows them as a real LM would (`imitate`): of several drafts it keeps the one most like the
demos in the features a judge grades. A prompt without demos is answered exactly as before. Shown a case to
judge (dsc's plausibility judge), it scores the case from its own text (`grade`), not at random.

Determinism. The answer is a function of the request text only: xxh3_64 over the system message and the
inputs seeds a `random.Random`; no clock, no `hash()`, no global state. Same request, same bytes, in any
process.

Realistic repetition. A real model asked for many samples of one cell repeats itself, and dsc must cope
(dedupe, then top up). So the creative seed of a case is derived from everything except its `slot` and
`sample` (digits in the instruction are masked, since templates say "sample N") plus an *effective slot*.
For slot >= 2 a hash of (key, slot) decides, independently per slot:
  - about 15%: exact duplicate - the slot takes an earlier slot's answer byte for byte;
  - about 10%: near duplicate - an earlier slot's answer with 1-3 words of its main input text changed;
  - otherwise: its own seed.
The earlier slot is chosen uniformly, and chains resolve (a repeat of a repeat). Slots 0 and 1 never
repeat; a request with `sample` > 0 (a retry) gets a fresh seed and never repeats.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import xxhash

from compiler.generate.backends.offline import text_words as bank
from compiler.generate.backends.offline.case import read_scene, variable_role, write_inputs
from compiler.generate.backends.offline.columns import OutputField, write_column
from compiler.generate.backends.offline.grade import grade_case, is_judged_case
from compiler.generate.backends.offline.imitate import closest_draft, demo_profile
from compiler.generate.backends.offline.read import as_mapping, task_block
from compiler.generate.backends.offline.request import find_case, read_demos, read_inputs, read_output_fields
from compiler.generate.backends.protocol import Request, Response

OFFLINE_MODEL = "offline/procedural-v2"

EXACT_REPEAT_RATE = 0.15
NEAR_REPEAT_RATE = 0.10

_DIGITS = re.compile(r"\d+")
_SLOT_KEYS = re.compile(r'"(?:slot|sample)":\s*-?\d+')


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _request_key(system: str, inputs: dict[str, str], case_name: str | None, case: dict[str, Any]) -> bytes:
    """What the creative seed depends on: the request minus the case's slot and sample."""
    parts = [system]
    repeatable = _as_int(case.get("slot")) is not None
    for name, text in inputs.items():
        if name == case_name:
            text = _SLOT_KEYS.sub("", text)
        elif repeatable:
            text = _DIGITS.sub("#", text)
        parts.append(f"{name}\x1f{text}")
    return "\x1e".join(parts).encode("utf-8")


def _hash(key: bytes, *tail: object) -> int:
    return xxhash.xxh3_64_intdigest(key + "".join(f"\x1d{t}" for t in tail).encode())


def resolve_slot(key: bytes, slot: int) -> tuple[int, tuple[int, ...]]:
    """The slot whose answer `slot` repeats, and the slots whose word changes apply on top, innermost first."""
    near: list[int] = []
    while slot >= 2:
        draw = _hash(key, "repeat", slot)
        u = (draw & 0xFFFFFFFF) / 2**32
        earlier = (draw >> 32) % slot
        if u < EXACT_REPEAT_RATE:
            slot = earlier
        elif u < EXACT_REPEAT_RATE + NEAR_REPEAT_RATE:
            near.append(slot)
            slot = earlier
        else:
            break
    return slot, tuple(reversed(near))


def write_values(system: str, user: str, demos: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Every output field's value, as Python values of the field's kind (following the demos, if any)."""
    fields = read_output_fields(system)
    inputs = read_inputs(user)
    case_name, case = find_case(inputs)
    key = _request_key(system, inputs, case_name, case)
    slot, sample = _as_int(case.get("slot")), _as_int(case.get("sample")) or 0
    near: tuple[int, ...] = ()
    if slot is None:
        seed = _hash(key, "whole")
    elif sample:
        seed = _hash(key, "slot", slot, "sample", sample)
    else:
        root, near = resolve_slot(key, slot)
        seed = _hash(key, "slot", root)

    def draft(index: int) -> dict[str, Any]:
        rng = random.Random(seed if index == 0 else _hash(key, "draft", index, seed))
        values, main = write_fields(fields, case, inputs, rng)
        if main is not None:
            for near_slot in near:
                values[main] = bank.perturb_words(values[main], random.Random(_hash(key, "near", near_slot)))
        return values

    names = list(as_mapping(case.get("variables")))
    profile = demo_profile(demos, names) if demos and names else None
    values = draft(0) if profile is None else closest_draft(draft, profile, names)
    if is_judged_case(case):
        _grade_into(values, fields, case)
    return values


def _grade_into(values: dict[str, Any], fields: tuple[OutputField, ...], case: dict[str, Any]) -> None:
    """A judge's score and reason for the case it is shown, from the case's own text (`grade.py`)."""
    score, reason = grade_case(case["inputs"], case["expected"])
    for field in fields:
        if field.kind == "number" and "plausib" in f"{field.name} {field.description}".lower():
            values[field.name] = score
        elif field.name == "reason" and field.kind == "text":
            values[field.name] = reason


def write_fields(
    fields: tuple[OutputField, ...], case: dict[str, Any], inputs: dict[str, str], rng: random.Random
) -> tuple[dict[str, Any], str | None]:
    """Every output field's value for one case, and the name of the field that carries the user's message."""
    sc = read_scene(case, rng, task_block(inputs.get("instruction", "")))
    variables = as_mapping(case.get("variables"))
    columns = as_mapping(case.get("columns"))
    names = [f.name for f in fields if f.name in variables and f.kind == "text"]
    if not names and not variables:  # not a dsc case: treat message-like text fields as the inputs
        names = [f.name for f in fields if f.kind == "text" and variable_role(f.name, {}) == "message"]
    values, main = write_inputs(sc, names, variables)
    sc.written = "\n".join(values.values())
    for out in sorted(fields, key=lambda f: f.kind != "enum"):  # enums first: flags follow the verdict
        if out.name not in values:
            spec = columns.get(out.name)
            values[out.name] = write_column(sc, out, spec if isinstance(spec, dict) else {})
    return {f.name: values[f.name] for f in fields if f.name in values} | values, main


def _is_json_request(system: str, user: str) -> bool:
    return "Outputs will be a JSON object" in system or "Respond with a JSON object" in user


def _chat_value(value: Any, field: OutputField) -> str:
    if field.kind == "list":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # a line that looks like a section header would end the field early
        return value.replace("[[ ## ", "[[ # ")
    return str(value)


def write_answer(system: str, user: str, demos: Sequence[Mapping[str, Any]] = ()) -> str:
    """The answer text to a DSPy ChatAdapter (or JSONAdapter) request given as its system and user text, and
    the output fields of the demos before it."""
    fields = read_output_fields(system)
    values = write_values(system, user, demos)
    if _is_json_request(system, user):
        return json.dumps({f.name: values[f.name] for f in fields}, ensure_ascii=False)
    sections = [f"[[ ## {f.name} ## ]]\n{_chat_value(values[f.name], f)}" for f in fields]
    return "\n\n".join([*sections, "[[ ## completed ## ]]"])


def _request_text(request: Any) -> tuple[str, str]:
    system = request.system
    if system is None:
        system = ""
    elif not isinstance(system, str):
        system = "".join(getattr(part, "text", "") or "" for part in system)
    user = ""
    for message in request.messages:
        if message.role == "user":
            user = message.text or ""
    return system, user


def _respond(request: Request) -> Response:
    from dspy.lm15 import Message, Response, TextPart, Usage

    system, user = _request_text(request)
    text = write_answer(system, user, read_demos(request.messages))
    prompt_tokens = (len(system) + sum(len(m.text or "") for m in request.messages)) // 4
    usage = Usage(
        input_tokens=prompt_tokens, output_tokens=len(text) // 4, total_tokens=prompt_tokens + len(text) // 4
    )
    return Response(
        id=None,
        model=OFFLINE_MODEL,
        message=Message.assistant([TextPart(text)]),
        finish_reason="stop",
        usage=usage,
    )


class OfflineEngine:
    """DSPy engine (dspy.lm15 protocol) that answers every request with `write_answer`."""

    def complete(self, request: Request) -> Response:
        return _respond(request)

    def stream(self, request: Any) -> Any:
        from dspy.lm15 import response_to_events

        return response_to_events(_respond(request))

    def close(self) -> None:
        pass

    def dump_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> OfflineEngine:
        return cls()


class AsyncOfflineEngine:
    """Async counterpart of `OfflineEngine`; the work is CPU-only and fast, so it never awaits."""

    supports_response_schema = True  # it answers one JSON object whenever JSONAdapter asks for one
    supported_params = frozenset({"temperature", "max_tokens", "response_format"})

    async def complete(self, request: Request) -> Response:
        return _respond(request)

    async def stream(self, request: Any) -> Any:
        from dspy.lm15 import response_to_events

        for event in response_to_events(_respond(request)):
            yield event

    async def aclose(self) -> None:
        pass

    def dump_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> AsyncOfflineEngine:
        return cls()
