"""The engine interface every dsc backend implements: DSPy 3.4's async engine shape, as dsc uses it.

`open_lm` hands DSPy an `AsyncJournaledEngine` whose `inner` is one of these: the offline engine, an aiohttp
engine (`http.py`) or DSPy's own engines wrapped in dsc's recovery (`dspy_engine.py`). DSPy's adapters read
the two capability hints to decide whether `response_format` reaches the wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # dspy ships no type information; these name the types for readers and future checkers
    from dspy.lm15 import Request, Response
else:
    Request = Response = Any


@runtime_checkable
class CompletionEngine(Protocol):
    """One request in, one complete answer out; no streaming."""

    @property
    def supports_response_schema(self) -> bool:
        """True when `response_format` with a JSON schema may be sent (JSONAdapter's native structured output)."""
        ...

    @property
    def supported_params(self) -> frozenset[str]:
        """The sampling settings this engine passes on to the provider."""
        ...

    async def complete(self, request: Request) -> Response:
        """The provider's answer to one request; retryable faults are retried inside, a final one raises."""
        ...

    async def aclose(self) -> None:
        """Release the connections this engine opened on the running event loop."""
        ...
