"""The local embedder of semantic dedupe: feature hashing of the near-duplicate index's own shingles.

No network and no model. A text's features are its normalised words (weight 1), word pairs (0.5) and
character 3-grams (0.25), as `sketch_texts` hashes them; each feature adds a signed, log-scaled count to
one of `dimensions` slots, and rows are L2-normalised, so the cosine of two rows is a soft measure of the
words and spellings they share: it sees reordered clauses, inflections and typos, not paraphrases in other
words (name a real embedder for those).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numba import njit, prange

from compiler.screen.near.sketch import sketch_texts

LOCAL_DIMENSIONS = 512
_FEATURES = ((True, 1, 1.0), (True, 2, 0.5), (False, 3, 0.25))  # (word shingles?, n, weight)


def embed_with_hashing(texts: Sequence[str] | pl.Series, dimensions: int = LOCAL_DIMENSIONS) -> np.ndarray:
    """L2-normalised hashed features of each text (float32, one row per text; a blank text is all zeros)."""
    series = texts if isinstance(texts, pl.Series) else pl.Series(list(texts), dtype=pl.String)
    series = series.fill_null("")
    out = np.zeros((len(series), dimensions), dtype=np.float32)
    one = np.ones(1, dtype=np.uint16)
    mix = np.ones(1, dtype=np.uint64)
    for word_mode, ngram, weight in _FEATURES:
        _, _, shingles, starts, counts = sketch_texts(series, word_mode, ngram, one, one, mix, 1, 1)
        _add_features(shingles, starts, counts, np.float32(weight), out)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


@njit(parallel=True, cache=True, nogil=True)
def _add_features(shingles, starts, counts, weight, out):
    """out[i] += weight * signed (1 + log count) of each distinct shingle hash of row i."""
    dimensions = out.shape[1]
    for i in prange(out.shape[0]):
        if counts[i] == 0:
            continue
        row = np.sort(shingles[starts[i] : starts[i] + counts[i]])
        k = 0
        while k < row.shape[0]:
            h = row[k]
            repeat = 1
            while k + repeat < row.shape[0] and row[k + repeat] == h:
                repeat += 1
            mixed = np.uint64(h) * np.uint64(0x9E3779B97F4A7C15)
            slot = np.int64((mixed >> np.uint64(33)) % np.uint64(dimensions))
            sign = np.float32(1.0) if (mixed >> np.uint64(63)) else np.float32(-1.0)
            out[i, slot] += sign * weight * np.float32(1.0 + np.log(repeat))
            k += repeat
