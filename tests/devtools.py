"""Drive real headless Chromium over the DevTools protocol (a websocket, spoken with aiohttp): open pages,
press keys as a user does, evaluate script, and collect console errors. Used by the review workbench tests
and bench/review.py; skips like tests/browser.py when Chromium is absent outside CI."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import tempfile
import time
from typing import Any

import aiohttp

from tests.browser import _FLAGS, require_chromium

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class Page:
    """One tab: send protocol commands, evaluate expressions, press keys, wait for conditions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.errors: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(data["params"]["exceptionDetails"])[:500])
            elif data.get("method") == "Runtime.consoleAPICalled" and data["params"]["type"] in (
                "error",
                "warning",
            ):
                self.errors.append(json.dumps(data["params"]["args"])[:500])
            elif data.get("method") == "Log.entryAdded" and data["params"]["entry"]["level"] == "error":
                self.errors.append(data["params"]["entry"].get("text", "")[:500])

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self.ws.send_str(json.dumps({"id": number, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result") or {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        last_error: RuntimeError | None = None
        while True:
            try:
                value = await self.evaluate(expression)
            except RuntimeError as exc:  # a page still loading (after a reload) may lack the element yet
                value, last_error = None, exc
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression} (last error: {last_error})")
            await asyncio.sleep(0.05)

    async def goto(self, url: str) -> None:
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send("Log.enable")
        await self.send("Page.navigate", url=url)

    async def press(self, key: str) -> None:
        """A key as a keyboard types it: keydown (with its text), then keyup."""
        down: dict[str, Any] = {"type": "keyDown", "key": key}
        if len(key) == 1:
            down |= {"text": key, "code": f"Key{key.upper()}" if key.isalpha() else ""}
        if key == "Enter":
            down |= {"text": "\r", "code": "Enter", "windowsVirtualKeyCode": 13}
        await self.send("Input.dispatchKeyEvent", **down)
        await self.send("Input.dispatchKeyEvent", type="keyUp", key=key)

    async def type_text(self, text: str) -> None:
        await self.send("Input.insertText", text=text)

    async def settled(self) -> None:
        """Wait until the page has no request in flight."""
        await self.wait_for("document.body.dataset.busy === '0' || document.body.dataset.busy === undefined")


class Browser:
    """A headless Chromium with a throwaway profile and the DevTools protocol on a free port."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.profile = tempfile.mkdtemp(prefix="dsc-cdp-")
        self.http: aiohttp.ClientSession | None = None
        self.base = ""
        self.pages: list[Page] = []

    async def __aenter__(self) -> Browser:
        binary = require_chromium()
        self.process = await asyncio.create_subprocess_exec(
            str(binary),
            *_FLAGS,
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,900",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        while True:
            line = (await asyncio.wait_for(self.process.stderr.readline(), 30)).decode(errors="replace")
            if not line:
                raise RuntimeError("chromium exited before DevTools listened")
            found = _LISTENING.search(line)
            if found:
                break
        self.base = "http://" + found.group(1).split("/")[2]
        asyncio.create_task(self._drain())
        self.http = aiohttp.ClientSession()
        return self

    async def _drain(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while await self.process.stderr.readline():
            pass

    async def new_page(self, url: str) -> Page:
        assert self.http is not None
        async with self.http.put(f"{self.base}/json/new?about:blank") as response:
            target = await response.json(content_type=None)
        ws = await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(ws)
        self.pages.append(page)
        await page.goto(url)
        return page

    async def __aexit__(self, *_: object) -> None:
        for page in self.pages:
            await page.ws.close()
        if self.http is not None:
            await self.http.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
