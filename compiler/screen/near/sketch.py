"""Text sketches for near-duplicate search: normalised words, shingle hashes and MinHash band keys.

A text is normalised (NFC, lowercase, whitespace collapsed, punctuation stripped at word edges), cut into
word or character n-gram shingles, hashed by `bytehash` (a unigram is its word's hash, a longer
word shingle hashes its words' hashes) and sketched
with affine permutations into one LSH key per band. The kernels read polars' string views in place
(`views`) and run in numba (`parallel=True`, cached in __pycache__): numpy has no vectorised form of
per-word hashing, and its MinHash step alone ran at ~65k rows/s.
"""

from __future__ import annotations

import mmap

import numpy as np
import polars as pl
from numba import njit, prange

from compiler.screen.near.bytehash import K0, K1, K2
from compiler.screen.near.chars import NEEDS_POLARS, PUNCTUATION, WHITESPACE, unicode_tables
from compiler.screen.near.views import StringViews, decode_utf8, encode_utf8, row_bytes

_BLOCK_ROWS = 256  # rows per parallel task
_K0, _K1, _K2 = np.uint64(K0), np.uint64(K1), np.uint64(K2)
_ALL_BITS = np.uint64((1 << 64) - 1)


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
    tables = unicode_tables()
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
    shape = (tables, word_mode, ngram, a, b, mix, band_rows)
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


# --- kernels: sketching -----------------------------------------------------------------------------------


@njit
def _load64(buf, p):
    """Eight bytes from buf[p] as a little-endian word (LLVM folds the byte loads into one)."""
    return (
        np.uint64(buf[p])
        | (np.uint64(buf[p + 1]) << np.uint64(8))
        | (np.uint64(buf[p + 2]) << np.uint64(16))
        | (np.uint64(buf[p + 3]) << np.uint64(24))
        | (np.uint64(buf[p + 4]) << np.uint64(32))
        | (np.uint64(buf[p + 5]) << np.uint64(40))
        | (np.uint64(buf[p + 6]) << np.uint64(48))
        | (np.uint64(buf[p + 7]) << np.uint64(56))
    )


@njit
def hash_span(buf, start, end):
    """The 32-bit hash of buf[start:end] (uint8), equal to `bytehash.hash_bytes`; reads up to 7 bytes past end
    (its buffers keep eight bytes of slack)."""
    n = end - start
    h = np.uint64(n) * _K0
    p = start
    while end - p > 8:
        h = (h ^ _load64(buf, p)) * _K1
        h ^= h >> np.uint64(31)
        p += 8
    left = end - p  # 0..8 bytes, read as one word with the bytes past `end` masked off
    mask = (_ALL_BITS >> np.uint64(64 - 8 * left)) if left > 0 else np.uint64(0)
    h = (h ^ (_load64(buf, p) & mask)) * _K2
    h ^= h >> np.uint64(29)
    h *= _K1
    return np.uint32((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF))


@njit
def _normalise_row(src, check_polars, tables, norm, word_start, word_end):
    """Write the row's normalised words into norm, one space apart; return (bytes, words).

    Returns (-1, 0) when check_polars is set and the row holds a character only polars normalises; a letter
    followed by one combining mark NFC composes with it is composed here instead.
    """
    lower, flags, compose_keys, composed = tables
    q = 0
    words = 0
    in_word = False
    keep = 0  # norm length up to the current word's last non-punctuation character
    last_cp, last_q = -1, 0  # the word's last character as read, and where its lowercase was written
    p = 0
    while p < src.shape[0]:
        if src[p] < 0x80:
            cp, width = np.int32(src[p]), 1
        else:
            cp, width = decode_utf8(src, p)
        # Lowercasing never changes whether a character is whitespace or punctuation: look both up at once.
        flag = flags[cp]
        if check_polars and flag & NEEDS_POLARS:
            folded = _compose_pair(src, p + width, last_cp, cp, flags, compose_keys, composed)
            if folded < 0:
                return -1, 0
            q = encode_utf8(folded, norm, last_q)  # the base's lowercase becomes the composed one's
            keep = q
            last_cp = -1
            p += width
            continue
        original = cp
        cp = lower[cp]
        p += width
        if flag & WHITESPACE:
            last_cp = -1
            if in_word:
                word_end[words] = keep
                words += 1
                q = keep
                in_word = False
            continue
        if not in_word:
            if flag & PUNCTUATION:
                last_cp = -1
                continue  # leading punctuation
            if words > 0:
                norm[q] = 32
                q += 1
            word_start[words] = q
            in_word = True
        last_q = q
        if cp < 0x80:
            norm[q] = cp
            q += 1
        else:
            q = encode_utf8(cp, norm, q)
        if flag & PUNCTUATION:
            last_cp = -1
        else:
            keep = q
            last_cp = original
    if in_word:
        word_end[words] = keep
        words += 1
        q = keep
    return q, words


@njit
def _compose_pair(src, after, base, mark, flags, compose_keys, composed):
    """The lowercase of what NFC makes of base + mark, or -1: no base, no composition, or the character after
    the mark (at src[after]) is one NFC could compose or reorder further."""
    if base < 0:
        return -1
    if after < src.shape[0]:
        following, _ = decode_utf8(src, after)
        if flags[following] & NEEDS_POLARS:
            return -1
    key = (np.int64(base) << np.int64(21)) | np.int64(mark)
    at = np.searchsorted(compose_keys, key)
    if at >= compose_keys.shape[0] or compose_keys[at] != key:
        return -1
    return composed[at]


@njit
def _shingle_row(src, check_polars, tables, word_mode, ngram, scratch, out, at):
    """Write the row's shingle hashes to out[at:]; return how many (-1: the row needs polars first)."""
    norm, word_start, word_end, word_hash = scratch
    n_bytes, words = _normalise_row(src, check_polars, tables, norm, word_start, word_end)
    if n_bytes < 0:
        return -1
    count = 0
    if word_mode and words > 0:
        # A word is hashed once: a unigram is its word's hash, a longer shingle the hash of its words' hashes.
        span = min(ngram, words)
        if span == 1:
            for w in range(words):
                out[at + w] = hash_span(norm, word_start[w], word_end[w])
            return words
        for w in range(words):
            word_hash[w] = hash_span(norm, word_start[w], word_end[w])
        word_hash_bytes = word_hash.view(np.uint8)
        for w in range(words - span + 1):
            out[at + count] = hash_span(word_hash_bytes, 4 * w, 4 * (w + span))
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
            out[at + count] = hash_span(norm, word_start[c], word_start[c + span])
            count += 1
    return count


@njit
def _block_scratch(views, first, last):
    """Buffers for normalising and shingling rows first..last of a string-view column."""
    longest = 1
    for i in range(first, last):
        longest = max(longest, views[i, 0] + 1)
    # eight bytes of slack after the normalised text and the word hashes: `hash_span` reads a word at a time
    return (
        np.empty(4 * longest + 8, dtype=np.uint8),
        np.empty(longest, dtype=np.int64),
        np.empty(longest, dtype=np.int64),
        np.empty(longest + 2, dtype=np.uint32),
    )


@njit
def _minhash(hashes, start, count, a, b, sig):
    """sig[p] = min over hashes[start : start + count] of a[p]*x + b[p] mod 2**16, x a hash's low 16 bits
    (four hashes a pass; 16-bit lanes hold twice the permutations of 32-bit ones per SIMD step)."""
    sig[:] = np.uint16(0xFFFF)
    s, end = start, start + count
    while s + 4 <= end:
        x0, x1 = np.uint16(hashes[s]), np.uint16(hashes[s + 1])
        x2, x3 = np.uint16(hashes[s + 2]), np.uint16(hashes[s + 3])
        for p in range(sig.shape[0]):
            low = min(np.uint16(np.uint16(a[p] * x0) + b[p]), np.uint16(np.uint16(a[p] * x1) + b[p]))
            high = min(np.uint16(np.uint16(a[p] * x2) + b[p]), np.uint16(np.uint16(a[p] * x3) + b[p]))
            sig[p] = min(sig[p], min(low, high))
        s += 4
    while s < end:
        x = np.uint16(hashes[s])
        for p in range(sig.shape[0]):
            sig[p] = min(sig[p], np.uint16(np.uint16(a[p] * x) + b[p]))
        s += 1


@njit(parallel=True, cache=True, nogil=True)
def _sketch_rows(
    views, views_address, buffer_addresses, rows, check_polars, tables, word_mode, ngram,
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
        sig = np.empty(a.shape[0], dtype=np.uint16)
        at = area + room[block]
        for i in range(first, last):
            row = rows[i]
            src = row_bytes(views, views_address, buffer_addresses, i)
            count = _shingle_row(src, check_polars, tables, word_mode, ngram, scratch, shingles, at)
            if count < 0:
                needs_polars[row] = True
                continue
            starts[row], counts[row] = at, count
            _minhash(shingles, at, count, a, b, sig)
            at += count
            for p in range(sig.shape[0]):
                bits[row, p] = np.uint8(sig[p] & np.uint16(0xFF))
            for band in range(bands):
                key = np.uint64(0)
                for r in range(band * band_rows, (band + 1) * band_rows):
                    key += np.uint64(sig[r]) * mix[r]
                key = (key ^ (key >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
                keys[band, row] = np.uint32(key >> np.uint64(32))
