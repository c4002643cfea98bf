"""The providers' JSON: a dspy.lm15 Request as Chat Completions or Anthropic Messages, and their answers read back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from compiler.core.fastjson import compact_json
from compiler.generate.backends.faults import MALFORMED, Fault


def text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def chat_response_format(canonical: dict[str, Any]) -> dict[str, Any]:
    """lm15's canonical response_format ({type, schema, name, strict}) as Chat Completions takes it."""
    if canonical.get("type") != "json_schema":
        return {"type": canonical.get("type", "json_object")}
    inner = {"name": canonical.get("name") or "response", "schema": canonical["schema"]}
    if "strict" in canonical:
        inner["strict"] = canonical["strict"]
    return {"type": "json_schema", "json_schema": inner}


@dataclass(frozen=True)
class Reply:
    text: str
    input_tokens: int
    output_tokens: int
    finish: str


def encode_body(request: Any, kind: str, wire_model: str) -> bytes:
    """The provider's JSON body (Chat Completions, or Anthropic Messages for kind "anthropic") for a dspy.lm15 Request."""
    anthropic = kind == "anthropic"
    config = request.config
    system = text_of(request.system)
    messages = [{"role": m.role, "content": m.text or ""} for m in request.messages]
    body: dict[str, Any] = {"model": wire_model}
    if anthropic:
        if system:
            body["system"] = system
        body["messages"] = messages
        body["max_tokens"] = config.max_tokens or 1024  # required by the Messages API
        if config.stop:
            body["stop_sequences"] = list(config.stop)
    else:
        body["messages"] = [{"role": "system", "content": system}, *messages] if system else messages
        if config.max_tokens is not None:
            body["max_completion_tokens" if kind == "openai" else "max_tokens"] = config.max_tokens
        if config.stop:
            body["stop"] = list(config.stop)
        if config.seed is not None:
            body["seed"] = config.seed
    if config.response_format is not None and not anthropic:
        body["response_format"] = chat_response_format(config.response_format)
    if config.temperature is not None:
        body["temperature"] = config.temperature
    if config.top_p is not None:
        body["top_p"] = config.top_p
    return compact_json(body)


def read_reply(raw: bytes, anthropic: bool, identity: str) -> Reply:
    """The text, token counts and finish reason of a provider's answer; a Fault (malformed) if unreadable."""
    try:
        payload = json.loads(raw)
        if anthropic:
            texts = [block["text"] for block in payload["content"] if block.get("type") == "text"]
            if not texts:
                raise KeyError("content")
            usage = payload.get("usage") or {}
            return Reply(
                "".join(texts),
                int(usage.get("input_tokens") or 0),
                int(usage.get("output_tokens") or 0),
                "length" if payload.get("stop_reason") == "max_tokens" else "stop",
            )
        choice = payload["choices"][0]
        text = choice["message"]["content"]
        if not isinstance(text, str):
            raise TypeError("content")
        usage = payload.get("usage") or {}
        return Reply(
            text,
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            "length" if choice.get("finish_reason") == "length" else "stop",
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
        raise Fault(MALFORMED, f"unreadable answer from {identity} ({type(exc).__name__})") from exc
