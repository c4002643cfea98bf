"""dsc's own store of LM answers: every answer persists as it arrives, so a killed run resumes for free.

Not DSPy's cache: DSPy's key ignores the endpoint, differs between sync and async calls and keeps
answers that failed to parse. Here the key covers the whole request (system, messages with roles,
sampling parameters, response_format, tools), the model and the endpoint identity (the case slot and
sample id travel inside the messages).

Each process appends to its own segment file under `<journal_dir>/journal/<dataset>/`, so concurrent
writers (parallel sweep jobs, shards) never interleave; readers merge every segment. A torn last line
from a kill -9 is skipped on load. Inside an event loop the answers recorded during one loop tick are
written together at the start of the next (group commit): an answer reaches the OS within a tick of
arriving, so a kill -9 loses none, while a run writes once per tick instead of once per answer.

Only answers that parsed and type-checked are kept: the engine holds a fresh answer until its caller
confirms it (`AsyncJournaledEngine.hold`), so a failure is asked again on the next run instead of being
replayed forever. An answer found bad on replay (written before this rule, or by another program version)
is forgotten with a `forget` line that later loads honour. Answers over `max_chars` are never stored
and are skipped on load, so one huge answer cannot slow every later compile.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from compiler.core.atomic import AppendHandle
from compiler.core.fastjson import compact_json

MIN_ANSWER_CHARS = 65_536
CHARS_PER_TOKEN_CAP = 16  # generous: real answers average about 4 characters per token


def answer_cap(max_tokens: int) -> int:
    """The largest answer the journal keeps for an LM asked for at most `max_tokens` tokens."""
    return max(MIN_ANSWER_CHARS, CHARS_PER_TOKEN_CAP * max_tokens)


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int


def request_key(model: str, endpoint: str, request: dict[str, Any]) -> str:
    """xxh3-128 over the whole canonical request (`dspy.lm15` serde: system, messages with their roles,
    sampling config, response_format, tools), the model and the endpoint; the same for sync and async calls."""
    canonical = compact_json(
        {"model": model, "endpoint": endpoint, "request": request}, sort_keys=True, default=str
    )
    return xxhash.xxh3_128_hexdigest(canonical)


def _digest(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8"))


class Journal:
    """Append-only answers keyed by request key; flushed in small groups."""

    def __init__(
        self,
        directory: Path,
        *,
        flush_every: int = 4,
        flush_seconds: float = 0.05,
        max_chars: int = MIN_ANSWER_CHARS,
    ) -> None:
        self.directory = directory
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.max_chars = max_chars
        self._answers: dict[str, Answer] = {}
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._segment: AppendHandle | None = None
        self._scheduled: asyncio.AbstractEventLoop | None = None  # the loop whose next tick flushes
        self.torn_lines = 0
        self.oversize_lines = 0
        self._load()

    def _load(self) -> None:
        if not self.directory.is_dir():
            return
        # a line longer than any answer we keep is skipped unparsed (json escapes at most 6 bytes per char)
        longest = 6 * self.max_chars + 512
        forgotten: set[tuple[str, str]] = set()
        for segment in sorted(self.directory.glob("*.jsonl")):
            with segment.open("rb") as handle:
                for raw in handle:
                    if len(raw) > longest:
                        self.oversize_lines += 1
                        continue
                    try:
                        record = json.loads(raw)
                        if record.get("forget"):
                            forgotten.add((record["key"], record["forget"]))
                            continue
                        if len(record["text"]) > self.max_chars:
                            self.oversize_lines += 1
                            continue
                        self._answers[record["key"]] = Answer(record["text"], record["in"], record["out"])
                    except (ValueError, KeyError, TypeError, AttributeError):
                        self.torn_lines += 1
        # a forget names the text it drops, so it holds whatever order segments load in, and a later good
        # answer to the same request is kept
        for key, digest in forgotten:
            answer = self._answers.get(key)
            if answer is not None and _digest(answer.text) == digest:
                del self._answers[key]

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> Answer | None:
        return self._answers.get(key)

    def record(self, key: str, answer: Answer) -> None:
        line = compact_json(
            {"key": key, "text": answer.text, "in": answer.input_tokens, "out": answer.output_tokens}
        ).decode("utf-8")
        with self._lock:
            self._answers[key] = answer
            self._pending.append(line + "\n")
            if len(self._pending) >= self.flush_every:
                self._flush_locked()
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop in this thread: flush by group size or age
                if time.monotonic() - self._last_flush > self.flush_seconds:
                    self._flush_locked()
                return
            if self._scheduled is not loop:  # (a flush left on a finished loop never runs)
                self._scheduled = loop
                loop.call_soon(self.flush)

    def forget(self, key: str) -> None:
        """Drop an answer that turned out bad on replay; a `forget` line keeps later loads from using it."""
        with self._lock:
            answer = self._answers.pop(key, None)
            if answer is None:
                return
            line = json.dumps({"key": key, "forget": _digest(answer.text)}, separators=(",", ":"))
            self._pending.append(line + "\n")
            self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._last_flush = time.monotonic()
        self._scheduled = None
        if not self._pending:
            return
        if self._segment is None:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            self._segment = AppendHandle(self.directory / name)
        self._segment.append("".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._segment is not None:
                self._segment.close()
                self._segment = None
