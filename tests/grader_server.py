"""A loopback OpenAI-compatible server that plays both sides of an export's evaluation, with no key.

- The model under test (any model name without `grader-`): it finds which case it is asked by the
  case's input (a needle), and answers that case's right or wrong answer, as `mode` says.
- The grader (a name ending in `grader-promptfoo`, `grader-inspect`, `grader-deepeval`, `grader-openai`): it passes an answer
  only when the grading request shows it both the case's input and that case's right answer, and replies in
  the shape each tool parses. A rubric that hides the input from the grader therefore fails.

    with GraderServer({needle: (right, wrong)}) as server:
        server.base_url  # "http://127.0.0.1:PORT/v1"
        server.mode = "wrong"  # or server.wrong = {needle, ...}: those cases only
        server.graded  # [(needle or None, passed, model)]
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GRADERS = ("promptfoo", "inspect", "deepeval", "openai")
# OpenAI evals treats only names starting with gpt-4- as chat models: it gets gpt-4-model-under-test etc.
MODELS = ("model-under-test", *(f"grader-{tool}" for tool in GRADERS))


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


class GraderServer:
    def __init__(
        self, answers: Mapping[str, tuple[str, str]], labels: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.answers = dict(answers)
        self.labels = {k: list(v) for k, v in (labels or {}).items()}  # needle -> the right class labels
        self.mode = "right"
        self.wrong: set[str] = set()  # needles answered wrong whatever the mode: one run checks both
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
        if "grader-" not in model:
            with self.lock:
                self.asked.append(needle)
            if needle is None:
                return "I do not know this case."
            right, wrong = self.answers[needle]
            return right if self.mode == "right" and needle not in self.wrong else wrong
        passed = needle is not None and self.answers[needle][0] in text
        with self.lock:
            self.graded.append((needle, passed, model))
        return self.verdict(model, text, passed, self.labels.get(needle or "", []))

    @staticmethod
    def verdict(model: str, text: str, passed: bool, labels: Sequence[str]) -> str:
        reason = "the answer does what the case expects" if passed else "the answer misses the case"
        if model.endswith("grader-promptfoo"):
            return json.dumps({"reason": reason, "pass": passed, "score": 1.0 if passed else 0.0})
        if model.endswith("grader-inspect"):
            return f"{reason}.\nGRADE: {'C' if passed else 'I'}"
        if model.endswith("grader-openai"):
            return f"{reason}.\n{'Y' if passed else 'N'}"
        if "You are a classifier" in text:  # DeepEval's Classifier: one label of the offered set
            offered = re.findall(r"[\w-]+", text.split("Labels:", 1)[-1].split("Test Case:", 1)[0])
            right = next((label for label in labels if label in offered), "NONE")
            label = right if passed else next((o for o in offered if o != right), "NONE")
            return json.dumps({"label": label, "reason": reason})
        if "steps" in text.lower() and '"steps"' in text:  # DeepEval's GEval asks for its steps first
            return json.dumps({"steps": ["Read the input.", "Compare the answer with the criteria."]})
        return json.dumps({"score": 10 if passed else 0, "reason": reason})

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, reply: Mapping[str, Any]) -> None:
        data = json.dumps(reply).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def __enter__(self) -> GraderServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                # /v1/models: OpenAI evals only accepts a model name the server lists
                models = [f"{prefix}{name}" for prefix in ("", "gpt-4-") for name in MODELS]
                owner.send(self, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})

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
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": len(body) // 4, "completion_tokens": 20, "total_tokens": 0},
                }
                owner.send(self, reply)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="grader-server", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
