"""Semantic dedupe: rows whose embeddings' cosine similarity reaches a threshold (pure: vectors in, drops out).

Same rule as near-duplicates: rows come in priority order, and a row is dropped when an earlier row is at
least `threshold` alike; it names the earlier row it matched, a kept one whenever it matched one. Up to
`EXACT_ROWS` rows every pair is compared (blocked matrix products, ~128 MB of scores at a time): at 100k
rows of 512 dimensions that measured 90 CPU s against the index's 188 (bench/semantic.py), and the
products grow as n^2 against the graph's ~n log n, so the switch sits near where they cross. Above that a usearch HNSW index proposes each row's nearest neighbours (built on one thread, so
the graph and the result are the same on every run) and every proposed pair is scored exactly, so a
reported score is always the true cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler.screen.dedupe import Candidate, DedupeResult, Drop, ExistingRow, compared_text, existing_anchors
from compiler.spec.model import LOCAL_EMBEDDER, SemanticDedupe

EXACT_ROWS = 250_000
NEIGHBOURS = 32  # candidates per row proposed by the ANN index
_BLOCK_SCORES = 1 << 25  # float32 scores per block of the exact products (128 MB)
_PAIR_CHUNK = 1 << 16  # proposed pairs scored at a time (two 64k x d gathers)


@dataclass(frozen=True)
class SemanticDuplicates:
    dup_of: np.ndarray  # int64: the earlier row matched, -1 for kept rows
    similarity: np.ndarray  # float32: cosine with dup_of (0.0 for kept rows)


def find_semantic_duplicates(
    vectors: np.ndarray, threshold: float, *, exact_rows: int = EXACT_ROWS
) -> SemanticDuplicates:
    """Match each row to an earlier row whose cosine reaches the threshold (vectors: L2-normalised rows)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n < 2:
        return SemanticDuplicates(np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32))
    pairs = _exact_pairs(vectors, threshold) if n <= exact_rows else _ann_pairs(vectors, threshold)
    return _match_pairs(n, *pairs)


def _exact_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (later, earlier, cosine) with cosine >= threshold, by blocked products."""
    rows, cols, sims = [], [], []
    step = max(64, min(4096, _BLOCK_SCORES // len(vectors)))
    for start in range(0, len(vectors), step):
        block = vectors[start : start + step]
        scores = block @ vectors[: start + len(block)].T
        # The block against itself: pairs below the diagonal (a row with an earlier row of the block).
        later, earlier = np.nonzero(np.tril(scores[:, start:] >= threshold, -1))
        rows.append(later + start)
        cols.append(earlier + start)
        sims.append(scores[later, earlier + start])
        if start == 0:
            continue
        # Against every earlier block: most rows match none, and a row's maximum (one vectorised pass)
        # says so, where comparing and collecting every score took ~30% of the products' time.
        hit = np.flatnonzero(scores[:, :start].max(axis=1) >= threshold)
        hit_scores = scores[hit, :start]
        later, earlier = np.nonzero(hit_scores >= threshold)
        rows.append(hit[later] + start)
        cols.append(earlier)
        sims.append(hit_scores[later, earlier])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims).astype(np.float32)


def _ann_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(later, earlier, cosine) pairs among each row's approximate nearest neighbours, scored exactly."""
    from usearch.index import Index

    # The graph holds int8-quantised vectors: on 10k corpus rows it built 3.4x faster than f32 (25.8 s ->
    # 7.6 s) and searched 4x faster; scores are recomputed exactly in f32 below.
    index = Index(ndim=vectors.shape[1], metric="cos", dtype="i8")
    index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=1)  # one thread: a stable graph
    found = index.search(vectors, min(NEIGHBOURS, len(vectors)), threads=0)  # queries are independent
    later = np.repeat(np.arange(len(vectors)), found.keys.shape[1])
    earlier = found.keys.reshape(-1).astype(np.int64)
    valid = (earlier >= 0) & (earlier < later)
    later, earlier = later[valid], earlier[valid]
    sims = np.empty(len(later), dtype=np.float32)
    for start in range(0, len(later), _PAIR_CHUNK):  # gathering every pair at once took 2 x 6.5 GB at 100k
        chunk = slice(start, start + _PAIR_CHUNK)
        sims[chunk] = np.einsum("ij,ij->i", vectors[later[chunk]], vectors[earlier[chunk]])
    keep = sims >= threshold
    return later[keep], earlier[keep], sims[keep].astype(np.float32)


def _match_pairs(n: int, later: np.ndarray, earlier: np.ndarray, sims: np.ndarray) -> SemanticDuplicates:
    """Per row, the most similar earlier kept match, else the most similar earlier match."""
    dropped = np.zeros(n, dtype=bool)
    dropped[later] = True
    order = np.lexsort((earlier, -sims, later))  # by row, then most similar first, then lowest index
    later, earlier, sims = later[order], earlier[order], sims[order]
    dup_of = np.full(n, -1, dtype=np.int64)
    similarity = np.zeros(n, dtype=np.float32)
    for subset in (np.ones(len(later), dtype=bool), ~dropped[earlier]):  # any match, then a kept one wins
        rows, first = np.unique(later[subset], return_index=True)
        dup_of[rows] = earlier[subset][first]
        similarity[rows] = sims[subset][first]
    return SemanticDuplicates(dup_of, similarity)


def open_embedder(semantic: SemanticDedupe, handle: Any = None) -> Callable[[Sequence[str]], np.ndarray]:
    """The local hashing embedder, or the provider's behind the run's journal and budget (from `handle`)."""
    if semantic.embedder == LOCAL_EMBEDDER:
        from compiler.screen.near.hashing import embed_with_hashing

        return embed_with_hashing
    from compiler.generate.embed import open_provider_embedder

    if handle is None:
        return open_provider_embedder(semantic, None, None, None)
    return open_provider_embedder(semantic, handle.engine.journal, handle.stats, handle.engine.limiter)


def drop_semantic_duplicates(
    candidates: Sequence[Candidate],
    threshold: float,
    on: Sequence[str],
    embed: Callable[[Sequence[str]], np.ndarray],
    existing: Sequence[ExistingRow] = (),
) -> DedupeResult:
    """Drop candidates whose compared inputs mean what an existing row's or an earlier candidate's do.

    Existing rows (curated rows, earlier versions: `existing_anchors`, as lexical dedupe has them) come first
    and are never dropped; a candidate whose match leads to one drops with reason `existing:<label>:semantic`,
    any other with reason `semantic`, both with the cosine of the row it matched.
    """
    anchors = existing_anchors(candidates, existing)
    if len(candidates) + len(anchors) < 2 or not candidates:
        return DedupeResult(tuple(candidates), ())
    texts = [compared_text(e.row, on) for e in anchors] + [compared_text(c.row, on) for c in candidates]
    found = find_semantic_duplicates(embed(texts), threshold)
    root = np.arange(len(texts))  # existing rows are never dropped: each is its own root
    for i in range(len(anchors), len(texts)):
        if found.dup_of[i] >= 0:
            root[i] = root[found.dup_of[i]]
    ids = [e.row.id for e in anchors] + [c.row.id for c in candidates]
    survivors: list[Candidate] = []
    drops: list[Drop] = []
    for offset, candidate in enumerate(candidates):
        i = len(anchors) + offset
        if found.dup_of[i] < 0:
            survivors.append(candidate)
            continue
        similarity = round(min(1.0, float(found.similarity[i])), 4)
        origin = int(root[i])
        if origin < len(anchors):
            drops.append(
                Drop(candidate.row.id, ids[origin], similarity, f"existing:{anchors[origin].label}:semantic")
            )
        else:
            drops.append(Drop(candidate.row.id, ids[int(found.dup_of[i])], similarity, "semantic"))
    return DedupeResult(tuple(survivors), tuple(drops))
