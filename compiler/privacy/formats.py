"""How people actually write private values: national phone formats, Unicode spaces and digits, IDN and
obfuscated e-mail addresses. `fold` maps look-alike characters to ASCII one for one (so a span found in the
folded text is the same span in the original); the finders here then see one canonical spelling."""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.privacy.validators import Span, after_iban_head, digits_of

# one character for one: Unicode spaces -> " ", dashes -> "-", full-width ASCII (digits, @, .) -> ASCII
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"
_FOLD = str.maketrans(
    {
        **{ch: " " for ch in _SPACES},
        **{ch: "-" for ch in _DASHES},
        **{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},  # full-width forms
        "\u3002": ".",  # ideographic full stop
    }
)
FOLDED_CHARS = "".join(sorted(set(_SPACES + _DASHES + "\u3002")))
# a Rust regex for polars prefilters: a text with any character fold changes is a candidate
FOLD_PREFILTER = "[" + "".join(f"\\x{{{ord(ch):x}}}" for ch in FOLDED_CHARS) + "\\x{ff01}-\\x{ff5e}]"


def fold(text: str) -> str:
    """The text with look-alike characters made ASCII, same length, same positions."""
    return text.translate(_FOLD) if not text.isascii() else text


EMAIL = (
    r"(?<![\w.%+\-])[\w][\w.%+\-]{0,63}@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+"
    r"(?:[^\W\d_]{2,24}|xn--[a-z0-9\-]{2,59})(?![\w\-])"
)
_AT = r"\s*(?:\(\s*at\s*\)|\[\s*at\s*\]|\{\s*at\s*\}|<\s*at\s*>)\s*"
_DOT = r"\s*(?:\(\s*dot\s*\)|\[\s*dot\s*\]|\{\s*dot\s*\}|<\s*dot\s*>)\s*"
_LABEL = r"[^\W_][\w\-]{0,62}"
_OBFUSCATED = re.compile(
    rf"(?i)(?<![\w.%+\-])[\w][\w.%+\-]{{0,63}}(?:{_AT}(?:{_LABEL}(?:{_DOT}|\.))+|\s+at\s+(?:{_LABEL}(?:{_DOT}|\s+dot\s+))+)"
    rf"[^\W\d_]{{2,24}}(?![\w\-])"
)


def find_obfuscated_emails(text: str) -> Iterator[Span]:
    """`john(at)example(dot)com`, `john [at] example.com`, `john at example dot com`."""
    for match in _OBFUSCATED.finditer(text):
        yield match.span()


def email_normal(text: str) -> str:
    """One spelling per address, so `j(at)x(dot)com` and `j@x.com` share a placeholder."""
    lowered = text.lower()
    lowered = re.sub(r"\s*[\(\[\{<]\s*at\s*[\)\]\}>]\s*|\s+at\s+", "@", lowered)
    return re.sub(r"\s*[\(\[\{<]\s*dot\s*[\)\]\}>]\s*|\s+dot\s+", ".", lowered)


# UK: 01/02/03 landlines, 07 mobiles, 08 non-geographic; 10 or 11 digits with optional separators
_PHONE_UK = re.compile(r"(?<![\w\-+.,/#])(?<!\d[ .\-])0[1-37-9]\d(?:[ .\-]?\d){7,8}(?![\w\-]|[.,]\d)")
# US/NANP without separators: area code and exchange start 2-9, neither is N11
_PHONE_US_BARE = re.compile(r"(?<![\w\-+.,/#])[2-9]\d\d[2-9]\d{6}(?![\w\-]|[.,]\d)")
# words after which a bare run of digits is an identifier, not a phone number; the weak ones only with
# "number", "no." or "#" ("my account: 020 ..." is a phone number, "account number 0201..." is not)
_STRONG = (
    r"order|invoice|tracking|track|ref|reference|sku|serial|ticket|case|confirmation|booking|po|isbn|"
    r"transaction|txn|parcel|shipment|batch|lot|version|build|firmware|release|imei|iccid|barcode"
)
_WEAK = r"account|acct|customer|member|policy|claim|item|id|code|reservation|voucher|receipt"
_ID_WORDS = re.compile(
    rf"(?i)\b(?:(?:{_STRONG})\s*(?:number|no\.?|nr\.?|id|#|code)?|(?:{_WEAK})\s*(?:number|no\.?|nr\.?|id|#))"
    r"\s*(?:is|was|:|#|=)?\s*[:#]?\s*$"
)


def _not_an_identifier(text: str, start: int) -> bool:
    return _ID_WORDS.search(text[max(0, start - 30) : start]) is None and not after_iban_head(text, start)


def find_national_phones(text: str) -> Iterator[Span]:
    """UK numbers (`07700 900123`, `020 7946 0958`) and bare US numbers (`4155550134`), not order numbers."""
    for match in _PHONE_UK.finditer(text):
        if len(digits_of(match.group())) in (10, 11) and _not_an_identifier(text, match.start()):
            yield match.span()
    for match in _PHONE_US_BARE.finditer(text):
        exchange = match.group()[3:6]
        if not (exchange[1:] == "11" or match.group()[1:3] == "11") and _not_an_identifier(
            text, match.start()
        ):
            yield match.span()
