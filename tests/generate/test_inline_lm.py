"""dsc's LM (compiler/generate/lm.py) answers `Predict.acall` exactly as `dspy.LM` does, on the event loop
with no worker-thread hop, and keeps DSPy's error boundary for a failing engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import dspy
import pytest

from compiler.generate.backends import open_lm
from compiler.generate.backends.journaled import SyncJournaledEngine
from compiler.generate.journal import Journal
from compiler.generate.lm import InlineLM
from compiler.generate.program import LeanChatAdapter
from compiler.spec.model import LMSpec


class Question(dspy.Signature):
    """Answer the question."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()
    confidence: float = dspy.OutputField()


def predict_with(lm: Any, questions: list[str]) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        predict = dspy.Predict(Question)
        return [dict(await predict.acall(question=q)) for q in questions]

    with dspy.context(lm=lm, adapter=LeanChatAdapter(), disable_history=True):
        return asyncio.run(run())


def twin_lms(tmp_path: Path) -> tuple[Any, Any]:
    """The offline engine behind dsc's InlineLM, and the same engine behind a plain dspy.LM."""
    handle = open_lm(LMSpec(kind="offline", model="offline/procedural-v2"), Journal(tmp_path / "j"))
    plain = dspy.LM(
        handle.lm.model,
        engine=SyncJournaledEngine(handle.engine),
        async_engine=handle.engine,
        cache=False,
        num_retries=0,
    )
    return handle.lm, plain


def test_inline_lm_answers_as_dspy_lm_does(tmp_path: Path) -> None:
    ours, plain = twin_lms(tmp_path)
    assert isinstance(ours, InlineLM)
    questions = [f"question {i}" for i in range(5)]
    assert predict_with(ours, questions) == predict_with(plain, questions)


def test_inline_lm_makes_no_thread_hop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, plain = twin_lms(tmp_path)

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a worker-thread hop")

    monkeypatch.setattr(asyncio, "to_thread", refused)
    assert len(predict_with(ours, ["one", "two"])) == 2
    with pytest.raises(AssertionError, match="worker-thread hop"):  # DSPy's own LM hops: the test can fail
        predict_with(plain, ["one"])


class Failing:
    supports_response_schema = False
    supported_params: frozenset[str] = frozenset()

    async def complete(self, request: Any) -> Any:
        raise ConnectionResetError("the endpoint hung up")


class FailingSync(Failing):
    def complete(self, request: Any) -> Any:  # type: ignore[override]
        raise ConnectionResetError("the endpoint hung up")


def test_an_engine_failure_passes_dspys_error_boundary(tmp_path: Path) -> None:
    engines = {"async_engine": Failing(), "engine": FailingSync(), "cache": False, "num_retries": 0}
    ours, plain = InlineLM("offline/x", **engines), dspy.LM("offline/x", **engines)
    errors = []
    for lm in (ours, plain):
        with pytest.raises(Exception) as caught:
            predict_with(lm, ["q"])
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1]
