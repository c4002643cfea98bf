"""A polars string column read in place by numba kernels: Arrow string views, and UTF-8 decoding over them.

`StringViews.of` hands the kernels polars' own buffers (nothing copied); `row_bytes` is one string's bytes
inside a kernel, `decode_utf8` and `encode_utf8` step through code points.

numba invalidates a cached kernel only when the file defining it changes, and kernels in `sketch`, `chars`,
`identical` and `lsh` compile these functions in: after editing this file, delete those modules' cached
`__pycache__/*.nbi` and `*.nbc` files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit, types
from numba.extending import intrinsic

import compiler.screen.near.jit  # noqa: F401  (before any kernel loads: numba without scipy)


def as_strings(texts: pl.Series) -> pl.Series:
    """Return the column as polars strings (cast when it holds another type)."""
    return texts if texts.dtype == pl.String else texts.cast(pl.String)


@dataclass(frozen=True)
class StringViews:
    """An Arrow string-view column the kernels read in place (polars' own buffers, nothing copied)."""

    array: pa.Array  # keeps the buffers alive while kernels hold their addresses
    views: np.ndarray  # int32 (n, 4): length, prefix, buffer index, offset (longer than 12 bytes)
    views_address: int  # where the views start (a short string sits inline at view + 4)
    buffer_addresses: np.ndarray  # int64: address of each variadic data buffer

    @classmethod
    def of(cls, texts: pl.Series) -> StringViews:
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


# --- kernels ----------------------------------------------------------------------------------------------


@intrinsic
def _pointer(typingctx, address):
    """Reinterpret an int64 address as a uint8 pointer (into Arrow buffers the caller keeps alive)."""
    signature = types.CPointer(types.uint8)(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint8)))

    return signature, codegen


@njit
def row_bytes(views, views_address, buffer_addresses, i):
    """Return the bytes of string i of a string-view column, in place."""
    length = views[i, 0]
    if length <= 12:
        return numba.carray(_pointer(views_address + 16 * i + 4), length)
    return numba.carray(_pointer(buffer_addresses[views[i, 2]] + views[i, 3]), length)


@njit
def decode_utf8(src, p):
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
def encode_utf8(cp, out, q):
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
