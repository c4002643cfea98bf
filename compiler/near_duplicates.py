"""Exact and near-duplicate clustering of a text column: MinHash + LSH in numba kernels over Arrow buffers.

Rows arrive in priority order, so a cluster always keeps its lowest index. Identical texts are grouped
first; the remaining distinct texts are normalised (NFC, lowercase, whitespace collapsed, punctuation
stripped at word edges), shingled, hashed with xxh32 and sketched with `num_perm` affine permutations.
LSH bands propose candidate pairs and a pair joins a cluster only if the exact Jaccard of its shingle sets
reaches the threshold; clusters are the connected components of those pairs. Pure: no I/O.

The kernels read polars' string views in place and run in numba (`parallel=True`, cached in __pycache__):
numpy has no vectorised form of per-word hashing, and its MinHash step alone ran at ~65k rows/s.
"""

from __future__ import annotations

import functools
import mmap
import string
import struct
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np
import polars as pl
import pyarrow as pa
import xxhash
from numba import njit, prange, types
from numba.extending import intrinsic

ShingleKind = Literal["word", "char"]
DEFAULT_NGRAM: dict[str, int] = {"word": 3, "char": 5}

_BLOCK_ROWS = 256  # rows per parallel task
_MAX_CHECKS = 16  # Jaccard checks per row and band bucket: bounds the work on a huge bucket
_MAX_STEPS = 64  # bucket members walked per row and band
_WHITESPACE, _PUNCTUATION, _NEEDS_POLARS = 1, 2, 4  # flags per code point


@dataclass(frozen=True)
class Duplicates:
    """Cluster assignment of every row: the row it keeps, how it matched and how similar it is."""

    kept_of: np.ndarray  # int64: index of the cluster's kept row; a kept row points at itself
    kind: np.ndarray  # uint8: 0 kept, 1 exact duplicate of the kept row, 2 near duplicate
    similarity: np.ndarray  # float32: Jaccard of the shingle sets with the kept row; 1.0 exact, 0.0 kept
    empty: int  # null or whitespace-only rows: always kept, never merged


def find_blank_rows(texts: pl.Series) -> np.ndarray:
    """Return a bool mask of null or whitespace-only rows."""
    texts = _as_strings(texts)
    return _find_blank_rows(texts, _StringViews.of(texts))


def find_exact_duplicates(texts: pl.Series) -> np.ndarray:
    """Return int64 `kept_of` for identical strings: the lowest index with the same text (blank rows keep)."""
    texts = _as_strings(texts)
    column = _StringViews.of(texts)
    return _find_exact_duplicates(texts, column, _find_blank_rows(texts, column))


def find_near_duplicates(
    texts: pl.Series,
    threshold: float,
    *,
    shingle: ShingleKind = "word",
    ngram: int | None = None,
    num_perm: int = 128,
    seed: int = 1,
) -> Duplicates:
    """Cluster exact and near-duplicate rows; each cluster keeps its lowest index."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle not in DEFAULT_NGRAM:
        raise ValueError(f"shingle must be 'word' or 'char', got {shingle!r}")
    ngram = DEFAULT_NGRAM[shingle] if ngram is None else ngram
    if ngram < 1 or num_perm < 1:
        raise ValueError(f"ngram and num_perm must be positive, got {ngram} and {num_perm}")
    texts = _as_strings(texts)
    n = len(texts)
    rows = np.arange(n, dtype=np.int64)
    column = _StringViews.of(texts)
    blank = _find_blank_rows(texts, column)
    exact_of = _find_exact_duplicates(texts, column, blank)
    reps = np.flatnonzero((exact_of == rows) & ~blank)
    root, rep_similarity = _cluster_near_duplicates(
        texts.gather(reps), threshold, shingle == "word", ngram, num_perm, seed
    )

    rep_pos = np.full(n, -1, dtype=np.int64)
    rep_pos[reps] = np.arange(len(reps))
    pos = rep_pos[exact_of]  # -1 only for blank rows
    kept_of = rows.copy()
    kept_of[pos >= 0] = reps[root[pos[pos >= 0]]]
    merged = kept_of != rows
    kind = np.zeros(n, dtype=np.uint8)
    kind[merged & (exact_of == kept_of)] = 1
    kind[merged & (exact_of != kept_of)] = 2
    similarity = np.zeros(n, dtype=np.float32)
    similarity[kind == 1] = 1.0
    similarity[kind == 2] = rep_similarity[pos[kind == 2]]
    return Duplicates(kept_of=kept_of, kind=kind, similarity=similarity, empty=int(blank.sum()))


@functools.cache
def choose_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """Return (bands, rows per band) minimising the weighted LSH false-positive and false-negative areas."""
    # datasketch's integral with other weights: candidates are verified with the exact Jaccard, so a false
    # positive costs one set comparison while a false negative is a missed duplicate.
    fp_weight, fn_weight = 0.05, 0.95
    grid = np.linspace(0.0, 1.0, 2001)
    below, above = grid <= threshold, grid >= threshold
    best, best_error = (1, num_perm), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            hit = 1.0 - (1.0 - grid**rows) ** bands
            fp = float(np.trapezoid(hit[below], grid[below]))
            fn = float(np.trapezoid(1.0 - hit[above], grid[above]))
            if fp_weight * fp + fn_weight * fn < best_error:
                best, best_error = (bands, rows), fp_weight * fp + fn_weight * fn
    return best


def normalise_words(text: str) -> list[str]:
    """Return the words the kernel shingles: NFC, lowercase, split on whitespace, edge punctuation stripped."""
    punctuation = _punctuation_chars()
    words = (word.strip(punctuation) for word in unicodedata.normalize("NFC", text).lower().split())
    return [word for word in words if word]


def shingle_text(text: str, shingle: ShingleKind = "word", ngram: int | None = None) -> list[str]:
    """Return the shingles of one text: the reference definition (slow) of what the kernel compares."""
    ngram = DEFAULT_NGRAM[shingle] if ngram is None else ngram
    words = normalise_words(text)
    units: list[str] | str = words if shingle == "word" else " ".join(words)
    joiner = " " if shingle == "word" else ""
    if not units:
        return []
    span = min(ngram, len(units))
    return [joiner.join(units[i : i + span]) for i in range(len(units) - span + 1)]


def hash_shingle(shingle: str, kind: ShingleKind = "word") -> int:
    """Return the 32-bit hash the kernel gives one shingle (reference definition, slow)."""
    if kind == "char":
        return xxhash.xxh32_intdigest(shingle.encode())
    # A word shingle hashes its words' hashes, so each word's bytes are hashed once, not ngram times.
    words = [xxhash.xxh32_intdigest(word.encode()) for word in shingle.split(" ")]
    return xxhash.xxh32_intdigest(struct.pack(f"<{len(words)}I", *words))


def make_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the seeded permutations (a odd, b), applied to a shingle hash x as a*x+b mod 2**32."""
    # datasketch 2.0's default "affine32" scheme rather than a*x+b mod a Mersenne prime: an odd `a` makes it a
    # bijection on 32-bit hashes, and it runs in 32-bit SIMD lanes (the prime form measured ~5x slower here).
    rng = np.random.default_rng(seed)
    a = (rng.integers(0, 1 << 31, num_perm, dtype=np.uint64) * 2 + 1).astype(np.uint32)
    b = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


# --- text access ------------------------------------------------------------------------------------------


def _as_strings(texts: pl.Series) -> pl.Series:
    return texts if texts.dtype == pl.String else texts.cast(pl.String)


@dataclass(frozen=True)
class _StringViews:
    """An Arrow string-view column the kernels read in place (polars' own buffers, nothing copied)."""

    array: pa.Array  # keeps the buffers alive while kernels hold their addresses
    views: np.ndarray  # int32 (n, 4): length, prefix, buffer index, offset (longer than 12 bytes)
    views_address: int  # where the views start (a short string sits inline at view + 4)
    buffer_addresses: np.ndarray  # int64: address of each variadic data buffer

    @classmethod
    def of(cls, texts: pl.Series) -> _StringViews:
        array = texts.to_arrow(compat_level=pl.CompatLevel.newest())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.type != pa.string_view():
            array = array.cast(pa.string_view())
        buffers = array.buffers()
        if len(array) == 0:
            return cls(array, np.zeros((0, 4), dtype=np.int32), 0, np.zeros(1, dtype=np.int64))
        views = np.frombuffer(buffers[1], dtype=np.int32)[4 * array.offset :][: 4 * len(array)]
        addresses = [buffer.address for buffer in buffers[2:] if buffer is not None] or [0]
        return cls(
            array, views.reshape(-1, 4), buffers[1].address + 16 * array.offset, np.array(addresses, np.int64)
        )

    @property
    def kernel_args(self) -> tuple[np.ndarray, int, np.ndarray]:
        return self.views, self.views_address, self.buffer_addresses


def _find_blank_rows(texts: pl.Series, column: _StringViews) -> np.ndarray:
    blank = texts.is_null().to_numpy()
    _, flags = _unicode_tables()
    _mark_blank_rows(*column.kernel_args, flags, blank)
    return blank


def _find_exact_duplicates(texts: pl.Series, column: _StringViews, blank: np.ndarray) -> np.ndarray:
    hashes = np.empty(len(blank), dtype=np.uint64)
    _hash_rows(*column.kernel_args, hashes)
    kept_of = _first_with_same_hash(hashes, blank)
    collided = np.zeros(len(blank), dtype=np.bool_)
    _mark_hash_collisions(*column.kernel_args, kept_of, collided)
    if collided.any():  # a 64-bit hash collision: settle the rows sharing those hashes by their bytes
        shared = np.flatnonzero(np.isin(hashes, hashes[collided]) & ~blank)
        first: dict[str, int] = {}
        for i, text in zip(shared.tolist(), texts.gather(shared).to_list(), strict=True):
            kept_of[i] = first.setdefault(text, i)
    return kept_of


def _cluster_near_duplicates(
    texts: pl.Series, threshold: float, word_mode: bool, ngram: int, num_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return each distinct text's cluster root and its Jaccard with that root."""
    m = len(texts)
    bands, band_rows = choose_bands(threshold, num_perm)
    lower, flags = _unicode_tables()
    a, b = make_permutations(num_perm, seed)
    mix = (np.random.default_rng(seed).integers(0, 1 << 63, num_perm, dtype=np.uint64) << np.uint64(1)) | 1
    keys = np.empty((bands, m), dtype=np.uint32)
    starts = np.zeros(m, dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    needs_polars = np.zeros(m, dtype=np.bool_)
    main = _StringViews.of(texts)
    room = _shingle_room(main.views, word_mode)
    # Room for every row's shingles at an upper bound of their count, then as much again for the rows polars
    # normalises: pages never written cost nothing, so the bound is free.
    shingles = _lazy_array(2 * room[-1], np.uint32)
    shape = (lower, flags, word_mode, ngram, a, b, mix, band_rows)
    outputs = (needs_polars, keys, shingles, starts, counts)
    _sketch_rows(*main.kernel_args, np.arange(m), True, *shape, room, 0, *outputs)
    # Rows with decomposed, combining or context-cased characters get polars' NFC and lowercase first.
    alt_rows = np.flatnonzero(needs_polars)
    alt = _StringViews.of(texts.gather(alt_rows).str.normalize("NFC").str.to_lowercase())
    alt_room = _shingle_room(alt.views, word_mode)
    if room[-1] + alt_room[-1] > len(shingles):
        shingles = np.concatenate([shingles[: room[-1]], np.empty(alt_room[-1], dtype=np.uint32)])
        outputs = (needs_polars, keys, shingles, starts, counts)
    _sketch_rows(*alt.kernel_args, alt_rows, False, *shape, alt_room, room[-1], *outputs)

    prev = np.empty((bands, m), dtype=np.int32)
    _link_band_buckets(keys, counts, min(bands, numba.get_num_threads()), prev)
    del keys
    root = _cluster_candidates(prev, shingles, starts, counts, threshold, _MAX_CHECKS, _MAX_STEPS)
    similarity = np.zeros(m, dtype=np.float32)
    _measure_similarity_to_root(root, shingles, starts, counts, similarity)
    return root, similarity


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


@njit
def _table_size(m):
    """A power of two at least twice m: open-addressing tables stay at most half full."""
    size = 16
    while size < 2 * m:
        size *= 2
    return size


@functools.cache
def _unicode_tables() -> tuple[np.ndarray, np.ndarray]:
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
def _punctuation_chars() -> str:
    _, flags = _unicode_tables()
    return "".join(chr(cp) for cp in np.flatnonzero(flags & _PUNCTUATION))


# --- kernels: bytes -------------------------------------------------------------------------------------

_U32 = np.uint64(0xFFFFFFFF)
_P1, _P2, _P3, _P4, _P5 = (np.uint64(p) for p in (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1))


@intrinsic
def _pointer(typingctx, address):
    """Reinterpret an int64 address as a uint8 pointer (into Arrow buffers the caller keeps alive)."""
    signature = types.CPointer(types.uint8)(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint8)))

    return signature, codegen


@njit
def _row_bytes(views, views_address, buffer_addresses, i):
    """Return the bytes of string i of a string-view column, in place."""
    length = views[i, 0]
    if length <= 12:
        return numba.carray(_pointer(views_address + 16 * i + 4), length)
    return numba.carray(_pointer(buffer_addresses[views[i, 2]] + views[i, 3]), length)


@njit
def _decode(src, p):
    """Return the code point starting at src[p] and its width in bytes (Arrow strings are valid UTF-8)."""
    c = np.int32(src[p])
    if c < 0x80:
        return c, 1
    if c < 0xE0:
        return ((c & 0x1F) << 6) | (np.int32(src[p + 1]) & 0x3F), 2
    if c < 0xF0:
        return ((c & 0x0F) << 12) | ((np.int32(src[p + 1]) & 0x3F) << 6) | (np.int32(src[p + 2]) & 0x3F), 3
    c = ((c & 0x07) << 18) | ((np.int32(src[p + 1]) & 0x3F) << 12) | ((np.int32(src[p + 2]) & 0x3F) << 6)
    return c | (np.int32(src[p + 3]) & 0x3F), 4


@njit
def _encode(cp, out, q):
    """Write code point cp as UTF-8 at out[q]; return the next write position."""
    if cp < 0x80:
        out[q] = cp
        return q + 1
    if cp < 0x800:
        out[q] = 0xC0 | (cp >> 6)
        out[q + 1] = 0x80 | (cp & 0x3F)
        return q + 2
    if cp < 0x10000:
        out[q] = 0xE0 | (cp >> 12)
        out[q + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[q + 2] = 0x80 | (cp & 0x3F)
        return q + 3
    out[q] = 0xF0 | (cp >> 18)
    out[q + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[q + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[q + 3] = 0x80 | (cp & 0x3F)
    return q + 4


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
def _mark_blank_rows(views, views_address, buffer_addresses, flags, blank):
    """Set blank[i] for strings made of whitespace only (nulls are set by the caller)."""
    for i in prange(views.shape[0]):
        if blank[i]:
            continue
        src = _row_bytes(views, views_address, buffer_addresses, i)
        p = 0
        while p < src.shape[0]:
            cp, width = _decode(src, p)
            if not flags[cp] & _WHITESPACE:
                break
            p += width
        blank[i] = p >= src.shape[0]


@njit
def _read64(src, p):
    word = np.uint64(0)
    for k in range(8):
        word |= np.uint64(src[p + k]) << np.uint64(8 * k)
    return word


@njit
def _mix64(h, word):
    h = (h ^ word) * np.uint64(0xBF58476D1CE4E5B9)
    return h ^ (h >> np.uint64(29))


@njit(parallel=True, cache=True, nogil=True)
def _hash_rows(views, views_address, buffer_addresses, out):
    """A 64-bit hash of each string's bytes, four 8-byte lanes at a time (it buckets: equality is checked)."""
    for i in prange(views.shape[0]):
        src = _row_bytes(views, views_address, buffer_addresses, i)
        n = src.shape[0]
        h0 = np.uint64(n) * np.uint64(0x9E3779B97F4A7C15)
        h1, h2, h3 = h0 + np.uint64(1), h0 + np.uint64(2), h0 + np.uint64(3)
        p = 0
        while p + 32 <= n:  # independent lanes keep the multipliers busy
            h0 = _mix64(h0, _read64(src, p))
            h1 = _mix64(h1, _read64(src, p + 8))
            h2 = _mix64(h2, _read64(src, p + 16))
            h3 = _mix64(h3, _read64(src, p + 24))
            p += 32
        while p + 8 <= n:
            h0 = _mix64(h0, _read64(src, p))
            p += 8
        tail = np.uint64(0)
        for k in range(n - p):
            tail |= np.uint64(src[p + k]) << np.uint64(8 * k)
        h = _mix64(_mix64(_mix64(_mix64(h0, tail), h1), h2), h3)
        out[i] = h ^ (h >> np.uint64(32))


@njit
def _same_bytes(a, b):
    n = a.shape[0]
    if n != b.shape[0]:
        return False
    p = 0
    while p + 8 <= n:
        if _read64(a, p) != _read64(b, p):
            return False
        p += 8
    for k in range(p, n):  # noqa: SIM110 (numba compiles the loop, not all() over a generator)
        if a[k] != b[k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _first_with_same_hash(hashes, blank):
    """kept_of[i] = the first row whose hash equals row i's (blank rows keep themselves)."""
    n = hashes.shape[0]
    kept_of = np.arange(n)
    table_size = _table_size(n)
    mask = np.uint64(table_size - 1)
    table = np.zeros((table_size, 2), dtype=np.uint64)  # (hash, row + 1) side by side: one cache miss
    for i in range(n):
        if blank[i]:
            continue
        slot = hashes[i] & mask
        while table[slot, 1] != 0 and table[slot, 0] != hashes[i]:
            slot = (slot + np.uint64(1)) & mask
        if table[slot, 1] == 0:
            table[slot, 0] = hashes[i]
            table[slot, 1] = i + 1
        else:
            kept_of[i] = np.int64(table[slot, 1]) - 1
    return kept_of


@njit(parallel=True, cache=True, nogil=True)
def _mark_hash_collisions(views, views_address, buffer_addresses, kept_of, collided):
    """Flag rows whose bytes differ from the row their hash matched."""
    for i in prange(kept_of.shape[0]):
        if kept_of[i] != i:
            a = _row_bytes(views, views_address, buffer_addresses, i)
            b = _row_bytes(views, views_address, buffer_addresses, kept_of[i])
            collided[i] = not _same_bytes(a, b)


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
            cp, width = _decode(src, p)
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
            q = _encode(cp, norm, q)
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
    a, b, mix, band_rows, room, area, needs_polars, keys, shingles, starts, counts,
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
            src = _row_bytes(views, views_address, buffer_addresses, i)
            count = _shingle_row(src, check_polars, lower, flags, word_mode, ngram, scratch, shingles, at)
            if count < 0:
                needs_polars[row] = True
                continue
            starts[row], counts[row] = at, count
            _minhash(shingles, at, count, a, b, sig)
            at += count
            for band in range(bands):
                key = np.uint64(0)
                for r in range(band * band_rows, (band + 1) * band_rows):
                    key += np.uint64(sig[r]) * mix[r]
                key = (key ^ (key >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
                keys[band, row] = np.uint32(key >> np.uint64(32))


# --- kernels: clustering ----------------------------------------------------------------------------------


@njit(parallel=True, cache=True, nogil=True)
def _link_band_buckets(keys, counts, workers, prev):
    """prev[band, i] = the latest earlier row in row i's bucket of that band, or -1."""
    bands, m = keys.shape
    table_size = _table_size(m)
    mask = np.uint32(table_size - 1)
    for worker in prange(workers):
        # One table per worker, reused band after band (fresh pages are slow to fault in); an entry is
        # key << 32 | row + 1, so a probe reads one word.
        table = np.empty(table_size, dtype=np.uint64)
        for band in range(worker, bands, workers):
            table[:] = 0
            for i in range(m):
                prev[band, i] = -1
                if counts[i] == 0:
                    continue
                key = keys[band, i]
                slot = key & mask
                while table[slot] != 0 and np.uint32(table[slot] >> np.uint64(32)) != key:
                    slot = (slot + np.uint32(1)) & mask
                if table[slot] != 0:
                    prev[band, i] = np.int64(table[slot] & np.uint64(0xFFFFFFFF)) - 1
                table[slot] = (np.uint64(key) << np.uint64(32)) | np.uint64(i + 1)


@njit
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit
def _jaccard(shingles, starts, counts, i, j, table_key, table_stamp, stamp):
    """Exact Jaccard of the shingle sets of rows i and j, through a stamped hash set (stamps stamp..+2)."""
    mask = np.uint32(table_key.shape[0] - 1)
    in_i, in_both, only_j = stamp, stamp + 1, stamp + 2
    size_i = 0
    for s in range(starts[i], starts[i] + counts[i]):
        h = shingles[s]
        slot = h & mask
        while table_stamp[slot] >= in_i and table_key[slot] != h:
            slot = (slot + np.uint32(1)) & mask
        if table_stamp[slot] < in_i:
            table_stamp[slot] = in_i
            table_key[slot] = h
            size_i += 1
    size_j = 0
    both = 0
    for s in range(starts[j], starts[j] + counts[j]):
        h = shingles[s]
        slot = h & mask
        while table_stamp[slot] >= in_i and table_key[slot] != h:
            slot = (slot + np.uint32(1)) & mask
        if table_stamp[slot] < in_i:
            table_stamp[slot] = only_j
            table_key[slot] = h
            size_j += 1
        elif table_stamp[slot] == in_i:
            table_stamp[slot] = in_both
            size_j += 1
            both += 1
    return both / (size_i + size_j - both)


@njit(cache=True, nogil=True)
def _cluster_candidates(prev, shingles, starts, counts, threshold, max_checks, max_steps):
    """Join bucket-mates whose exact Jaccard reaches the threshold; return each row's cluster root."""
    bands, m = prev.shape
    parent = np.arange(m)
    size = _jaccard_table_size(counts)
    table_key = np.empty(size, dtype=np.uint32)
    table_stamp = np.zeros(size, dtype=np.int64)
    stamp = 1
    for band in range(bands):
        for i in range(m):
            other = prev[band, i]
            checks = 0
            steps = 0
            while other >= 0 and checks < max_checks and steps < max_steps:
                root_i = _find(parent, i)
                root_other = _find(parent, other)
                if root_i != root_other:
                    checks += 1
                    similar = _jaccard(shingles, starts, counts, i, other, table_key, table_stamp, stamp)
                    stamp += 3
                    if similar >= threshold:
                        # The lower index stays root, so every cluster keeps its highest-priority row.
                        parent[max(root_i, root_other)] = min(root_i, root_other)
                other = prev[band, other]
                steps += 1
    root = np.empty(m, dtype=np.int64)
    for i in range(m):
        root[i] = _find(parent, i)
    return root


@njit
def _jaccard_table_size(counts):
    """Size of a stamped hash set that holds any two rows' shingle sets at most half full."""
    longest = 1
    for count in counts:
        longest = max(longest, count)
    size = 16
    while size < 4 * longest:
        size *= 2
    return size


@njit(parallel=True, cache=True, nogil=True)
def _measure_similarity_to_root(root, shingles, starts, counts, similarity):
    """similarity[i] = Jaccard of row i with its cluster root, for rows that are not roots."""
    m = root.shape[0]
    size = _jaccard_table_size(counts)
    for block in prange((m + 4095) // 4096):
        table_key = np.empty(size, dtype=np.uint32)
        table_stamp = np.zeros(size, dtype=np.int64)
        stamp = 1
        for i in range(block * 4096, min(m, (block + 1) * 4096)):
            if root[i] != i:
                similarity[i] = _jaccard(shingles, starts, counts, i, root[i], table_key, table_stamp, stamp)
                stamp += 3
