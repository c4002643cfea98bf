"""Real LM backends over HTTP, against the mock server on 127.0.0.1: answers, faults, breaker, keys, concurrency.

Every call goes through `open_lm` and a real `dspy.Predict(...).acall`, the way the fan-out in generate.py
makes it; nothing in the client is patched.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dspy
import pytest

from compiler.cli.main import main
from compiler.core.errors import DscError, LMError
from compiler.generate.backends import LMHandle, open_lm
from compiler.generate.backends.endpoint import endpoint_identity
from compiler.generate.backends.faults import (
    CONNECTION,
    SERVER,
    AdaptiveLimit,
    Fault,
    LMCallFailed,
    RateLimitBreaker,
    RateLimitWatch,
    Recovery,
    RetryPolicy,
    call_with_recovery,
)
from compiler.generate.backends.http import open_http_engine
from compiler.generate.backends.journaled import CallStats
from compiler.generate.backends.protocol import CompletionEngine
from compiler.generate.backends.wire import parse_retry_after, retry_after_from
from compiler.generate.journal import Journal
from compiler.spec.compose import Project, load_spec
from compiler.spec.model import LMSpec
from tests.llm_server import Faults, MockLLMServer, content_hash

SECRET = "sk-dsc-test-5f1e0c9a7b3d4e2f"
KEY_ENV = "DSC_TEST_LM_KEY"


class Question(dspy.Signature):
    """Answer the question."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


@pytest.fixture
def serve() -> Iterator[Callable[..., MockLLMServer]]:
    """Start mock servers on 127.0.0.1 (latency in seconds, faults); all are stopped after the test."""
    servers: list[MockLLMServer] = []

    def start(latency: float = 0.0, faults: Faults | None = None) -> MockLLMServer:
        server = MockLLMServer(latency=latency, faults=faults).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


# the same faults through dsc's aiohttp engine and through DSPy's own engine (`lm=dspy`, lm15's vLLM door)
PATHS = [pytest.param("openai_compatible", id="aiohttp"), pytest.param("dspy", id="lm=dspy")]


def lm_spec(server: MockLLMServer | None, *overrides: str, kind: str = "openai_compatible") -> LMSpec:
    """The real conf/lm/<kind>.yaml, pointed at the mock server."""
    model = "hosted_vllm/mock" if kind == "dspy" else "mock"
    where = [f"lm.api_base={server.base_url}", f"lm.model={model}"] if server is not None else []
    return load_spec([f"lm={kind}", *where, *overrides], Project.locate()).lm


def ask(handle: LMHandle, questions: Sequence[str], concurrency: int | None = None) -> list[Any]:
    """One Predict.acall per question behind a semaphore, like generate._fan_out; failures come back in place."""
    predict = dspy.Predict(Question)

    async def run() -> list[Any]:
        semaphore = asyncio.Semaphore(concurrency or handle.engine.inner.concurrency)

        async def one(question: str) -> Any:
            async with semaphore:
                return await predict.acall(question=question, lm=handle.lm)

        try:
            return await asyncio.gather(*(one(q) for q in questions), return_exceptions=True)
        finally:
            await handle.engine.aclose()

    with dspy.context(disable_history=True):
        return asyncio.run(run())


def arrivals(server: MockLLMServer, marker: str) -> list[float]:
    """When the server received the request whose body contains the marker, once per attempt."""
    keys = {content_hash(body) for body in server.stats.bodies if marker.encode() in body}
    assert len(keys) == 1, f"{len(keys)} distinct requests contain {marker!r}"
    return server.stats.arrivals[keys.pop()]


def answered(results: Sequence[Any]) -> bool:
    return all(isinstance(r, dspy.Prediction) and isinstance(r.answer, str) and r.answer for r in results)


@pytest.mark.parametrize("kind", PATHS)
def test_answers_come_back_and_a_rerun_pays_nothing(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    server = serve()
    spec = lm_spec(server, kind=kind)
    handle = open_lm(spec, Journal(tmp_path))
    first = ask(handle, [f"question {i}" for i in range(3)])
    second = ask(handle, [f"question {i}" for i in range(3, 6)])  # a new event loop, like a top-up round
    handle.engine.journal.close()
    assert answered(first + second)
    assert (server.stats.requests, handle.stats.calls, handle.stats.input_tokens > 0) == (6, 6, True)

    again = open_lm(spec, Journal(tmp_path))
    replay = ask(again, [f"question {i}" for i in range(6)])
    assert [r.answer for r in replay] == [r.answer for r in first + second]
    assert (server.stats.requests, again.stats.calls, again.stats.replayed) == (6, 0, 6)


FAULTS = [
    pytest.param("429", "429", id="429-retry-after"),
    pytest.param("500", "5xx", id="500"),
    pytest.param("503", "5xx", id="503"),
    pytest.param("malformed", "malformed", id="not-json"),
    pytest.param("no_choices", "malformed", id="no-choices"),
    pytest.param("hang", "timeout", id="hang-then-timeout"),
]


@pytest.mark.parametrize(("fault", "error_class"), FAULTS)
@pytest.mark.parametrize("kind", PATHS)
def test_each_fault_class_recovers(
    serve: Callable[..., MockLLMServer], tmp_path: Path, fault: str, error_class: str, kind: str
) -> None:
    server = serve(faults=Faults(force={"needle": (fault,)}, retry_after=0.3))
    handle = open_lm(lm_spec(server, "lm.timeout=0.5", kind=kind), Journal(tmp_path))
    results = ask(handle, ["the needle question", "a plain question"])
    assert answered(results), results
    times = arrivals(server, "needle")
    assert len(times) == 2
    assert (handle.stats.extra, handle.stats.retries, handle.stats.calls) == ({error_class: 1}, 1, 2)
    if fault == "429":
        assert times[1] - times[0] >= 0.3  # Retry-After honoured
    if fault == "hang":
        assert 0.45 <= times[1] - times[0] < 5  # gave up after lm.timeout=0.5, not DSPy's 600 s


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from email.utils import formatdate

    now = time.time()
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert retry_after_from({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25  # OpenAI's finer hint wins
    assert retry_after_from({"Retry-After": "9"}) == 9.0


@pytest.mark.parametrize("kind", PATHS)
def test_a_row_fails_explicitly_once_its_retries_are_spent(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    server = serve(faults=Faults(force={"needle": ("500",) * 10}))
    handle = open_lm(lm_spec(server, "lm.max_retries=2", kind=kind), Journal(tmp_path))
    failed, fine = ask(handle, ["the needle question", "a plain question"])
    assert isinstance(failed, LMCallFailed) and not isinstance(failed, DscError)
    assert (failed.error_class, failed.attempts) == ("5xx", 3)
    assert len(arrivals(server, "needle")) == 3  # DSPy added no retries of its own
    assert answered([fine])


@pytest.mark.parametrize("kind", PATHS)
def test_sustained_rate_limiting_trips_the_breaker(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    server = serve(faults=Faults(force={"question": ("429",) * 1000}, retry_after=0))
    handle = open_lm(lm_spec(server, "lm.concurrency=4", kind=kind), Journal(tmp_path))
    results = ask(handle, [f"question {i}" for i in range(4)])
    assert all(isinstance(r, RateLimitBreaker) and isinstance(r, LMError) for r in results), results
    assert "the same command resumes" in str(results[0])
    # 50 consecutive 429s is the limit at concurrency 4; after it only requests already in flight land
    assert 50 <= server.stats.requests <= 50 + 4


def test_a_retry_after_beyond_patience_trips_the_breaker_at_once(
    serve: Callable[..., MockLLMServer], tmp_path: Path
) -> None:
    server = serve(faults=Faults(force={"question": ("429",)}, retry_after=3600))
    handle = open_lm(lm_spec(server, "lm.concurrency=1"), Journal(tmp_path))
    (result,) = ask(handle, ["question"])
    assert isinstance(result, RateLimitBreaker) and "3600 s" in str(result)
    assert server.stats.requests == 1


def test_a_cancelled_wait_gives_its_slot_back() -> None:
    async def scenario() -> tuple[int, int]:
        limit = AdaptiveLimit(1, RetryPolicy())
        await limit.acquire()
        waiting = asyncio.ensure_future(limit.acquire())
        await asyncio.sleep(0)
        waiting.cancel()  # e.g. the fan-out cancelling its tasks after the breaker tripped
        await asyncio.gather(waiting, return_exceptions=True)
        limit.release()
        await asyncio.wait_for(limit.acquire(), 1)  # the slot is free again
        return limit.in_flight, len(limit._waiters)

    assert asyncio.run(scenario()) == (1, 0)


def _failing_run(kind: str, requests: int, succeed_first: bool = False) -> tuple[int, int, list[Any]]:
    """`requests` concurrent calls (concurrency 4, no backoff) whose attempts all fail with `kind`, after one
    success when `succeed_first`: the attempts made, those made after some request used up its retries,
    and each call's outcome."""
    policy = RetryPolicy(max_retries=3, backoff_base=0.0)
    recovery = Recovery(policy, 4, CallStats())
    attempts = late = 0
    faults: Counter[int] = Counter()  # by call

    async def call(number: int) -> str:
        async def attempt() -> str:
            nonlocal attempts, late
            attempts += 1
            late += any(n == policy.max_retries + 1 for n in faults.values())
            faults[number] += 1
            first = attempts == 1
            await asyncio.sleep(0)
            if succeed_first and first:
                return "answer"
            raise Fault(kind, f"{kind} talking to http://127.0.0.1:9")

        return await call_with_recovery(recovery, attempt)

    async def scenario() -> list[Any]:
        return list(await asyncio.gather(*(call(n) for n in range(requests)), return_exceptions=True))

    outcomes = asyncio.run(scenario())
    return attempts, late, outcomes


def test_an_endpoint_that_never_answered_fails_the_queued_requests_at_once() -> None:
    attempts, late, outcomes = _failing_run(CONNECTION, 100)
    assert all(isinstance(o, LMCallFailed) and o.error_class == CONNECTION for o in outcomes)
    # once one request used up its 4 attempts, only those already in flight (concurrency 4) go out: the
    # others fail without their last attempt and without waiting out their backoff
    assert late <= 4 and attempts < 100 * 4, (late, attempts)


def test_connection_faults_after_a_success_and_server_faults_keep_every_retry() -> None:
    attempts, _, outcomes = _failing_run(CONNECTION, 20, succeed_first=True)
    assert outcomes[0] == "answer" and attempts == 1 + 19 * 4
    attempts, _, outcomes = _failing_run(SERVER, 20)
    assert all(isinstance(o, LMCallFailed) for o in outcomes) and attempts == 20 * 4


def test_rate_limiting_for_too_long_trips_the_breaker() -> None:
    watch = RateLimitWatch(RetryPolicy(breaker_seconds=0.05), concurrency=4)
    watch.on_rate_limited(None)
    time.sleep(0.06)
    with pytest.raises(RateLimitBreaker, match="without a success"):
        watch.on_rate_limited(None)
    with pytest.raises(RateLimitBreaker):
        watch.check()


@pytest.mark.parametrize("kind", PATHS)
def test_a_run_stopped_by_the_breaker_resumes_where_it_stopped(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    server = serve(faults=Faults(force={"late": ("429",)}, retry_after=3600))
    questions = [f"question {i}" for i in range(8)] + ["late question 8", "late question 9"]
    handle = open_lm(lm_spec(server, kind=kind), Journal(tmp_path))
    first = ask(handle, questions, concurrency=1)  # in order: 8 answers, then the breaker
    handle.engine.journal.close()
    stopped = [q for q, r in zip(questions, first, strict=True) if isinstance(r, RateLimitBreaker)]
    assert stopped == ["late question 8", "late question 9"] and server.stats.requests == 9

    server.configure(faults=Faults())  # the quota is back
    again = open_lm(lm_spec(server, kind=kind), Journal(tmp_path))
    assert answered(ask(again, questions))
    assert (again.stats.calls, again.stats.replayed) == (len(stopped), len(questions) - len(stopped))
    assert server.stats.requests == len(stopped)


REFUSALS = [
    pytest.param("401", "lm.api_key_env", id="401-bad-key"),
    pytest.param("403", "lm.api_key_env", id="403-no-access"),
    pytest.param("404", "lm.model", id="404-unknown-model"),
]


@pytest.mark.parametrize(("fault", "says"), REFUSALS)
@pytest.mark.parametrize("kind", PATHS)
def test_a_refused_configuration_stops_the_run(
    serve: Callable[..., MockLLMServer], tmp_path: Path, fault: str, says: str, kind: str
) -> None:
    server = serve(faults=Faults(force={"question": (fault,)}))
    handle = open_lm(lm_spec(server, "lm.concurrency=1", kind=kind), Journal(tmp_path))
    (result,) = ask(handle, ["question"])
    assert isinstance(result, LMError) and says in str(result)
    assert "\n" not in str(result)
    assert server.stats.requests == 1


@pytest.mark.parametrize("kind", PATHS)
def test_bad_requests_fail_their_row_until_none_ever_succeeds(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    server = serve(faults=Faults(force={"question": ("400",) * 3}))
    handle = open_lm(lm_spec(server, "lm.concurrency=1", kind=kind), Journal(tmp_path))
    results = ask(handle, ["one question", "two question", "three question"])
    assert [type(r) for r in results[:2]] == [LMCallFailed, LMCallFailed]
    assert results[0].error_class == "http_400" and "unsupported parameter" in str(results[0])
    assert (results[0].attempts, handle.stats.retries, handle.stats.extra) == (1, 0, {"http_400": 2})
    assert isinstance(results[2], LMError) and "rejected the first 3 requests" in str(results[2])


@pytest.mark.parametrize(
    ("kind", "variable"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
def test_a_missing_key_fails_before_any_request(
    serve: Callable[..., MockLLMServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    variable: str,
) -> None:
    monkeypatch.delenv(variable, raising=False)
    server = serve()
    with pytest.raises(LMError, match=f"lm.api_key_env: environment variable {variable} is not set"):
        open_lm(lm_spec(server, kind=kind), Journal(tmp_path))
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(LMError, match=f"{KEY_ENV} is not set; export it or pick lm=offline"):
        open_lm(lm_spec(server, f"lm.api_key_env={KEY_ENV}"), Journal(tmp_path))
    assert server.stats.requests == 0


def test_dsc_compile_without_the_key_is_one_line_and_exit_2(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["compile", "lm=openai", "size=8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "OPENAI_API_KEY is not set" in err and len(err.splitlines()) == 1
    assert not (Path.cwd() / "outputs").exists()


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("openai/gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic/claude-x", "ANTHROPIC_API_KEY"),
        ("gemini/gemini-2.5-flash", "GEMINI_API_KEY or GOOGLE_API_KEY"),  # a provider that reads either
    ],
)
def test_lm_dspy_without_the_provider_key_names_it_in_one_line(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
    variable: str,
) -> None:
    for name in variable.split(" or "):
        monkeypatch.delenv(name, raising=False)
    assert main(["compile", "lm=dspy", f"lm.model={model}", "size=4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"found no API key (DSPy reads {variable}); export it, or set lm.api_key_env" in err
    assert not (Path.cwd() / "outputs").exists()


def test_lm_dspy_openai_at_a_keyless_api_base_names_the_keyless_prefix(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # with lm.api_base set, the hint said to set lm.api_base
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert (
        main(["compile", "lm=dspy", "lm.model=openai/mock", "lm.api_base=http://127.0.0.1:9/v1", "size=4"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert (
        err.endswith("; a server that needs no key is lm.model=hosted_vllm/mock") and "lm.api_base" not in err
    )


@pytest.mark.parametrize(
    ("model", "named"),
    [
        ("notaprovider/mock", "'notaprovider'"),
        ("opneai/gpt-4o-mini", "'opneai'"),
    ],  # ... and a newcomer's typo
)
def test_lm_dspy_with_a_provider_nobody_serves_stops_before_any_call(
    serve: Callable[..., MockLLMServer],
    project: Project,
    capsys: pytest.CaptureFixture[str],
    model: str,
    named: str,
) -> None:
    # LiteLLM answered each such request with its own HTTP 400: a traceback from the production labels
    server = serve()
    argv = ["compile", "lm=dspy", f"lm.model={model}", f"lm.api_base={server.base_url}", "size=4"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert (
        f"lm.model: {model!r}: provider {named} is unknown to DSPy and LiteLLM; write <provider>/<model>"
        in err
    )
    assert server.stats.requests == 0
    assert not (Path.cwd() / "outputs").exists()


@pytest.mark.parametrize("kind", ["openai_compatible", "anthropic"])
def test_the_key_travels_only_in_its_header(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)
    server = serve(faults=Faults(force={"needle": ("500",)}))
    handle = open_lm(lm_spec(server, f"lm.api_key_env={KEY_ENV}", kind=kind), Journal(tmp_path))
    assert answered(ask(handle, ["the needle question", "a plain question"]))
    handle.engine.journal.close()
    assert server.stats.requests == 3
    for body, headers in zip(server.stats.bodies, server.stats.headers, strict=True):
        assert SECRET.encode() not in body
        carriers = {name for name, value in headers.items() if SECRET in value}
        if kind == "anthropic":
            assert carriers == {"x-api-key"} and headers["anthropic-version"]
        else:
            assert carriers == {"Authorization"} and headers["Authorization"] == f"Bearer {SECRET}"
    seen = [
        repr(handle.engine),
        repr(handle.engine.inner),
        repr(handle.stats),
        handle.identity,
        handle.engine.endpoint,
        str(handle.lm.kwargs),
        *(p.read_text() for p in tmp_path.rglob("*") if p.is_file()),
    ]
    assert not [text for text in seen if SECRET in text]


def test_the_concurrency_asked_for_is_reached(serve: Callable[..., MockLLMServer], tmp_path: Path) -> None:
    server = serve(latency=0.2)
    handle = open_lm(lm_spec(server, "lm.concurrency=32"), Journal(tmp_path))
    assert answered(ask(handle, [f"question {i}" for i in range(64)]))
    assert server.stats.max_in_flight >= 0.8 * 32


@pytest.mark.parametrize(
    ("kind", "model", "route"),
    [
        pytest.param("openai_compatible", "mock", "aiohttp", id="aiohttp"),
        pytest.param("dspy", "hosted_vllm/mock", "lm15", id="lm=dspy-lm15"),
        pytest.param("dspy", "together_ai/mock", "litellm", id="lm=dspy-litellm"),
    ],
)
def test_the_pool_is_sized_past_the_engines_default_cap(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str, model: str, route: str
) -> None:
    # lm15's pool holds 100 connections unless told otherwise; HTTP/1.1 carries one request per connection at
    # a time, so 128 requests in flight at once on the server are 128 open connections from one pool
    server = serve(latency=1.0)
    spec = lm_spec(server, "lm.concurrency=128", f"lm.model={model}", kind=kind)
    handle = open_lm(spec, Journal(tmp_path))
    assert isinstance(handle.engine.inner, CompletionEngine)
    assert route in repr(handle.engine.inner) or route == "aiohttp"
    assert answered(ask(handle, [f"pool question {i}" for i in range(256)]))
    assert server.stats.max_in_flight > 100
    assert server.stats.max_in_flight >= 0.9 * 128


def test_the_limit_halves_on_429_and_creeps_back(serve: Callable[..., MockLLMServer], tmp_path: Path) -> None:
    server = serve(latency=0.05, faults=Faults(force={"burst": ("429",)}, retry_after=0.05))
    handle = open_lm(lm_spec(server, "lm.concurrency=16"), Journal(tmp_path))
    questions = [f"burst question {i}" for i in range(16)] + [f"calm question {i}" for i in range(200)]
    assert answered(ask(handle, questions))
    assert handle.stats.extra == {"429": 16}
    trace = server.stats.in_flight_trace  # the first 16 arrivals are the burst, all answered 429
    assert max(trace[16:32]) <= 10  # halved to 8 by the burst (one burst, one halving), creeping from there
    assert max(trace[120:200]) > 10  # and rose again with the calm successes
    assert (handle.engine.inner.limit.lowest, handle.engine.inner.limit.limit) == (8, 16)


@pytest.mark.parametrize(
    ("kind", "api_base", "identity"),
    [
        ("openai", "https://API.openai.com/v1/", "openai:https://api.openai.com/v1"),
        ("openai", "https://api.openai.com:443/v1", "openai:https://api.openai.com/v1"),
        (
            "openai_compatible",
            "http://user:hunter2@10.0.0.5:8000/v1?key=abc",
            "openai_compatible:http://10.0.0.5:8000/v1",
        ),
        ("ollama", "http://127.0.0.1:11434/v1", "ollama:http://127.0.0.1:11434/v1"),
    ],
    ids=["case-and-slash", "default-port", "credentials-dropped", "ollama"],
)
def test_endpoint_identity_is_normalised_and_never_holds_a_secret(
    kind: str, api_base: str, identity: str
) -> None:
    assert endpoint_identity(kind, api_base) == identity


@pytest.mark.parametrize(
    ("kind", "identity"),
    [
        ("openai", "openai:https://api.openai.com/v1"),
        ("anthropic", "anthropic:https://api.anthropic.com/v1"),
        ("ollama", "ollama:http://127.0.0.1:11434/v1"),
    ],
)
def test_each_real_kind_in_conf_opens_without_a_request(
    monkeypatch: pytest.MonkeyPatch, kind: str, identity: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    engine, endpoint = open_http_engine(lm_spec(None, kind=kind), CallStats())
    assert (endpoint, engine.timeout) == (identity, 120 if kind == "ollama" else 60)
    assert SECRET not in repr(engine)


def test_openai_compatible_asks_for_its_base_url() -> None:
    from compiler.core.errors import ConfigError

    with pytest.raises(ConfigError, match="openai_compatible.yaml: lm.api_base: is not set"):
        lm_spec(None, "lm.model=mock")


def test_compile_through_http_then_recompile_makes_no_request(
    serve: Callable[..., MockLLMServer], project: Project
) -> None:
    from compiler.pipeline.compile import compile_dataset

    server = serve()
    overrides = ["lm=openai_compatible", f"lm.api_base={server.base_url}", "lm.model=mock", "size=12"]
    first = compile_dataset(overrides, project=project)
    requests = server.stats.requests
    assert first.created and requests >= 12 and first.calls == requests
    again = compile_dataset(overrides, project=project)
    assert (again.version, again.created, again.calls, server.stats.requests) == (
        first.version,
        False,
        0,
        requests,
    )


def _compile_process(
    cwd: Path, server: MockLLMServer, size: int, concurrency: int, kind: str = "openai_compatible"
) -> Any:
    import os
    import subprocess
    import sys

    from tests.conftest import copy_project

    if not (cwd / "conf").is_dir():
        copy_project(cwd, ("conf",))
    env = {**os.environ, "DSC_PROJECT": str(cwd), KEY_ENV: SECRET}
    args = [
        sys.executable,
        "-m",
        "compiler.cli",
        "compile",
        f"lm={kind}",
        f"lm.api_base={server.base_url}",
        "lm.model=openai/mock" if kind == "dspy" else "lm.model=mock",
        f"lm.api_key_env={KEY_ENV}",
        f"lm.concurrency={concurrency}",
        f"size={size}",
        "dedupe.near=null",
        "max_rounds=0",
        "~sources",
    ]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("kind", PATHS)
def test_kill_9_at_half_way_resumes_without_paying_again(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    import signal

    server = serve(latency=0.05)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    killed.mkdir()
    clean.mkdir()
    concurrency, size = 8, 80
    uninterrupted = _compile_process(clean, server, size, concurrency, kind)  # same endpoint: same config
    assert uninterrupted.wait(timeout=300) == 0
    planned = server.stats.requests  # what a whole compile asks for (size x overgenerate, less curated rows)
    assert planned >= size
    process = _compile_process(killed, server, size, concurrency, kind)
    deadline = time.monotonic() + 120
    while server.stats.requests < planned + planned // 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = server.stats.requests - planned
    assert planned // 3 <= before < planned
    resumed = _compile_process(killed, server, size, concurrency, kind)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    paid_twice = server.stats.requests - 2 * planned
    # at most about one concurrency's worth is asked again: the requests in flight plus the answers that
    # arrived but were not yet committed when the process died (a few more on a loaded machine)
    assert 0 <= paid_twice <= concurrency + concurrency // 2
    trees = [
        {
            str(p.relative_to(root)): p.read_bytes()
            for p in sorted((root / "outputs").rglob("*"))
            if p.is_file()
        }
        for root in (killed, clean)
    ]
    assert trees[0] == trees[1]  # byte-identical to a run that was never interrupted


@pytest.mark.parametrize("kind", PATHS)
def test_the_key_never_reaches_outputs_logs_or_errors(
    serve: Callable[..., MockLLMServer], tmp_path: Path, kind: str
) -> None:
    server = serve()
    process = _compile_process(tmp_path, server, 12, 4, kind)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert SECRET not in out and SECRET not in err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert all(SECRET.encode() not in body for body in server.stats.bodies)


def test_the_journal_key_covers_the_whole_request(tmp_path: Path) -> None:
    from dspy.lm15 import request_from_openai_chat

    from compiler.generate.backends.journaled import AsyncJournaledEngine

    engine = AsyncJournaledEngine(None, Journal(tmp_path), "m", "openai:http://h/v1", CallStats())
    base = {"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}
    variants = {
        "base": base,
        "format": {**base, "response_format": {"type": "json_object"}},
        "tools": {
            **base,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        },
        "roles": {**base, "messages": [*base["messages"][:1], {"role": "assistant", "content": "u"}]},
        "turns": {
            **base,
            "messages": [*base["messages"], {"role": "assistant", "content": "a"}, base["messages"][1]],
        },
        "sampling": {**base, "temperature": 0.2},
        "seed": {**base, "seed": 3},
    }
    keys = {name: engine.key(request_from_openai_chat(body)) for name, body in variants.items()}
    assert len(set(keys.values())) == len(variants)  # no two requests share a journal entry
    assert engine.key(request_from_openai_chat(base)) == keys["base"]
    other = AsyncJournaledEngine(None, Journal(tmp_path), "m", "openai:http://other/v1", CallStats())
    assert other.key(request_from_openai_chat(base)) != keys["base"]  # the endpoint is part of the key


@pytest.mark.parametrize(
    ("model", "suffix", "header", "shape"),
    [
        pytest.param("openai/mock", "/v1", "authorization", "messages", id="openai"),
        pytest.param("hosted_vllm/mock", "/v1", "authorization", "messages", id="hosted_vllm"),
        pytest.param("anthropic/claude-mock", "/v1", "x-api-key", "messages", id="anthropic-messages"),
        pytest.param(
            "gemini/gemini-2.5-flash", "/v1beta", "x-goog-api-key", "contents", id="gemini-generate"
        ),
    ],
)
def test_lm_dspy_reaches_each_provider_shape_with_its_key_in_its_header(
    serve: Callable[..., MockLLMServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    suffix: str,
    header: str,
    shape: str,
) -> None:
    import json

    server = serve()
    monkeypatch.setenv(KEY_ENV, SECRET)
    base = server.base_url.removesuffix("/v1") + suffix
    spec = lm_spec(None, "lm.model=" + model, f"lm.api_base={base}", f"lm.api_key_env={KEY_ENV}", kind="dspy")
    handle = open_lm(spec, Journal(tmp_path))
    assert answered(ask(handle, ["question one", "question two"]))
    assert (server.stats.requests, handle.stats.calls) == (2, 2)
    body = json.loads(server.stats.bodies[0])
    assert shape in body and SECRET.encode() not in server.stats.bodies[0]
    sent = {k.lower(): v for k, v in server.stats.headers[0].items()}
    assert SECRET in sent[header] and SECRET not in repr(handle.engine.inner)


@pytest.mark.parametrize("exempt", [False, True], ids=["through-the-proxy", "no-proxy-exempts"])
def test_lm_dspy_sends_through_the_proxy_the_environment_names(
    serve: Callable[..., MockLLMServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exempt: bool
) -> None:
    server = serve()
    with socket.socket() as closed:  # a port nothing listens on: a request through it never arrives
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    if exempt:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    handle = open_lm(lm_spec(server, "lm.max_retries=0", kind="dspy"), Journal(tmp_path))
    results = ask(handle, ["via the proxy?"])
    assert answered(results) == exempt
    assert server.stats.requests == (1 if exempt else 0)
