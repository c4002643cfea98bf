"""The `dspy.LM` dsc calls: DSPy's own, with its async call kept on the event loop.

dspy 3.4's `LM.acall` makes two worker-thread round trips per call: it prepares the request in one (a media
snapshot may read a local file) and prices the answer in another (a cost-metadata lookup). With answers that
take no time (the offline engine, the journal) those hops were half of dsc's client CPU per call, and under
a loaded event loop each one waits for the loop again. dsc's requests are text, its LM has DSPy's cache and
retries off (dsc journals and retries by fault class), and both steps are pure and quick, so here they run
inline; everything else (engine choice, error boundary, attempt, finalize, callbacks) is DSPy's own code.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import dspy
from dspy.clients import execution
from dspy.clients._deprecation import warn_legacy_lm, warn_openai_messages
from dspy.clients.call_result import combine
from dspy.clients.errors import error_boundary
from dspy.utils.callback import with_callbacks


class InlineLM(dspy.LM):
    """`dspy.LM`, whose `acall` prepares and prices on the loop; a cached or retried call runs as DSPy's."""

    @with_callbacks
    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        call = execution.prepare(self, prompt, messages, kwargs, asynchronous=True)
        if not call.managed:
            warn_legacy_lm()
        warn_openai_messages(self, messages)
        if call.cache or (self.num_retries and call.managed):
            return execution.finalize(self, call, await execution.aexecute(self, call))
        return execution.finalize(self, call, await _aexecute_once(self, call))


async def _aexecute_once(lm: InlineLM, call: Any) -> Any:
    """`dspy.clients.execution.aexecute` for an uncached call with no retries, pricing inline."""
    backend, request, provider = execution._engine(lm, call, True)
    results: list[Any] = []
    count = call.n if request is not None else 1
    try:
        for _ in range(count):
            state = execution._Attempt()
            boundary = (
                error_boundary(lm.model, provider=provider, unexpected=True)
                if call.managed
                else nullcontext()
            )
            with boundary:
                await execution._aattempt(lm, call, backend, request, provider, state, results)
            if request is not None:
                execution._price_result(lm, state.result, state.response, provider, request)
        return results[0] if len(results) == 1 else combine(results, model_type=lm.model_type)
    except BaseException as exc:
        execution._hint_responses_api(lm, exc)
        execution._account_failed_call(lm, results, exc)
        raise
