"""Real headless Chromium for tests: find it, screenshot a page, dump its DOM, read the PNG it writes.

Chromium comes from Debian (`apt-get install -y chromium`, which CI runs before `make test`). Without it a
test skips, unless CI is set: there a missing browser is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
# Chromium's own chatter in a container without a session bus or GPU; never about the page.
_NOISE = (
    "dbus",
    "gpu",
    "viz",
    "gles",
    "egl",
    "vaapi",
    "fontconfig",
    "sandbox",
    "zygote",
    "crashpad",
    "gcm",
    "Fontconfig",
    "headless_shell",
    "inotify",
    "bus.cc",
    "object_proxy",
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium() -> Path:
    """The browser binary; skips the test when it is absent outside CI and fails it inside CI."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if in_ci():
        pytest.fail(f"{CHROMIUM} is missing but CI is set: install it with `apt-get install -y chromium`")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium); CI would fail here")


@dataclass(frozen=True)
class PageRun:
    output: str  # stdout: the serialized DOM for --dump-dom, empty for --screenshot
    log: str  # stderr with --enable-logging: console messages and page errors land here

    def console_errors(self) -> list[str]:
        """Lines about the page: console messages, uncaught exceptions, blocked or failed loads."""
        page = (":CONSOLE", "Uncaught")  # every console message counts: the report has no script to log
        loads = ("Refused to", "net::ERR", "Content Security Policy", "Failed to load")
        return [
            line
            for line in self.log.splitlines()
            if any(m in line for m in page)
            or (any(m in line for m in loads) and not any(n in line for n in _NOISE))
        ]


def run_chromium(
    page: Path, *args: str, window: tuple[int, int] = (1280, 2000), timeout: float = 60, fragment: str = ""
) -> PageRun:
    """Open a local file in headless Chromium with a throwaway profile and return what it printed."""
    browser = require_chromium()
    profile = tempfile.mkdtemp(prefix="dsc-chromium-")
    try:
        done = subprocess.run(
            [
                str(browser),
                *_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={window[0]},{window[1]}",
                *args,
                page.resolve().as_uri() + fragment,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, f"chromium exited {done.returncode}:\n{done.stderr[-2000:]}"
    return PageRun(done.stdout, done.stderr)


def screenshot(page: Path, png: Path, window: tuple[int, int] = (1280, 2000)) -> PageRun:
    run = run_chromium(page, f"--screenshot={png}", window=window)
    assert png.is_file(), f"chromium wrote no screenshot:\n{run.log[-2000:]}"
    return run


def dump_dom(page: Path, fragment: str = "") -> PageRun:
    return run_chromium(page, "--dump-dom", fragment=fragment)


def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) into a (height, width, channels) array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None, f"{path} has no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG layout {header}"
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(bytes(idat)), dtype=np.uint8).reshape(height, width * bpp + 1)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    prior = np.zeros(width * bpp, dtype=np.uint8)
    for y in range(height):
        kind, line = int(raw[y, 0]), raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: a running sum per channel, modulo 256
            row = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint64).astype(np.uint8).reshape(-1)
        elif kind == 2:
            row = line + prior
        else:
            row = _unfilter_sequential(kind, line, prior, bpp)
        out[y] = row
        prior = row
    return out.reshape(height, width, bpp)


def _unfilter_sequential(kind: int, line: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    """Average (3) and Paeth (4) depend on the byte just decoded: one pass in plain Python."""
    cur, up = bytearray(line.tobytes()), prior.tobytes()
    for i in range(len(cur)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            cur[i] = (cur[i] + ((a + b) >> 1)) & 0xFF
            continue
        c = up[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return np.frombuffer(bytes(cur), dtype=np.uint8)


def distinct_colours(pixels: np.ndarray) -> int:
    flat = pixels[..., :3].reshape(-1, 3).astype(np.uint32)
    return int(np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]).size)


def write_png(pixels: np.ndarray, path: Path) -> None:
    """Encode an (height, width, 3 or 4) uint8 array as a PNG, e.g. to look at a crop of a screenshot."""
    height, width, channels = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if channels == 3 else 6, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )
