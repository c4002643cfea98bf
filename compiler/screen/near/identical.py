"""Identical strings of a text column: a 64-bit hash of each string's bytes in a numba kernel, equal hashes
grouped by an open-addressing table, and every match checked byte for byte (a collision is settled in Python).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit, prange

from compiler.screen.near.chars import mark_blank_rows, unicode_tables
from compiler.screen.near.lsh import hash_table_size
from compiler.screen.near.views import StringViews, row_bytes


def blank_rows(texts: pl.Series, column: StringViews) -> np.ndarray:
    """A bool mask of the column's null or whitespace-only strings."""
    blank = texts.is_null().to_numpy()
    flags = unicode_tables()[1]
    mark_blank_rows(*column.kernel_args, flags, blank)
    return blank


def identical_rows(texts: pl.Series, column: StringViews, blank: np.ndarray) -> np.ndarray:
    """int64 `kept_of`: the lowest row with the same bytes (blank rows keep themselves)."""
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
        src = row_bytes(views, views_address, buffer_addresses, i)
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
    table_size = hash_table_size(n)
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
            a = row_bytes(views, views_address, buffer_addresses, i)
            b = row_bytes(views, views_address, buffer_addresses, kept_of[i])
            collided[i] = not _same_bytes(a, b)
