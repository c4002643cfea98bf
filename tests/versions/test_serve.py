"""`dsc review serve` in real headless Chromium: filter, approve, reject, edit, concurrency, other origins."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest

from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import Project
from compiler.versions.store import Version, read_rows
from tests.browser import require_chromium
from tests.devtools import Browser, Page

OVERRIDES = ["size=12", "dedupe.near=null"]
EVIL = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "quotes"'


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    version: Version


def _reviews() -> list[dict[str, object]]:
    path = Path("reviews") / "support_bot.jsonl"
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    )


@pytest.fixture
def server(project: Project) -> Iterator[Server]:
    version = compile_dataset(OVERRIDES, project=project).version
    process = subprocess.Popen(
        [sys.executable, "-m", "compiler.cli", "review", "serve", str(version.path), "--port", "0",
         "--no-browser", "--reviewer", "tester"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "http://127.0.0.1:" in line, process.stderr.read() if process.stderr else line
    url = line.split(" at ", 1)[1].split()[0]
    try:
        yield Server(url, process, version)
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _open(browser: Browser, url: str) -> Page:
    page = await browser.new_page(url)
    await page.wait_for("document.body && document.body.dataset.ready")
    assert await page.evaluate("document.body.dataset.ready") == "1"
    return page


async def _choose(page: Page, select_id: str, value: str) -> None:
    await page.evaluate(
        f"(() => {{ const s = document.getElementById({json.dumps(select_id)}); s.value = {json.dumps(value)};"
        " s.dispatchEvent(new Event('change')); })()"
    )


async def _listed(page: Page) -> list[str]:
    return list(
        await page.evaluate("[...document.querySelectorAll('#list li[data-id]')].map(li => li.dataset.id)")
    )


def test_a_reviewer_filters_approves_rejects_and_edits(project: Project, server: Server) -> None:
    require_chromium()
    rows = read_rows(server.version)
    verdict = "refuse" if rows[2].expected.get("verdict") != "refuse" else "answer"

    async def scenario() -> None:
        async with Browser() as browser:
            page = await _open(browser, server.url)
            assert await _listed(page) == [r.id for r in rows]
            assert (
                await page.evaluate("document.getElementById('progress-text').textContent")
                == "0 / 12 reviewed"
            )
            strategy = rows[0].strategy or ""
            await _choose(page, "f-strategy", strategy)
            assert await _listed(page) == [r.id for r in rows if r.strategy == strategy]
            await _choose(page, "f-strategy", "")
            intent = next(r.cell["intent"] for r in rows if "intent" in r.cell)
            await _choose(page, "f-dim-intent", intent)
            assert await _listed(page) == [r.id for r in rows if r.cell.get("intent") == intent]
            await _choose(page, "f-dim-intent", "")
            detail = await page.evaluate("document.getElementById('detail').textContent")
            assert rows[0].id in detail and "provenance" in detail and "near-duplicates it beat" in detail

            await page.press("a")  # approve the first row, move to the second
            await page.wait_for("document.getElementById('progress-text').textContent === '1 / 12 reviewed'")
            await page.press("r")
            await page.wait_for("document.activeElement && document.activeElement.id === 'reason'")
            await page.type_text("not plausible")
            await page.press("Enter")
            await page.wait_for("document.getElementById('progress-text').textContent === '2 / 12 reviewed'")
            await page.press("e")
            await page.wait_for("!!document.querySelector('#edit-form textarea')")
            await page.evaluate(
                "(() => { document.querySelector('textarea[data-field=\"expected.verdict\"]').value = "
                f"{json.dumps(verdict)}; document.querySelector('textarea[data-field=\"inputs.customer_message\"]')"
                f".value = {json.dumps(EVIL)}; document.getElementById('save-edit').click(); }})()"
            )
            await page.wait_for("document.getElementById('progress-text').textContent === '3 / 12 reviewed'")
            await page.press("k")  # back to the edited row: its text is shown as text, never as markup
            await page.wait_for(
                f"document.getElementById('detail').textContent.includes({json.dumps(rows[2].id)})"
            )
            assert EVIL in await page.evaluate("document.getElementById('detail').textContent")
            assert await page.evaluate("document.querySelectorAll('#detail img, #detail script').length") == 0
            assert await page.evaluate("window.pwned === undefined")
            assert not page.errors, page.errors

    asyncio.run(scenario())
    decisions = _reviews()
    assert [(d["id"], d["status"]) for d in decisions] == [
        (rows[0].id, "approved"), (rows[1].id, "rejected"), (rows[2].id, "edited"),
    ]  # fmt: skip
    assert decisions[1]["reason"] == "not plausible" and all(d["reviewer"] == "tester" for d in decisions)
    assert decisions[2]["edits"] == {"expected.verdict": verdict, "inputs.customer_message": EVIL}

    again = compile_dataset(OVERRIDES, project=project)
    status = {r.id: r for r in read_rows(again.version)}
    assert status[rows[0].id].review_status == "approved"
    assert rows[1].id not in status
    edited = [r for r in status.values() if r.provenance.get("origin") == rows[2].id]
    assert len(edited) == 1 and edited[0].review_status == "edited"
    assert edited[0].expected["verdict"] == verdict and edited[0].inputs["customer_message"] == EVIL


def test_two_tabs_and_the_cli_at_once_lose_nothing(server: Server) -> None:
    require_chromium()
    ids = [r.id for r in read_rows(server.version)]
    burst = (
        "Promise.all({ids}.map(id => fetch('/api/decide', {{method: 'POST', headers: {{'Content-Type': "
        "'application/json', 'X-DSC-Token': document.querySelector('meta[name=dsc-token]').content}}, "
        "body: JSON.stringify({{ids: [id], action: {action!r}, reason: 'burst'}})}}).then(r => r.status)))"
    )

    async def scenario() -> None:
        async with Browser() as browser:
            first, second = await _open(browser, server.url), await _open(browser, server.url)
            cli = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "compiler.cli", "review", "approve", "--version", str(server.version.path),
                *[i[:10] for i in ids[10:]], "--reviewer", "terminal",
            )  # fmt: skip
            statuses = await asyncio.gather(
                first.evaluate(burst.format(ids=json.dumps(ids[:5]), action="approve")),
                second.evaluate(burst.format(ids=json.dumps(ids[5:10]), action="reject")),
                cli.wait(),
            )
            assert statuses[0] == [200] * 5 and statuses[1] == [200] * 5 and statuses[2] == 0
            await first.evaluate("setTimeout(() => location.reload(), 0), true")  # reload after answering
            await first.wait_for("!!document.body && document.body.dataset.ready === '1'")
            await first.wait_for(
                "document.getElementById('progress-text')?.textContent === '12 / 12 reviewed'"
            )

    asyncio.run(scenario())
    decisions = {d["id"]: d for d in _reviews()}
    assert len(_reviews()) == 12 and set(decisions) == set(ids)
    assert {decisions[i]["status"] for i in ids[:5]} == {"approved"}
    assert {decisions[i]["status"] for i in ids[5:10]} == {"rejected"}
    assert {decisions[i]["reviewer"] for i in ids[10:]} == {"terminal"}


class _EvilPage(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = (
            "<!DOCTYPE html><html><body><form id=f method=POST enctype=text/plain "
            f'action=\'{self.target}api/decide\'><input name=\'{{"ids":["x"],"action":"approve","a":"\' '
            "value='\"}'></form><script>"
            f"fetch('{self.target}api/decide', {{method: 'POST', mode: 'no-cors', body: '{{}}'}})"
            ".then(() => { document.title = 'sent'; document.getElementById('f').submit(); });"
            "</script></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_other_origins_and_hosts_are_refused(server: Server) -> None:
    row_id = read_rows(server.version)[0].id

    async def direct() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url) as response:
                page = await response.text()
                assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            token = page.split('name="dsc-token" content="', 1)[1].split('"', 1)[0]
            decide = server.url + "api/decide"
            body = {"ids": [row_id], "action": "approve"}
            own = server.url.rstrip("/")
            cases = [
                ({"Origin": "http://evil.example", "X-DSC-Token": token}, 403),
                ({"Origin": own}, 403),  # no token
                ({"Origin": own, "X-DSC-Token": token, "Sec-Fetch-Site": "cross-site"}, 403),
                ({"Origin": own, "X-DSC-Token": token, "Host": "evil.example"}, 403),
            ]
            for headers, status in cases:
                async with http.post(decide, json=body, headers=headers) as response:
                    assert response.status == status, headers
            async with http.get(server.url + "api/session") as response:
                assert response.status == 403  # the rows need the token too
            async with http.get(server.url, headers={"Host": "rebound.example:80"}) as response:
                assert response.status == 403
            async with http.post(
                decide, json=body, headers={"Origin": own, "X-DSC-Token": token}
            ) as response:
                assert response.status == 200

    asyncio.run(direct())
    assert [d["id"] for d in _reviews()] == [row_id]

    require_chromium()
    _EvilPage.target = server.url
    evil = ThreadingHTTPServer(("127.0.0.1", 0), _EvilPage)
    thread = threading.Thread(target=evil.serve_forever, daemon=True)
    thread.start()

    async def in_browser() -> None:
        async with Browser() as browser:
            page = await browser.new_page(f"http://localhost:{evil.server_address[1]}/")
            await page.wait_for("document.title === 'sent' || location.href.includes('/api/decide')")
            await asyncio.sleep(1.0)  # the form post lands, or is refused

    try:
        asyncio.run(in_browser())
    finally:
        evil.shutdown()
    assert [d["id"] for d in _reviews()] == [row_id]  # nothing from the other origin
