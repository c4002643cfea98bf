"""A loopback OpenAI-compatible server that plays both sides of an export's evaluation, with no key.

- The model under test (any model name not starting with `grader`): it finds which case it is asked by the
  case's input (a needle), and answers that case's right or wrong answer, as `mode` says.
- The grader (`grader-promptfoo`, `grader-inspect`, `grader-deepeval`, `grader-openai`): it passes an answer
  only when the grading request shows it both the case's input and that case's right answer, and replies in
  the shape each tool parses. A rubric that hides the input from the grader therefore fails.

    with GraderServer({needle: (right, wrong)}) as server:
        server.base_url  # "http://127.0.0.1:PORT/v1"
        server.mode = "wrong"
        server.graded  # [(needle or None, passed, model)]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


class GraderServer:
    def __init__(self, answers: Mapping[str, tuple[str, str]]) -> None:
        self.answers = dict(answers)
        self.mode = "right"
        self.graded: list[tuple[str | None, bool, str]] = []
        self.asked: list[str | None] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def needle_in(self, text: str) -> str | None:
        return next((needle for needle in self.answers if needle in text), None)

    def reply(self, payload: Mapping[str, Any]) -> str:
        model = str(payload.get("model", ""))
        text = "\n".join(_content(m) for m in payload.get("messages") or ())
        needle = self.needle_in(text)
        if not model.startswith("grader"):
            with self.lock:
                self.asked.append(needle)
            if needle is None:
                return "I do not know this case."
            right, wrong = self.answers[needle]
            return right if self.mode == "right" else wrong
        passed = needle is not None and self.answers[needle][0] in text
        with self.lock:
            self.graded.append((needle, passed, model))
        return self.verdict(model, text, passed)

    @staticmethod
    def verdict(model: str, text: str, passed: bool) -> str:
        reason = "the answer does what the case expects" if passed else "the answer misses the case"
        if model == "grader-promptfoo":
            return json.dumps({"reason": reason, "pass": passed, "score": 1.0 if passed else 0.0})
        if model == "grader-inspect":
            return f"{reason}.\nGRADE: {'C' if passed else 'I'}"
        if model == "grader-openai":
            return f"{reason}.\n{'Y' if passed else 'N'}"
        if "steps" in text.lower() and '"steps"' in text:  # DeepEval's GEval asks for its steps first
            return json.dumps({"steps": ["Read the input.", "Compare the answer with the criteria."]})
        return json.dumps({"score": 10 if passed else 0, "reason": reason})

    def __enter__(self) -> GraderServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body)
                text = owner.reply(payload)
                reply = {
                    "id": "chatcmpl-loopback",
                    "object": "chat.completion",
                    "created": 0,
                    "model": payload.get("model"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": len(body) // 4, "completion_tokens": 20, "total_tokens": 0},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="grader-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
