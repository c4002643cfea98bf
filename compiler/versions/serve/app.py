"""`dsc review serve`: the review workbench over HTTP on 127.0.0.1 (aiohttp, imported on first use).

Guards, in order: the server binds to loopback only; every request must name this server in `Host`
(127.0.0.1 or localhost at our port: a DNS-rebinding page cannot reach it); a request that changes anything
must come from our own origin (`Origin`, `Sec-Fetch-Site`), carry the per-start token the page was served
with (`X-DSC-Token`, compared in constant time) and send JSON. Every page is served with a strict CSP; the
page builds its DOM with `textContent` only, so row text can never become markup.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.core import lazy
from compiler.core.errors import DscError, UsageError
from compiler.versions.serve.state import ReviewSession, describe_error

if TYPE_CHECKING:
    from aiohttp import web

STATIC = Path(__file__).parent / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
HOST = "127.0.0.1"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MAX_BODY = 1 << 20

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


def _port_of(request: web.Request) -> int:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


def _own_origins(port: int) -> set[str]:
    return {f"http://{HOST}:{port}", f"http://localhost:{port}"}


def _refuse(status: int, message: str) -> web.Response:
    return lazy.aiohttp_web.json_response({"error": message}, status=status)


def build_app(session: ReviewSession, token: str) -> web.Application:
    """The aiohttp application for one review session; `token` is the page's CSRF token."""
    web_ = lazy.aiohttp_web

    @web_.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        port = _port_of(request)
        if request.headers.get("Host", "") not in {o.split("//", 1)[1] for o in _own_origins(port)}:
            return _refuse(403, "unknown host; open the address `dsc review serve` printed")
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            if origin not in _own_origins(port):
                return _refuse(403, "cross-origin request refused")
            if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
                return _refuse(403, "cross-site request refused")
            if not hmac.compare_digest(request.headers.get("X-DSC-Token", ""), token):
                return _refuse(403, "missing or wrong token; reload the page")
            if request.content_type != "application/json":
                return _refuse(415, "send application/json")
        elif request.path.startswith("/api/") and not hmac.compare_digest(
            request.headers.get("X-DSC-Token", ""), token
        ):
            return _refuse(403, "missing or wrong token; reload the page")
        response = await handler(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    async def index(_: web.Request) -> web.Response:
        page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{token}}", token)
        return web_.Response(text=page, content_type="text/html", charset="utf-8")

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS:
            return _refuse(404, "no such file")
        return web_.Response(body=(STATIC / name).read_bytes(), content_type=ASSETS[name], charset="utf-8")

    async def no_icon(_: web.Request) -> web.Response:
        return web_.Response(status=204)

    async def rows(_: web.Request) -> web.Response:
        payload = await asyncio.to_thread(session.payload)
        return web_.json_response(payload, dumps=_dumps)

    async def decide(request: web.Request) -> web.Response:
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return _refuse(413, "request too large")
        try:
            body = json.loads(raw)
        except ValueError:
            return _refuse(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _refuse(400, "the body must be a JSON object")
        try:
            result = await asyncio.to_thread(session.decide, body)
        except DscError as exc:
            return _refuse(400, describe_error(exc))
        return web_.json_response(result, dumps=_dumps)

    app = web_.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/api/session", rows)
    app.router.add_post("/api/decide", decide)
    return app


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def serve(
    session: ReviewSession, port: int, on_ready: Callable[[str], None], open_browser: bool = False
) -> None:
    """Serve until interrupted; `on_ready` gets the URL once the socket listens (port 0 picks a free one)."""
    token = secrets.token_urlsafe(32)
    app = build_app(session, token)

    async def run() -> None:
        runner = lazy.aiohttp_web.AppRunner(app, access_log=None)
        await runner.setup()
        site = lazy.aiohttp_web.TCPSite(runner, HOST, port, reuse_address=True)
        try:
            await site.start()
            bound = runner.addresses[0][1] if runner.addresses else port
            url = f"http://{HOST}:{bound}/"
            on_ready(url)
            if open_browser:
                import webbrowser

                webbrowser.open(url)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(run())
    except OSError as exc:
        raise UsageError(
            f"--port {port}: cannot listen on {HOST}:{port} ({exc.strerror}); pick another port"
        ) from exc
