"""Reading what a case's test space says for the offline LM: the product, brand and tools its description and
prompt name, the names it lists ("tables orders, customers, products") and whether its columns can say
"escalate". All pure and cached by the text they read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from compiler.generate.backends.offline import domain_words as domains
from compiler.generate.backends.offline.rules import stance_of

_TOOL_VERBS = frozenset(
    (
        "search",
        "book",
        "cancel",
        "get",
        "create",
        "send",
        "update",
        "delete",
        "list",
        "lookup",
        "find",
        "check",
        "issue",
        "fetch",
        "reschedule",
        "add",
        "remove",
        "set",
        "track",
        "refund",
        "query",
        "read",
        "write",
        "post",
        "schedule",
    )
)
_TOOL_NAME = re.compile(r"\b([a-z]+(?:_[a-z]+)+)\b")
_PRODUCT = re.compile(r"\b(" + "|".join(re.escape(n) for n in domains.PRODUCT_NOUNS) + r")\b", re.IGNORECASE)
_BRAND = re.compile(r"\b(?:of|for|at|from|by)\s+([A-Z][A-Za-z0-9]+)")


@lru_cache(maxsize=64)
def product_named(description: str) -> tuple[str, str]:
    match = _PRODUCT.search(description)
    if match is None:
        return "device", "device"
    named: list[str] = []
    for word in reversed(description[: match.start()].split()[-2:]):
        if not (word[:1].isupper() or any(c.isdigit() for c in word)):
            break
        named.insert(0, word)
    noun = match.group(1).lower()
    return " ".join([*named, noun]), noun


@lru_cache(maxsize=64)
def prompt_names(prompt: str) -> tuple[str, tuple[str, ...]]:
    brand = next(
        (m.group(1) for m in _BRAND.finditer(prompt) if m.group(1) not in ("The", "This", "A", "An")), ""
    )
    tools = [t for t in dict.fromkeys(_TOOL_NAME.findall(prompt)) if t.split("_")[0] in _TOOL_VERBS]
    return brand, tuple(tools)


_LISTED = re.compile(r"\b([a-z]+?)s?\s*[(:]?\s+((?:[a-z_]+,\s*)+(?:(?:and|or)\s+)?[a-z_]+)\b")


@lru_cache(maxsize=64)
def listed_names(text: str) -> dict[str, tuple[str, ...]]:
    """Names the description lists after a noun: "(tables orders, customers, products)" -> table: (...)."""
    out: dict[str, tuple[str, ...]] = {}
    for match in _LISTED.finditer(text.lower()):
        items = [i.strip() for i in match.group(2).replace(" and ", ",").replace(" or ", ",").split(",")]
        out.setdefault(match.group(1), tuple(i for i in items if i))
    return out


def can_escalate(columns: dict[str, Any]) -> bool:
    """Whether the columns can say "escalate": an enum value or a flag of that kind (or no columns at all)."""
    if not columns:
        return True
    for name, spec in columns.items():
        spec = spec if isinstance(spec, dict) else {}
        if any(stance_of(str(v)) == "escalate" for v in spec.get("values") or ()):
            return True
        words = f"{name} {spec.get('description', '')}".lower()
        if spec.get("type") == "bool" and any(w in words for w in ("human", "escalat", "route", "hand")):
            return True
    return False
