"""Every file dsc keeps survives damage, kills and overrides, and no failure is published as success.

Endpoint cases run against the mock server on 127.0.0.1; kill cases run the real CLI in a subprocess with
os.rename or the index append replaced by a version that kills the process at that step.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from compiler.cli.main import main
from compiler.generate.backends.journaled import AsyncJournaledEngine, CallStats
from compiler.generate.journal import Journal
from compiler.spec.compose import PACKAGE_ROOT, Project
from compiler.versions.store import read_index, read_rows, resolve_version
from tests.llm_server import Faults, MockLLMServer

DATASET = "support_bot"
SMALL = ["size=8", "~sources", "dedupe.near=null", "max_rounds=0"]
CASE_MARKER = "Write one realistic test case"  # in the system message of every generation request


@pytest.fixture
def serve() -> Iterator[Callable[..., MockLLMServer]]:
    servers: list[MockLLMServer] = []

    def start(faults: Faults | None = None) -> MockLLMServer:
        server = MockLLMServer(faults=faults).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def http(server: MockLLMServer, *more: str) -> list[str]:
    return [
        "lm=openai_compatible",
        f"lm.api_base={server.base_url}",
        "lm.model=mock",
        "lm.max_retries=0",
        "lm.concurrency=4",
        *SMALL,
        *more,
    ]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def versions_of(root: Path = Path("outputs")) -> list[Path]:
    return sorted(
        p.parent for p in root.glob(f"{DATASET}/*/manifest.json") if not p.parent.name.startswith(".")
    )


def journal_answers(root: Path = Path(".dsc")) -> int:
    return len(Journal(root / "journal" / DATASET))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- 1. failure is never success ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [
        pytest.param("500", "5xx", id="http-500"),
        pytest.param("error_200", "malformed", id="error-json-with-200"),
        pytest.param("malformed", "malformed", id="html-page"),
        pytest.param("refusal", "parse", id="sorry-i-cannot-help"),
    ],
)
def test_a_dead_endpoint_publishes_nothing_and_exits_3_then_resumes(
    project: Project,
    serve: Callable[..., MockLLMServer],
    capsys: pytest.CaptureFixture[str],
    fault: str,
    error_class: str,
) -> None:
    server = serve(Faults(force={CASE_MARKER: [fault] * 1000}))
    code, out, err = run(capsys, "compile", *http(server))
    assert code == 3, err
    found = re.search(r"all (\d+) LM calls failed \((\S+) (\d+)\)", err)
    assert found is not None, err
    asked = int(found[1])
    assert asked >= 12 and (found[2], int(found[3])) == (error_class, asked)
    assert "nothing was published" in err and "run the same command to resume" in err
    assert versions_of() == [] and not Path("outputs", DATASET, "versions.jsonl").exists()
    assert journal_answers() == 0  # no failed answer is kept, so nothing sticks
    server.configure(faults=Faults())  # the endpoint recovers
    code, out, err = run(capsys, "compile", *http(server))
    assert code == 0, err
    assert "compiled support_bot: 8 rows" in out and "unchanged" not in out
    assert server.stats.requests >= asked and journal_answers() >= asked
    assert [e["version"] for e in read_index(Path("outputs", DATASET))] == [p.name for p in versions_of()]


def test_a_production_trace_whose_label_call_fails_joins_unlabelled(
    project: Project, serve: Callable[..., MockLLMServer], capsys: pytest.CaptureFixture[str]
) -> None:
    # each labelling request gets a final HTTP 400 (fewer than the 3 rejections that refuse the endpoint):
    # those rows keep their traced inputs without evaluator columns (a traceback before), the compile goes on
    server = serve(Faults(force={"real production request": ["400"]}))
    more = ["size=24", "dedupe.near=null", "max_rounds=0"]
    code, _, err = run(capsys, "compile", *http(server)[:5], *more)
    assert code == 0, err
    [version] = versions_of()
    rows = [json.loads(line) for line in (version / "cases.jsonl").read_text().splitlines()]
    production = [r for r in rows if r["source"] == "production"]
    assert 0 < len(production) == server.stats.outcomes["400"] < 3
    assert all(set(r["expected"].values()) == {None} for r in production)  # every column present, unset
    assert all(r["inputs"] for r in production)


def test_an_endpoint_nobody_listens_on_is_named(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    code, out, err = run(
        capsys,
        "compile",
        "lm=openai_compatible",
        f"lm.api_base={base}",
        "lm.model=m",
        "lm.max_retries=0",
        *SMALL,
    )
    assert code == 3 and "(connection " in err, err
    assert f"nothing answers at lm.api_base={base} (is the server running?)" in err and versions_of() == []


def _evaluator_aligned(server: MockLLMServer) -> Faults:
    return Faults(force={'\\"strategy\\": \\"evaluator_aligned\\"': ["500"] * 1000})


def test_failures_over_the_threshold_publish_nothing_and_say_how_to_allow_them(
    project: Project, serve: Callable[..., MockLLMServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    server.configure(faults=_evaluator_aligned(server))
    code, _, err = run(capsys, "compile", *http(server, "size=16"))
    assert code == 3, err
    assert re.search(r": \d+ of \d+ \(\d+%\) LM calls failed \(5xx \d+\)", err), err
    assert "nothing was published" in err and "or allow more with max_failure_rate=" in err
    assert versions_of() == []


def test_partial_success_under_the_threshold_publishes_and_says_so(
    project: Project, serve: Callable[..., MockLLMServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve()
    server.configure(faults=_evaluator_aligned(server))
    code, out, err = run(capsys, "compile", *http(server, "size=16", "max_failure_rate=0.5"))
    assert code == 0, err
    assert re.search(r"published with \d+ failed LM calls of \d+ \(5xx \d+\)", out), out
    assert "within max_failure_rate=0.5" in out
    (version,) = versions_of()
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["failures"].get("5xx", 0) >= 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("1.5", "max_failure_rate: must be <= 1", id="above-one"),
        pytest.param("-0.1", "max_failure_rate: must be >= 0", id="negative"),
        pytest.param("lots", "max_failure_rate: must be a number", id="not-a-number"),
    ],
)
def test_max_failure_rate_is_validated(
    project: Project, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    code, _, err = run(capsys, "plan", f"max_failure_rate={value}")
    assert code == 2 and message in err


# --- 2. the journal keeps only answers that parsed ---------------------------------------------------


class _Inner:
    """An engine that answers every request with the same text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    async def complete(self, request: Any) -> Any:
        from dspy.lm15 import Message, Response, TextPart, Usage

        self.calls += 1
        return Response(
            id=None,
            model="m",
            message=Message.assistant([TextPart(self.text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=1, output_tokens=1, total_tokens=2),
        )


def _request(text: str) -> Any:
    from dspy.lm15 import Config, Message, Request

    return Request(model="m", messages=(Message.user(text),), system="s", config=Config(temperature=0.0))


def _engine(folder: Path, text: str, max_chars: int = 1000) -> AsyncJournaledEngine:
    journal = Journal(folder, flush_every=1, max_chars=max_chars)
    return AsyncJournaledEngine(_Inner(text), journal, "m", "e", CallStats())


def test_a_held_answer_reaches_the_journal_only_when_committed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "an answer")

    async def ask(prompt: str, commit: bool) -> None:
        with engine.hold() as held:
            await engine.complete(_request(prompt))
            if commit:
                held.commit()

    asyncio.run(ask("kept", True))
    asyncio.run(ask("dropped", False))
    engine.journal.close()
    again = Journal(tmp_path)
    assert len(again) == 1 and again.get(engine.key(_request("kept"))) is not None
    assert again.get(engine.key(_request("dropped"))) is None


def test_a_bad_answer_found_on_replay_is_forgotten(tmp_path: Path) -> None:
    old = _engine(tmp_path, "Sorry, I cannot help with that.")
    asyncio.run(old.complete(_request("q")))  # outside a hold: recorded at once, like an old journal
    old.journal.close()
    engine = _engine(tmp_path, "unused")

    async def replay() -> bool:
        with engine.hold() as held:
            await engine.complete(_request("q"))
            return held.reject()

    assert asyncio.run(replay()) is True and engine.stats.replayed == 1
    engine.journal.close()
    assert Journal(tmp_path).get(engine.key(_request("q"))) is None


def test_an_answer_over_the_cap_is_a_counted_failure_and_not_stored(tmp_path: Path) -> None:
    from compiler.generate.backends.faults import LMCallFailed

    engine = _engine(tmp_path, "x" * 5000, max_chars=1000)
    with pytest.raises(LMCallFailed) as failed:
        asyncio.run(engine.complete(_request("q")))
    assert failed.value.error_class == "oversize" and engine.stats.calls == 1
    engine.journal.close()
    assert len(Journal(tmp_path)) == 0 and sum(p.stat().st_size for p in tmp_path.glob("*")) == 0


def test_answers_with_lone_surrogates_compile_and_replay_identically(
    project: Project, serve: Callable[..., MockLLMServer], capsys: pytest.CaptureFixture[str]
) -> None:
    """A reply may spell half an emoji (`\\ud83d`, valid JSON, unwritable UTF-8): it becomes U+FFFD before the
    journal, the parser and the rows see it, so the compile neither crashes nor differs on replay."""
    server = serve(Faults(force={CASE_MARKER: ["surrogate"] * 1000}))
    code, out, err = run(capsys, "compile", *http(server))
    assert code == 0, err
    [version] = versions_of()
    cases = (version / "cases.jsonl").read_text(encoding="utf-8")
    assert "\ufffd" in cases
    first = _tree(version)
    shutil.rmtree(version.parent)
    code, out, err = run(capsys, "compile", *http(server))
    assert code == 0 and "(0 answers replayed" not in out, err
    assert _tree(versions_of()[0]) == first


def test_huge_answers_fail_the_compile_without_growing_the_journal(
    project: Project, serve: Callable[..., MockLLMServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(Faults(force={CASE_MARKER: ["huge"] * 1000}))
    code, _, err = run(capsys, "compile", *http(server))
    assert code == 3 and re.search(r"all (\d+) LM calls failed \(oversize \1\)", err), err
    assert sum(p.stat().st_size for p in Path(".dsc").rglob("*.jsonl")) < 10_000


def test_journal_segments_start_on_a_new_line_after_a_torn_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path, flush_every=1)
    journal.record("a", __import__("compiler.generate.journal").generate.journal.Answer("A", 1, 1))
    segment = next(tmp_path.glob("*.jsonl"))
    segment.write_bytes(segment.read_bytes()[:-5])  # torn by a kill
    journal.record("b", __import__("compiler.generate.journal").generate.journal.Answer("B", 1, 1))
    journal.close()
    again = Journal(tmp_path)
    assert again.get("b") is not None and again.torn_lines == 1


# --- 3. every reader tolerates and reports damage ----------------------------------------------------


def _compiled(capsys: pytest.CaptureFixture[str], *more: str) -> Path:
    code, _, err = run(capsys, "compile", *SMALL, *more)
    assert code == 0, err
    return versions_of()[-1]


INDEX_DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "torn-last-line": lambda data: data[:-12],
    "conflict-markers": lambda data: b"<<<<<<< HEAD\n" + data + b"=======\n" + data + b">>>>>>> theirs\n",
    "invalid-utf8": lambda data: data + b'{"version": "\xff\xfe"}\n',
    "a-json-list": lambda data: data + b"[1, 2]\n",
    "no-version": lambda data: data + b'{"dataset": "support_bot", "rows": 8}\n',
}
INDEX_MESSAGES = {
    "torn-last-line": "versions.jsonl:1: cut off (a torn last line)",
    "conflict-markers": "versions.jsonl:1: a git conflict marker; resolve the merge",
    "invalid-utf8": "versions.jsonl:2: not UTF-8 text",
    "a-json-list": "versions.jsonl:2: not an index entry (a JSON list)",
    "no-version": "versions.jsonl:2: has no valid `version`",
}


@pytest.mark.parametrize("damage", list(INDEX_DAMAGE), ids=list(INDEX_DAMAGE))
def test_a_damaged_index_is_one_line_for_every_verb_and_repair_fixes_it(
    project: Project, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    version = _compiled(capsys)
    index = version.parent / "versions.jsonl"
    intact = index.read_bytes()
    index.write_bytes(INDEX_DAMAGE[damage](intact))
    for argv in (["compile", *SMALL], ["show", str(version)], ["review", "list", str(version)]):
        code, _, err = run(capsys, *argv)
        assert code == 2, (argv, err)
        assert INDEX_MESSAGES[damage] in err and len(err.strip().splitlines()) == 1
    assert versions_of() == [version]  # nothing new was published
    code, out, err = run(capsys, "repair")
    assert code == 0, err
    assert "repaired outputs/support_bot" in out
    assert index.read_bytes() == intact  # the same single entry, rebuilt from the version folder
    code, out, _ = run(capsys, "compile", *SMALL)
    assert code == 0 and out.startswith(f"unchanged: {version.name}")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda d: d + b'{"id": "abc", "sta', "reviews/support_bot.jsonl:2: cut off", id="torn"),
        pytest.param(lambda d: b"<<<<<<< ours\n" + d + b">>>>>>> theirs\n", "resolve the merge", id="merge"),
        pytest.param(lambda d: d + b"\xff\n", "reviews/support_bot.jsonl:2: not UTF-8 text", id="utf8"),
        pytest.param(lambda d: d + b'"approved"\n', "not a review decision (a JSON str)", id="not-object"),
    ],
)
def test_a_damaged_review_log_is_one_line_and_loses_no_decision(
    project: Project, capsys: pytest.CaptureFixture[str], damage: Callable[[bytes], bytes], message: str
) -> None:
    version = _compiled(capsys)
    row = read_rows(resolve_version(str(version), "outputs"))[0]
    assert run(capsys, "review", "approve", row.id)[0] == 0
    log = Path("reviews", f"{DATASET}.jsonl")
    log.write_bytes(damage(log.read_bytes()))
    for argv in (["compile", *SMALL], ["review", "list", str(version)]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and message in err, err
    assert row.id.encode() in log.read_bytes()


def test_an_append_after_a_lost_newline_keeps_both_records(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    version = _compiled(capsys)
    rows = read_rows(resolve_version(str(version), "outputs"))
    synthetic = [r for r in rows if r.source == "synthetic"]
    assert run(capsys, "review", "approve", synthetic[0].id)[0] == 0
    log = Path("reviews", f"{DATASET}.jsonl")
    log.write_bytes(log.read_bytes()[:-1])  # truncate -s -1
    assert run(capsys, "review", "approve", synthetic[1].id)[0] == 0
    assert run(capsys, "promote", str(version), "--to", "golden", "--allow-pending")[0] == 0
    golden = Path("datasets", DATASET, "golden.jsonl")
    golden.write_bytes(golden.read_bytes()[:-1])
    assert run(capsys, "review", "approve", synthetic[2].id)[0] == 0
    code, out, err = run(capsys, "promote", str(version), "--to", "golden", "--allow-pending")
    assert code == 0, err
    ids = [json.loads(line)["id"] for line in golden.read_text().splitlines()]
    assert len(ids) == 3 and len(set(ids)) == 3  # nothing glued, nothing lost
    decisions = [json.loads(line)["id"] for line in log.read_text().splitlines()]
    assert decisions == [r.id for r in synthetic[:3]]
    code, _, err = run(capsys, "compile", *SMALL)
    assert code == 0, err


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda d: d + b'{"id": "x", "inpu\n', "golden.jsonl:2: not valid JSON", id="glued"),
        pytest.param(lambda d: d + b"\xc3\x28\n", "golden.jsonl:2: not UTF-8 text", id="utf8"),
        pytest.param(
            lambda d: b"<<<<<<< a\n" + d + b">>>>>>> b\n", "golden.jsonl:1: a git conflict", id="merge"
        ),
    ],
)
def test_a_damaged_curated_file_is_one_line(
    project: Project, capsys: pytest.CaptureFixture[str], damage: Callable[[bytes], bytes], message: str
) -> None:
    golden = Path("datasets", DATASET, "golden.jsonl")
    golden.parent.mkdir(parents=True)
    first = (PACKAGE_ROOT / "datasets" / DATASET / "golden.jsonl").read_bytes().splitlines(keepends=True)[0]
    golden.write_bytes(damage(first))
    code, _, err = run(capsys, "compile", *SMALL)
    assert code == 2 and message in err, err
    assert versions_of() == []


def test_a_manifest_that_is_not_json_is_one_line_and_the_fix_it_names_works(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    version = _compiled(capsys)
    intact = _tree(Path("outputs"))
    (version / "manifest.json").write_text("{ not json")
    code, _, err = run(capsys, "show", str(version))
    assert code == 2 and "manifest.json" in err
    code, _, err = run(capsys, "compile", *SMALL, "size=9")  # reads the latest manifest for evidence
    assert code == 2 and "manifest.json:1: not valid JSON" in err and "delete its folder and recompile" in err
    assert versions_of() == [version]
    shutil.rmtree(version)
    assert run(capsys, "compile", *SMALL)[0] == 0
    assert _tree(Path("outputs")) == intact


def test_an_earlier_cases_file_with_a_garbage_line_is_one_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    version = _compiled(capsys)
    with (version / "cases.jsonl").open("a") as handle:
        handle.write("garbage\n")
    code, _, err = run(capsys, "compile", *SMALL, "size=9")
    assert code == 2, err
    assert f"{version}/cases.jsonl:9: not valid JSON" in err and "restore it from git" in err
    assert versions_of() == [version]


# --- 4. repair: lost entries, damaged and deleted folders, kills at each publishing step -------------


@pytest.mark.parametrize(
    ("damage", "note"),
    [
        pytest.param(lambda v: (v / "report.html").unlink(), "report.html: missing", id="missing-report"),
        pytest.param(
            lambda v: (v / "report.html").write_text("<html>edited</html>"),
            "report.html: content differs",
            id="tampered-report",
        ),
        pytest.param(lambda v: (v / "manifest.json").unlink(), "manifest.json: missing", id="no-manifest"),
    ],
)
def test_a_damaged_version_folder_is_rebuilt_by_a_compile(
    project: Project, capsys: pytest.CaptureFixture[str], damage: Callable[[Path], None], note: str
) -> None:
    version = _compiled(capsys)
    before = _tree(Path("outputs"))
    damage(version)
    code, out, err = run(capsys, "compile", *SMALL)
    assert code == 0, err
    assert f"repaired: rebuilt {version.name}" in out and note in out and "unchanged" not in out
    assert _tree(Path("outputs")) == before  # byte-identical, one index line
    assert run(capsys, "verify", str(version))[0] == 0


def test_a_deleted_version_is_rebuilt_with_its_own_parent_and_one_index_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _compiled(capsys)
    second = _compiled(capsys, "size=9")
    before = _tree(Path("outputs"))
    shutil.rmtree(second)
    code, out, err = run(capsys, "compile", *SMALL, "size=9")
    assert code == 0, err
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["parent"] == first.name != second.name
    assert _tree(Path("outputs")) == before
    assert [e["version"] for e in read_index(second.parent)] == [first.name, second.name]
    for verb in ("verify", "show"):
        assert run(capsys, verb, str(second))[0] == 0


KILLER = """
import os, signal, sys
step = sys.argv[1]
import compiler.versions.store as store
real_rename, real_append = os.rename, store.append_lines
def rename(src, dst, *a, **k):
    staging = os.path.basename(str(src)).startswith(".tmp-")
    if staging and step == "stage":
        os.kill(os.getpid(), signal.SIGKILL)
    real_rename(src, dst, *a, **k)
    if staging and step == "rename":
        os.kill(os.getpid(), signal.SIGKILL)
def append(path, lines, **k):
    real_append(path, lines, **k)
    if step == "index":
        os.kill(os.getpid(), signal.SIGKILL)
os.rename = rename
store.append_lines = append
from compiler.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("step", ["stage", "rename", "index"])
def test_a_kill_at_each_step_of_publishing_ends_consistent_and_byte_identical(
    project: Project, capsys: pytest.CaptureFixture[str], tmp_path: Path, step: str
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, step, "compile", *SMALL], env=env, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    dataset = Path("outputs", DATASET)
    if step == "stage":
        assert list(dataset.glob(".tmp-*")) and versions_of() == []
    if step == "rename":
        assert versions_of() and not (dataset / "versions.jsonl").exists()
    code, out, err = run(capsys, "compile", *SMALL)
    assert code == 0, err
    if step == "rename":
        assert "repaired: re-added" in out
    assert not list(dataset.glob(".tmp-*"))
    resumed = _tree(Path("outputs"))
    clean = tmp_path / "clean"
    shutil.copytree(Path("conf"), clean / "conf")
    os.chdir(clean)
    os.environ["DSC_PROJECT"] = str(clean)  # the project is found from DSC_PROJECT first
    try:
        assert run(capsys, "compile", *SMALL)[0] == 0
        assert _tree(Path("outputs")) == resumed
    finally:
        os.environ["DSC_PROJECT"] = str(project.root)
        os.chdir(project.root)


def test_repair_re_adds_lost_entries_drops_duplicates_and_stale_staging(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _compiled(capsys)
    second = _compiled(capsys, "size=9")
    index = first.parent / "versions.jsonl"
    intact = index.read_bytes()
    lines = intact.splitlines(keepends=True)
    index.write_bytes(lines[1] + lines[1])  # the first entry lost, the second duplicated
    stale = first.parent / ".tmp-0123456789ab-999999999-deadbeef"
    stale.mkdir()
    code, out, err = run(capsys, "repair", DATASET)
    assert code == 0, err
    assert "re-added 1 versions" in out and "1 duplicate" in out and "1 stale staging" in out
    assert not stale.exists()
    assert sorted(e["version"] for e in read_index(first.parent)) == sorted([first.name, second.name])
    code, out, _ = run(capsys, "repair")
    assert code == 0 and out.startswith("ok: outputs/support_bot (2 versions)")


def test_repair_names_a_damaged_version_and_exits_1(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    version = _compiled(capsys)
    (version / "report.html").unlink()
    code, _, err = run(capsys, "repair")
    assert code == 1 and "report.html: missing" in err and f"rebuilds {version.name}" in err


# --- 5. one set of paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["config", "command-line"])
def test_path_overrides_reach_every_verb(
    project: Project, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    shutil.copytree(PACKAGE_ROOT / "datasets", Path("ds2"))
    paths = ["out_dir=out2", "reviews_dir=myreviews", "datasets_dir=ds2"]
    words = paths if where == "command-line" else []
    if where == "config":
        config = Path("conf", "config.yaml")
        # the built-in settings sit under `dsc` in the defaults list: keys in config.yaml override them
        config.write_text(config.read_text() + "out_dir: out2\nreviews_dir: myreviews\ndatasets_dir: ds2\n")
    compile_args = ["compile", "size=12", "dedupe.near=null", "max_rounds=0", *words]
    assert run(capsys, *compile_args)[0] == 0
    (version,) = versions_of(Path("out2"))
    rows = read_rows(resolve_version(str(version), "out2"))
    synthetic = [r for r in rows if r.source == "synthetic"]
    assert run(capsys, "review", "reject", synthetic[0].id, "--reason", "off topic", *words)[0] == 0
    assert run(capsys, "review", "approve", synthetic[1].id, *words)[0] == 0
    assert Path("myreviews", f"{DATASET}.jsonl").is_file() and not Path("reviews").exists()
    assert run(capsys, "show", version.name, *words)[0] == 0
    code, out, err = run(capsys, *compile_args)
    assert code == 0, err
    latest = versions_of(Path("out2"))
    newest = [p for p in latest if p != version][0]
    ids = {r.id: r.review_status for r in read_rows(resolve_version(str(newest), "out2"))}
    assert synthetic[0].id not in ids and ids[synthetic[1].id] == "approved"  # both decisions applied
    code, out, err = run(capsys, "promote", str(newest), "--to", "golden", "--allow-pending", *words)
    assert code == 0 and "ds2/support_bot/golden.jsonl" in out, err
    assert not Path("outputs").exists() and not Path("datasets").exists()
    assert run(capsys, "verify", newest.name, *words)[0] == 0
    assert run(capsys, "repair", *words)[0] == 0


def test_no_literal_default_folder_outside_the_config_defaults() -> None:
    allowed = {PACKAGE_ROOT / "compiler" / "spec" / "paths.py"}
    found = []
    for path in sorted((PACKAGE_ROOT / "compiler").rglob("*.py")):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in ("outputs", "reviews", "datasets", ".dsc"):
                found.append(f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []


# --- 6. decisions on curated rows --------------------------------------------------------------------


def test_rejecting_a_production_row_is_refused_up_front(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "compile", "size=12", "dedupe.near=null", "max_rounds=0")[0] == 0
    (version,) = versions_of()
    production = next(
        r for r in read_rows(resolve_version(str(version), "outputs")) if r.source == "production"
    )
    code, _, err = run(capsys, "review", "reject", production.id, "--reason", "noise")
    assert code == 2 and "is a production row (trace" in err and "would be ignored" in err
    assert not Path("reviews").exists()
    assert run(capsys, "review", "approve", production.id)[0] == 0  # an approval applies (promote uses it)


@pytest.mark.parametrize("action", ["reject", "edit"])
def test_a_decision_on_a_curated_row_is_refused_up_front(
    project: Project, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    shutil.copytree(PACKAGE_ROOT / "datasets", Path("datasets"))
    assert run(capsys, "compile", "size=16", "dedupe.near=null", "max_rounds=0", "~sources")[0] == 0
    (version,) = versions_of()
    rows = read_rows(resolve_version(str(version), "outputs"))
    regression = next(r for r in rows if r.source == "regression")
    synthetic = next(r for r in rows if r.source == "synthetic")
    argv = (
        ["review", "reject", synthetic.id, regression.id, "--reason", "fixed upstream"]
        if action == "reject"
        else ["review", "edit", regression.id, "--set", "expected.verdict=refuse"]
    )
    code, _, err = run(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "is a regression row, curated in datasets/support_bot/regression.jsonl" in err
    assert "would be ignored" in err
    assert not Path("reviews").exists()  # refused before anything was written, the synthetic one too
    assert run(capsys, "review", "reject", synthetic.id, "--reason", "off")[0] == 0


def test_an_index_entry_from_another_build_is_rewritten_once_not_rebuilt_forever(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    version = _compiled(capsys)
    index = version.parent / "versions.jsonl"
    entry = json.loads(index.read_text())
    index.write_text(json.dumps({**entry, "manifest_hash": "0" * 16}, sort_keys=True) + "\n")
    code, out, err = run(capsys, "compile", *SMALL)
    assert code == 0 and "manifest.json differs from the hash in versions.jsonl" in out, err
    assert json.loads(index.read_text()) == entry
    code, out, _ = run(capsys, "compile", *SMALL)
    assert code == 0 and out.startswith(f"unchanged: {version.name}")


def test_answers_recorded_in_a_loop_tick_reach_the_segment_by_the_next_tick(tmp_path: Path) -> None:
    """Group commit: nothing waits for a group to fill or for close(), so a kill -9 loses no answer."""
    from compiler.generate.journal import Answer

    journal = Journal(tmp_path, flush_every=1000, flush_seconds=1e9)

    def on_disk() -> int:
        return sum(len(p.read_text().splitlines()) for p in tmp_path.glob("*.jsonl"))

    async def arrive() -> list[int]:
        seen = []
        for burst in (3, 1):
            for i in range(burst):
                journal.record(f"{burst}-{i}", Answer("text", 1, 1))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            seen.append(on_disk())
        return seen

    assert asyncio.run(arrive()) == [3, 4]
    journal.record("after", Answer("text", 1, 1))  # no loop: by group size or age, and on close
    journal.close()
    assert on_disk() == 5 and len(Journal(tmp_path)) == 5
