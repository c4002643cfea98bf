"""The one atomic writer: files and folders appear whole or not at all, appends start on a new line."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

STAGING_PREFIX = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_sibling(path: Path) -> Path:
    """A hidden temporary name beside `path` (same filesystem, so the final rename is atomic)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def write_atomic(path: Path, content: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: the file appears whole or not at all."""
    write_with(path, lambda temp: temp.write_bytes(content))


def write_with(path: Path, writer: Callable[[Path], object]) -> None:
    """Let `writer` fill a temporary sibling (e.g. polars' write_parquet), then fsync and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_sibling(path)
    try:
        writer(temp)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def write_folder(target: Path, files: Mapping[str, bytes]) -> bool:
    """Publish a folder of finished files whole: stage, fsync, rename. False if `target` already exists."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # the writer's pid in the name lets `dsc repair` and the next compile tell a dead writer's leftovers
    # from a folder another process is still staging
    staging = target.parent / f"{STAGING_PREFIX}{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        for name, content in files.items():
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        try:
            os.rename(staging, target)
        except OSError:  # another process published the same folder first
            return False
        _fsync_dir(target.parent)
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def append_lines(path: Path, lines: Iterable[str]) -> None:
    """Append whole lines under an exclusive lock, fsynced; a file whose last line lost its newline gets one
    first, so a new record never glues onto a torn one."""
    text = "".join(line.rstrip("\n") + "\n" for line in lines)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0, os.SEEK_END)
            if handle.tell() > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    text = "\n" + text
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class AppendHandle:
    """A file kept open for appending by one process (the journal's segment), no lock and no fsync: a kill
    keeps what the OS has, only a power cut loses the last group. Like `append_lines`, text never glues
    onto a torn last line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, text: str) -> None:
        size = os.fstat(self.fd).st_size
        # a segment torn by a kill (or cut by hand) gets a newline first, so a record never glues onto it
        if size and os.pread(self.fd, 1, size - 1) != b"\n":
            text = "\n" + text
        data = text.encode("utf-8")
        while data:
            data = data[os.write(self.fd, data) :]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # a journal nobody closed (a test, a bench) does not leak its descriptor
        self.close()


_QUEUED: dict[Path, tuple[bytes, int | None]] = {}  # cache files a command writes only once it has succeeded


def write_later(path: Path, content: bytes, keep: int | None = None) -> None:
    """Queue a cache file for `write_queued`; with `keep`, its folder then keeps only the newest `keep`
    files of its suffix. A command that fails never writes what it queued."""
    _QUEUED[path] = (content, keep)


def write_queued() -> None:
    """Write the queued cache files (the command succeeded). A read-only folder only loses the cache."""
    while _QUEUED:
        path, (content, keep) = _QUEUED.popitem()
        try:
            write_atomic(path, content)
            if keep is not None:
                entries = sorted(path.parent.glob(f"*{path.suffix}"), key=lambda p: p.stat().st_mtime_ns)
                for old in entries[:-keep]:
                    old.unlink(missing_ok=True)
        except OSError:
            continue
