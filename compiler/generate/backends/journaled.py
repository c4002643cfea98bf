"""An engine wrapper that answers from the journal when it can and records every new answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from dspy.utils.exceptions import LMError as DSPyLMError

from compiler.core.errors import LMError
from compiler.generate.journal import Answer, Journal, request_key


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
        price_input: float,
        price_output: float,
    ) -> None:
        self.stats = stats
        self.max_calls = max_calls
        self.max_usd = max_usd
        self.price_input = price_input
        self.price_output = price_output
        self.started = 0

    def spent(self) -> float:
        return (
            self.stats.input_tokens * self.price_input + self.stats.output_tokens * self.price_output
        ) / 1e6

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


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def describe_request(request: Any) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
    """(system, [(role, text)], sampling params) of a dspy.lm15 Request."""
    config = request.config
    params = {
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "top_p": config.top_p,
        "seed": config.seed,
    }
    messages = [(m.role, m.text or "") for m in request.messages]
    return _text_of(request.system), messages, params


def make_response(answer: Answer, model: str) -> Any:
    from dspy.lm15 import Message, Response, TextPart, Usage

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


class AsyncJournaledEngine:
    """dspy 3.4 async engine: journal hit -> stored answer; miss -> inner engine, then record."""

    def __init__(
        self, inner: Any, journal: Journal, model: str, endpoint: str, stats: CallStats, limiter: Any = None
    ) -> None:
        self.inner = inner
        self.journal = journal
        self.model = model
        self.endpoint = endpoint
        self.stats = stats
        self.limiter = limiter  # optional budget gate with async acquire(key) / release(answer)

    def key(self, request: Any) -> str:
        system, messages, params = describe_request(request)
        return request_key(self.model, self.endpoint, system, messages, params)

    async def complete(self, request: Any) -> Any:
        key = self.key(request)
        stored = self.journal.get(key)
        if stored is not None:
            self.stats.replayed += 1
            self._count_use(stored)
            return make_response(stored, self.model)
        if self.limiter is not None:
            await self.limiter.acquire()
        response = await self.inner.complete(request)
        text = "".join(getattr(p, "text", "") or "" for p in response.message.parts)
        usage = response.usage
        answer = Answer(
            text, int(getattr(usage, "input_tokens", 0) or 0), int(getattr(usage, "output_tokens", 0) or 0)
        )
        self.stats.calls += 1
        self.stats.input_tokens += answer.input_tokens
        self.stats.output_tokens += answer.output_tokens
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
    """The sync half DSPy requires alongside an async engine; dsc itself always calls async."""

    def __init__(self, engine: AsyncJournaledEngine) -> None:
        self.engine = engine

    def complete(self, request: Any) -> Any:
        return asyncio.run(self.engine.complete(request))

    def stream(self, request: Any) -> Any:
        raise NotImplementedError("dsc does not stream")

    def close(self) -> None:
        pass
