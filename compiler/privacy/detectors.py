"""The detectors of the privacy gate: where private values are in a text.

Built-ins: e-mail addresses, phone numbers, payment cards (Luhn-valid), IBANs (mod-97 valid), US SSNs,
IPv4/IPv6 addresses, API keys (known prefixes), secrets (`password: ...` and high-entropy tokens); the
user's own patterns come first. Each detector also has a Rust regex prefilter for polars.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from compiler.core import lazy
from compiler.privacy.formats import EMAIL, email_normal, find_national_phones, find_obfuscated_emails
from compiler.privacy.validators import (
    Span,
    digits_of,
    find_cards,
    find_ibans,
    has_long_run,
    ipv6_valid,
    secret_valid,
    token_valid,
)


@dataclass(frozen=True)
class Detector:
    name: str  # the key in counts, e.g. "email"
    label: str  # the placeholder's type, e.g. "EMAIL" -> <EMAIL_1>
    find: Callable[[str], Iterator[Span]]
    normalize: Callable[[str], str]  # equal normal forms share a placeholder number
    prefilter: str  # a Rust regex (polars) matching every text this detector could flag


def _regex_finder(
    pattern: str, *, group: int = 0, check: Callable[[str], bool] | None = None, flags: int = 0
) -> Callable[[str], Iterator[Span]]:
    compiled = re.compile(pattern, flags)

    def find(text: str) -> Iterator[Span]:
        for match in compiled.finditer(text):
            if match.group(group) and (check is None or check(match.group(group))):
                yield match.span(group)

    return find


_SSN = r"(?<![\d\-])(?!000|666|9\d\d)\d{3}([\- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d\-])"
_SSN_CONTEXT = (
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?|ss#)\W{0,5}(?:is\s+)?"
    r"((?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})\b"
)
_PHONE_INTL = r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){1,6}(?!\d)"
_PHONE_US = r"(?<![\w\-])(?:\(\d{3}\)[ .\-]?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-])"
_PHONE_WORDS = r"phone|telephone|tel|mobile|cell|whatsapp|sms|call me(?: at| on)?|text me(?: at| on)?|reach me(?: at| on)?"
_PHONE_CONTEXT = rf"(?i)\b(?:{_PHONE_WORDS})\b\D{{0,15}}?(?<![\d\-])(\d[\d .\-()]{{8,18}}\d)(?![\d\-])"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\w|\.\d)"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
_API_KEYS = (
    r"(?<![A-Za-z0-9])(?:sk-ant-[A-Za-z0-9_\-]{20,}|sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{20,}|(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_\-]{20,}"
    r"|xox[abposr]-[A-Za-z0-9\-]{10,}|AIza[0-9A-Za-z_\-]{35}|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}"
    r"|SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}|eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----)"
)
_API_PREFIXES = (
    r"sk-|sk_|rk_|pk_|whsec_|AKIA|ASIA|AGPA|AIDA|AROA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-"
    r"|AIza|hf_|npm_|SG\.|eyJ|PRIVATE KEY"
)
_SECRET_WORDS = r"password|passwd|passcode|pwd|pin|secret|api[_ \-]?key|access[_ \-]?token|token"
_SECRET_CONTEXT = rf"(?i)\b(?:{_SECRET_WORDS})\b\s*(?:is|was|:|=)\s*[\"']?([^\s\"']{{4,}})"
_TOKEN = r"(?<![\w\-+/=])[A-Za-z0-9_\-+/=]{32,}(?![\w\-+/=])"
_VERSION_WORDS = ("version", "firmware", "build", "release", "ver", "v")


def _find_ipv4(text: str) -> Iterator[Span]:
    """IPv4 addresses, not version numbers ("firmware 2.1.0.3")."""
    for start, end in _regex_finder(_IPV4)(text):
        before = re.findall(r"[A-Za-z]+", text[max(0, start - 12) : start])
        if not (before and before[-1].lower() in _VERSION_WORDS):
            yield start, end


def _chain(*finders: Callable[[str], Iterator[Span]]) -> Callable[[str], Iterator[Span]]:
    def find(text: str) -> Iterator[Span]:
        for finder in finders:
            yield from finder(text)

    return find


def _when(
    applies: Callable[[str], bool], finder: Callable[[str], Iterator[Span]]
) -> Callable[[str], Iterator[Span]]:
    """Skip a detector's regexes on texts that cannot hold its values (Python regexes are the cost here)."""

    def find(text: str) -> Iterator[Span]:
        if applies(text):
            yield from finder(text)

    return find


@functools.lru_cache(maxsize=8)
def _digit_count(text: str) -> int:
    return sum(map(text.count, "0123456789"))


@functools.lru_cache(maxsize=8)
def _lower(text: str) -> str:
    return text.lower()


def _mentions(*words: str) -> Callable[[str], bool]:
    return lambda text: any(word in _lower(text) for word in words)


def _digits_at_least(n: int) -> Callable[[str], bool]:
    return lambda text: _digit_count(text) >= n


_API_NEEDLES = (
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "whsec_",
    "AKIA",
    "ASIA",
    "AGPA",
    "AIDA",
    "AROA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xox",
    "AIza",
    "hf_",
    "npm_",
    "SG.",
    "eyJ",
    "PRIVATE KEY",
)
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=]{32}")


def _same(text: str) -> str:
    return text


def _ipv6_normal(text: str) -> str:
    return ipaddress.IPv6Address(text).compressed


BUILTIN_DETECTORS: tuple[Detector, ...] = (
    Detector(
        "api_key",
        "API_KEY",
        _when(lambda t: any(n in t for n in _API_NEEDLES), _regex_finder(_API_KEYS, check=has_long_run)),
        _same,
        _API_PREFIXES,
    ),
    Detector(
        "email",
        "EMAIL",
        _chain(
            _when(lambda t: "@" in t, _regex_finder(EMAIL)),
            _when(_mentions("at"), find_obfuscated_emails),
        ),
        email_normal,
        r"[\w.%+\-]@[\w\-]+\.|(?i)[\(\[\{<]\s*at\s*[\)\]\}>]|(?i)\sat\s+\w+\s+dot\s",
    ),
    Detector(
        "iban",
        "IBAN",
        _when(_digits_at_least(6), find_ibans),
        lambda s: s.replace(" ", "").replace("-", "").upper(),
        r"[A-Za-z]{2}\d{2}[ \-]?[A-Za-z0-9]{4}",
    ),
    Detector("card", "CARD", _when(_digits_at_least(13), find_cards), digits_of, r"\d(?:[ .\-]?\d){12}"),
    Detector(
        "ssn",
        "SSN",
        _chain(
            _when(_digits_at_least(9), _regex_finder(_SSN)),
            _when(_mentions("ssn", "social security", "ss#"), _regex_finder(_SSN_CONTEXT, group=1)),
        ),
        digits_of,
        r"\d{3}[\- ]\d{2}[\- ]\d{4}|(?i)\b(?:ssn|social security|ss#)",
    ),
    Detector(
        "ipv6",
        "IPV6",
        _when(lambda t: t.count(":") >= 2, _regex_finder(_IPV6, check=ipv6_valid)),
        _ipv6_normal,
        r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}",
    ),
    Detector(
        "ipv4",
        "IPV4",
        _when(lambda t: t.count(".") >= 3 and _digit_count(t) >= 4, _find_ipv4),
        _same,
        r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    ),
    Detector(
        "phone",
        "PHONE",
        _chain(
            _when(
                lambda t: "+" in t and _digit_count(t) >= 8,
                _regex_finder(_PHONE_INTL, check=lambda s: 8 <= len(digits_of(s)) <= 15),
            ),
            _when(_digits_at_least(10), _regex_finder(_PHONE_US)),
            _when(_digits_at_least(10), find_national_phones),
            _when(
                lambda t: (
                    _digit_count(t) >= 10
                    and _mentions(
                        "phone", "tel", "mobile", "cell", "whatsapp", "sms", "call me", "text me", "reach me"
                    )(t)
                ),
                _regex_finder(_PHONE_CONTEXT, group=1, check=lambda s: 10 <= len(digits_of(s)) <= 15),
            ),
        ),
        digits_of,
        rf"\+\d|\d{{3}}[ .\-]\d{{3}}[ .\-]\d{{4}}|\(\d{{3}}\)|(?i)\b(?:{_PHONE_WORDS})\b"
        r"|0\d\d(?:[ .\-]?\d){7}|\d{10}",
    ),
    Detector(
        "secret",
        "SECRET",
        _chain(
            _when(
                _mentions("pass", "pwd", "pin", "secret", "key", "token"),
                _regex_finder(_SECRET_CONTEXT, group=1, check=secret_valid),
            ),
            _when(
                lambda t: len(t) >= 32 and _TOKEN_RUN.search(t) is not None,
                _regex_finder(_TOKEN, check=token_valid),
            ),
        ),
        _same,
        rf"(?i)\b(?:{_SECRET_WORDS})\b|[A-Za-z0-9_\-+/=]{{32}}",
    ),
)
BUILTIN_NAMES = frozenset(d.name for d in BUILTIN_DETECTORS)


def _user_detector(name: str, pattern: str) -> Detector:
    # multi-line mode makes the Rust prefilter a superset of Python's reading: Python's `$` also matches
    # before a final newline ("B-1234\n" for ^B-\d{4}$), which Rust's `$` alone does not
    prefilter = f"(?m){pattern}"
    try:
        lazy.polars.Series([""]).str.contains(prefilter)
    except lazy.polars.exceptions.PolarsError:
        prefilter = r"(?s)."  # Python-only syntax (look-arounds): every non-empty text is a candidate
    return Detector(name, name.upper(), _regex_finder(pattern), _same, prefilter)


@functools.lru_cache(maxsize=64)
def _detectors(patterns: tuple[tuple[str, str], ...]) -> tuple[Detector, ...]:
    """The user's patterns first (the most specific), then the built-ins in priority order."""
    return tuple(_user_detector(n, p) for n, p in patterns) + BUILTIN_DETECTORS


def compile_patterns(patterns: Mapping[str, str] | None) -> tuple[Detector, ...]:
    return _detectors(tuple(sorted((patterns or {}).items())))


def check_pattern(name: str, pattern: Any) -> str | None:
    """Why a user pattern is unusable (without echoing it back), or None."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        return "names a detector with lowercase letters, digits and _ (it becomes the placeholder <NAME_1>)"
    if name in BUILTIN_NAMES:
        return f"clashes with the built-in detector `{name}`; pick another name"
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty regular expression string"
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"is not a valid regular expression ({exc.msg} at position {exc.pos}); fix the pattern"
    if compiled.search("") is not None:
        return "matches the empty string and would flag every text; make it match something"
    return None
