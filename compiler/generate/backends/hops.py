"""DSPy's per-call worker-thread hops, run inline on dsc's fan-out loop.

dspy 3.4 sends every async LM call through `asyncio.to_thread` two or three times: `prepare` (which may
snapshot media files), `_price_result` (advisory pricing) and, on the lm15 path, `AsyncLM15Engine._target`
(which may build a provider's credentials). For dsc's calls each is a few microseconds of pure CPU (text
messages, static keys), yet each hop wakes a worker thread and takes the GIL back through the loop's self-pipe:
at 256 calls in flight that costs about 0.1 ms of CPU per call, and at a fan-out's start it queues every
call's first request behind every other call's hops in a 6-thread pool (the first request of 1,024 left
~0.25 s after the start).

`adopt(loop)` gives the loop a default executor that runs exactly those DSPy functions in place and hands
everything else (a user's sync `forward()`, DNS lookups) to a real thread pool, as before. DSPy's own code
is unchanged and still runs; only where it runs differs. The lm15 hop runs in place only for engines dsc
built itself (`trust`), whose keys are plain strings read from the environment.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from compiler.core import heap

_TRUSTED: weakref.WeakSet[Any] = weakref.WeakSet()  # lm15 engines dsc built with static credentials
_ADOPTED: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def trust(engine: Any) -> None:
    """Let `engine._target` (an AsyncLM15Engine dsc built from a plain-string key) run in place."""
    _TRUSTED.add(engine)


@functools.cache
def _inline_functions() -> frozenset[Any]:
    from dspy.clients import execution

    # another DSPy release may rename them: then its hops simply go to worker threads again
    found = (getattr(execution, name, None) for name in ("prepare", "_price_result"))
    return frozenset(f for f in found if f is not None)


def _runs_inline(call: Callable[..., Any]) -> bool:
    # asyncio.to_thread submits functools.partial(context.run, function, *args)
    if not isinstance(call, functools.partial) or not call.args:
        return False
    function = call.args[0]
    if function in _inline_functions():
        return True
    owner = getattr(function, "__self__", None)
    return getattr(function, "__name__", "") == "_target" and owner is not None and owner in _TRUSTED


class InlineHopExecutor(ThreadPoolExecutor):
    """A loop's default executor: DSPy's cheap per-call hops in place, anything else in worker threads.

    A hop run in place comes back as an already finished asyncio future of the loop (`run_in_executor`
    hands an asyncio future through unwrapped), so the awaiting call goes on without yielding: a fan-out's
    first request leaves as soon as it is built, not after every other row has been formatted.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(thread_name_prefix="asyncio")
        self.loop = loop

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not _runs_inline(fn) or not self._on_loop():
            return super().submit(fn, *args, **kwargs)
        done = self.loop.create_future()
        try:
            done.set_result(fn())
        except BaseException as exc:  # handed to the awaiting coroutine, as a worker would
            done.set_exception(exc)
        return done

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False


def adopt(loop: asyncio.AbstractEventLoop) -> None:
    """Give `loop` an InlineHopExecutor as its default executor (once; dsc runs one loop per round)."""
    if loop in _ADOPTED:
        return
    _ADOPTED.add(loop)
    # a default pool made earlier on this loop is dropped; its idle workers exit once it is collected
    loop.set_default_executor(InlineHopExecutor(loop))


_WAITING: set[asyncio.Task[None]] = set()  # a loop holds its tasks weakly: these must not be collected


def freeze_during(loop: asyncio.AbstractEventLoop) -> None:
    """Hold the cyclic collector off what existed before this fan-out until `loop` ends (core/heap.py).

    Every full collection during a fan-out would walk the compile's whole heap again (~0.1 s each, the loop
    standing still meanwhile), and young collections every 700 allocations cost ~10% of a call's CPU.
    """
    heap.hold()
    task = loop.create_task(_release_when_loop_ends())
    _WAITING.add(task)
    task.add_done_callback(_WAITING.discard)


async def _release_when_loop_ends() -> None:
    try:
        await asyncio.Event().wait()
    finally:
        heap.release()
