"""Generation: DSPy signatures and modules built from the test space; the only stage that talks to an LM."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dspy

from compiler.core.columns import column_type
from compiler.core.rows import Row
from compiler.generate.backends import LMHandle
from compiler.generate.templates import RenderedCase, case_payload
from compiler.plan.cases import CaseSpec
from compiler.sources.gather import scrub_generated
from compiler.spec.model import Column, Spec

PARSE_ATTEMPTS = 3  # an answer that fails to parse is re-asked with a new sample id this many times in all


@dataclass(frozen=True)
class Generated:
    case: CaseSpec
    instruction: str
    inputs: dict[str, str] | None  # None when the case failed
    expected: dict[str, Any] | None
    attempts: int
    error: str | None = None  # error class of an explicit failure


def _column_type(column: Column) -> Any:
    return column_type(column.type).annotation(column.values)


def build_signature(spec: Spec) -> type[dspy.Signature]:
    """Inputs: the rendered instruction and the case spec; outputs: prompt variables + typed columns."""
    fields: dict[str, tuple[Any, Any]] = {
        "instruction": (
            str,
            dspy.InputField(desc="What to write: the strategy's instruction for this case."),
        ),
        "case": (
            str,
            dspy.InputField(desc="The case spec as JSON: cell, strategy, persona or tactic, slot."),
        ),
    }
    for variable in spec.prompt.variables:
        desc = variable.description + ("" if variable.required else " (may be empty)")
        fields[variable.name] = (str, dspy.OutputField(desc=desc))
    for column in spec.columns:
        fields[column.name] = (_column_type(column), dspy.OutputField(desc=column.description or column.name))
    instructions = (
        f"Write one realistic test case for: {spec.description.strip()} "
        "Fill the prompt's input variables and the evaluator columns."
    )
    return dspy.make_signature(fields, instructions, signature_name="WriteTestCase")


class LeanChatAdapter(dspy.ChatAdapter):
    """DSPy's ChatAdapter, byte for byte, with the per-signature parts of the prompt computed once.

    The system message and the output reminder depend only on the signature, yet DSPy rebuilds them
    (with fresh pydantic TypeAdapters) on every call: a third of dsc's client CPU per call.
    """

    def __init__(self) -> None:
        super().__init__()
        self._system: dict[type[dspy.Signature], str] = {}
        self._reminder: dict[type[dspy.Signature], str | None] = {}

    def format_system_message(self, signature: type[dspy.Signature]) -> str:
        if signature not in self._system:
            self._system[signature] = super().format_system_message(signature)
        return self._system[signature]

    def user_message_output_requirements(self, signature: type[dspy.Signature]) -> str | None:
        if signature not in self._reminder:
            self._reminder[signature] = super().user_message_output_requirements(signature)
        return self._reminder[signature]


def _normalise(spec: Spec, prediction: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    inputs = {
        v.name: str(prediction[v.name] if prediction[v.name] is not None else "")
        for v in spec.prompt.variables
    }
    return inputs, _normalise_columns(spec, prediction)


def _normalise_columns(spec: Spec, prediction: Mapping[str, Any]) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for column in spec.columns:
        value = prediction[column.name]
        if column.type == "list":
            value = [str(item) for item in (value or [])]
        elif column.type == "number":
            value = float(value)
        expected[column.name] = value
    return expected


LABEL_INSTRUCTION = (
    "This case is a real production request (scrubbed of private data), not one you write. Keep its inputs "
    "as they are and write only the evaluator columns a grader uses to score an answer to it; the trace's "
    "own answer, behaviour label and error flag are evidence, not the expected behaviour."
)


def build_label_signature(spec: Spec) -> type[dspy.Signature]:
    """Inputs: the instruction and the case (with the trace); outputs: the evaluator columns only."""
    fields: dict[str, tuple[Any, Any]] = {
        "instruction": (str, dspy.InputField(desc="What to write.")),
        "case": (str, dspy.InputField(desc="The case as JSON, with the production trace under `trace`.")),
    }
    for column in spec.columns:
        fields[column.name] = (_column_type(column), dspy.OutputField(desc=column.description or column.name))
    return dspy.make_signature(
        fields, f"Label a production request for: {spec.description.strip()}", signature_name="LabelTrace"
    )


def label_traces(
    spec: Spec, handle: LMHandle, traces: Sequence[tuple[CaseSpec, dict[str, Any]]]
) -> list[dict[str, Any] | None]:
    """Evaluator columns for production rows (None where the answer never parsed), in order."""
    import json

    from dspy.utils.exceptions import AdapterParseError

    ask = LeanCall(build_label_signature(spec), handle, spec.lm.temperature, spec.lm.max_tokens)

    async def one(
        semaphore: asyncio.Semaphore, case: CaseSpec, trace: dict[str, Any]
    ) -> dict[str, Any] | None:
        async with semaphore:
            for sample in range(PARSE_ATTEMPTS):
                payload = json.loads(case_payload(spec, case, sample)) | {"trace": trace}
                with handle.engine.hold() as held:
                    try:
                        values = await ask(
                            instruction=LABEL_INSTRUCTION, case=json.dumps(payload, sort_keys=True)
                        )
                        labels = _normalise_columns(spec, values)
                    except (AdapterParseError, ValueError, TypeError):
                        handle.stats.retries += 1
                        continue
                    held.commit()
                    return labels
            handle.stats.failures += 1
            return None

    async def run() -> list[dict[str, Any] | None]:
        semaphore = asyncio.Semaphore(2 * spec.lm.concurrency)
        return list(await asyncio.gather(*(one(semaphore, case, trace) for case, trace in traces)))

    return asyncio.run(run())


class JudgeCase(dspy.Signature):
    """Score how plausible this test case is for the system under test, from 0.0 (implausible) to 1.0
    (a request real users would send, with expected behaviour a grader could apply)."""

    description: str = dspy.InputField(desc="The system under test.")
    case: str = dspy.InputField(desc="The test case as JSON: its inputs and expected behaviour.")
    plausibility: float = dspy.OutputField(desc="From 0.0 to 1.0.")
    reason: str = dspy.OutputField(desc="One sentence.")


def judge_cases(
    spec: Spec, handle: LMHandle, cases: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, tuple[float, str]]:
    """The optional plausibility judge: (row id, case) -> (score in [0, 1], reason), through the journal."""
    import json

    from dspy.utils.exceptions import AdapterParseError

    ask = LeanCall(JudgeCase, handle, 0.0, 256)

    async def run() -> dict[str, tuple[float, str]]:
        semaphore = asyncio.Semaphore(2 * spec.lm.concurrency)

        async def one(row_id: str, case: dict[str, Any]) -> tuple[str, tuple[float, str]]:
            async with semaphore:
                with handle.engine.hold() as held:
                    try:
                        verdict = await ask(
                            description=spec.description, case=json.dumps(case, sort_keys=True)
                        )
                        score = (min(1.0, max(0.0, float(verdict["plausibility"]))), str(verdict["reason"]))
                    except (AdapterParseError, ValueError, TypeError):
                        return row_id, (0.0, "the judge's answer did not parse")
                    held.commit()
                    return row_id, score

        return dict(await asyncio.gather(*(one(row_id, case) for row_id, case in cases)))

    return asyncio.run(run())


class LeanCall:
    """One case through DSPy's ChatAdapter and dsc's engine stack, without DSPy's LM layer.

    Predict.acall -> dspy.LM adds history, callbacks, pricing lookups and two thread hops per call that
    dsc does not use (it journals, retries and counts usage in its own engines): about a third of the
    client CPU per call. The request is the one dspy.LM would build from the adapter's messages, and the
    answer is parsed by the same adapter, so prompts and parsing are exactly DSPy's.
    """

    def __init__(
        self, signature: type[dspy.Signature], handle: LMHandle, temperature: float, max_tokens: int
    ):
        from dspy.lm15 import Config

        self.signature = signature
        self.handle = handle
        self.adapter = LeanChatAdapter()
        self.config = Config(temperature=temperature, max_tokens=max_tokens)
        self.model = handle.engine.model

    async def __call__(self, **inputs: Any) -> dict[str, Any]:
        from dspy.lm15 import Message, Request

        messages = self.adapter.format(self.signature, [], inputs)
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = tuple(Message.user(m["content"]) for m in messages if m["role"] == "user")
        response = await self.handle.engine.complete(
            Request(model=self.model, messages=turns, system=system, config=self.config)
        )
        text = "".join(getattr(part, "text", "") or "" for part in response.message.parts)
        return dict(self.adapter.parse(self.signature, text))


async def _generate_one(spec: Spec, ask: LeanCall, handle: LMHandle, item: RenderedCase) -> Generated:
    """One case: asked again with a new sample id when the answer does not parse or type-check."""
    from dspy.utils.exceptions import AdapterParseError

    last_error = "parse"
    sample = 0
    while sample < PARSE_ATTEMPTS:
        # the journal keeps an answer only once it parsed and type-checked (held until commit)
        with handle.engine.hold() as held:
            try:
                prediction = await ask(
                    instruction=item.instruction, case=case_payload(spec, item.case, sample)
                )
                inputs, expected = _normalise(spec, prediction)
            except AdapterParseError:
                last_error = "parse"
            except (ValueError, TypeError) as exc:  # a parsed field does not coerce to its column type
                last_error = f"type:{type(exc).__name__}"
            except Exception as exc:
                error_class = getattr(exc, "error_class", None)
                if error_class is None:  # budget, breaker, refusal or a bug: not a per-row failure, stop
                    raise
                handle.stats.failures += 1
                attempts = getattr(exc, "attempts", 1)
                return Generated(
                    item.case, item.instruction, None, None, attempts=attempts, error=str(error_class)
                )
            else:
                held.commit()
                return Generated(item.case, item.instruction, inputs, expected, attempts=sample + 1)
            if not held.reject():  # a stale journal entry is asked again as it is, once
                sample += 1
            handle.stats.retries += 1
    handle.stats.failures += 1
    return Generated(item.case, item.instruction, None, None, attempts=PARSE_ATTEMPTS, error=last_error)


async def _fan_out(
    spec: Spec,
    handle: LMHandle,
    items: Sequence[RenderedCase],
    concurrency: int,
    on_done: Callable[[Generated], None] | None,
) -> list[Generated]:
    ask = LeanCall(build_signature(spec), handle, spec.lm.temperature, spec.lm.max_tokens)
    # the engines enforce the endpoint's (adaptive) concurrency; twice as many rows in flight here keeps
    # rows that sleep out a Retry-After from holding the slots of rows that could go
    semaphore = asyncio.Semaphore(2 * concurrency)
    results: list[Generated | None] = [None] * len(items)

    stopped: list[BaseException] = []

    async def run(index: int, item: RenderedCase) -> None:
        async with semaphore:
            if stopped:  # the run is stopping: start nothing new
                return
            try:
                result = await _generate_one(spec, ask, handle, item)
            except Exception as exc:  # budget, breaker, refusal or a bug: stop, let requests in flight land
                stopped.append(exc)
                return
        results[index] = result
        if on_done is not None:
            on_done(result)

    tasks = [asyncio.ensure_future(run(i, item)) for i, item in enumerate(items)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    if stopped:
        raise stopped[0]
    return [r for r in results if r is not None]


def generate_cases(
    spec: Spec,
    handle: LMHandle,
    items: Sequence[RenderedCase],
    on_done: Callable[[Generated], None] | None = None,
) -> list[Generated]:
    """Generate every rendered case with one asyncio fan-out; results come back in plan order."""
    with dspy.context(disable_history=True, adapter=LeanChatAdapter()):
        return asyncio.run(_fan_out(spec, handle, items, spec.lm.concurrency, on_done))


def label_production_rows(
    spec: Spec, handle: Any, fixed: list[Row], trace_cases: Mapping[str, Any]
) -> list[Row]:
    """Production rows get their evaluator columns from the LM (journaled), reading the scrubbed trace;
    their inputs stay exactly as they were traced."""

    production = [r for r in fixed if r.source == "production"]
    requests = []
    for number, row in enumerate(production):
        case = trace_cases[row.provenance["trace_id"]]
        spec_case = CaseSpec(number, "production", None, tuple(sorted(row.cell.items())), 0, 0, True)
        trace = {
            "trace_id": case.trace_id,
            "input": case.input,
            "output": case.output,
            "behavior": case.behavior,
            "error": case.error,
        }
        requests.append((spec_case, trace))
    answers = label_traces(spec, handle, requests)
    gated = iter(scrub_generated(spec, [({}, a) for a in answers if a is not None], Counter()))
    labels = iter(None if a is None else next(gated)[1] for a in answers)
    labelled = []
    for row in fixed:
        if row.source != "production":
            labelled.append(row)
            continue
        expected = next(labels)
        if expected is None:  # the labels never parsed: the row joins unlabelled, pending review
            labelled.append(row)
            continue
        provenance = {**row.provenance, "lm": handle.identity}
        labelled.append(Row.build("production", None, None, row.cell, row.inputs, expected, provenance))
    return labelled
