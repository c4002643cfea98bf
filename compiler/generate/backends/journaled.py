"""An engine wrapper that answers from the journal when it can and records every new answer."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dspy.utils.exceptions import LMError as DSPyLMError

from compiler.core import lazy
from compiler.core.errors import LMError
from compiler.core.limits import mend_text
from compiler.generate.backends import hops
from compiler.generate.backends.protocol import CompletionEngine, Request, Response
from compiler.generate.estimate import cost_usd
from compiler.generate.journal import Answer, Journal, request_key
from compiler.spec.model import LMSpec


class BudgetReached(LMError, DSPyLMError):
    """A budget limit was reached: the run stops cleanly; every answer so far is kept in the journal.

    Also a DSPy LMError so that DSPy's engine boundary passes it through unchanged.
    """


class BudgetGate:
    """Stops fresh LM calls at `max_calls` or once the estimated spend reaches `max_usd` (replays are free)."""

    def __init__(
        self,
        stats: CallStats,
        max_calls: int | None,
        max_usd: float | None,
        lm: LMSpec,
    ) -> None:
        self.stats = stats
        self.max_calls = max_calls
        self.max_usd = max_usd
        self.lm = lm
        self.started = 0

    def spent(self) -> float:
        """The estimated spend of this run's fresh calls: the LM's, plus the embedder's (semantic dedupe)."""
        return cost_usd(self.lm, self.stats.input_tokens, self.stats.output_tokens) + self.stats.embedding_usd

    async def acquire(self) -> None:
        self.acquire_now()

    def acquire_now(self) -> None:
        """Count one fresh call, or raise BudgetReached (embedding batches use it from sync code)."""
        if self.max_calls is not None and self.started >= self.max_calls:
            raise BudgetReached(self._message(f"budget.max_calls={self.max_calls} reached"))
        if self.max_usd is not None and self.spent() >= self.max_usd:
            raise BudgetReached(
                self._message(f"budget.max_usd={self.max_usd:g} reached (${self.spent():.4f})")
            )
        self.started += 1

    def _message(self, what: str) -> str:
        return (
            f"{what} after {self.stats.calls} LM calls; every answer received is kept in the journal; "
            f"raise the budget (e.g. budget.max_calls=null budget.max_usd=null) and run the same command "
            f"to continue without paying again"
        )


@dataclass
class CallStats:
    """What this run actually did (not persisted in a version: it differs between a run and its resume)."""

    calls: int = 0  # requests sent to the LM
    replayed: int = 0  # answers served from the journal
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    failures: int = 0
    # every answer this compile used, fresh or replayed: deterministic, so it may go in the manifest
    used_requests: int = 0
    used_input_tokens: int = 0
    used_output_tokens: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    embedding_usd: float = 0.0  # fresh embedding requests at dedupe.semantic.price (the budget gate adds it)


def describe_request(request: Any) -> dict[str, Any]:
    """The whole dspy.lm15 Request as canonical plain data (its model is the engine's, keyed separately)."""
    data = dict(lazy.dspy_lm15_serde.request_to_dict(request))
    data.pop("model", None)
    return data


def response_text(response: Any) -> str:
    """The answer's text: its text parts, and a structured-output part (lm15's DataPart) as its JSON."""
    texts = []
    for part in response.message.parts:
        text = getattr(part, "text", None)
        if text:
            texts.append(text)
        elif getattr(part, "type", None) == "data":
            texts.append(json.dumps(part.value, ensure_ascii=False))
    return "".join(texts)


def make_response(answer: Answer, model: str) -> Any:
    lm15 = lazy.dspy_lm15
    Message, Response, TextPart, Usage = lm15.Message, lm15.Response, lm15.TextPart, lm15.Usage
    return Response(
        id=None,
        model=model,
        message=Message.assistant([TextPart(answer.text)]),
        finish_reason="stop",
        usage=Usage(
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            total_tokens=answer.input_tokens + answer.output_tokens,
        ),
    )


class Held:
    """Answers a caller is still checking: fresh ones reach the journal only on `commit()` (the answer
    parsed and type-checked); replayed ones that fail the check are forgotten by the journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.fresh: list[tuple[str, Answer]] = []
        self.replayed: list[str] = []
        self.done = False

    def commit(self) -> None:
        for key, answer in self.fresh:
            self.journal.record(key, answer)
        self.fresh.clear()
        self.replayed.clear()
        self.done = True

    def reject(self) -> bool:
        """Keep nothing of this attempt; True when a replayed (stale) answer was among it."""
        stale = bool(self.replayed)
        for key in self.replayed:
            self.journal.forget(key)
        self.fresh.clear()
        self.replayed.clear()
        self.done = True
        return stale


_HELD: contextvars.ContextVar[Held | None] = contextvars.ContextVar("dsc_held_answers", default=None)


class AsyncJournaledEngine:
    """dspy 3.4 async engine: journal hit -> stored answer; miss -> inner engine, then record.

    Inside `with engine.hold() as held:` fresh answers wait for `held.commit()` (the caller parsed them);
    leaving the block without a commit keeps none of them. Outside a hold, answers are recorded at once.
    An answer longer than `max_chars` is a counted failure (`oversize`), never stored.
    """

    def __init__(
        self,
        inner: CompletionEngine,
        journal: Journal,
        model: str,
        endpoint: str,
        stats: CallStats,
        limiter: Any = None,
        max_chars: int | None = None,
    ) -> None:
        self.inner = inner
        self.journal = journal
        self.model = model
        self.endpoint = endpoint
        self.stats = stats
        self.limiter = limiter  # optional budget gate with async acquire(key) / release(answer)
        self.max_chars = max_chars if max_chars is not None else journal.max_chars
        self._home_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the latest call
        # the first error that stops the run (budget, breaker, refusal), kept for callers such as an
        # optimizer that would otherwise count it as one failed example and go on
        self.stopped: LMError | None = None

    @property
    def home_loop(self) -> asyncio.AbstractEventLoop | None:
        """The fan-out's loop: a sync program's calls hop back onto it (SyncJournaledEngine)."""
        return self._home_loop

    @home_loop.setter
    def home_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None:
            self._enter(loop)  # before the first call, so DSPy's per-call hops never start a thread pool
        self._home_loop = loop

    def _enter(self, loop: asyncio.AbstractEventLoop) -> None:
        """The first call on a loop (dsc runs one per generation round, judge or labelling pass)."""
        if loop is not self._loop:
            self._loop = loop
            hops.adopt(loop)
            hops.freeze_during(loop)

    @contextmanager
    def hold(self) -> Iterator[Held]:
        """Hold this task's fresh answers until the caller commits them (see the class docstring)."""
        held = Held(self.journal)
        token = _HELD.set(held)
        try:
            yield held
        finally:
            _HELD.reset(token)
            if not held.done:
                held.reject()

    # capability hints DSPy's adapters read (JSONAdapter sends response_format only where declared)
    @property
    def supports_response_schema(self) -> bool:
        return bool(getattr(self.inner, "supports_response_schema", False))

    @property
    def supported_params(self) -> frozenset[str]:
        return frozenset(getattr(self.inner, "supported_params", ()) or ())

    supports_function_calling = False
    supports_reasoning = False

    def key(self, request: Any) -> str:
        return request_key(self.model, self.endpoint, describe_request(request))

    async def complete(self, request: Request) -> Response:
        self._enter(asyncio.get_running_loop())  # the judge's and labeller's loops too
        key = self.key(request)
        stored = self.journal.get(key)
        held = _HELD.get()
        if stored is not None:
            if held is not None:
                held.replayed.append(key)
            self.stats.replayed += 1
            self._count_use(stored)
            return make_response(stored, self.model)
        try:
            if self.limiter is not None:
                await self.limiter.acquire()
            response = await self.inner.complete(request)
        except LMError as exc:
            self.stopped = self.stopped or exc
            raise
        text = mend_text(response_text(response))  # what is journaled, parsed and replayed: writable UTF-8
        usage = response.usage
        answer = Answer(
            text, int(getattr(usage, "input_tokens", 0) or 0), int(getattr(usage, "output_tokens", 0) or 0)
        )
        self.stats.calls += 1
        self.stats.input_tokens += answer.input_tokens
        self.stats.output_tokens += answer.output_tokens
        if len(text) > self.max_chars:
            from compiler.generate.backends.faults import LMCallFailed  # faults imports this module

            raise LMCallFailed(
                "oversize", 1, f"an answer of {len(text):,} characters, over the {self.max_chars:,} kept"
            )
        if held is not None:
            held.fresh.append((key, answer))
        else:
            self.journal.record(key, answer)
        self._count_use(answer)
        return make_response(answer, self.model)

    def _count_use(self, answer: Answer) -> None:
        self.stats.used_requests += 1
        self.stats.used_input_tokens += answer.input_tokens
        self.stats.used_output_tokens += answer.output_tokens

    def stream(self, request: Any) -> Any:
        raise NotImplementedError("dsc does not stream")

    async def aclose(self) -> None:
        closer = getattr(self.inner, "aclose", None)
        if closer is not None:
            await closer()


class SyncJournaledEngine:
    """The sync half DSPy requires alongside an async engine. dsc itself calls async; a user's program with
    only a sync forward() runs in a worker thread, and its calls hop back onto the fan-out's loop."""

    def __init__(self, engine: AsyncJournaledEngine) -> None:
        self.engine = engine

    @property
    def supports_response_schema(self) -> bool:
        return self.engine.supports_response_schema

    @property
    def supported_params(self) -> frozenset[str]:
        return self.engine.supported_params

    supports_function_calling = False
    supports_reasoning = False

    def complete(self, request: Request) -> Response:
        loop = self.engine.home_loop
        if loop is not None and loop.is_running():
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # a worker thread: the engine's sessions and limits live on the loop
                return asyncio.run_coroutine_threadsafe(self.engine.complete(request), loop).result()
        return asyncio.run(self.engine.complete(request))

    def stream(self, request: Any) -> Any:
        raise NotImplementedError("dsc does not stream")

    def close(self) -> None:
        pass
