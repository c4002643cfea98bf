"""Matching LSH candidates in numba kernels: band buckets linked, pairs verified by exact Jaccard.

Rows sharing a band key are bucket-mates. A row is a near-duplicate when an earlier bucket-mate's shingle
set reaches the threshold's Jaccard with its own; bucket-mates are first screened by how many one-byte
MinHash values they share (cheap), then verified exactly. No transitive closure: a row far from the kept
row of a chain A ~ B ~ C is judged by its own nearest earlier match, never merged through a chain.
Kernels are cached in __pycache__; `hash_table_size` is compiled into `identical`'s kernels too (numba's
cache does not notice a change to a kernel another file calls: see `views`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

import compiler.screen.near.jit  # noqa: F401  (before any kernel loads: numba without scipy)
from compiler.screen.near.prefetch import AHEAD, prefetch


@njit
def hash_table_size(m):
    """A power of two at least twice m: open-addressing tables stay at most half full."""
    size = 16
    while size < 2 * m:
        size *= 2
    return size


@njit(parallel=True, cache=True, nogil=True)
def link_band_buckets(keys, counts, workers, prev, head):
    """prev[band, i] = the latest earlier row in row i's bucket of that band, head[band, i] = the bucket's
    first row (both -1 when row i is the first)."""
    bands, m = keys.shape
    table_size = hash_table_size(m)
    mask = np.uint32(table_size - 1)
    for worker in prange(workers):
        # One table per worker, reused band after band (fresh pages are slow to fault in); an entry is
        # key << 32 | row + 1, so a probe reads one word.
        table = np.empty(table_size, dtype=np.uint64)
        for band in range(worker, bands, workers):
            table[:] = 0
            for i in range(m):
                if i + AHEAD < m:
                    prefetch(table, np.int64(keys[band, i + AHEAD] & mask))
                prev[band, i] = -1
                head[band, i] = -1
                if counts[i] == 0:
                    continue
                key = keys[band, i]
                slot = key & mask
                while table[slot] != 0 and np.uint32(table[slot] >> np.uint64(32)) != key:
                    slot = (slot + np.uint32(1)) & mask
                if table[slot] != 0:
                    prev[band, i] = np.int64(table[slot] & np.uint64(0xFFFFFFFF)) - 1
                table[slot] = (np.uint64(key) << np.uint64(32)) | np.uint64(i + 1)
            for i in range(m):  # a bucket's first row is its predecessor's: a pass over this band's rows
                j = prev[band, i]
                if j >= 0:
                    head[band, i] = j if head[band, j] < 0 else head[band, j]


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


@njit
def _estimate_agrees(bits, i, j, least):
    """Whether rows i and j agree on at least `least` of their one-byte MinHash values."""
    agree = 0
    for p in range(bits.shape[1]):
        agree += bits[i, p] == bits[j, p]
    return agree >= least


@njit
def _walk_candidates(
    i, prev, head, shingles, starts, counts, bits, least, threshold, max_checks, max_steps, dropped,
    kept_only, seen, table_key, table_stamp, stamp,
):  # fmt: skip
    """An earlier bucket-mate of row i whose exact Jaccard reaches the threshold: (row, J, stamp).

    Each band's bucket is tried at its first row, then walked from the latest earlier row back. The first row
    of a cluster of look-alikes is usually the one that stays, where the latest look-alike is usually dropped:
    of the 396k rows a 1M-row corpus drops, 25k rather than 224k then need the second pass. With `kept_only`,
    rows already dropped are passed over. A bucket-mate is checked once across bands, and only after its
    one-byte MinHash values agree often enough to make the threshold plausible.
    """
    bands = prev.shape[0]
    for band in range(bands):
        first = head[band, i]
        if first >= 0 and seen[first] != i and not (kept_only and dropped[first]):
            seen[first] = i
            if _estimate_agrees(bits, i, first, least):
                similar = _jaccard(shingles, starts, counts, i, first, table_key, table_stamp, stamp)
                stamp += 3
                if similar >= threshold:
                    return first, similar, stamp
        other = prev[band, i]
        checks = 0
        steps = 0
        while other >= 0 and checks < max_checks and steps < max_steps:
            steps += 1
            if seen[other] != i and not (kept_only and dropped[other]):
                seen[other] = i
                if _estimate_agrees(bits, i, other, least):
                    checks += 1
                    similar = _jaccard(shingles, starts, counts, i, other, table_key, table_stamp, stamp)
                    stamp += 3
                    if similar >= threshold:
                        return other, similar, stamp
            other = prev[band, other]
    return -1, 0.0, stamp


def match_earlier_rows(
    prev, head, shingles, starts, counts, bits, least, threshold, max_checks, max_steps, workers
):
    """For every row, an earlier row whose shingle sets' Jaccard reaches the threshold (-1: none) and that J.

    A row is a near-duplicate when some earlier row is; it is matched to an earlier row that is itself
    kept when its candidates hold one, so a drop names the row that stays whenever it can.
    """
    m = prev.shape[1]
    match = np.full(m, -1, dtype=np.int64)
    similarity = np.zeros(m, dtype=np.float32)
    walk = (shingles, starts, counts, bits, least, threshold, max_checks, max_steps)
    # Whether a row is a duplicate does not depend on other rows' fate, so both passes split rows across
    # workers: the first finds every row's first match, then rows whose match was itself dropped look
    # again for a match that is kept (`dropped` is fixed by then). The kept row their chain of matches ends
    # at is tried first: it is usually a look-alike too.
    nowhere = np.empty(0, dtype=np.int64)
    _match_rows(prev, head, *walk, np.zeros(m, dtype=np.bool_), False, nowhere, match, similarity, workers)
    _match_rows(prev, head, *walk, match >= 0, True, resolve_kept_rows(match), match, similarity, workers)
    return match, similarity


@njit(parallel=True, cache=True, nogil=True)
def _match_rows(
    prev, head, shingles, starts, counts, bits, least, threshold, max_checks, max_steps, dropped, again, root,
    match, similarity, workers,
):  # fmt: skip
    """Walk every row's candidates (`again`: only dropped rows whose match is dropped, for a kept match,
    trying first the kept row `root` names)."""
    m = prev.shape[1]
    size = _jaccard_table_size(counts)
    blocks = (m + 1023) // 1024
    for worker in prange(workers):
        table_key = np.empty(size, dtype=np.uint32)
        table_stamp = np.zeros(size, dtype=np.int64)
        seen = np.full(m, -1, dtype=np.int64)
        stamp = 1
        for block in range(worker, blocks, workers):
            for i in range(block * 1024, min(m, (block + 1) * 1024)):
                if again and not (dropped[i] and dropped[match[i]]):
                    continue
                if again:
                    k = root[i]
                    if _estimate_agrees(bits, i, k, least):
                        similar = _jaccard(shingles, starts, counts, i, k, table_key, table_stamp, stamp)
                        stamp += 3
                        if similar >= threshold:
                            match[i] = k
                            similarity[i] = similar
                            continue
                    seen[k] = i  # checked: the walk passes it over
                j, similar, stamp = _walk_candidates(
                    i, prev, head, shingles, starts, counts, bits, least, threshold, max_checks, max_steps,
                    dropped, again, seen, table_key, table_stamp, stamp,
                )  # fmt: skip
                if j >= 0 or not again:
                    match[i] = j
                    similarity[i] = similar


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


@njit(cache=True, nogil=True)
def resolve_kept_rows(match):
    """kept[i] = the kept row that row i's chain of matches ends at (matches point to earlier rows)."""
    kept = np.arange(match.shape[0])
    for i in range(match.shape[0]):
        if match[i] >= 0:
            kept[i] = kept[match[i]]
    return kept
