"""dsc's own store of LM answers: every answer persists as it arrives, so a killed run resumes for free.

Not DSPy's cache: DSPy's key ignores the endpoint, differs between sync and async calls and keeps
answers that failed to parse. Here the key covers the whole request (system, messages with roles,
sampling parameters, response_format, tools), the model and the endpoint identity (the case slot and
sample id travel inside the messages).

Each process appends to its own segment file under `<journal_dir>/journal/<dataset>/`, so concurrent
writers (parallel sweep jobs, shards) never interleave; readers merge every segment. A torn last line
from a kill -9 is skipped on load.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int


def request_key(model: str, endpoint: str, request: dict[str, Any]) -> str:
    """xxh3-128 over the whole canonical request (`dspy.lm15` serde: system, messages with their roles,
    sampling config, response_format, tools), the model and the endpoint; the same for sync and async calls."""
    canonical = json.dumps(
        {"model": model, "endpoint": endpoint, "request": request},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return xxhash.xxh3_128_hexdigest(canonical.encode("utf-8"))


class Journal:
    """Append-only answers keyed by request key; flushed in small groups."""

    def __init__(self, directory: Path, *, flush_every: int = 4, flush_seconds: float = 0.05) -> None:
        self.directory = directory
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self._answers: dict[str, Answer] = {}
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._file: Any = None
        self.torn_lines = 0
        self._load()

    def _load(self) -> None:
        if not self.directory.is_dir():
            return
        for segment in sorted(self.directory.glob("*.jsonl")):
            with segment.open("rb") as handle:
                for raw in handle:
                    try:
                        record = json.loads(raw)
                        self._answers[record["key"]] = Answer(record["text"], record["in"], record["out"])
                    except (ValueError, KeyError, TypeError):
                        self.torn_lines += 1

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: str) -> Answer | None:
        return self._answers.get(key)

    def record(self, key: str, answer: Answer) -> None:
        line = json.dumps(
            {"key": key, "text": answer.text, "in": answer.input_tokens, "out": answer.output_tokens},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        with self._lock:
            self._answers[key] = answer
            self._pending.append(line + "\n")
            if (
                len(self._pending) >= self.flush_every
                or time.monotonic() - self._last_flush > self.flush_seconds
            ):
                self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            self._file = (self.directory / name).open("a", encoding="utf-8")
        self._file.write("".join(self._pending))
        self._file.flush()
        self._pending.clear()

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._file is not None:
                self._file.close()
                self._file = None
