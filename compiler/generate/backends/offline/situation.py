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

# a value that means nothing without its dimension's name: a number, a yes/no, a flag
_BARE = re.compile(r"[+-]?\d+(?:[.,]\d+)?\s*%?|yes|no|true|false|on|off|none|n/?a", re.IGNORECASE)
_YES = frozenset({"yes", "true", "on"})
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
# a name's leading verb, said as it is (yes) and negated (no): `has_tests: no` -> "it has no tests"
_VERBS = {
    "has": ("it has {r}", "it has no {r}"),
    "have": ("it has {r}", "it has no {r}"),
    "is": ("it is {r}", "it is not {r}"),
    "can": ("it can {r}", "it cannot {r}"),
    "needs": ("it needs {r}", "it does not need {r}"),
    "requires": ("it requires {r}", "it does not require {r}"),
    "uses": ("it uses {r}", "it does not use {r}"),
    "allows": ("it allows {r}", "it does not allow {r}"),
    "with": ("it comes with {r}", "it comes without {r}"),
}
# a name's leading bound on a count: `max_files: 5` -> "there are at most 5 files"
_BOUNDS = {"max": "at most ", "min": "at least ", "num": "", "n": ""}
# words a dimension's name starts with that are not its noun (`has_tests`, `max_files`, `is_logged_in`)
_NOT_NOUNS = frozenset({*_VERBS, *_BOUNDS, "are", "could", "without", "allow"})
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
    if not negative and is_bare(value):  # `max_files: 5` says "there are at most 5 files", not "a 5 max"
        phrase = setting_phrase(dim, value)
        return rng.choice(bank.SITUATIONS["setting"]).format(p=phrase, P=phrase[:1].upper() + phrase[1:])
    kind = "negative" if negative else dimension_kind(dim, description)
    noun = head_noun(dim)
    if kind in ("nature", "other", "negative") and noun:
        # `fare_type: non_refundable` reads as "a non refundable fare", not "a non refundable thing"
        kind = "negative_noun" if negative else "noun"
        value = value if noun in value.lower() else f"{value} {noun}"
    template = rng.choice(bank.SITUATIONS[kind])
    return template.format(a=article(value), v=value, V=value[:1].upper() + value[1:])


def is_bare(value: str) -> bool:
    """Whether a value says nothing without its dimension's name (`5`, `yes`, `off`, `20%`)."""
    return _BARE.fullmatch(value.strip()) is not None


def setting_phrase(dim: str, value: str) -> str:
    """A clause that carries a bare value with its dimension's name: `has_tests: no` -> "it has no tests",
    `max_files: 1` -> "there is at most 1 file", `budget: 100` -> "the budget is 100"."""
    head, _, rest = dim.lower().partition("_")
    rest = rest.replace("_", " ")
    value = value.strip()
    if head in _VERBS and rest and not _NUMBER.fullmatch(value):
        said, negated = _VERBS[head]
        return (said if value.lower() in _YES else negated).format(r=rest)
    words = dim.lower().replace("_", " ")
    if head in _BOUNDS and rest and _NUMBER.fullmatch(value):
        if not _plural(rest):  # `max_price: 100` -> "the price is at most 100"
            return f"the {rest} is {_BOUNDS[head]}{value}"
        return _count(f"{_BOUNDS[head]}{value}", value, rest)
    counted = _counted_noun(dim.lower()) if _NUMBER.fullmatch(value) else ""
    if counted in _GROUPS:  # `party_size: 3` -> "it is for a party of 3"
        return f"it is for {article(counted)} {counted} of {value}"
    if counted:  # `guest_count: 2`, `num_guests: 2`, `number_of_guests: 2` -> "there are 2 guests"
        return _count(value, value, _pluralise(counted))
    if _plural(words) and _NUMBER.fullmatch(value):  # `retries: 3` -> "there are 3 retries"
        return _count(value, value, words)
    return f"the {words} is {value}"


# nouns whose size is a head count: `party_size: 3` is a party of three, `file_size: 3` is not a group
_GROUPS = frozenset({"party", "group", "team", "family", "household", "class", "crew", "delegation"})


def _counted_noun(dim: str) -> str:
    """The noun a count-like name counts (`guest_count`, `num_guests`, `number_of_guests` -> guest; `party_size`
    -> party), or ""."""
    words = dim.replace("-", "_").split("_")
    if len(words) == 2 and (words[1] == "count" or (words[1] == "size" and words[0] in _GROUPS)):
        return words[0]
    if len(words) >= 2 and words[0] in ("num", "n"):
        noun = " ".join(words[1:])
    elif len(words) >= 3 and words[:2] == ["number", "of"]:
        noun = " ".join(words[2:])
    else:
        return ""
    return noun[:-3] + "y" if noun.endswith("ies") else noun[:-1] if _plural(noun) else noun


def _pluralise(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _plural(noun: str) -> bool:
    return noun.endswith("s") and not noun.endswith("ss")


def _count(amount: str, value: str, noun: str) -> str:
    if value.lstrip("+") == "1":
        return f"there is {amount} {noun[:-3] + 'y' if noun.endswith('ies') else noun[:-1]}"
    return f"there are {amount} {noun}"


def head_noun(dim: str) -> str:
    """The noun a dimension's name qualifies (`fare_type` -> `fare`), or "" when the name is a kind word."""
    words = dim.lower().split("_")
    kinds = {w for _, ws in bank.SITUATION_WORDS for w in ws}
    nouns = [w for w in words if w not in kinds and w not in _NOT_NOUNS and len(w) >= 3]
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
