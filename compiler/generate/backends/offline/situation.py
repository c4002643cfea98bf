"""Dimension values turned into situations the user describes, never pasted as labels.

`seniority: manager` becomes "I'm writing as a manager.", `country: Portugal` "I'm based in Portugal.",
`sensitivity: personal` "It's a personal matter.", `~legal_dispute` "There's a legal dispute behind this.".
The kind of a dimension comes from the words of its name and description (data/phrases.yaml, `situations`).
"""

from __future__ import annotations

import random
import re
from functools import lru_cache

from compiler.generate.backends.offline import text_words as bank

_ONE_OF = re.compile(r"\bone of\s*:?\s*(.+)", re.IGNORECASE)
# "e.g. Starter or Pro", "(for example: Starter, Pro)", "such as Starter or Pro": examples, not a closed list
_EXAMPLES = re.compile(r"(?:\be\.\s?g\.|\bfor example\b|\bsuch as\b)\s*[:,]?\s*(.+)", re.IGNORECASE)


@lru_cache(maxsize=512)
def dimension_kind(dim: str, description: str = "") -> str:
    """who | where | thing | nature | other: what a value of this dimension says about the case."""
    text = f" {dim.replace('_', ' ')} {description} ".lower()
    for kind, words in bank.SITUATION_WORDS:
        if any(re.search(r"\b" + re.escape(w), text) for w in words):
            return kind
    return "other"


def article(value: str) -> str:
    """The indefinite article before `value`."""
    return "an" if value[:1].lower() in "aeiou" else "a"


def situation_line(dim: str, value: str, negative: bool, rng: random.Random, description: str = "") -> str:
    """One sentence a user would write that carries this dimension value."""
    kind = "negative" if negative else dimension_kind(dim, description)
    noun = head_noun(dim)
    if kind in ("nature", "other", "negative") and noun:
        # `fare_type: non_refundable` reads as "a non refundable fare", not "a non refundable thing"
        kind = "negative_noun" if negative else "noun"
        value = value if noun in value.lower() else f"{value} {noun}"
    template = rng.choice(bank.SITUATIONS[kind])
    return template.format(a=article(value), v=value, V=value[:1].upper() + value[1:])


def head_noun(dim: str) -> str:
    """The noun a dimension's name qualifies (`fare_type` -> `fare`), or "" when the name is a kind word."""
    words = dim.lower().split("_")
    kinds = {w for _, ws in bank.SITUATION_WORDS for w in ws}
    nouns = [w for w in words if w not in kinds and len(w) >= 3]
    return nouns[0] if len(words) > 1 and nouns else ""


MAX_EXAMPLE_WORDS = 3


def enumerated_values(description: str) -> tuple[str, ...]:
    """The values a description enumerates ("One of: infant, child, adult." -> the three), or its examples
    when it gives two or more ("The plan, e.g. Starter or Pro." -> both), or ()."""
    match = _ONE_OF.search(description)
    if match is not None:
        return _listed(match.group(1).split(".")[0], r",|\bor\b|/|;")
    match = _EXAMPLES.search(description)
    if match is None:
        return ()
    # examples end at a full stop or a closing parenthesis, and are often listed "A, B and C"
    examples = _listed(re.split(r"[.)]", match.group(1))[0], r",|\bor\b|\band\b|/|;")
    # values are names ("Starter", "Deutsch", "refund request"); longer items describe what a text is
    # about ("A diff, e.g. a change to a Python function or a React component"): not values to copy
    if any(len(item.split()) > MAX_EXAMPLE_WORDS for item in examples):
        return ()
    return examples if len(examples) >= 2 else ()


def _listed(body: str, separators: str) -> tuple[str, ...]:
    items = [i.strip(" '\"`") for i in re.split(separators, body)]
    return tuple(i for i in items if i and len(i) <= 40)
