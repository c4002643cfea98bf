"""The privacy gate: find private values in text and redact them (typed, numbered placeholders) or reject.

Detectors: e-mail addresses, phone numbers, payment cards (Luhn-valid), IBANs (mod-97 valid), US SSNs,
IPv4/IPv6 addresses, API keys (known prefixes), secrets (`password: ...` and high-entropy tokens) and the
user's own patterns. A raw value never leaves this module: not in a log, a count key or an exception.
Placeholders are numbered per row: the same address twice is `<EMAIL_1>` twice, another is `<EMAIL_2>`.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

MODES = ("redact", "reject")
Span = tuple[int, int]


@dataclass(frozen=True)
class Detector:
    name: str  # the key in counts, e.g. "email"
    label: str  # the placeholder's type, e.g. "EMAIL" -> <EMAIL_1>
    find: Callable[[str], Iterator[Span]]
    normalize: Callable[[str], str]  # equal normal forms share a placeholder number
    prefilter: str  # a Rust regex (polars) matching every text this detector could flag


def _regex_finder(pattern: str, *, group: int = 0, check: Callable[[str], bool] | None = None,
                  flags: int = 0) -> Callable[[str], Iterator[Span]]:
    compiled = re.compile(pattern, flags)

    def find(text: str) -> Iterator[Span]:
        for match in compiled.finditer(text):
            if match.group(group) and (check is None or check(match.group(group))):
                yield match.span(group)

    return find


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdecimal())


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of payment card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and len(set(digits)) > 1 and luhn_valid(digits)


_IBAN_HEAD = re.compile(r"[A-Za-z]{2}\d{2} $")
_CARD_RUN = re.compile(r"(?<![\w.,\-])\d(?:[ \-]?\d){12,26}(?![\d])")


def _find_cards(text: str) -> Iterator[Span]:
    """Card numbers, also at the start of a longer separated run ("4111 1111 1111 1111 2024")."""
    for match in _CARD_RUN.finditer(text):
        run, start = match.group(), match.start()
        if _IBAN_HEAD.search(text, max(0, start - 5), start):
            continue  # the digits of an IBAN that failed its checksum, not a card
        groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
        if len(groups) == 1:
            if _is_card(run):
                yield match.span()
            continue
        for j in range(len(groups) - 1, 0, -1):  # the run's start is fixed: only trailing groups may go
            if _is_card(_digits(run[:groups[j][1]])):
                yield start, start + groups[j][1]
                break


IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}")


def iban_valid(compact: str) -> bool:
    """Country length and the ISO 13616 mod-97 checksum."""
    compact = compact.upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _find_ibans(text: str) -> Iterator[Span]:
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match.group(1).upper())
        if length is None:
            continue
        i, compact = match.start(), list[str]()
        while i < len(text) and len(compact) < length:
            if text[i].isalnum() and text[i].isascii():
                compact.append(text[i])
            elif not (text[i] == " " and compact and i + 1 < len(text) and text[i + 1].isalnum()):
                break
            i += 1
        if len(compact) == length and not (i < len(text) and text[i].isalnum()) and iban_valid("".join(compact)):
            yield match.start(), i


_SSN = r"(?<![\d\-])(?!000|666|9\d\d)\d{3}([\- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d\-])"
_SSN_CONTEXT = (r"(?i)\b(?:ssn|social security(?: number| no\.?)?|ss#)\W{0,5}(?:is\s+)?"
                r"((?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})\b")
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
_API_PREFIXES = (r"sk-|sk_|rk_|pk_|whsec_|AKIA|ASIA|AGPA|AIDA|AROA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-"
                 r"|AIza|hf_|npm_|SG\.|eyJ|PRIVATE KEY")
_SECRET_WORDS = r"password|passwd|passcode|pwd|pin|secret|api[_ \-]?key|access[_ \-]?token|token"
_SECRET_CONTEXT = rf"(?i)\b(?:{_SECRET_WORDS})\b\s*(?:is|was|:|=)\s*[\"']?([^\s\"']{{4,}})"
_TOKEN = r"(?<![\w\-+/=])[A-Za-z0-9_\-+/=]{32,}(?![\w\-+/=])"
_VERSION_WORDS = ("version", "firmware", "build", "release", "ver", "v")


def _has_long_run(key: str) -> bool:
    """Real keys carry a long random run; `sk-2024-refund-request-for-order` does not."""
    return key.startswith("-----BEGIN") or re.search(r"[A-Za-z0-9]{16}", key) is not None


def _ipv6_valid(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return sum(1 for part in text.split(":") if part) >= 2


def _secret_valid(value: str) -> bool:
    has_digit_or_symbol = any(not ch.isalpha() for ch in value)
    mixed_case = any(ch.isupper() for ch in value) and any(ch.islower() for ch in value)
    return has_digit_or_symbol or (len(value) >= 8 and mixed_case)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _token_valid(token: str) -> bool:
    classes = (any(ch.islower() for ch in token) + any(ch.isupper() for ch in token)
               + any(ch.isdigit() for ch in token))
    return classes == 3 and _entropy(token) >= 3.5


def _find_ipv4(text: str) -> Iterator[Span]:
    """IPv4 addresses, not version numbers ("firmware 2.1.0.3")."""
    for start, end in _regex_finder(_IPV4)(text):
        before = re.findall(r"[A-Za-z]+", text[max(0, start - 12):start])
        if not (before and before[-1].lower() in _VERSION_WORDS):
            yield start, end


def _chain(*finders: Callable[[str], Iterator[Span]]) -> Callable[[str], Iterator[Span]]:
    def find(text: str) -> Iterator[Span]:
        for finder in finders:
            yield from finder(text)

    return find


def _when(applies: Callable[[str], bool], finder: Callable[[str], Iterator[Span]]) -> Callable[[str], Iterator[Span]]:
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


_API_NEEDLES = ("sk-", "sk_", "rk_", "pk_", "whsec_", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ghp_", "gho_",
                "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "AIza", "hf_", "npm_", "SG.", "eyJ",
                "PRIVATE KEY")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=]{32}")


def _same(text: str) -> str:
    return text


def _ipv6_normal(text: str) -> str:
    return ipaddress.IPv6Address(text).compressed


BUILTIN_DETECTORS: tuple[Detector, ...] = (
    Detector("api_key", "API_KEY", _when(lambda t: any(n in t for n in _API_NEEDLES),
                                         _regex_finder(_API_KEYS, check=_has_long_run)), _same, _API_PREFIXES),
    Detector("email", "EMAIL", _when(lambda t: "@" in t, _regex_finder(
        r"(?<![\w.%+\-])[\w][\w.%+\-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w\-])")),
        str.lower, r"[\w.%+\-]@[A-Za-z0-9\-]+\."),
    Detector("iban", "IBAN", _when(_digits_at_least(6), _find_ibans), lambda s: s.replace(" ", "").upper(),
             r"[A-Za-z]{2}\d{2} ?[A-Za-z0-9]{4}"),
    Detector("card", "CARD", _when(_digits_at_least(13), _find_cards), _digits, r"\d(?:[ \-]?\d){12}"),
    Detector("ssn", "SSN", _chain(_when(_digits_at_least(9), _regex_finder(_SSN)),
                                  _when(_mentions("ssn", "social security", "ss#"),
                                        _regex_finder(_SSN_CONTEXT, group=1))),
             _digits, r"\d{3}[\- ]\d{2}[\- ]\d{4}|(?i)\b(?:ssn|social security|ss#)"),
    Detector("ipv6", "IPV6", _when(lambda t: t.count(":") >= 2, _regex_finder(_IPV6, check=_ipv6_valid)),
             _ipv6_normal, r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}"),
    Detector("ipv4", "IPV4", _when(lambda t: t.count(".") >= 3 and _digit_count(t) >= 4, _find_ipv4), _same,
             r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"),
    Detector("phone", "PHONE", _chain(
        _when(lambda t: "+" in t and _digit_count(t) >= 8,
              _regex_finder(_PHONE_INTL, check=lambda s: 8 <= len(_digits(s)) <= 15)),
        _when(_digits_at_least(10), _regex_finder(_PHONE_US)),
        _when(lambda t: _digit_count(t) >= 10 and _mentions(
            "phone", "tel", "mobile", "cell", "whatsapp", "sms", "call me", "text me", "reach me")(t),
              _regex_finder(_PHONE_CONTEXT, group=1, check=lambda s: 10 <= len(_digits(s)) <= 15))),
        _digits, rf"\+\d|\d{{3}}[ .\-]\d{{3}}[ .\-]\d{{4}}|\(\d{{3}}\)|(?i)\b(?:{_PHONE_WORDS})\b"),
    Detector("secret", "SECRET", _chain(
        _when(_mentions("pass", "pwd", "pin", "secret", "key", "token"),
              _regex_finder(_SECRET_CONTEXT, group=1, check=_secret_valid)),
        _when(lambda t: len(t) >= 32 and _TOKEN_RUN.search(t) is not None, _regex_finder(_TOKEN, check=_token_valid))),
        _same, rf"(?i)\b(?:{_SECRET_WORDS})\b|[A-Za-z0-9_\-+/=]{{32}}"),
)
BUILTIN_NAMES = frozenset(d.name for d in BUILTIN_DETECTORS)


def _user_detector(name: str, pattern: str) -> Detector:
    try:
        pl.Series([""]).str.contains(pattern)
        prefilter = pattern
    except pl.exceptions.PolarsError:
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


class _Redactor:
    """One row's placeholder numbering: the same value twice gets the same number."""

    def __init__(self, detectors: tuple[Detector, ...]) -> None:
        self.detectors = detectors
        self.numbers: dict[tuple[str, str], int] = {}
        self.next: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        taken: list[tuple[int, int, Detector]] = []
        for detector in self.detectors:  # priority order: an earlier detector keeps an overlapping span
            for start, end in detector.find(text):
                if all(end <= s or start >= e for s, e, _ in taken):
                    taken.append((start, end, detector))
        if not taken:
            return text
        taken.sort(key=lambda item: item[0])
        parts, last = [], 0
        for start, end, detector in taken:
            key = (detector.label, detector.normalize(text[start:end]))
            if key not in self.numbers:
                self.next[detector.label] += 1
                self.numbers[key] = self.next[detector.label]
            self.counts[detector.name] += 1
            parts += [text[last:start], f"<{detector.label}_{self.numbers[key]}>"]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
            text = str(value)  # a card or phone number stored as a JSON number
            redacted = self.redact(text)
            return value if redacted == text else redacted
        return value


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"privacy mode must be one of {MODES}, got {mode!r}")


@dataclass(frozen=True)
class ScrubResult:
    """Redacted text (always, also when rejected: a caller that forgets the flag still leaks nothing)."""

    text: str
    counts: dict[str, int]  # detector -> values found
    rejected: bool  # reject mode and something was found

    @property
    def reason(self) -> str | None:
        return f"private data: {', '.join(sorted(self.counts))}" if self.rejected else None


@dataclass(frozen=True)
class RowScrub:
    fields: dict[str, Any]
    counts: dict[str, int]
    rejected: bool

    @property
    def reason(self) -> str | None:
        return f"private data: {', '.join(sorted(self.counts))}" if self.rejected else None


def scrub_text(text: str, mode: str = "redact", patterns: Mapping[str, str] | None = None) -> ScrubResult:
    """One text through the gate."""
    _check_mode(mode)
    redactor = _Redactor(compile_patterns(patterns))
    out = redactor.redact(text)
    counts = dict(sorted(redactor.counts.items()))
    return ScrubResult(out, counts, mode == "reject" and bool(counts))


def scrub_row(fields: Mapping[str, Any], mode: str = "redact", patterns: Mapping[str, str] | None = None) -> RowScrub:
    """Every string of a row (nested lists and dicts too) with one placeholder numbering for the row."""
    _check_mode(mode)
    redactor = _Redactor(compile_patterns(patterns))
    out = {key: redactor.redact_value(value) for key, value in fields.items()}
    counts = dict(sorted(redactor.counts.items()))
    return RowScrub(out, counts, mode == "reject" and bool(counts))


def prefilter_pattern(patterns: Mapping[str, str] | None = None) -> str:
    """One Rust regex that matches every text some detector could flag (a superset)."""
    return "|".join(f"(?:{d.prefilter})" for d in compile_patterns(patterns))


def scrub_frame(df: pl.DataFrame, columns: list[str] | tuple[str, ...], mode: str = "redact",
                patterns: Mapping[str, str] | None = None) -> tuple[pl.DataFrame, dict[str, int]]:
    """Scrub string columns of a frame; reject mode drops the flagged rows.

    A vectorised prefilter (one regex per column in polars) picks the candidate rows; only those go
    through the Python validators (Luhn, mod-97, ...), one numbering per row across the columns.
    """
    _check_mode(mode)
    if df.height == 0 or not columns:
        return df, {}
    prefilter = prefilter_pattern(patterns)
    mask = df.select(pl.any_horizontal(pl.col(c).str.contains(prefilter).fill_null(False) for c in columns))
    candidates = mask.to_series().arg_true()
    counts: Counter[str] = Counter()
    rejected: list[int] = []
    replaced: dict[str, list[str | None]] = {c: [] for c in columns}
    for index, values in zip(candidates.to_list(), df.select(columns)[candidates].iter_rows(), strict=True):
        result = scrub_row(dict(zip(columns, values, strict=True)), mode, patterns)
        counts.update(result.counts)
        if result.rejected:
            rejected.append(index)
        for column in columns:
            replaced[column].append(result.fields[column])
    if candidates.len():
        df = df.with_columns(df[c].clone().scatter(candidates, pl.Series(replaced[c], dtype=pl.String)) for c in columns)
    if rejected:
        keep = pl.Series(range(df.height)).is_in(rejected).not_()
        df = df.filter(keep)
    return df, dict(sorted(counts.items()))
