"""What dsc accepts from an LM server on the wire: bounded bodies, and redirects only within the configured
origin (a redirect elsewhere would send every prompt and the key to a server nobody configured); one aiohttp
session per event loop, closed with its loop."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from compiler.generate.backends.faults import LMRefused

MAX_REDIRECTS = 5
MAX_ERROR_BODY = 64 * 1024  # of an error body, read for its message
MAX_ANSWER_BODY = 32 * 1024 * 1024  # a hostile server cannot fill the memory with one answer


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most `limit` bytes of the body (an answer cut there fails to parse and is retried as malformed)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def origin_of(url: str) -> tuple[str, str, int | None]:
    """scheme, host and port (default ports made explicit): what a redirect may not change."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def same_origin_target(configured: str, url: str, location: str, identity: str) -> str:
    """The URL a redirect from `url` points to, or LMRefused when it leaves the configured origin."""
    target = urljoin(url, location)
    if origin_of(target) != origin_of(configured):
        scheme, host, port = origin_of(target)
        raise LMRefused(
            f"lm.api_base: {identity} redirected to another origin ({scheme}://{host}:{port}); "
            "dsc sends prompts and keys only to the configured server: set lm.api_base to the new one "
            "if you trust it"
        )
    return target


async def close_when_loop_ends(session: Any) -> None:
    """Wait forever; asyncio.run cancels leftover tasks before closing its loop, and then the session closes."""
    try:
        await asyncio.Event().wait()
    finally:
        await session.close()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_from(headers: Any) -> float | None:
    """Seconds to wait from a 429's headers: OpenAI's retry-after-ms (its SDK prefers it), else Retry-After."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(headers.get("Retry-After"))
