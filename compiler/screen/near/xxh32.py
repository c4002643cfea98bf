"""XXH32 (seed 0) as a numba kernel over a byte array, equal to xxhash.xxh32_intdigest of the same bytes."""

from __future__ import annotations

import numpy as np
from numba import njit

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
def xxh32(buf, start, end):
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
