"""Generation: the one fan-out that runs the generator program, the labeller and the judge through DSPy."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy

from compiler.core.rows import Row
from compiler.generate.adapters import make_adapter
from compiler.generate.backends import LMHandle
from compiler.generate.program import Generator, build_generator
from compiler.generate.signatures import LABEL_INSTRUCTION, build_judge_signature, build_label_signature
from compiler.generate.templates import RenderedCase, case_payload
from compiler.plan.cases import CaseSpec
from compiler.sources.gather import scrub_generated
from compiler.spec.model import Spec

PARSE_ATTEMPTS = 3  # an answer that fails to parse is re-asked with a new sample id this many times in all
JUDGE_CONFIG = {"temperature": 0.0, "max_tokens": 256}


@dataclass(frozen=True)
class Generated:
    case: CaseSpec
    instruction: str
    inputs: dict[str, str] | None  # None when the case failed
    expected: dict[str, Any] | None
    attempts: int
    error: str | None = None  # error class of an explicit failure


def normalise_prediction(spec: Spec, prediction: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
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


async def _ask(predictor: Any, **inputs: Any) -> Mapping[str, Any]:
    prediction = await predictor.acall(**inputs)
    return prediction


def label_traces(
    spec: Spec, handle: LMHandle, traces: Sequence[tuple[CaseSpec, dict[str, Any]]]
) -> list[dict[str, Any] | None]:
    """Evaluator columns for production rows (None where the answer never parsed), in order."""
    import json

    from dspy.utils.exceptions import AdapterParseError

    labeller = dspy.Predict(build_label_signature(spec))

    async def one(
        semaphore: asyncio.Semaphore, case: CaseSpec, trace: dict[str, Any]
    ) -> dict[str, Any] | None:
        async with semaphore:
            for sample in range(PARSE_ATTEMPTS):
                payload = json.loads(case_payload(spec, case, sample)) | {"trace": trace}
                # the journal keeps an answer only once it parsed and type-checked (held until commit)
                with handle.engine.hold() as held:
                    try:
                        values = await _ask(
                            labeller, instruction=LABEL_INSTRUCTION, case=json.dumps(payload, sort_keys=True)
                        )
                        labels = _normalise_columns(spec, values)
                    except (AdapterParseError, ValueError, TypeError, KeyError):
                        handle.stats.retries += 1
                        continue
                    except Exception as exc:
                        if getattr(exc, "error_class", None) is None:
                            raise  # budget, breaker, refusal or a bug stops the run
                        break  # this trace's call failed after its retries: the row joins unlabelled
                    held.commit()
                    return labels
            handle.stats.failures += 1
            return None

    async def run() -> list[dict[str, Any] | None]:
        semaphore = asyncio.Semaphore(2 * spec.lm.concurrency)
        return list(await asyncio.gather(*(one(semaphore, case, trace) for case, trace in traces)))

    with _lm_context(spec, handle):
        return asyncio.run(run())


def judge_cases(
    spec: Spec, handle: LMHandle, cases: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, tuple[float, str]]:
    """The optional plausibility judge: (row id, case) -> (score in [0, 1], reason), through the journal."""
    with _lm_context(spec, handle):
        return asyncio.run(ajudge_cases(spec, handle, cases))


async def ajudge_cases(
    spec: Spec, handle: LMHandle, cases: Sequence[tuple[str, dict[str, Any]]]
) -> dict[str, tuple[float, str]]:
    """`judge_cases` on the running loop, under the caller's dspy.context."""
    import json

    from dspy.utils.exceptions import AdapterParseError

    judge = dspy.Predict(build_judge_signature())
    semaphore = asyncio.Semaphore(2 * spec.lm.concurrency)

    async def one(row_id: str, case: dict[str, Any]) -> tuple[str, tuple[float, str]]:
        async with semaphore:
            with handle.engine.hold() as held:
                try:
                    verdict = await _ask(
                        judge,
                        description=spec.description,
                        case=json.dumps(case, sort_keys=True),
                        config=JUDGE_CONFIG,
                    )
                    score = (min(1.0, max(0.0, float(verdict["plausibility"]))), str(verdict["reason"]))
                except (AdapterParseError, ValueError, TypeError, KeyError):
                    return row_id, (0.0, "the judge's answer did not parse")
                held.commit()
                return row_id, score

    return dict(await asyncio.gather(*(one(row_id, case) for row_id, case in cases)))


@contextmanager
def _lm_context(spec: Spec, handle: LMHandle, adapter: Any = None) -> Iterator[None]:
    """DSPy's settings for dsc's calls: its LM, the configured adapter, no history (dsc journals)."""
    with dspy.context(
        lm=handle.lm, adapter=adapter or make_adapter(spec.generator.adapter), disable_history=True
    ):
        yield


async def _generate_one(spec: Spec, program: Generator, handle: LMHandle, item: RenderedCase) -> Generated:
    """One case: asked again with a new sample id when the answer does not parse or type-check."""
    from dspy.utils.exceptions import AdapterParseError

    last_error = "parse"
    sample = 0
    while sample < PARSE_ATTEMPTS:
        # the journal keeps an answer only once it parsed and type-checked (held until commit)
        with handle.engine.hold() as held:
            try:
                prediction = await program.acall(
                    instruction=item.instruction, case=case_payload(spec, item.case, sample)
                )
                inputs, expected = normalise_prediction(spec, prediction)
            except AdapterParseError:
                last_error = "parse"
            except (ValueError, TypeError, KeyError) as exc:  # a field is missing or does not coerce
                last_error = f"type:{type(exc).__name__}"
            except Exception as exc:
                error_class = getattr(exc, "error_class", None)
                if (
                    error_class is None
                ):  # not a per-row failure: budget, breaker, refusal or a bug stops the run
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
    program: Generator,
) -> list[Generated]:
    handle.engine.home_loop = asyncio.get_running_loop()
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
                result = await _generate_one(spec, program, handle, item)
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
    program: Generator | None = None,
) -> list[Generated]:
    """Generate every rendered case through the generator program (`await program.acall(...)`) with one
    asyncio fan-out; results come back in plan order."""
    program = program or build_generator(spec, Path("."))
    with _lm_context(spec, handle):
        return asyncio.run(_fan_out(spec, handle, items, spec.lm.concurrency, on_done, program))


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
