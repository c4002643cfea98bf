"""Where a real LM lives: each kind's default base URL and key variable, the endpoint's identity (part of the
journal's key, never a credential) and the proxy the environment names for it."""

from __future__ import annotations

from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

# kind -> (default api_base, default api_key_env)
KIND_DEFAULTS: dict[str, tuple[str | None, str | None]] = {
    "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
    "anthropic": ("https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"),
    "ollama": ("http://127.0.0.1:11434/v1", None),
    "openai_compatible": (None, None),
}
ANTHROPIC_VERSION = "2023-06-01"
MISSING = "???"  # Hydra's mark for a value the user must give


def endpoint_identity(kind: str, api_base: str) -> str:
    """kind + the normalised base URL (no credentials, query or default port): part of the journal's key."""
    parts = urlsplit(api_base.strip())
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return f"{kind}:{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def proxy_for(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, NO_PROXY, ...) names for this URL, if any."""
    parts = urlsplit(url)
    if proxy_bypass(parts.hostname or ""):
        return None
    return getproxies().get(parts.scheme)
