"""Per-code-point tables the near-duplicate kernels normalise with: lowercase, whitespace, punctuation.

`unicode_tables` gives each code point its one-code-point lowercase and flags (whitespace, punctuation,
needs polars: characters NFC could change or whose lowercase depends on context, which go through polars'
own normalisation first). `mark_blank_rows` is the kernel that finds whitespace-only strings with them.
"""

from __future__ import annotations

import functools
import string
import unicodedata

import numpy as np
from numba import njit, prange

from compiler.screen.near.views import decode_utf8, row_bytes

WHITESPACE, PUNCTUATION, NEEDS_POLARS = 1, 2, 4  # flags per code point


@functools.cache
def unicode_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per code point: its one-code-point lowercase, and whitespace / punctuation / needs-polars flags."""
    lower = np.arange(0x110000, dtype=np.int32)
    flags = np.zeros(0x110000, dtype=np.uint8)
    # Planes 3 and up hold no cased, spacing, punctuation or composing characters outside these blocks.
    code_points = [cp for cp in [*range(0x30000), *range(0xE0000, 0xE0200)] if not 0xD800 <= cp < 0xE000]
    composes = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul vowel and trailing jamo
    for cp in code_points:
        decomposition = unicodedata.decomposition(chr(cp)).split()
        if len(decomposition) == 2 and not decomposition[0].startswith("<"):
            composes.add(int(decomposition[1], 16))
    ascii_punctuation = set(string.punctuation)
    for cp in code_points:
        char = chr(cp)
        lowered = char.lower()
        if char.isspace():
            flags[cp] |= WHITESPACE
        if unicodedata.category(char)[0] == "P" or char in ascii_punctuation:
            flags[cp] |= PUNCTUATION
        # Characters that NFC could change, or whose lowercase is not one context-free code point.
        unstable = unicodedata.combining(char) or cp in composes or unicodedata.normalize("NFC", char) != char
        if unstable or len(lowered) != 1 or char == "Σ":
            flags[cp] |= NEEDS_POLARS
        if len(lowered) == 1:
            lower[cp] = ord(lowered)
    return lower, flags


@functools.cache
def punctuation_chars() -> str:
    """Return every code point the tables flag as punctuation, as one string."""
    _, flags = unicode_tables()
    return "".join(chr(cp) for cp in np.flatnonzero(flags & PUNCTUATION))


@njit(parallel=True, cache=True, nogil=True)
def mark_blank_rows(views, views_address, buffer_addresses, flags, blank):
    """Set blank[i] for strings made of whitespace only (nulls are set by the caller)."""
    for i in prange(views.shape[0]):
        if blank[i]:
            continue
        src = row_bytes(views, views_address, buffer_addresses, i)
        p = 0
        while p < src.shape[0]:
            cp, width = decode_utf8(src, p)
            if not flags[cp] & WHITESPACE:
                break
            p += width
        blank[i] = p >= src.shape[0]
