"""LM fan-out: dsc's HTTP engine + asyncio fan-out against DSPy's own `Predict.batch`, on the same mock server.

Run: .venv/bin/python bench/lm_fanout.py [--quick]

The mock server (tests/llm_server.py) runs in its own process so it neither competes for this process's GIL
nor shows up in its CPU time. Every row is a distinct question, so nothing is answered from a cache.
- wall / ideal at 100 ms latency, where ideal = ceil(rows / concurrency) x latency;
- client CPU per call at 0 ms latency (this process's CPU time / calls), and where it goes;
- with 5% 429 + 1% 500 + 1% malformed + 0.5% hangs: rows lost after retries and wall vs the fault-free run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dspy  # noqa: E402

from compiler.generate.backends import LMHandle, open_lm  # noqa: E402
from compiler.generate.backends.faults import LMCallFailed  # noqa: E402
from compiler.generate.calls import LeanChatAdapter  # noqa: E402
from compiler.generate.journal import Journal  # noqa: E402
from compiler.spec.model import LMSpec  # noqa: E402
from tests.llm_server import Faults, MockLLMServer  # noqa: E402

LATENCY = 0.1
FAULTS = Faults(rate_429=0.05, rate_500=0.01, rate_malformed=0.01, rate_hang=0.005, retry_after=0.5, seed=3)
FAULT_TIMEOUT = 1.0  # lm.timeout in the fault runs: a hang costs this much before the retry


class Question(dspy.Signature):
    """Answer the question."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # this process's CPU seconds (all threads)
    rows: int
    lost: int
    requests: int  # as the server counted them
    in_flight: int  # the most requests the server had in flight at once
    note: str = ""

    @property
    def cpu_ms_per_call(self) -> float:
        return self.cpu / self.rows * 1e3


def questions(rows: int, tag: str) -> list[str]:
    return [f"{tag} question {i}: what is {i} + {i}?" for i in range(rows)]


def open_dsc(server: MockLLMServer, concurrency: int, timeout: float) -> LMHandle:
    spec = LMSpec(
        kind="openai_compatible",
        model="mock",
        api_base=server.base_url,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=4,
    )
    return open_lm(spec, Journal(Path(tempfile.mkdtemp(prefix="dsc-bench-"))))


async def _fan_out(handle: LMHandle, items: list[str], concurrency: int) -> int:
    """generate._fan_out's shape: one task per row behind a semaphore, generate.LeanCall per row."""
    from compiler.generate.calls import LeanCall

    ask = LeanCall(Question, handle, 0.7, 256)
    semaphore = asyncio.Semaphore(concurrency)
    lost = 0

    async def one(question: str) -> None:
        nonlocal lost
        async with semaphore:
            try:
                prediction = await ask(question=question)
                lost += prediction.get("answer") is None
            except LMCallFailed:
                lost += 1

    try:
        await asyncio.gather(*(one(q) for q in items))
    finally:
        await handle.engine.aclose()
    return lost


def run_dsc(
    server: MockLLMServer, rows: int, concurrency: int, tag: str, timeout: float = 60.0, width: int = 0
) -> Run:
    """dsc's path; `width` rows in flight in the fan-out (generate.py today: lm.concurrency)."""
    handle = open_dsc(server, concurrency, timeout)
    items = questions(rows, tag)
    with dspy.context(disable_history=True, adapter=LeanChatAdapter()):  # as generate.generate_cases
        server.configure()
        cpu, wall = time.process_time(), time.perf_counter()
        lost = asyncio.run(_fan_out(handle, items, width or 2 * concurrency))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    extra = ", ".join(f"{k}:{v}" for k, v in sorted(handle.stats.extra.items()))
    note = (
        f"retries {handle.stats.retries} ({extra}), limit low {handle.engine.inner.limit.lowest}"
        if extra
        else ""
    )
    stats = server.stats
    return Run(wall, cpu, rows, lost, stats.requests, stats.max_in_flight, note)


def run_dspy(
    server: MockLLMServer, rows: int, concurrency: int, tag: str, timeout: float | None = None
) -> Run:
    lm = dspy.LM(
        "openai/mock",
        api_base=server.base_url,
        api_key="x",
        cache=False,
        **({"timeout": timeout} if timeout else {}),
    )
    examples = [dspy.Example(question=q).with_inputs("question") for q in questions(rows, tag)]
    predict = dspy.Predict(Question)
    with dspy.context(lm=lm):
        server.configure()
        cpu, wall = time.process_time(), time.perf_counter()
        results = predict.batch(
            examples, num_threads=concurrency, disable_progress_bar=True, max_errors=rows + 1
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    lost = sum(1 for r in results if r is None or getattr(r, "answer", None) is None)
    stats = server.stats
    return Run(wall, cpu, rows, lost, stats.requests, stats.max_in_flight)


def warm_up(server: MockLLMServer) -> None:
    run_dsc(server, 200, 32, "warm")
    run_dspy(server, 100, 16, "warm")


def ideal(rows: int, concurrency: int) -> float:
    return math.ceil(rows / concurrency) * LATENCY


# -- where the client CPU goes, at 0 ms latency -------------------------------------------------------------


class _NoNetwork:
    """An async engine that answers at once without I/O: what DSPy alone costs per call."""

    async def complete(self, request: Any) -> Any:
        from dspy.lm15 import Message, Response, TextPart, Usage

        return Response(
            id=None,
            model="mock",
            message=Message.assistant([TextPart("[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]")]),
            finish_reason="stop",
            usage=Usage(input_tokens=1, output_tokens=1, total_tokens=2),
        )

    def stream(self, request: Any) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class _SyncUnused:
    def complete(self, request: Any) -> Any:
        raise NotImplementedError

    def stream(self, request: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


REPEATS = 2  # best of: other processes on the machine only ever add to a measurement


def _cpu_per_call(calls: int, body: Callable[[int], Any]) -> float:
    """Client CPU ms per call of body(repeat), best of REPEATS runs (each repeat asks new questions)."""
    best = float("inf")
    for repeat in range(REPEATS):
        cpu = time.process_time()
        asyncio.run(body(repeat))
        best = min(best, time.process_time() - cpu)
    return best / calls * 1e3


def cpu_breakdown(server: MockLLMServer, calls: int) -> list[tuple[str, float]]:
    """ms of client CPU per call for each layer, measured separately (0 ms latency, concurrency 64)."""
    from dspy.lm15 import Config, Message, Request

    server.configure(latency=0.0, faults=Faults())
    rows: list[tuple[str, float]] = []
    handle = open_dsc(server, 64, 60.0)
    predict = dspy.Predict(Question)
    adapter = dspy.ChatAdapter()
    system_and_user = adapter.format(Question, [], {"question": "q"})
    requests = [
        [
            Request(
                model="mock",
                system=system_and_user[0]["content"],
                messages=(Message.user(f"[[ ## question ## ]]\nq {repeat} {i}"),),
                config=Config(temperature=0.7, max_tokens=1024),
            )
            for i in range(calls)
        ]
        for repeat in range(REPEATS)
    ]

    async def gather(coroutine: Callable[[int], Any]) -> None:
        semaphore = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            async with semaphore:
                await coroutine(i)

        await asyncio.gather(*(one(i) for i in range(calls)))
        await handle.engine.aclose()

    rows.append(
        (
            "HTTP engine alone (encode, POST, parse, Response)",
            _cpu_per_call(calls, lambda r: gather(lambda i: handle.engine.inner.complete(requests[r][i]))),
        )
    )
    rows.append(
        (
            "HTTP engine + journal wrapper (key, record, Response)",
            _cpu_per_call(calls, lambda r: gather(lambda i: handle.engine.complete(requests[r][i]))),
        )
    )
    quiet = dspy.LM("openai/mock", engine=_SyncUnused(), async_engine=_NoNetwork(), cache=False)
    variants = (
        ("DSPy alone (Predict.acall, no-I/O engine), DSPy's defaults", {}),
        ("DSPy alone, history off", {"disable_history": True}),
        (
            "DSPy alone, history off, LeanChatAdapter (dsc's)",
            {"disable_history": True, "adapter": LeanChatAdapter()},
        ),
    )
    for label, settings in variants:
        with dspy.context(**settings):
            cost = _cpu_per_call(
                calls, lambda r: gather(lambda i: predict.acall(question=f"q {r} {i}", lm=quiet))
            )
        rows.append((label, cost))
    from compiler.generate.calls import LeanCall

    ask = LeanCall(Question, handle, 0.7, 256)
    cost = _cpu_per_call(calls, lambda r: gather(lambda i: ask(question=f"dsc {r} {i}")))
    rows.append(("dsc path (LeanCall: ChatAdapter -> journal -> HTTP engine)", cost))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    print(
        f"python {sys.version.split()[0]}, dspy {dspy.__version__}, {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with MockLLMServer(latency=0.0, subprocess=True) as server:
        warm_up(server)
        table: list[tuple[str, str, str]] = []
        server.configure(latency=LATENCY, faults=Faults())
        for rows, concurrency in ((500, 64), (5000, 256)):
            rows = max(concurrency, int(rows * scale))
            best = ideal(rows, concurrency)
            dsc = run_dsc(server, rows, concurrency, f"dsc{rows}")
            ref = run_dspy(server, rows, concurrency, f"dspy{rows}")
            floor = rows * dsc.cpu / dsc.rows  # one Python process cannot go faster than its CPU allows
            table.append(
                (
                    f"{rows} rows @ {concurrency}, 100 ms: wall (x ideal {best:.1f} s)",
                    f"{dsc.wall:.2f} s ({dsc.wall / best:.2f}x)",
                    f"{ref.wall:.2f} s ({ref.wall / best:.2f}x)",
                )
            )
            table.append(
                (
                    f"  client CPU per call at {concurrency}",
                    f"{dsc.cpu_ms_per_call:.2f} ms",
                    f"{ref.cpu_ms_per_call:.2f} ms",
                )
            )
            table.append(
                ("  client CPU in all (the wall's floor on one core)", f"{floor:.2f} s", f"{ref.cpu:.2f} s")
            )
            table.append(("  most requests in flight at the server", str(dsc.in_flight), str(ref.in_flight)))

        calls = max(500, int(3000 * scale))
        server.configure(latency=0.0)
        dsc = run_dsc(server, calls, 64, "cpu0")
        ref = run_dspy(server, calls, 64, "cpu0")
        table.append(
            (
                f"client CPU per call, 0 ms latency, {calls} calls @ 64",
                f"{dsc.cpu_ms_per_call:.2f} ms",
                f"{ref.cpu_ms_per_call:.2f} ms",
            )
        )

        rows = max(400, int(2000 * scale))
        server.configure(latency=LATENCY, faults=Faults())
        clean = run_dsc(server, rows, 64, "clean", timeout=FAULT_TIMEOUT)
        clean_ref = run_dspy(server, rows, 64, "clean", timeout=FAULT_TIMEOUT)
        server.configure(faults=FAULTS)
        faulty = run_dsc(server, rows, 64, "faulty", timeout=FAULT_TIMEOUT)
        server.configure(faults=FAULTS)
        faulty_ref = run_dspy(server, rows, 64, "faulty", timeout=FAULT_TIMEOUT)
        table.append((f"{rows} rows @ 64 with faults: rows lost", str(faulty.lost), str(faulty_ref.lost)))
        table.append(
            (
                "  wall with faults / fault-free",
                f"{faulty.wall:.2f} / {clean.wall:.2f} s ({faulty.wall / clean.wall:.2f}x)",
                f"{faulty_ref.wall:.2f} / {clean_ref.wall:.2f} s ({faulty_ref.wall / clean_ref.wall:.2f}x)",
            )
        )
        table.append(("  requests the server saw", str(faulty.requests), str(faulty_ref.requests)))
        # rows sleeping out a Retry-After hold a fan-out slot; a wider fan-out leaves the engine's limit in charge
        server.configure(faults=Faults())
        wide_clean = run_dsc(server, rows, 64, "wide-clean", timeout=FAULT_TIMEOUT, width=128)
        server.configure(faults=FAULTS)
        wide = run_dsc(server, rows, 64, "wide-faulty", timeout=FAULT_TIMEOUT, width=128)
        table.append(
            (
                "  same, fan-out 128 rows over the engine's 64 (generate.py's width)",
                f"{wide.wall:.2f} / {wide_clean.wall:.2f} s ({wide.wall / wide_clean.wall:.2f}x), lost {wide.lost}",
                "-",
            )
        )

        breakdown = cpu_breakdown(server, calls)

    width = max(len(r[0]) for r in table) + 2
    print(f"\n{'':{width}}{'dsc (engine + asyncio)':>28}{'DSPy Predict.batch':>28}")
    for label, ours, theirs in table:
        print(f"{label:{width}}{ours:>28}{theirs:>28}")
    print(
        f"\nfaults: {FAULTS.rate_429:.0%} 429 (Retry-After {FAULTS.retry_after} s), {FAULTS.rate_500:.0%} 500, "
        f"{FAULTS.rate_malformed:.0%} malformed, {FAULTS.rate_hang:.1%} hang; lm.timeout {FAULT_TIMEOUT} s"
    )
    print(f"dsc with faults: {faulty.note}")
    print("\nclient CPU per call, by layer (0 ms latency, 64 concurrent)")
    width = max(len(label) for label, _ in breakdown) + 2
    for label, ms in breakdown:
        print(f"  {label:{width}}{ms:6.2f} ms")


if __name__ == "__main__":
    main()
