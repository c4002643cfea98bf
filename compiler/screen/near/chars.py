"""Per-code-point tables the near-duplicate kernels normalise with: lowercase, whitespace, punctuation.

`unicode_tables` gives each code point its one-code-point lowercase and flags (whitespace, punctuation,
needs polars: characters NFC could change or whose lowercase depends on context, which go through polars'
own normalisation first). `mark_blank_rows` is the kernel that finds whitespace-only strings with them.
"""

from __future__ import annotations

import functools
import io
import os
import string
import sys
import unicodedata
from pathlib import Path

import numpy as np
import xxhash
from numba import njit, prange

from compiler.core.atomic import write_atomic
from compiler.screen.near.views import decode_utf8, row_bytes

WHITESPACE, PUNCTUATION, NEEDS_POLARS = 1, 2, 4  # flags per code point


Tables = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@functools.cache
def unicode_tables() -> Tables:
    """Per code point: its one-code-point lowercase, and whitespace / punctuation / needs-polars flags; then
    the canonical pairs NFC composes (`compose_keys`, base << 21 | mark, sorted) with the lowercase of what
    each composes to (`composed`, -1 when that character itself needs polars).

    Building them walks 200k code points through unicodedata (~0.5 s), so a process reads them from a file
    kept beside numba's kernel cache, named by this module's bytes and the Unicode and Python versions."""
    for path in _table_files():
        tables = _read_tables(path)
        if tables is not None:
            return tables
    tables = _build_tables()
    buffer = io.BytesIO()
    np.savez(buffer, lower=tables[0], flags=tables[1], compose_keys=tables[2], composed=tables[3])
    for path in _table_files():
        try:
            write_atomic(path, buffer.getvalue())
            break
        except OSError:
            continue  # a read-only install: try the user's cache folder, else rebuild next time
    return tables


def _table_files() -> list[Path]:
    """Where the tables may be kept: this package's __pycache__, then the user's cache folder."""
    key = xxhash.xxh3_64_hexdigest(Path(__file__).read_bytes())
    name = (
        f"unicode-tables-{unicodedata.unidata_version}-py{sys.version_info[0]}{sys.version_info[1]}-{key}.npz"
    )
    user = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dsc"
    return [Path(__file__).resolve().parent / "__pycache__" / name, user / name]


def _read_tables(path: Path) -> Tables | None:
    """The kept tables, or None when missing or not what this module builds (a damaged or foreign file)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            lower, flags = data["lower"], data["flags"]
            compose_keys, composed = data["compose_keys"], data["composed"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    if (
        lower.shape != (0x110000,)
        or lower.dtype != np.int32
        or flags.shape != (0x110000,)
        or flags.dtype != np.uint8
        or compose_keys.dtype != np.int64
        or composed.dtype != np.int32
        or compose_keys.shape != composed.shape
    ):
        return None
    return lower, flags, compose_keys, composed


def _build_tables() -> Tables:
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
    return (lower, flags, *_compositions(code_points, lower, flags))


def _compositions(
    code_points: list[int], lower: np.ndarray, flags: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The base + mark pairs NFC turns into one character, keyed base << 21 | mark, with that character's
    lowercase (-1 when it needs polars, whitespace or punctuation: the kernel leaves those rows to polars)."""
    pairs: dict[int, int] = {}
    for cp in code_points:
        decomposition = unicodedata.decomposition(chr(cp)).split()
        if len(decomposition) != 2 or decomposition[0].startswith("<"):
            continue
        base, mark = (int(part, 16) for part in decomposition)
        if unicodedata.normalize("NFC", chr(base) + chr(mark)) != chr(cp):
            continue  # a composition exclusion: NFC keeps the pair apart
        pairs[base << 21 | mark] = -1 if flags[cp] else int(lower[cp])
    keys = np.array(sorted(pairs), dtype=np.int64)
    return keys, np.array([pairs[key] for key in keys.tolist()], dtype=np.int32)


@functools.cache
def punctuation_chars() -> str:
    """Return every code point the tables flag as punctuation, as one string."""
    flags = unicode_tables()[1]
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
