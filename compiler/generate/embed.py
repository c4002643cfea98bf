"""Text embeddings for semantic dedupe: a local hashing embedder, or any provider through dspy.Embedder.

Provider embeddings go through the run's journal (one record per text, written as each batch arrives,
so a killed run pays only for what is missing) and its budget gate (one call per batch request). The
local embedder needs no network and no model: feature hashing of normalised words, word pairs and the
character 3-grams inside words, so it catches rewordings that keep most words or their stems (reordered
clauses, inflections, typos), not paraphrases in other words: for those, name a real embedder.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xxhash

from compiler.core.errors import LMError
from compiler.generate.journal import Answer, Journal, request_key
from compiler.spec.model import LOCAL_EMBEDDER, SemanticDedupe

LOCAL_DIMENSIONS = 1024
_WORD = re.compile(r"\w+", re.UNICODE)

Embed = Callable[[Sequence[str]], np.ndarray]


def embed_with_hashing(texts: Sequence[str], dimensions: int = LOCAL_DIMENSIONS) -> np.ndarray:
    """L2-normalised hashed features of each text (float32, one row per text; a blank text is all zeros)."""
    out = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        words = _WORD.findall(text.casefold())
        features: dict[str, float] = {}
        for word in words:
            features[word] = features.get(word, 0.0) + 1.0
            padded = f"<{word}>"
            for i in range(len(padded) - 2):  # subword pieces: inflections and typos keep most of them
                piece = "#" + padded[i : i + 3]
                features[piece] = features.get(piece, 0.0) + 0.25
        for first, second in zip(words, words[1:], strict=False):
            key = f"{first} {second}"
            features[key] = features.get(key, 0.0) + 0.5
        for feature, weight in sorted(features.items()):
            h = xxhash.xxh64_intdigest(feature.encode("utf-8"))
            out[row, h % dimensions] += (1.0 if h >> 63 else -1.0) * (1.0 + math.log(weight))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def open_embedder(semantic: SemanticDedupe, journal: Journal | None, stats: Any, limiter: Any) -> Embed:
    """The embedding function semantic dedupe calls: local hashing, or dspy.Embedder behind the journal."""
    if semantic.embedder == LOCAL_EMBEDDER:
        return embed_with_hashing
    return _ProviderEmbedder(semantic, journal, stats, limiter)


class _ProviderEmbedder:
    """dspy.Embedder for texts the journal does not hold; each batch is journaled as it arrives."""

    def __init__(self, semantic: SemanticDedupe, journal: Journal | None, stats: Any, limiter: Any) -> None:
        self.semantic = semantic
        self.journal = journal
        self.stats = stats
        self.limiter = limiter
        self.endpoint = semantic.api_base or semantic.embedder.split("/", 1)[0]
        self._embedder: Any = None

    def key(self, text: str) -> str:
        return request_key(self.semantic.embedder, self.endpoint, "embedding", [("user", text)], {})

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        vectors: dict[str, np.ndarray] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            stored = self.journal.get(self.key(text)) if self.journal is not None else None
            if stored is not None:
                vectors[text] = np.frombuffer(base64.b64decode(stored.text), dtype="<f4")
                self._count("embedding_replayed")
            else:
                missing.append(text)
        size = self.semantic.batch_size
        for start in range(0, len(missing), size):
            batch = missing[start : start + size]
            for text, vector in zip(batch, self._request(batch), strict=True):
                vectors[text] = vector
                if self.journal is not None:
                    encoded = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                    self.journal.record(self.key(text), Answer(encoded, max(1, len(text) // 4), 0))
            if self.journal is not None:
                self.journal.flush()
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        matrix = np.stack([vectors[text] for text in texts]).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    def _request(self, batch: list[str]) -> np.ndarray:
        if self.limiter is not None:
            self.limiter.acquire_now()
        where = f"dedupe.semantic.embedder {self.semantic.embedder}"
        try:
            result = self._open()(batch)
        except LMError:
            raise
        except Exception as exc:  # litellm raises many types; every one is a failed request here
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise LMError(
                f"{where}: embedding request failed ({reason}); check api_base and the key, then run the same "
                "command again (embeddings received so far are kept in the journal)"
            ) from exc
        self._count("embedding_requests")
        vectors = np.asarray(result, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch) or not np.isfinite(vectors).all():
            raise LMError(f"{where}: the provider returned {vectors.shape} values for {len(batch)} texts")
        return vectors

    def _open(self) -> Any:
        if self._embedder is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import dspy

            kwargs: dict[str, Any] = {}
            if self.semantic.api_base:
                kwargs["api_base"] = self.semantic.api_base
            if self.semantic.api_key_env:
                key = os.environ.get(self.semantic.api_key_env)
                if not key:
                    raise LMError(
                        f"dedupe.semantic.api_key_env: ${self.semantic.api_key_env} is not set; export it "
                        "or name the variable that holds the key"
                    )
                kwargs["api_key"] = key
            self._embedder = dspy.Embedder(
                self.semantic.embedder, batch_size=self.semantic.batch_size, caching=False, **kwargs
            )
        return self._embedder

    def _count(self, name: str) -> None:
        if self.stats is not None:
            self.stats.extra[name] = self.stats.extra.get(name, 0) + 1
