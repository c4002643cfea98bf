"""Embeddings for semantic dedupe: the local hashing embedder, and dspy.Embedder against a loopback server
(OpenAI `/v1/embeddings`), journaled, resumed after a failure, and held to the budget."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from compiler.core.errors import LMError
from compiler.generate.backends.journaled import BudgetGate, BudgetReached, CallStats
from compiler.generate.embed import open_provider_embedder as open_embedder
from compiler.generate.journal import Journal
from compiler.screen.near.hashing import embed_with_hashing
from compiler.screen.semantic import drop_semantic_duplicates
from compiler.spec.model import LMSpec, SemanticDedupe
from tests.llm_server import Faults, MockLLMServer
from tests.screen.test_semantic import candidate

KEY = "sk-test-not-a-real-key-1234"
TEXTS = [f"question number {i} about my order {i * 7}" for i in range(10)]


@pytest.fixture
def serve() -> Iterator[Callable[..., MockLLMServer]]:
    servers: list[MockLLMServer] = []

    def start(faults: Faults | None = None) -> MockLLMServer:
        servers.append(MockLLMServer(faults=faults).__enter__())
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def provider(server: MockLLMServer, monkeypatch: pytest.MonkeyPatch) -> SemanticDedupe:
    monkeypatch.setenv("DSC_TEST_EMBED_KEY", KEY)
    return SemanticDedupe(
        embedder="openai/text-embedding-3-small", threshold=0.9, batch_size=4, api_base=server.base_url,
        api_key_env="DSC_TEST_EMBED_KEY",
    )  # fmt: skip


def test_hashing_embeddings_are_unit_vectors_that_see_shared_words() -> None:
    vectors = embed_with_hashing(
        ["Refund my order, please", "please refund my ORDER", "Where is my parcel?", ""]
    )
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0)
    assert not vectors[3].any()
    assert vectors[0] @ vectors[1] > 0.8 > 0.3 > vectors[0] @ vectors[2]
    assert np.array_equal(vectors, embed_with_hashing(["Refund my order, please", "please refund my ORDER",
                                                       "Where is my parcel?", ""]))  # fmt: skip


def test_provider_embeddings_are_journaled_and_a_rerun_pays_nothing(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve()
    semantic = provider(server, monkeypatch)
    journal = Journal(tmp_path / "journal")
    stats = CallStats()
    first = open_embedder(semantic, journal, stats, None)(TEXTS)
    journal.close()
    assert server.stats.requests == 3  # 10 texts in batches of 4
    assert stats.extra == {"embedding_requests": 3}
    again_stats = CallStats()
    again = open_embedder(semantic, Journal(tmp_path / "journal"), again_stats, None)(TEXTS)
    assert server.stats.requests == 3
    assert again_stats.extra == {"embedding_replayed": 10}
    assert np.array_equal(first, again)
    assert not any(KEY in p.read_text() for p in (tmp_path / "journal").iterdir())


def test_a_failed_request_keeps_earlier_batches_and_the_rerun_asks_only_for_the_rest(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = TEXTS[:5] + ["the needle text"] + TEXTS[5:]
    server = serve(Faults(force={"needle": ("400",)}))
    semantic = provider(server, monkeypatch)
    with pytest.raises(LMError) as raised:
        open_embedder(semantic, Journal(tmp_path / "journal"), CallStats(), None)(texts)
    message = str(raised.value)
    assert "dedupe.semantic.embedder openai/text-embedding-3-small: embedding request failed" in message
    assert "\n" not in message and KEY not in message
    assert len(Journal(tmp_path / "journal")) == 4  # the first batch
    before = server.stats.requests
    open_embedder(semantic, Journal(tmp_path / "journal"), CallStats(), None)(texts)
    assert server.stats.requests - before == 2  # the 7 texts left, in batches of 4


def test_the_budget_stops_embedding_and_keeps_what_arrived(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve()
    stats = CallStats()
    gate = BudgetGate(stats, 2, None, LMSpec(kind="offline", model="offline/procedural-v2"))
    with pytest.raises(BudgetReached, match="budget.max_calls=2 reached"):
        open_embedder(provider(server, monkeypatch), Journal(tmp_path / "journal"), stats, gate)(TEXTS)
    assert server.stats.requests == 2
    assert len(Journal(tmp_path / "journal")) == 8


def test_a_missing_key_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSC_TEST_EMBED_KEY", raising=False)
    semantic = SemanticDedupe(embedder="openai/text-embedding-3-small", api_key_env="DSC_TEST_EMBED_KEY")
    with pytest.raises(LMError, match=r"\$DSC_TEST_EMBED_KEY is not set"):
        open_embedder(semantic, Journal(tmp_path / "journal"), CallStats(), None)(["a text"])


def test_an_embedder_no_provider_serves_is_refused_before_the_budget_counts_a_call(
    serve: Callable[..., MockLLMServer], tmp_path: Path
) -> None:
    server = serve()
    stats = CallStats()
    gate = BudgetGate(stats, 5, None, LMSpec(kind="offline", model="offline/procedural-v2"))
    semantic = SemanticDedupe(embedder="opneai/text-embedding-3-small", api_base=server.base_url)
    with pytest.raises(LMError, match=r"provider 'opneai' is unknown to DSPy and LiteLLM; write <provider>/"):
        open_embedder(semantic, Journal(tmp_path / "journal"), stats, gate)(["a text"])
    assert server.stats.requests == 0 and stats.calls == 0


def test_paraphrases_in_other_words_drop_through_a_provider_but_not_through_hashing(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = ["How do I get a refund?", "What's the process to get my money back?", "Where is my parcel?"]
    candidates = [candidate(t) for t in texts]
    embed = open_embedder(provider(serve(), monkeypatch), Journal(tmp_path / "journal"), CallStats(), None)
    result = drop_semantic_duplicates(candidates, 0.9, ["customer_message"], embed)
    assert [(d.id, d.kept_id, d.reason) for d in result.drops] == [
        (candidates[1].row.id, candidates[0].row.id, "semantic")
    ]
    assert result.drops[0].similarity >= 0.9
    lexical = drop_semantic_duplicates(candidates, 0.9, ["customer_message"], embed_with_hashing)
    assert lexical.drops == ()


def test_max_usd_stops_embedding_at_the_embedders_price_and_keeps_what_arrived(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embeddings count toward budget.max_usd at dedupe.semantic.price (4 characters a token): a batch is
    refused once the spend so far reaches the cap, and the batches that arrived stay in the journal."""
    from dataclasses import replace

    server = serve()
    semantic = replace(provider(server, monkeypatch), price=1_000_000.0)  # $1 a token: easy to count
    tokens = [max(1, len(text) // 4) for text in TEXTS]
    stats = CallStats()
    cap = sum(tokens[:8]) - 0.5  # reached after the second batch of 4, not after the first
    gate = BudgetGate(stats, None, cap, LMSpec(kind="offline", model="offline/procedural-v2"))
    with pytest.raises(BudgetReached, match=r"budget.max_usd=\S+ reached"):
        open_embedder(semantic, Journal(tmp_path / "journal"), stats, gate)(TEXTS)
    assert server.stats.requests == 2
    assert stats.embedding_usd == pytest.approx(sum(tokens[:8]))
    assert len(Journal(tmp_path / "journal")) == 8
    assert gate.spent() == pytest.approx(sum(tokens[:8]))
