"""Real LM backends over HTTP: OpenAI's Chat Completions (openai, openai_compatible, ollama) and Anthropic's Messages.

One engine per run speaks the provider's JSON directly: DSPy's adapter builds the request, this engine sends
it, retries what is transient (`faults.py`), and hands DSPy a `dspy.lm15.Response`. The journal wrapper in
`journaled.py` sits in front, so an answer already paid for is never asked again.

Transport: aiohttp, one `ClientSession` per event loop. A bare POST loop against tests/llm_server.py costs
2-12 ms of client CPU per call with one httpx.AsyncClient at 64-256 concurrent requests (encode/httpx#3215:
anyio locks and a scan of the whole connection pool per request; 0.6 ms even sharded over 4-connection
clients), against 0.15 ms with aiohttp, whatever the concurrency.

The API key is read from the environment variable named by `lm.api_key_env` and is used for the request
headers only (and to redact itself from provider messages); it never appears in a repr, a log line, an
exception message or the endpoint identity.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from compiler.core import lazy
from compiler.core.errors import LMError
from compiler.generate.backends.endpoint import (
    ANTHROPIC_VERSION,
    KIND_DEFAULTS,
    MISSING,
    endpoint_identity,
    proxy_for,
)
from compiler.generate.backends.faults import (
    CONNECTION,
    RATE_LIMITED,
    SERVER,
    TIMEOUT,
    Fault,
    LMRefused,
    RecoveringEngine,
    RetryPolicy,
    call_with_recovery,
)
from compiler.generate.backends.journaled import CallStats
from compiler.generate.backends.protocol import Request, Response
from compiler.generate.backends.provider_json import Reply, encode_body, read_reply
from compiler.generate.backends.redact import shown_message
from compiler.generate.backends.wire import (
    MAX_ANSWER_BODY,
    MAX_ERROR_BODY,
    MAX_REDIRECTS,
    close_when_loop_ends,
    read_bounded,
    retry_after_from,
    same_origin_target,
)
from compiler.spec.model import LMSpec


class HttpEngine(RecoveringEngine):
    """dspy 3.4 async engine for one endpoint, with retries, an adaptive concurrency limit and a breaker."""

    def __init__(
        self,
        spec: LMSpec,
        stats: CallStats,
        api_base: str,
        key_env: str | None,
        key: str | None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.kind = spec.kind
        self.model = spec.model
        self.wire_model = spec.model.removeprefix(f"{spec.kind}/")
        self.identity = endpoint_identity(spec.kind, api_base)
        self.anthropic = spec.kind == "anthropic"
        self.url = api_base.rstrip("/") + ("/messages" if self.anthropic else "/chat/completions")
        self.timeout = spec.timeout
        self.concurrency = spec.concurrency
        self.stats = stats
        self.policy = policy or RetryPolicy(max_retries=spec.max_retries)
        self._key_env = key_env
        self._key = key
        self.proxy = proxy_for(self.url)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closer: asyncio.Task[None] | None = None

    @property
    def supports_response_schema(self) -> bool:
        """Chat Completions servers take `response_format` (json_schema); the Messages API here does not."""
        return not self.anthropic

    @property
    def supported_params(self) -> frozenset[str]:
        base = {"temperature", "max_tokens", "top_p", "stop"}
        return frozenset(base if self.anthropic else base | {"seed", "response_format"})

    def __repr__(self) -> str:
        return f"HttpEngine({self.identity!r}, model={self.model!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "dsc"}
        if self._key and self.anthropic:
            headers.update({"x-api-key": self._key, "anthropic-version": ANTHROPIC_VERSION})
        elif self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _client(self) -> aiohttp.ClientSession:
        # sessions are bound to the loop they were made in, and dsc runs one loop per generation round
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0, ttl_dns_cache=300)
            timeout = aiohttp.ClientTimeout(total=self.timeout, sock_connect=min(self.timeout, 10.0))
            # trust_env would cost two thread hops per request (netrc, proxy lookup); the proxy is found once
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, headers=self._headers()
            )
            self._loop = loop
            # dsc runs one event loop per generation round: close the session with its loop, not at exit
            self._closer = loop.create_task(close_when_loop_ends(self._session))
        return self._session

    async def complete(self, request: Request) -> Response:
        lm15 = lazy.dspy_lm15
        Message, Response, TextPart, Usage = lm15.Message, lm15.Response, lm15.TextPart, lm15.Usage
        body = encode_body(request, self.kind, self.wire_model)
        reply = await call_with_recovery(self.recovery, lambda: self._attempt(body))
        usage = Usage(
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            total_tokens=reply.input_tokens + reply.output_tokens,
        )
        return Response(
            id=None,
            model=self.model,
            message=Message.assistant([TextPart(reply.text)]),
            finish_reason=reply.finish,
            usage=usage,
        )

    async def _attempt(self, body: bytes) -> Reply:
        """One POST: a reply, a Fault (retried unless final), or LMRefused when the configuration is wrong."""
        url = self.url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                # redirects are followed here, not by aiohttp: the prompt and the key go to this origin only
                async with self._client().post(
                    url, data=body, proxy=self.proxy, allow_redirects=False
                ) as response:
                    status = response.status
                    location = response.headers.get("Location")
                    if status in (301, 302, 303, 307, 308) and location:
                        url = self._redirect_target(url, location)
                        continue
                    raw = await read_bounded(response, MAX_ERROR_BODY if status >= 300 else MAX_ANSWER_BODY)
                    retry_after = retry_after_from(response.headers) if status == 429 else None
                    break
            else:
                raise LMRefused(
                    f"lm.api_base: {self.identity} redirected more than {MAX_REDIRECTS} times; "
                    "point lm.api_base at the server that answers"
                )
        except TimeoutError as exc:
            raise Fault(TIMEOUT, f"no answer within lm.timeout={self.timeout:g} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise Fault(CONNECTION, f"{type(exc).__name__} talking to {self.identity}") from exc
        if status < 300:
            return read_reply(raw, self.anthropic, self.identity)
        detail = f"HTTP {status} from {self.identity}: {self._provider_message(raw)}"
        if status == 429:
            if b"insufficient_quota" in raw:
                raise LMRefused(
                    f"lm: {self.identity} says the account has no quota left (HTTP 429 "
                    "insufficient_quota); add credit or pick another lm"
                )
            raise Fault(RATE_LIMITED, detail, retry_after)
        if status >= 500:
            raise Fault(SERVER, detail)
        if status == 408:
            raise Fault(TIMEOUT, detail)
        self.recovery.refuse(status, detail, self.identity, self._key_env, self.wire_model)
        raise Fault(f"http_{status}", detail, final=True)

    def _redirect_target(self, url: str, location: str) -> str:
        return same_origin_target(self.url, url, location, self.identity)

    def _provider_message(self, raw: bytes) -> str:
        """The provider's error message, redacted before it is cut (a cut key would not match any more)."""
        try:
            payload = json.loads(raw)
            error = payload.get("error", payload) if isinstance(payload, dict) else payload
            message = str(error.get("message", error) if isinstance(error, dict) else error)
        except (ValueError, RecursionError):
            message = raw.decode("utf-8", "replace")
        return shown_message(message, (self._key,))

    def stream(self, request: Any) -> Any:
        raise NotImplementedError("dsc does not stream")

    async def aclose(self) -> None:
        session, closer, self._session, self._closer = self._session, self._closer, None, None
        if closer is not None and self._loop is asyncio.get_running_loop():
            closer.cancel()
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


def open_http_engine(spec: LMSpec, stats: CallStats) -> tuple[HttpEngine, str]:
    """The engine for a real LM and its endpoint identity; a missing key or api_base fails here, before any work."""
    default_base, default_env = KIND_DEFAULTS[spec.kind]
    api_base = spec.api_base if spec.api_base not in (None, "", MISSING) else default_base
    if not api_base:
        raise LMError(
            f"lm.api_base: lm={spec.kind} needs the server's base URL; set it, "
            "e.g. lm.api_base=http://127.0.0.1:8000/v1"
        )
    if urlsplit(api_base).scheme not in ("http", "https"):
        raise LMError(f"lm.api_base: {endpoint_identity(spec.kind, api_base)} is not an http(s) URL")
    if spec.model in ("", MISSING):
        raise LMError(
            f"lm.model: lm={spec.kind} needs the model name the server knows; set it, "
            "e.g. lm.model=Qwen/Qwen2.5-7B-Instruct"
        )
    key_env = spec.api_key_env or default_env
    key = os.environ.get(key_env) if key_env else None
    if key_env and not key:
        raise LMError(
            f"lm.api_key_env: environment variable {key_env} is not set; export it or pick lm=offline"
        )
    engine = HttpEngine(spec, stats, api_base, key_env, key)
    return engine, engine.identity
