"""A small OpenAI-, Anthropic- and Gemini-shaped LM server on 127.0.0.1 for the backend tests and the fan-out bench.

It also answers OpenAI's `/v1/embeddings` (vectors of word meanings, see `embed_meaning`), with the same faults.

It answers like a model asked through DSPy's ChatAdapter would (the offline backend's `write_answer`), after a
configurable latency, and injects faults on demand: 429 with Retry-After, 500, a malformed body, or a hang that
never answers. Faults are deterministic: a request's fate is drawn from a seeded hash of its body and how many
times that body was seen before, so a retried request gets a fresh draw and a rerun sees the same faults.
`Faults.force` overrides the draw for requests whose body contains a marker.

    with MockLLMServer(latency=0.1, faults=Faults(rate_429=0.05)) as server:
        ... server.base_url ...  # "http://127.0.0.1:PORT/v1"
        server.stats.requests, server.stats.max_in_flight, server.stats.bodies

Run in a thread of the test process (the default), or in its own process (`subprocess=True`, for the bench:
then it has its own interpreter and GIL and never competes with the client; `stats` is fetched over HTTP and
carries counters only, not bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import xxhash
from aiohttp import web

from compiler.generate.backends.offline.engine import write_answer

FAULT_KINDS = (
    "ok",
    "429",
    "500",
    "503",
    "malformed",
    "no_choices",
    "hang",
    "400",
    "401",
    "403",
    "404",
    "error_200",  # an error body with HTTP 200, as some gateways send
    "refusal",  # a well-formed completion whose text is a refusal, not the output format
    "huge",  # a well-formed completion of 200,000 characters
    "400_echo",  # a 400 whose body echoes the request headers (the Authorization key among them)
    "surrogate",  # a well-formed completion whose fields hold lone UTF-16 surrogates (valid JSON escapes)
)
REFUSAL = "Sorry, I cannot help with that."


@dataclass(frozen=True)
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_malformed: float = 0.0  # half not JSON at all, half JSON without choices/content
    rate_hang: float = 0.0
    # the 429's Retry-After in seconds; "date" sends an HTTP date 1 s ahead; None omits the header
    retry_after: float | str | None = 0.05
    seed: int = 0
    # marker -> the fault of the 1st, 2nd, ... request whose body contains the marker ("ok" passes; after the
    # sequence runs out the request is answered normally)
    force: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = {kind for sequence in self.force.values() for kind in sequence} - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {', '.join(FAULT_KINDS)}")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "force": {k: list(v) for k, v in self.force.items()}}


@dataclass
class ServerStats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_trace: list[int] = field(default_factory=list)  # requests in flight as each one arrived
    outcomes: Counter[str] = field(default_factory=Counter)
    by_content: Counter[str] = field(default_factory=Counter)  # body hash -> times received
    arrivals: dict[str, list[float]] = field(default_factory=dict)  # body hash -> time.monotonic() of each
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # path and query of every request to another route

    @property
    def repeats(self) -> int:
        """Requests that were a repeat of a body already received (retries)."""
        return sum(n - 1 for n in self.by_content.values())

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "repeats": self.repeats,
            "distinct": len(self.by_content),
            "outcomes": dict(self.outcomes),
        }


def content_hash(body: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(body)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class _App:
    def __init__(self, latency: float, faults: Faults, keep_bodies: bool) -> None:
        self.latency = latency
        self.faults = faults
        self.keep_bodies = keep_bodies
        self.stats = ServerStats()
        self.closing = asyncio.Event()
        self.redirect_to: str | None = None  # where /moved/v1/... sends a 307

    def choose(self, body: bytes, key: str, seen: int) -> str:
        text = body.decode("utf-8", "replace")
        for marker, sequence in self.faults.force.items():
            if marker in text:
                return sequence[seen] if seen < len(sequence) else "ok"
        f = self.faults
        draw = xxhash.xxh3_64_intdigest(f"{f.seed}:{key}:{seen}".encode()) / 2.0**64
        for kind, rate in (
            ("429", f.rate_429),
            ("500", f.rate_500),
            ("malformed", f.rate_malformed),
            ("hang", f.rate_hang),
        ):
            if draw < rate:
                if kind == "malformed" and draw < rate / 2:
                    return "no_choices"
                return kind
            draw -= rate
        return "ok"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        stats = self.stats
        key = content_hash(body)
        seen = stats.by_content[key]
        stats.by_content[key] = seen + 1
        stats.arrivals.setdefault(key, []).append(time.monotonic())
        stats.requests += 1
        if self.keep_bodies:
            stats.bodies.append(body)
            stats.headers.append(dict(request.headers))
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        stats.in_flight_trace.append(stats.in_flight)
        try:
            fault = self.choose(body, key, seen)
            stats.outcomes[fault] += 1
            return await self.respond(request, body, fault)
        finally:
            stats.in_flight -= 1

    async def respond(self, request: web.Request, body: bytes, fault: str) -> web.StreamResponse:
        if fault == "429":
            headers = {}
            after = self.faults.retry_after
            if after == "date":
                headers["Retry-After"] = formatdate(time.time() + 1, usegmt=True)
            elif after is not None:
                headers["Retry-After"] = str(after)
            return web.json_response(
                {"error": {"type": "rate_limit_error", "message": "slow down"}}, status=429, headers=headers
            )
        if fault in ("400", "401", "403", "404"):
            message = {
                "400": "unsupported parameter",
                "401": "invalid api key",
                "403": "forbidden",
                "404": "model not found",
            }[fault]
            return web.json_response({"error": {"message": message}}, status=int(fault))
        if fault == "400_echo":  # a gateway that quotes the request headers back, the key near char 200
            echoed = f"bad request {'x' * 170} Authorization: {request.headers.get('Authorization', '')}"
            return web.json_response({"error": {"message": echoed}}, status=400)
        if fault == "hang":
            await self.hang(request)
            return web.Response(status=504)
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault in ("500", "503"):
            return web.json_response({"error": {"message": "upstream exploded"}}, status=int(fault))
        if fault == "malformed":
            return web.Response(body=b"<html>502 Bad Gateway</html>", content_type="text/html")
        if fault == "no_choices":
            return web.json_response({"id": "x", "object": "chat.completion", "choices": []})
        if fault == "error_200":
            return web.json_response({"error": {"message": "model overloaded", "type": "server_error"}})
        payload = json.loads(body)
        if request.path.endswith("/embeddings"):
            return web.json_response(embedding_reply(payload))
        anthropic = request.path.endswith("/messages")
        gemini = request.path.endswith(":generateContent")
        if gemini:  # Gemini's generateContent: contents with parts, the system under systemInstruction
            system = "".join(
                p.get("text", "") for p in (payload.get("systemInstruction") or {}).get("parts", [])
            )
            turns = [("user" if c.get("role") != "model" else "assistant", c) for c in payload["contents"]]
            user = next(
                ("".join(p.get("text", "") for p in c["parts"]) for r, c in reversed(turns) if r == "user"),
                "",
            )
        elif anthropic:
            system = _text(payload.get("system", ""))
        else:
            system = next((_text(m.get("content")) for m in payload["messages"] if m["role"] == "system"), "")
        if not gemini:
            user = next(
                (_text(m.get("content")) for m in reversed(payload["messages"]) if m["role"] == "user"), ""
            )
        text = {"refusal": REFUSAL, "huge": "x" * 200_000}.get(fault) or write_answer(system, user)
        if fault == "surrogate":  # json.dumps sends them as \ud83d escapes, as a broken tokenizer's output
            text = text.replace("]]\n", "]]\n\ud83d", 1).replace(".", ".\udc00", 1)
        tokens_in, tokens_out = (len(system) + len(user)) // 4, len(text) // 4
        if gemini:
            return web.json_response(
                {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [{"text": text}]},
                            "finishReason": "STOP",
                            "index": 0,
                        }
                    ],
                    "usageMetadata": {
                        "promptTokenCount": tokens_in,
                        "candidatesTokenCount": tokens_out,
                        "totalTokenCount": tokens_in + tokens_out,
                    },
                    "modelVersion": request.path.rsplit("/", 1)[-1].split(":")[0],
                }
            )
        if anthropic:
            return web.json_response(
                {
                    "id": "msg_mock",
                    "type": "message",
                    "role": "assistant",
                    "model": payload.get("model"),
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
                }
            )
        return web.json_response(
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": 0,
                "model": payload.get("model"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": tokens_in,
                    "completion_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                },
            }
        )

    async def hang(self, request: web.Request) -> None:
        """Never answer; give up only when the client has gone away (or the server closes)."""
        while not self.closing.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), 0.05)

    async def moved(self, request: web.Request) -> web.StreamResponse:
        self.stats.other.append(request.path_qs)
        raise web.HTTPTemporaryRedirect(self.redirect_to or "/v1/chat/completions")

    async def record_other(self, request: web.Request) -> web.StreamResponse:
        self.stats.other.append(request.path_qs)
        return web.Response(status=404, text="no such route")

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.summary())

    async def configure(self, request: web.Request) -> web.Response:
        """Reset the counters and take a new latency and faults (used by the bench between runs)."""
        data = await request.json()
        self.latency = float(data.get("latency", self.latency))
        if "faults" in data:
            self.faults = Faults(**data["faults"])
        self.stats = ServerStats()
        return web.json_response({"ok": True})

    def build(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self.handle)
        app.router.add_post("/v1/messages", self.handle)
        app.router.add_post(
            "/v1beta/models/{model}", self.handle
        )  # Gemini: .../models/<model>:generateContent
        app.router.add_post("/v1/embeddings", self.handle)
        app.router.add_get("/_stats", self.get_stats)
        app.router.add_post("/_configure", self.configure)
        app.router.add_post("/moved/v1/chat/completions", self.moved)
        app.router.add_route("*", "/{tail:.*}", self.record_other)
        return app


# The embedding "model": words mapped to meanings, so paraphrases in other words land on the same vector.
MEANINGS = {
    "refund": "refund", "money": "refund", "reimbursed": "refund", "reimbursement": "refund",
    "order": "order", "purchase": "order", "bought": "order",
    "arrive": "delivery", "arrived": "delivery", "delivery": "delivery", "shipping": "delivery",
    "cancel": "cancel", "stop": "cancel", "password": "login", "login": "login", "sign": "login",
}  # fmt: skip


def embed_meaning(text: str, dimensions: int = 64) -> list[float]:
    """A unit vector of the text's meanings (unknown words count a little, as themselves)."""
    vector = [0.0] * dimensions
    for word in "".join(c if c.isalnum() else " " for c in text.lower()).split():
        meaning = MEANINGS.get(word)
        slot = xxhash.xxh32_intdigest((meaning or word).encode()) % dimensions
        vector[slot] += 1.0 if meaning else 0.05
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def embedding_reply(payload: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI `/v1/embeddings` answer for `input` (a string or a list of strings)."""
    texts = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
    tokens = sum(len(t) // 4 for t in texts)
    return {
        "object": "list",
        "model": payload.get("model"),
        "data": [
            {"object": "embedding", "index": i, "embedding": embed_meaning(t)} for i, t in enumerate(texts)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


async def _start(app: _App, port: int = 0) -> web.AppRunner:
    runner = web.AppRunner(app.build(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
    return runner


class MockLLMServer:
    """The mock server as a context manager; `base_url` ends in /v1 like an OpenAI-compatible api_base."""

    def __init__(
        self,
        latency: float = 0.0,
        faults: Faults | None = None,
        *,
        subprocess: bool = False,
        keep_bodies: bool = True,
    ) -> None:
        self.latency = latency
        self.faults = faults or Faults()
        self.subprocess = subprocess
        self.keep_bodies = keep_bodies
        self.port = 0
        self._app: _App | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._process: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def stats(self) -> ServerStats:
        """Live stats (thread mode) or a counters-only snapshot fetched from the server process."""
        if self._app is not None:
            return self._app.stats
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats") as reply:
            data = json.load(reply)
        return ServerStats(
            requests=data["requests"], max_in_flight=data["max_in_flight"], outcomes=Counter(data["outcomes"])
        )

    def redirect(self, location: str) -> None:
        """Answer POSTs to /moved/v1/chat/completions with a 307 to `location` (thread mode)."""
        assert self._app is not None
        self._app.redirect_to = location

    def configure(self, latency: float | None = None, faults: Faults | None = None) -> None:
        """New latency and faults, counters reset."""
        self.latency = self.latency if latency is None else latency
        self.faults = faults or self.faults
        if self._app is not None:
            self._app.latency, self._app.faults, self._app.stats = self.latency, self.faults, ServerStats()
            return
        data = json.dumps({"latency": self.latency, "faults": self.faults.to_json()}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/_configure", data=data, method="POST")
        urllib.request.urlopen(request).close()

    def __enter__(self) -> MockLLMServer:
        if self.subprocess:
            self._start_process()
        else:
            self._start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_thread(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._app = _App(self.latency, self.faults, self.keep_bodies)
            runner = self._loop.run_until_complete(_start(self._app))
            self.port = runner.addresses[0][1]
            self._runner = runner
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="mock-llm-server", daemon=True)
        self._thread.start()
        ready.wait(10)

    def _start_process(self) -> None:
        root = Path(__file__).resolve().parent.parent
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.llm_server",
                "--latency",
                str(self.latency),
                "--faults",
                json.dumps(self.faults.to_json()),
            ],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self._process.stdout.readline())

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
        if self._thread is not None and self._loop is not None:
            app, loop = self._app, self._loop
            if app is not None:
                loop.call_soon_threadsafe(app.closing.set)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)
            self._thread = None


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve the mock LM on 127.0.0.1; prints the port.")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--faults", default="{}", help="Faults as JSON")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    async def serve() -> None:
        app = _App(args.latency, Faults(**json.loads(args.faults)), keep_bodies=False)
        runner = await _start(app, args.port)
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
