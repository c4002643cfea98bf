"""Text sketches for near-duplicate search: normalised words, xxh32 shingle hashes and MinHash band keys.

A text is normalised (NFC, lowercase, whitespace collapsed, punctuation stripped at word edges), cut into
word or character n-gram shingles, hashed with xxh32 (a word shingle hashes its words' hashes) and sketched
with affine permutations into one LSH key per band. The kernels read polars' string views in place
(`string_views`) and run in numba (`parallel=True`, cached in __pycache__): numpy has no vectorised form of
per-word hashing, and its MinHash step alone ran at ~65k rows/s.
"""

from __future__ import annotations

import functools
import mmap
import string
import unicodedata

import numpy as np
import polars as pl
from numba import njit, prange

from compiler.screen.near.views import StringViews, decode_utf8, encode_utf8, row_bytes

_BLOCK_ROWS = 256  # rows per parallel task
_WHITESPACE, _PUNCTUATION, _NEEDS_POLARS = 1, 2, 4  # flags per code point


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
            flags[cp] |= _WHITESPACE
        if unicodedata.category(char)[0] == "P" or char in ascii_punctuation:
            flags[cp] |= _PUNCTUATION
        # Characters that NFC could change, or whose lowercase is not one context-free code point.
        unstable = unicodedata.combining(char) or cp in composes or unicodedata.normalize("NFC", char) != char
        if unstable or len(lowered) != 1 or char == "Σ":
            flags[cp] |= _NEEDS_POLARS
        if len(lowered) == 1:
            lower[cp] = ord(lowered)
    return lower, flags


@functools.cache
def punctuation_chars() -> str:
    """Return every code point the tables flag as punctuation, as one string."""
    _, flags = unicode_tables()
    return "".join(chr(cp) for cp in np.flatnonzero(flags & _PUNCTUATION))


def sketch_texts(
    texts: pl.Series,
    word_mode: bool,
    ngram: int,
    a: np.ndarray,
    b: np.ndarray,
    mix: np.ndarray,
    bands: int,
    band_rows: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (keys, bits, shingles, starts, counts): each text's band keys, the low byte of each of its
    MinHash values, and where its shingle hashes sit."""
    m = len(texts)
    lower, flags = unicode_tables()
    keys = np.empty((bands, m), dtype=np.uint32)
    bits = np.zeros((m, len(a)), dtype=np.uint8)
    starts = np.zeros(m, dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    needs_polars = np.zeros(m, dtype=np.bool_)
    main = StringViews.of(texts)
    room = _shingle_room(main.views, word_mode)
    # Room for every row's shingles at an upper bound of their count, then as much again for the rows polars
    # normalises: pages never written cost nothing, so the bound is free.
    shingles = _lazy_array(2 * room[-1], np.uint32)
    shape = (lower, flags, word_mode, ngram, a, b, mix, band_rows)
    outputs = (needs_polars, keys, bits, shingles, starts, counts)
    _sketch_rows(*main.kernel_args, np.arange(m), True, *shape, room, 0, *outputs)
    # Rows with decomposed, combining or context-cased characters get polars' NFC and lowercase first.
    alt_rows = np.flatnonzero(needs_polars)
    alt = StringViews.of(texts.gather(alt_rows).str.normalize("NFC").str.to_lowercase())
    alt_room = _shingle_room(alt.views, word_mode)
    if room[-1] + alt_room[-1] > len(shingles):
        shingles = np.concatenate([shingles[: room[-1]], np.empty(alt_room[-1], dtype=np.uint32)])
        outputs = (needs_polars, keys, bits, shingles, starts, counts)
    _sketch_rows(*alt.kernel_args, alt_rows, False, *shape, alt_room, room[-1], *outputs)
    return keys, bits, shingles, starts, counts


def _lazy_array(n: int, dtype: type[np.generic]) -> np.ndarray:
    """An array whose 4 KiB pages are committed when first written (numpy would ask for 2 MiB huge pages)."""
    return np.frombuffer(mmap.mmap(-1, max(1, n * np.dtype(dtype).itemsize)), dtype=dtype, count=n)


def _shingle_room(views: np.ndarray, word_mode: bool) -> np.ndarray:
    """Where each block of rows starts writing shingles: n bytes hold at most n // 2 + 1 words (n + 1 chars)."""
    lengths = views[:, 0].astype(np.int64)
    bounds = lengths // 2 + 1 if word_mode else lengths + 1
    room = np.zeros((len(bounds) + _BLOCK_ROWS - 1) // _BLOCK_ROWS + 1, dtype=np.int64)
    if len(bounds):
        np.cumsum(np.add.reduceat(bounds, np.arange(0, len(bounds), _BLOCK_ROWS)), out=room[1:])
    return room


# --- kernels: bytes -------------------------------------------------------------------------------------

_U32 = np.uint64(0xFFFFFFFF)
_P1, _P2, _P3, _P4, _P5 = (np.uint64(p) for p in (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1))


@njit
def _rotl32(x, r):
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _U32


@njit
def _read32(buf, p):
    return (
        np.uint64(buf[p])
        | (np.uint64(buf[p + 1]) << np.uint64(8))
        | (np.uint64(buf[p + 2]) << np.uint64(16))
        | (np.uint64(buf[p + 3]) << np.uint64(24))
    )


@njit
def _xxh32(buf, start, end):
    """XXH32 with seed 0 of buf[start:end], as xxhash.xxh32_intdigest computes it."""
    p = start
    if end - start >= 16:
        v1, v2, v3, v4 = (_P1 + _P2) & _U32, _P2, np.uint64(0), (np.uint64(1 << 32) - _P1) & _U32
        while p + 16 <= end:
            v1 = (_rotl32((v1 + _read32(buf, p) * _P2) & _U32, 13) * _P1) & _U32
            v2 = (_rotl32((v2 + _read32(buf, p + 4) * _P2) & _U32, 13) * _P1) & _U32
            v3 = (_rotl32((v3 + _read32(buf, p + 8) * _P2) & _U32, 13) * _P1) & _U32
            v4 = (_rotl32((v4 + _read32(buf, p + 12) * _P2) & _U32, 13) * _P1) & _U32
            p += 16
        h = (_rotl32(v1, 1) + _rotl32(v2, 7) + _rotl32(v3, 12) + _rotl32(v4, 18)) & _U32
    else:
        h = _P5
    h = (h + np.uint64(end - start)) & _U32
    while p + 4 <= end:
        h = (_rotl32((h + _read32(buf, p) * _P3) & _U32, 17) * _P4) & _U32
        p += 4
    while p < end:
        h = (_rotl32((h + np.uint64(buf[p]) * _P5) & _U32, 11) * _P1) & _U32
        p += 1
    h = ((h ^ (h >> np.uint64(15))) * _P2) & _U32
    h = ((h ^ (h >> np.uint64(13))) * _P3) & _U32
    return np.uint32(h ^ (h >> np.uint64(16)))


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
            if not flags[cp] & _WHITESPACE:
                break
            p += width
        blank[i] = p >= src.shape[0]


# --- kernels: sketching -----------------------------------------------------------------------------------


@njit
def _normalise_row(src, check_polars, lower, flags, norm, word_start, word_end):
    """Write the row's normalised words into norm, one space apart; return (bytes, words).

    Returns (-1, 0) when check_polars is set and the row holds a character only polars normalises.
    """
    q = 0
    words = 0
    in_word = False
    keep = 0  # norm length up to the current word's last non-punctuation character
    p = 0
    while p < src.shape[0]:
        if src[p] < 0x80:
            cp, width = np.int32(src[p]), 1
        else:
            cp, width = decode_utf8(src, p)
        # Lowercasing never changes whether a character is whitespace or punctuation: look both up at once.
        flag = flags[cp]
        if check_polars and flag & _NEEDS_POLARS:
            return -1, 0
        cp = lower[cp]
        p += width
        if flag & _WHITESPACE:
            if in_word:
                word_end[words] = keep
                words += 1
                q = keep
                in_word = False
            continue
        if not in_word:
            if flag & _PUNCTUATION:
                continue  # leading punctuation
            if words > 0:
                norm[q] = 32
                q += 1
            word_start[words] = q
            in_word = True
        if cp < 0x80:
            norm[q] = cp
            q += 1
        else:
            q = encode_utf8(cp, norm, q)
        if not flag & _PUNCTUATION:
            keep = q
    if in_word:
        word_end[words] = keep
        words += 1
        q = keep
    return q, words


@njit
def _shingle_row(src, check_polars, lower, flags, word_mode, ngram, scratch, out, at):
    """Write the row's shingle hashes to out[at:]; return how many (-1: the row needs polars first)."""
    norm, word_start, word_end, word_hash = scratch
    n_bytes, words = _normalise_row(src, check_polars, lower, flags, norm, word_start, word_end)
    if n_bytes < 0:
        return -1
    count = 0
    if word_mode and words > 0:
        # A word shingle is the xxh32 of its words' xxh32s: each word's bytes are hashed once.
        for w in range(words):
            word_hash[w] = _xxh32(norm, word_start[w], word_end[w])
        word_hash_bytes = word_hash.view(np.uint8)
        span = min(ngram, words)
        for w in range(words - span + 1):
            out[at + count] = _xxh32(word_hash_bytes, 4 * w, 4 * (w + span))
            count += 1
    elif not word_mode and n_bytes > 0:
        chars = 0  # word_start now holds where each code point starts
        for p in range(n_bytes):
            if norm[p] & 0xC0 != 0x80:
                word_start[chars] = p
                chars += 1
        word_start[chars] = n_bytes
        span = min(ngram, chars)
        for c in range(chars - span + 1):
            out[at + count] = _xxh32(norm, word_start[c], word_start[c + span])
            count += 1
    return count


@njit
def _block_scratch(views, first, last):
    """Buffers for normalising and shingling rows first..last of a string-view column."""
    longest = 1
    for i in range(first, last):
        longest = max(longest, views[i, 0] + 1)
    return (
        np.empty(4 * longest, dtype=np.uint8),
        np.empty(longest, dtype=np.int64),
        np.empty(longest, dtype=np.int64),
        np.empty(longest, dtype=np.uint32),
    )


@njit
def _minhash(hashes, start, count, a, b, sig):
    """sig[p] = min over hashes[start : start + count] of a[p]*x + b[p] mod 2**32 (four hashes a pass)."""
    sig[:] = np.uint32(0xFFFFFFFF)
    s, end = start, start + count
    while s + 4 <= end:
        x0, x1, x2, x3 = hashes[s], hashes[s + 1], hashes[s + 2], hashes[s + 3]
        for p in range(sig.shape[0]):
            low = min(np.uint32(np.uint32(a[p] * x0) + b[p]), np.uint32(np.uint32(a[p] * x1) + b[p]))
            high = min(np.uint32(np.uint32(a[p] * x2) + b[p]), np.uint32(np.uint32(a[p] * x3) + b[p]))
            sig[p] = min(sig[p], min(low, high))
        s += 4
    while s < end:
        for p in range(sig.shape[0]):
            sig[p] = min(sig[p], np.uint32(np.uint32(a[p] * hashes[s]) + b[p]))
        s += 1


@njit(parallel=True, cache=True, nogil=True)
def _sketch_rows(
    views, views_address, buffer_addresses, rows, check_polars, lower, flags, word_mode, ngram,
    a, b, mix, band_rows, room, area, needs_polars, keys, bits, shingles, starts, counts,
):  # fmt: skip
    """Shingle and MinHash each string into LSH band keys (string i is row rows[i] of the outputs).

    Block k writes its rows' shingle hashes from shingles[area + room[k]] on.
    """
    n = views.shape[0]
    bands = keys.shape[0]
    for block in prange((n + _BLOCK_ROWS - 1) // _BLOCK_ROWS):
        first, last = block * _BLOCK_ROWS, min(n, (block + 1) * _BLOCK_ROWS)
        scratch = _block_scratch(views, first, last)
        sig = np.empty(a.shape[0], dtype=np.uint32)
        at = area + room[block]
        for i in range(first, last):
            row = rows[i]
            src = row_bytes(views, views_address, buffer_addresses, i)
            count = _shingle_row(src, check_polars, lower, flags, word_mode, ngram, scratch, shingles, at)
            if count < 0:
                needs_polars[row] = True
                continue
            starts[row], counts[row] = at, count
            _minhash(shingles, at, count, a, b, sig)
            at += count
            for p in range(sig.shape[0]):
                bits[row, p] = np.uint8(sig[p] & np.uint32(0xFF))
            for band in range(bands):
                key = np.uint64(0)
                for r in range(band * band_rows, (band + 1) * band_rows):
                    key += np.uint64(sig[r]) * mix[r]
                key = (key ^ (key >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
                keys[band, row] = np.uint32(key >> np.uint64(32))
