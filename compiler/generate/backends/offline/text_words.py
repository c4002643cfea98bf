"""Phrase material of the offline LM (data/phrases.yaml: how a request is worded: asks, tactics, personas,
locales) and small pure text transforms. What it is about (topics, manual facts, names) is in
`domain_words` (data/domains.yaml).

Templates use `str.format_map` fields filled from a case's facts (see `scene.Scene.facts`):
{item} {defect} {order_id} {days} {window} {amount} {date} {iso} {weekday} {time} {carrier} {product}
{brand} {city} {city2} {flight} {booking_ref} {pax} {name} {email} {topic} {topic_word} {subject} {section}.
"""

from __future__ import annotations

import random
import re
from typing import Any

from compiler.generate.backends.offline.data import load_words

_W: dict[str, Any] = load_words("phrases.yaml")

GENERIC_ASKS: tuple[str, ...] = _W["generic_asks"]
GENERIC_DETAILS: tuple[str, ...] = _W["generic_details"]
COMPLICATIONS: tuple[str, ...] = _W["complications"]
CONFLICTS: tuple[str, ...] = _W["conflicts"]
UNSUPPORTED_ASKS: dict[str, tuple[str, ...]] = _W["unsupported_asks"]
URGENT_LINES: tuple[str, ...] = _W["urgent_lines"]
TACTIC_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(_W["tactic_words"].items())
INJECTIONS: tuple[str, ...] = _W["injections"]
INJECTION_PAYLOADS: dict[str, tuple[str, ...]] = _W["injection_payloads"]
FORMAT_DEMANDS: tuple[str, ...] = _W["format_demands"]
ROLE_CLAIMS: tuple[str, ...] = _W["role_claims"]
DISTRACTIONS: tuple[str, ...] = _W["distractions"]
BOUNDARY_LINES: dict[str, tuple[str, ...]] = _W["boundary_lines"]
POLICY_PROBES: tuple[str, ...] = _W["policy_probes"]
OFF_TOPIC: tuple[str, ...] = _W["off_topic"]
AMBIGUOUS: tuple[str, ...] = _W["ambiguous"]
NEAR_EMPTY: tuple[str, ...] = _W["near_empty"]
OVERLONG_FILLER: tuple[str, ...] = _W["overlong_filler"]
RULE_PROBES: dict[str, tuple[str, ...]] = _W["rule_probes"]
TACTIC_HANDLING: dict[str, tuple[str, ...]] = _W["tactic_handling"]
TACTIC_KEYS: dict[str, tuple[str, ...]] = _W["tactic_keys"]
FORBIDDEN: tuple[str, ...] = _W["forbidden"]
STYLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(_W["style_words"].items())
GREETINGS: dict[str, tuple[str, ...]] = _W["greetings"]
CLOSINGS: dict[str, tuple[str, ...]] = _W["closings"]
GOAL_VERBS = frozenset(_W["goal_verbs"])
NOVICE_LINES: tuple[str, ...] = _W["novice_lines"]
EXPERT_LINES: dict[str, tuple[str, ...]] = _W["expert_lines"]
ANGRY_LINES: tuple[str, ...] = _W["angry_lines"]
PROBING_LINES: tuple[str, ...] = _W["probing_lines"]
SCREEN_READER_LINES: tuple[str, ...] = _W["screen_reader_lines"]
LOCAL_LINES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = _W["local_lines"]
LANGUAGE_NAMES: dict[str, str] = _W["language_names"]
LANGUAGE_ENDONYMS: dict[str, tuple[str, ...]] = _W["language_endonyms"]
SITUATION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(_W["situation_words"].items())
SITUATIONS: dict[str, tuple[str, ...]] = _W["situations"]
LEADING_LINES: tuple[str, ...] = _W["leading_lines"]
COUNTRIES: tuple[str, ...] = _W["countries"]
RULE_LINES: tuple[str, ...] = _W["rule_lines"]
GENERIC_ACTIONS: tuple[str, ...] = _W["generic_actions"]
REQUEST_VERBS = frozenset(_W["request_verbs"])
GENERIC_VERB_ASKS: tuple[str, ...] = tuple(_W["generic_verb_asks"])
SITUATION_CLAUSES: dict[str, tuple[str, ...]] = _W["situation_clauses"]
_BRITISH: dict[str, str] = _W["british"]
_BRITISH_RE = re.compile(r"\b(" + "|".join(sorted(_BRITISH, key=len, reverse=True)) + r")\b")
_SYNONYMS: dict[str, str] = _W["synonyms"]
_WORD_RE = re.compile(r"[A-Za-z']+")
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


def humanise(value: str) -> str:
    """`~shipping_status` -> `shipping status`."""
    return value.lstrip("~").replace("_", " ").strip()


def britishise(text: str) -> str:
    """Rewrite a few American spellings and words in British English."""
    return _BRITISH_RE.sub(lambda m: _BRITISH[m.group(1)], text)


def add_typos(text: str, rng: random.Random, rate: float = 0.35) -> str:
    """Heavy typing noise: swapped, dropped, doubled and neighbouring letters (at least two), lost punctuation."""
    words = text.split(" ")
    eligible = [
        i
        for i, w in enumerate(words)
        if len(w.rstrip(".,?!")) >= 4 and w.rstrip(".,?!").isalpha() and w.isascii()
    ]
    for i in rng.sample(eligible, min(len(eligible), max(2, round(rate * len(eligible))))):
        word, j = words[i], rng.randrange(1, len(words[i].rstrip(".,?!")) - 2)
        kind = rng.randrange(4)
        if kind == 0:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        elif kind == 1:
            word = word[:j] + word[j + 1 :]
        elif kind == 2:
            word = word[:j] + word[j] + word[j:]
        else:
            word = word[:j] + rng.choice(_KEYBOARD) + word[j + 1 :]
        words[i] = word
    noisy = " ".join(words)
    if rng.random() < 0.6:
        noisy = noisy.replace(",", "").replace("'", "").lower()
    return noisy


def break_grammar(text: str, rng: random.Random) -> str:
    """English as a second language: dropped articles and a few simplified verb forms."""
    text = re.sub(r"\b(the|a|an) ", lambda m: "" if rng.random() < 0.6 else m.group(0), text)
    return text.replace("I'd like", "I want").replace("doesn't", "not").replace("haven't", "not")


def perturb_words(text: str, rng: random.Random) -> str:
    """Change 1-3 words of `text` (synonyms, else a small insertion): a near duplicate of it."""
    matches = [m for m in _WORD_RE.finditer(text) if m.group(0).lower() in _SYNONYMS]
    wanted = rng.randint(1, 3)
    if not matches:
        return (text + " " + rng.choice(("Thanks.", "Please.", "Cheers."))).strip()
    picks = sorted(rng.sample(matches, min(wanted, len(matches))), key=lambda m: m.start())
    out, last = [], 0
    for m in picks:
        word = m.group(0)
        new = _SYNONYMS[word.lower()]
        if word[0].isupper():
            new = new[0].upper() + new[1:]
        out.append(text[last : m.start()])
        out.append(new)
        last = m.end()
    out.append(text[last:])
    return "".join(out)
