"""`lm=dspy`: any `dspy.LM` model string, answered by DSPy's own engines, inside dsc's fault handling.

DSPy 3.4 serves `openai/ anthropic/ gemini/ groq/ openrouter/ deepseek/ xai/ ollama_chat/ hosted_vllm/ azure/`
with its vendored lm15 engine and everything else through LiteLLM (`vertex_ai/ bedrock/ together_ai/ ...`).
dsc picks the engine DSPy itself would pick (`select_backend`), builds one per event loop with its connection
pool sized to `lm.concurrency` (lm15 caps one at 100 connections, LiteLLM one host at 500), and runs every attempt through `faults.py`
exactly as the aiohttp engines do: lm15 errors (LiteLLM's arrive already mapped onto them) become dsc's
fault classes, so 429 + Retry-After, backoff, the adaptive limit, the breaker and refusals behave the same.
DSPy's own retries stay off (the outer dspy.LM has num_retries=0), and so does its cache.

The key is read from the environment variable named by `lm.api_key_env` (or, without one, by DSPy from
the provider's usual variable); it is redacted from every message and never part of the endpoint identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import os
import re
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

from compiler.core import lazy
from compiler.core.errors import LMError, clip
from compiler.generate.backends import hops
from compiler.generate.backends.endpoint import MISSING, endpoint_identity
from compiler.generate.backends.faults import (
    CONNECTION,
    MALFORMED,
    RATE_LIMITED,
    SERVER,
    TIMEOUT,
    Fault,
    LMRefused,
    RecoveringEngine,
    RetryPolicy,
    call_with_recovery,
)
from compiler.generate.backends.journaled import CallStats, response_text
from compiler.generate.backends.protocol import Request, Response
from compiler.generate.backends.wire import close_when_loop_ends
from compiler.spec.model import LMSpec


class DSPyEngine(RecoveringEngine):
    """dspy 3.4 async engine for `lm=dspy`: DSPy's native or LiteLLM engine per event loop, with dsc's recovery."""

    def __init__(
        self,
        spec: LMSpec,
        stats: CallStats,
        api_base: str | None,
        key_env: str | None,
        key: str | None,
        policy: RetryPolicy | None = None,
    ) -> None:
        from dspy.clients.backend_selection import select_backend
        from dspy.clients.capabilities import capabilities

        self.model = spec.model
        self.api_base = api_base
        self.timeout = spec.timeout
        self.concurrency = spec.concurrency
        self.stats = stats
        self._key_env = key_env
        self._key = key
        self.identity = (
            endpoint_identity("dspy", api_base) if api_base else f"dspy:{spec.model.split('/')[0]}"
        )
        clients: dict[str, Any] = {"timeout": spec.timeout}
        if key:
            clients["api_key"] = key
        if api_base:
            clients["api_base"] = api_base
        # a probe LM that DSPy would build for this model string: which engine, which capabilities
        probe = lazy.dspy.LM(spec.model, cache=False, num_retries=0, **clients)
        self._clients = clients
        try:
            self.selection = select_backend(probe)
            hints = capabilities(probe)
        except Exception as exc:  # an unknown model string or client setting: DSPy's own words, one line
            raise LMError(f"lm.model: dspy.LM cannot serve {spec.model!r}: {self._redact(str(exc))}") from exc
        self.native = bool(self.selection.native)
        if not self.native:
            check_litellm_provider(spec.model, api_base, "lm.model")
        self.supports_response_schema = bool(hints.response_schema)
        self.supported_params = frozenset(hints.params) | {"temperature", "max_tokens"}
        self.policy = policy or RetryPolicy(max_retries=spec.max_retries)
        self._engines: dict[asyncio.AbstractEventLoop, Any] = {}

    def __repr__(self) -> str:
        route = "lm15" if self.native else "litellm"
        return f"DSPyEngine({self.identity!r}, model={self.model!r}, engine={route})"

    def _engine(self) -> Any:
        """This loop's DSPy engine (lm15 pools belong to the loop that opened them)."""
        loop = asyncio.get_running_loop()
        engine = self._engines.get(loop)
        if engine is not None:
            return engine
        for dead in [other for other in self._engines if other.is_closed()]:
            del self._engines[dead]
        if self.native:
            from dspy.clients.engines.lm15_engine import AsyncLM15Engine, timeouts_for
            from dspy.lm15 import RouterConfig

            provider = self.selection.resolution.provider
            config = RouterConfig(
                api_keys={provider: self._key} if self._key else None,
                base_urls={provider: self.api_base} if self.api_base else None,
                **self._connections(timeouts_for(self.timeout)),
            )
            engine = AsyncLM15Engine(config, model_type="chat")
            hops.trust(engine)  # its key is a plain string (or lm15's own environment variable)
        else:
            engine = sized_litellm_engine(self.concurrency, self._clients)
        self._engines[loop] = engine
        return engine

    def _connections(self, timeouts: Any) -> dict[str, Any]:
        """lm15's connection settings: its own transport, or one that skips the proxy lookup per request.

        lm15 reads the proxy environment again for every request (~50 us of `getproxies()`); when
        `lm.api_base` is known and the environment sends it direct (no proxy, or NO_PROXY names it), a
        transport without that lookup connects the same way.
        """
        if not self.api_base or proxied(self.api_base):
            return {"timeouts": timeouts, "max_connections": self.concurrency}
        # by name at run time: a static import makes mypy read dspy's untyped sources
        transports = importlib.import_module("dspy._vendor.lm15.transports")

        waits: dict[str, Any] = {}
        if timeouts is not None:
            waits = {
                "connect_timeout": timeouts.connect,
                "read_timeout": timeouts.read,
                "write_timeout": timeouts.write,
                "pool_timeout": timeouts.pool,
            }
        transport = transports.StdlibAsyncTransport(
            max_connections=self.concurrency, trust_env=False, **waits
        )
        return {"transport": transport}

    async def complete(self, request: Request) -> Response:
        engine = self._engine()
        return await call_with_recovery(self.recovery, lambda: self._attempt(engine, request))

    async def _attempt(self, engine: Any, request: Request) -> Response:
        lm15 = lazy.dspy_lm15
        try:
            response = await engine.complete(request)
        except lm15.LM15Error as exc:
            raise self._fault(exc) from exc
        except TimeoutError as exc:
            raise Fault(TIMEOUT, f"no answer within lm.timeout={self.timeout:g} s") from exc
        except OSError as exc:
            raise Fault(CONNECTION, f"{type(exc).__name__} talking to {self.identity}") from exc
        if not response_text(response):
            # no text at all (no choices, an empty message): unreadable, asked again and never journaled
            raise Fault(MALFORMED, f"an answer without text from {self.identity}")
        return response

    def _fault(self, exc: Any) -> Exception:
        """An lm15 error as a dsc Fault (retried by class) or a refusal that stops the run."""
        lm15 = lazy.dspy_lm15
        status = getattr(exc, "status", None)
        detail = f"{type(exc).__name__}{f' (HTTP {status})' if status else ''} from {self.identity}: "
        detail += clip(self._redact(str(getattr(exc, "message", "") or exc)), 200)  # redacted whole, then cut
        if isinstance(exc, lm15.BillingError) or "insufficient_quota" in detail:
            return LMRefused(f"lm: {self.identity} says the account has no quota left ({detail}); add credit")
        if isinstance(exc, lm15.RateLimitError) or status == 429:
            return Fault(RATE_LIMITED, detail, getattr(exc, "retry_after", None))
        if isinstance(exc, lm15.AuthError):
            self.recovery.refuse(status or 401, detail, self.identity, self._key_env, self.model)
        if isinstance(exc, lm15.TimeoutError) or status in (408, 504):
            return Fault(TIMEOUT, detail)
        if isinstance(exc, lm15.ServerError) or (status is not None and status >= 500):
            return Fault(SERVER, detail)
        if isinstance(exc, lm15.TransportError | lm15.LockTimeoutError):
            # lm15 wraps its transport's ReadTimeout/ConnectTimeout/WriteTimeout: those are timeouts
            cause = exc.__cause__
            if cause is not None and type(cause).__name__.endswith("Timeout"):
                return Fault(TIMEOUT, f"no answer within lm.timeout={self.timeout:g} s from {self.identity}")
            return Fault(CONNECTION, detail)
        if isinstance(exc, lm15.ContextLengthError):
            return Fault("context_length", detail, final=True)
        if type(exc).__name__ == "MissingCredentialError":
            # "Set ANTHROPIC_API_KEY in the environment" or "Set GEMINI_API_KEY or GOOGLE_API_KEY in ..."
            wanted = re.search(
                r"\bSet ([A-Z][A-Z0-9_]*(?: or [A-Z][A-Z0-9_]*)*) in the environment", str(exc)
            )
            usual = f" (DSPy reads {wanted.group(1)})" if wanted else ""
            # with lm.api_base already set, the provider prefix is what asks for a key
            keyless = (
                f"; a server that needs no key is lm.model=hosted_vllm/{self.model.split('/', 1)[-1]}"
                if self.api_base
                else ", or lm.api_base for a self-hosted server"
            )
            return LMRefused(
                f"lm: dspy.LM({self.model!r}) found no API key{usual}; export it, or set lm.api_key_env to "
                f"the variable that holds the key{keyless}"
            )
        if isinstance(exc, lm15.ConfigurationError | lm15.CapabilityError):
            return LMRefused(
                f"lm: dspy.LM({self.model!r}) is not configured ({clip(detail, 160)}); set lm.api_key_env to the "
                "variable that holds the key, or lm.api_base for a self-hosted server"
            )
        if status is not None and status < 300:
            return Fault(MALFORMED, detail)  # a 200 whose body lm15 could not read
        if status is not None:
            self.recovery.refuse(status, detail, self.identity, self._key_env, self.model)
            return Fault(f"http_{status}", detail, final=True)
        return Fault(MALFORMED, detail)  # a provider answer lm15 could not read

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def stream(self, request: Any) -> Any:
        raise NotImplementedError("dsc does not stream")

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        engine = self._engines.pop(loop, None)
        if engine is not None:
            await engine.aclose()


def proxied(url: str) -> bool:
    """Whether the environment routes `url` through a proxy, by lm15's rule (scheme's proxy, else
    ALL_PROXY; NO_PROXY exempts hosts)."""
    parts = urlsplit(url)
    proxies = getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    try:
        return not proxy_bypass(parts.hostname or "")
    except Exception:  # a platform lookup quirk: lm15 then uses the proxy too
        return True


def sized_litellm_engine(concurrency: int, clients: dict[str, Any]) -> Any:
    """DSPy's LiteLLM engine with its own aiohttp pool of `concurrency` connections for this event loop.

    LiteLLM's process-wide pool caps one host at 500 connections (AIOHTTP_CONNECTOR_LIMIT_PER_HOST, read
    once at import); LiteLLM takes a caller's `shared_session` per call, which DSPy's engine does not pass.
    """
    import aiohttp
    from dspy.clients.engines.litellm_engine import AsyncLiteLLMEngine

    class SizedLiteLLMEngine(AsyncLiteLLMEngine):
        def __init__(self) -> None:
            super().__init__(model_type="chat", **clients)
            self.session: aiohttp.ClientSession | None = None
            self.closer: asyncio.Task[None] | None = None

        def _arguments(self, request: Any, *, streaming: bool = False) -> dict[str, Any]:
            data: dict[str, Any] = super()._arguments(request, streaming=streaming)
            if self.session is None:  # made on first use, inside the loop that owns this engine
                connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=300)
                self.session = aiohttp.ClientSession(connector=connector)
                # dsc runs one event loop per generation round: the pool closes with its loop
                self.closer = asyncio.get_running_loop().create_task(close_when_loop_ends(self.session))
            data["shared_session"] = self.session
            return data

        async def aclose(self) -> None:
            await super().aclose()
            if self.closer is not None:
                self.closer.cancel()
            if self.session is not None:
                await self.session.close()

    return SizedLiteLLMEngine()


def check_litellm_provider(model: str, api_base: str | None, setting: str) -> None:
    """Refuse, before any call, a model string LiteLLM cannot route (an unknown or missing provider prefix):
    without this check each request got an HTTP 400 from LiteLLM's own client, as a per-row failure."""
    litellm = importlib.import_module("litellm")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            litellm.get_llm_provider(model, api_base=api_base)  # local: reads LiteLLM's tables, no request
    except Exception as exc:  # noqa: BLE001  (LiteLLM's BadRequestError: no provider it knows)
        prefix = model.split("/")[0] if "/" in model else ""
        what = f"provider {prefix!r} is unknown to DSPy and LiteLLM" if prefix else "it names no provider"
        example = "text-embedding-3-small" if "embedder" in setting else "gpt-4o-mini"
        raise LMError(
            f"{setting}: {model!r}: {what}; write <provider>/<model>, e.g. openai/{example} or vertex_ai/"
            "<model> (for an OpenAI-compatible server: openai/<model> with its api_base)"
        ) from exc


def open_dspy_engine(spec: LMSpec, stats: CallStats) -> tuple[DSPyEngine, str]:
    """The engine for `lm=dspy` and its endpoint identity; a missing key or model fails here, before any work."""
    if spec.model in ("", MISSING):
        raise LMError(
            "lm.model: lm=dspy needs a dspy.LM model string; set it, e.g. lm.model=gemini/gemini-2.5-flash"
        )
    api_base = spec.api_base if spec.api_base not in (None, "", MISSING) else None
    key_env = spec.api_key_env
    key = os.environ.get(key_env) if key_env else None
    if key_env and not key:
        raise LMError(
            f"lm.api_key_env: environment variable {key_env} is not set; export it or pick lm=offline"
        )
    engine = DSPyEngine(spec, stats, api_base, key_env, key)
    return engine, engine.identity
