"""How the HTTP backends meet a failing provider: fault classes, backoff, the adaptive limit and the breaker.

Pure asyncio, no HTTP: `http.py` turns each failed attempt into a `Fault` of one of the classes below and asks
`Recovery` what to do next: wait and retry, fail the row (`LMCallFailed`) or stop the run (`RateLimitBreaker`,
`LMRefused`). Retry-After headers are read in `wire.py`; what a provider says is redacted in `redact.py`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dspy.utils.exceptions import LMError as DSPyLMError

from compiler.core.errors import LMError
from compiler.generate.backends.journaled import CallStats

T = TypeVar("T")

# Retryable fault classes, as counted in CallStats.extra
RATE_LIMITED, SERVER, TIMEOUT, CONNECTION, MALFORMED = "429", "5xx", "timeout", "connection", "malformed"


# The three exceptions below also derive from DSPy's LMError: DSPy's engine boundary passes its own errors
# through by identity and turns anything else into LMUnexpectedError, so without it the fan-out and the CLI
# would see a DSPy error instead of these. DSPy does not retry them (they are not in its retryable classes).
class RateLimitBreaker(LMError, DSPyLMError):
    """The provider kept rate limiting: the run stops; every answer so far is kept and the same command resumes."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class LMCallFailed(DSPyLMError):
    """One request failed after every retry: a per-row failure, not a user mistake (the run goes on)."""

    def __init__(self, error_class: str, attempts: int, detail: str) -> None:
        super().__init__(f"LM call failed: {error_class} after {attempts} attempt(s): {detail}")
        self.error_class = error_class
        self.attempts = attempts


class LMRefused(LMError, DSPyLMError):
    """The endpoint refused the configuration (bad key, no access, unknown model): the run stops."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Fault(Exception):
    """One failed attempt, classified (a class above, or final: retrying cannot help, e.g. "http_413")."""

    def __init__(
        self, kind: str, detail: str, retry_after: float | None = None, *, final: bool = False
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.final = final


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # for 5xx, timeouts, connection errors and malformed bodies
    backoff_base: float = 0.5  # seconds; attempt n waits uniform(0, min(cap, base * 2**n)) (full jitter)
    backoff_cap: float = 20.0
    max_429_retries: int = 30  # one request rate limited this often fails as a row ("429")
    # consecutive 429s (engine-wide, no success between) that trip the breaker; 0 = max(50, 4 x concurrency)
    breaker_429s: int = 0
    breaker_seconds: float = 120.0  # rate limited this long with no success trips the breaker
    increase_every: int = 8  # the adaptive limit grows by 1 after this many successes in a row of calm
    # at most one halving per this many seconds: one burst of 429s is one signal, not many
    decrease_cooldown: float = 1.0
    # HTTP 400/422 answers before any success that mean "the configuration is wrong", not "this row is"
    rejections_before_refusal: int = 3

    def consecutive_limit(self, concurrency: int) -> int:
        # a full window of in-flight requests can all come back 429 at once; that alone is not "sustained"
        return self.breaker_429s or max(50, 4 * concurrency)


def backoff_delay(attempt: int, policy: RetryPolicy) -> float:
    """Full-jitter exponential backoff for the n-th retry (0-based)."""
    return random.uniform(0.0, min(policy.backoff_cap, policy.backoff_base * 2.0**attempt))


class AdaptiveLimit:
    """A gate on requests in flight whose limit adapts (AIMD): halves on rate limiting, creeps back when calm.

    Loop-agnostic: dsc runs one event loop per generation round, so no asyncio primitive is kept across calls.
    """

    def __init__(self, ceiling: int, policy: RetryPolicy) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.lowest = self.ceiling
        self.in_flight = 0
        self.policy = policy
        self._calm = 0
        self._last_decrease = -float("inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over just as we were cancelled: give it back
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> bool:
        """Free a slot; True when it passed straight to a waiting request."""
        self.in_flight -= 1
        return self._wake()

    def _wake(self) -> bool:
        woke = False
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1  # the slot passes to the waiter directly, so nobody can jump the queue
                waiter.set_result(None)
                woke = True
        return woke

    def on_success(self) -> None:
        self._calm += 1
        if self._calm >= self.policy.increase_every and self.limit < self.ceiling:
            self.limit += 1
            self._calm = 0
            self._wake()

    def on_rate_limited(self) -> None:
        self._calm = 0
        now = time.monotonic()
        if now - self._last_decrease >= self.policy.decrease_cooldown:
            self._last_decrease = now
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)


class RateLimitWatch:
    """Engine-wide memory of rate limiting that decides when it is sustained enough to stop the run."""

    def __init__(self, policy: RetryPolicy, concurrency: int) -> None:
        self.policy = policy
        self.max_consecutive = policy.consecutive_limit(concurrency)
        self.consecutive = 0
        self.since: float | None = None  # first 429 after the last success
        self.tripped: str | None = None

    def on_success(self) -> None:
        self.consecutive = 0
        self.since = None

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Count one 429; raise RateLimitBreaker when rate limiting is sustained."""
        now = time.monotonic()
        self.consecutive += 1
        if self.since is None:
            self.since = now
        reason = None
        if self.consecutive >= self.max_consecutive:
            reason = f"{self.consecutive} rate-limited responses (HTTP 429) in a row"
        elif now - self.since >= self.policy.breaker_seconds:
            reason = f"rate limited (HTTP 429) for {now - self.since:.0f} s without a success"
        elif retry_after is not None and retry_after > self.policy.breaker_seconds:
            reason = f"the provider asks to wait {retry_after:.0f} s (Retry-After)"
        if reason is not None:
            self.trip(reason)

    def trip(self, reason: str) -> None:
        self.tripped = (
            f"lm: stopped: {reason}; every answer so far is kept in the journal, so the same "
            "command resumes where this run stopped (lower lm.concurrency or wait for the quota)"
        )
        raise RateLimitBreaker(self.tripped)

    def check(self) -> None:
        if self.tripped is not None:
            raise RateLimitBreaker(self.tripped)


class Recovery:
    """One endpoint's memory of its faults: what to do after each failed attempt, and when to stop."""

    def __init__(self, policy: RetryPolicy, concurrency: int, stats: CallStats) -> None:
        self.policy = policy
        self.limit = AdaptiveLimit(concurrency, policy)
        self.watch = RateLimitWatch(policy, concurrency)
        self.stats = stats
        self.succeeded = False
        self.rejected = 0
        # set when a request used up its retries failing to connect before any request succeeded: nothing
        # listens there, so the requests still queued fail at once instead of each waiting out its retries
        self.unreachable: str | None = None

    def note_success(self) -> None:
        self.limit.on_success()
        self.watch.on_success()
        self.succeeded = True

    def delay_after(self, fault: Fault, attempts: int, errors: int, limited: int) -> float:
        """Count a failed attempt and return how long to wait before the next, or raise to give up.

        `errors` and `limited` are this request's earlier faults of the non-429 and 429 classes.
        """
        self.stats.extra[fault.kind] = self.stats.extra.get(fault.kind, 0) + 1
        if fault.final:
            raise LMCallFailed(fault.kind, attempts, fault.detail)
        self.stats.retries += 1
        if fault.kind == RATE_LIMITED:
            self.limit.on_rate_limited()
            self.watch.on_rate_limited(fault.retry_after)  # raises RateLimitBreaker when sustained
            if limited >= self.policy.max_429_retries:
                raise LMCallFailed(fault.kind, attempts, fault.detail)
            if fault.retry_after is None:
                return backoff_delay(limited, self.policy)
            return fault.retry_after * (1.0 + 0.1 * random.random())  # spread a burst's retries a little
        if errors >= self.policy.max_retries or (fault.kind == CONNECTION and self._nothing_answers()):
            if fault.kind == CONNECTION and not self.succeeded:
                self.unreachable = fault.detail
            raise LMCallFailed(fault.kind, attempts, fault.detail)
        return backoff_delay(errors, self.policy)

    def _nothing_answers(self) -> bool:
        """One request gave up connecting and none has ever succeeded (a late success lifts this)."""
        return self.unreachable is not None and not self.succeeded

    def check_reachable(self, attempts: int) -> None:
        """Fail a request at once when the endpoint never answered and one request gave up connecting."""
        if self._nothing_answers():
            raise LMCallFailed(CONNECTION, attempts, str(self.unreachable))

    def refuse(self, status: int, detail: str, endpoint: str, key_env: str | None, model: str) -> None:
        """Stop the run on an answer that means the configuration is wrong, not this one request."""
        if status in (401, 403):
            where = f"the key in {key_env}" if key_env else "requests without a key"
            raise LMRefused(
                f"lm.api_key_env: {endpoint} refused {where} (HTTP {status}); "
                "check the key and that it may use this model"
            )
        if status == 404:
            raise LMRefused(
                f"lm.model: {endpoint} has no model {model!r} or no such endpoint (HTTP 404); "
                "check lm.model and lm.api_base"
            )
        if status in (400, 422) and not self.succeeded:
            # a long row may be rejected on its own; several with no success at all is the configuration
            self.rejected += 1
            if self.rejected >= self.policy.rejections_before_refusal:
                raise LMRefused(
                    f"lm: {endpoint} rejected the first {self.rejected} requests and accepted none "
                    f"({detail}); check lm.model and the sampling settings"
                )


async def call_with_recovery(recovery: Recovery, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run `attempt` under the endpoint's adaptive limit until it succeeds; each `Fault` it raises is
    waited out as `recovery` says (or ends the row or the run)."""
    limit = recovery.limit
    recovery.watch.check()
    attempts = errors = limited = 0
    while True:
        recovery.check_reachable(attempts)
        attempts += 1
        await limit.acquire()
        try:
            recovery.check_reachable(attempts)  # another request may have given up while this one queued
            reply = await attempt()
        except Fault as fault:
            failure: Fault | None = fault
        else:
            failure = None
        finally:
            handed_over = limit.release()
        if failure is None:
            recovery.note_success()
            if handed_over:
                # the request that took this slot leaves before this answer is parsed: in a burst of answers
                # the next requests go out as each answer is read, not after every answer was parsed
                await asyncio.sleep(0)
            return reply
        delay = recovery.delay_after(failure, attempts, errors, limited)
        if failure.kind == RATE_LIMITED:
            limited += 1
        else:
            errors += 1
        await asyncio.sleep(delay)
        recovery.watch.check()  # another request may have tripped the breaker meanwhile


class RecoveringEngine:
    """An engine whose retry policy owns its recovery state: setting a policy starts a fresh adaptive
    limit and breaker (the aiohttp engines and the lm=dspy engine share this)."""

    concurrency: int
    stats: Any

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self.recovery = Recovery(policy, self.concurrency, self.stats)
        self.limit = self.recovery.limit
