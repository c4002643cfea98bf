"""Clustering LSH candidates in numba kernels: band buckets linked, pairs verified by exact Jaccard.

Rows sharing a band key are bucket-mates; a pair joins a cluster only if the exact Jaccard of its shingle
sets reaches the threshold, and clusters are the connected components of those pairs (union-find, the
lower index stays root). Kernels are cached in __pycache__; `hash_table_size` is compiled into
`near_duplicates`' exact-pass kernels too (on cache invalidation across files, see `string_views`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit
def hash_table_size(m):
    """A power of two at least twice m: open-addressing tables stay at most half full."""
    size = 16
    while size < 2 * m:
        size *= 2
    return size


@njit(parallel=True, cache=True, nogil=True)
def link_band_buckets(keys, counts, workers, prev):
    """prev[band, i] = the latest earlier row in row i's bucket of that band, or -1."""
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
def cluster_candidates(prev, shingles, starts, counts, threshold, max_checks, max_steps):
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
def measure_similarity_to_root(root, shingles, starts, counts, similarity):
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
