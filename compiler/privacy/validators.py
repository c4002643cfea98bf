"""Checks that tell a private value from a look-alike: Luhn for cards, mod-97 for IBANs, IPv6 parsing, entropy.

The card and IBAN finders live here too: they walk digit runs and account numbers with these checks.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterator

Span = tuple[int, int]  # [start, end) of a value in a text


def digits_of(text: str) -> str:
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


_IBAN_HEAD = re.compile(r"\b[A-Za-z]{2}\d{2}[ \-]?(?:[A-Za-z0-9]{4}[ \-]?){0,2}$")


def after_iban_head(text: str, start: int) -> bool:
    """Whether digits at `start` continue an account number (`GB52 NVDX 5735...`), not a card or phone."""
    return _IBAN_HEAD.search(text, max(0, start - 16), start) is not None


_CARD_RUN = re.compile(r"(?<![\w.,\-])\d(?:[ .\-]?\d){12,26}(?![\d]|[.,]\d)")


def find_cards(text: str) -> Iterator[Span]:
    """Card numbers, also at the start of a longer separated run ("4111 1111 1111 1111 2024")."""
    for match in _CARD_RUN.finditer(text):
        run, start = match.group(), match.start()
        if after_iban_head(text, start):
            continue  # the digits of an IBAN that failed its checksum, not a card
        groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
        if len(groups) == 1:
            if _is_card(run):
                yield match.span()
            continue
        for j in range(len(groups) - 1, 0, -1):  # the run's start is fixed: only trailing groups may go
            if _is_card(digits_of(run[: groups[j][1]])):
                yield start, start + groups[j][1]
                break


IBAN_LENGTHS = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}")


def iban_valid(compact: str) -> bool:
    """Country length and the ISO 13616 mod-97 checksum."""
    compact = compact.upper()
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def find_ibans(text: str) -> Iterator[Span]:
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match.group(1).upper())
        if length is None:
            continue
        i, compact = match.start(), list[str]()
        while i < len(text) and len(compact) < length:
            if text[i].isalnum() and text[i].isascii():
                compact.append(text[i])
            elif not (text[i] in " -" and compact and i + 1 < len(text) and text[i + 1].isalnum()):
                break
            i += 1
        if (
            len(compact) == length
            and not (i < len(text) and text[i].isalnum())
            and iban_valid("".join(compact))
        ):
            yield match.start(), i


def has_long_run(key: str) -> bool:
    """Real keys carry a long random run; `sk-2024-refund-request-for-order` does not."""
    return key.startswith("-----BEGIN") or re.search(r"[A-Za-z0-9]{16}", key) is not None


def ipv6_valid(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return sum(1 for part in text.split(":") if part) >= 2


def secret_valid(value: str) -> bool:
    has_digit_or_symbol = any(not ch.isalpha() for ch in value)
    mixed_case = any(ch.isupper() for ch in value) and any(ch.islower() for ch in value)
    return has_digit_or_symbol or (len(value) >= 8 and mixed_case)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def token_valid(token: str) -> bool:
    classes = (
        any(ch.islower() for ch in token)
        + any(ch.isupper() for ch in token)
        + any(ch.isdigit() for ch in token)
    )
    return classes == 3 and _entropy(token) >= 3.5
