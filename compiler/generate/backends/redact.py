"""What dsc shows of a provider's message: every known secret and anything shaped like a credential hidden."""

from __future__ import annotations

import re
from collections.abc import Sequence

from compiler.core.errors import clip

# credentials a provider may echo back in an error body: bearer tokens, provider-style keys, URL userinfo
_SECRET_SHAPES = re.compile(
    r"(?i)(bearer\s+|x-api-key[\"':=\s]+|api[_-]?key[\"':=\s]+)[^\s\"',;}]+"
    r"|\b(sk|pk|rk|ak)-[A-Za-z0-9_\-]{8,}"
    r"|(?<=://)[^/@\s]+@"
)
MESSAGE_CHARS = 200


def redact_secrets(text: str, secrets: Sequence[str | None] = ()) -> str:
    """The text with every known secret and anything shaped like a credential replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")

    def hide(match: re.Match[str]) -> str:
        prefix = match.group(1) or ""
        return f"{prefix}***" if prefix else ("***@" if match.group(0).endswith("@") else "***")

    return _SECRET_SHAPES.sub(hide, text)


def shown_message(text: str, secrets: Sequence[str | None] = ()) -> str:
    """A provider's message as dsc may print it: redacted first, then on one line and cut to length."""
    return clip(redact_secrets(text, secrets), MESSAGE_CHARS)
