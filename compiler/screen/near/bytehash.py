"""The 32-bit hash of shingle bytes (the reference definition; `sketch.hash_span` is its kernel twin).

Built for short inputs (a word, a few characters): the length and eight bytes at a time go through a
multiply-xorshift mix, the last one to eight bytes are read as one masked 64-bit word, and a splitmix64-style
finaliser spreads them over the 32 bits kept. A word of up to eight bytes costs one load and three
multiplies, with no loop or branch on its length (xxh32's per-byte tail mispredicted on every word).
Pure Python without numba, so the small-input path (`exact`) loads no kernel. numba compiles K0-K2 into
`sketch`'s cached kernels as constants: after changing them, delete sketch's `__pycache__/*.nbi` and `*.nbc`.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
K0, K1, K2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def hash_bytes(data: bytes) -> int:
    """The 32-bit hash of `data`, as the kernel `sketch.hash_span` computes it (slow)."""
    n = len(data)
    h = (n * K0) & _MASK
    p = 0
    while n - p > 8:
        h = ((h ^ int.from_bytes(data[p : p + 8], "little")) * K1) & _MASK
        h ^= h >> 31
        p += 8
    return _finish(h ^ int.from_bytes(data[p:], "little"))


def _finish(h: int) -> int:
    h = (h * K2) & _MASK
    h ^= h >> 29
    h = (h * K1) & _MASK
    return (h ^ (h >> 32)) & 0xFFFFFFFF
