"""Provider embeddings for semantic dedupe, through dspy.Embedder (any provider litellm knows).

Embeddings go through the run's journal (one record per text, written as each batch arrives, so a killed
run pays only for what is missing) and its budget gate (one call per batch request). The local embedder,
which needs neither, is `compiler.screen.near.hashing`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from compiler.core.errors import LMError
from compiler.generate.journal import Answer, Journal, request_key
from compiler.spec.model import SemanticDedupe

Embed = Callable[[Sequence[str]], np.ndarray]


def open_provider_embedder(
    semantic: SemanticDedupe, journal: Journal | None, stats: Any, limiter: Any
) -> Embed:
    """dspy.Embedder behind the run's journal and budget gate (the local embedder lives in screen.near)."""
    return _ProviderEmbedder(semantic, journal, stats, limiter)


def _estimated_tokens(text: str) -> int:
    """Tokens an embedding request is charged for, estimated (dspy.Embedder returns no usage): 4 chars each."""
    return max(1, len(text) // 4)


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
        return request_key(self.semantic.embedder, self.endpoint, {"kind": "embedding", "input": text})

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
            received = self._request(batch)
            tokens = [_estimated_tokens(text) for text in batch]
            if self.stats is not None:
                self.stats.embedding_usd += sum(tokens) * self.semantic.price / 1_000_000
            for text, vector, count in zip(batch, received, tokens, strict=True):
                vectors[text] = vector
                if self.journal is not None:
                    encoded = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                    self.journal.record(self.key(text), Answer(encoded, count, 0))
            if self.journal is not None:
                self.journal.flush()
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        matrix = np.stack([vectors[text] for text in texts]).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    def _request(self, batch: list[str]) -> np.ndarray:
        if self._embedder is None:  # a model string no provider serves is refused before the budget counts
            from compiler.generate.backends.dspy_engine import check_litellm_provider

            check_litellm_provider(self.semantic.embedder, self.semantic.api_base, "dedupe.semantic.embedder")
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
