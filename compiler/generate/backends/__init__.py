"""LM backends: the offline engine and the factory that wraps any backend in dsc's journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.core import lazy
from compiler.generate.backends.journaled import (
    AsyncJournaledEngine,
    BudgetGate,
    CallStats,
    SyncJournaledEngine,
)
from compiler.generate.backends.offline.engine import AsyncOfflineEngine
from compiler.generate.backends.protocol import CompletionEngine
from compiler.generate.journal import Journal
from compiler.spec.model import Budget, LMSpec


@dataclass
class LMHandle:
    lm: Any  # a dspy.LM
    identity: str  # what provenance.lm and the manifest say: kind/model, never a key
    stats: CallStats
    engine: AsyncJournaledEngine


def open_lm(spec: LMSpec, journal: Journal, budget: Budget | None = None) -> LMHandle:
    """A dspy.LM whose every request goes through the journal, then the budget gate, then the backend."""
    stats = CallStats()
    limiter = None
    if budget is not None and (budget.max_calls is not None or budget.max_usd is not None):
        limiter = BudgetGate(stats, budget.max_calls, budget.max_usd, spec)
    if spec.kind == "offline":
        inner: CompletionEngine = AsyncOfflineEngine()
        endpoint = "offline"
    elif spec.kind == "dspy":
        from compiler.generate.backends.dspy_engine import open_dspy_engine

        inner, endpoint = open_dspy_engine(spec, stats)
    else:
        from compiler.generate.backends.http import open_http_engine

        inner, endpoint = open_http_engine(spec, stats)
    engine = AsyncJournaledEngine(inner, journal, spec.model, endpoint, stats, limiter)
    # dsc retries in its own engines (by fault class); DSPy's own retries would duplicate calls
    lm = lazy.dspy.LM(
        spec.model,
        engine=SyncJournaledEngine(engine),
        async_engine=engine,
        cache=False,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        num_retries=0,
    )
    return LMHandle(lm=lm, identity=lm_identity(spec), stats=stats, engine=engine)


def lm_identity(spec: LMSpec) -> str:
    """kind/model, as provenance.lm and the manifest show it (never a key or a URL's credentials)."""
    return spec.model if spec.model.startswith(f"{spec.kind}/") else f"{spec.kind}/{spec.model}"
