"""Production evidence: ingestion, statistics, bounded weights and representative, scrubbed snippets."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.core.errors import ConfigError, SourceError
from compiler.sources.evidence import Evidence, compute_evidence
from compiler.sources.snippets import rank_representative, select_snippets, select_trace_cases
from compiler.sources.traces import TraceSet, load_traces
from compiler.sources.weights import adjust_weights
from compiler.spec.compose import PACKAGE_ROOT, Project, load_spec
from compiler.spec.model import Dimension, Value
from compiler.spec.validate.production import ProductionSource

TRACES = PACKAGE_ROOT / "data" / "traces" / "support_bot.jsonl"
FIELDS = {
    "input": "request.text",
    "output": "response.text",
    "behavior": "labels.behavior",
    "error": "eval.failed",
    "timestamp": "ts",
    "trace_id": "id",
}
CONFIG: dict[str, Any] = {
    "path": "data/traces/*.jsonl",
    "fields": FIELDS,
    "map": {
        "intent": {"field": "labels.intent"},
        "channel": {"field": "request.channel"},
        "difficulty": {
            "rules": {
                "hard": ["contract", "legal", "lawyer", "chargeback", "escalate"],
                "easy": ["quick question", "just wondering"],
            }
        },
    },
    "weight_by": ["error_rate", "novelty"],
    "since": "2026-10-01",
    "snippets": 3,
    "patterns": {"employee_id": r"EMP-\d{6}"},
}
# Every private value planted in data/traces/support_bot.jsonl, and how many times.
PLANTED = {
    "api_key": 5,
    "card": 5,
    "email": 6,
    "employee_id": 2,
    "iban": 4,
    "ipv4": 2,
    "ipv6": 1,
    "phone": 6,
    "ssn": 3,
}
PLANTED_VALUES = [
    "maria.gonzalez@gmail.com",
    "j.smith+orders@outlook.com",
    "tom.becker@web.de",
    "priya.r@company.co.uk",
    "aisha.k@protonmail.com",
    "(415) 555-0134",
    "415-555-0199",
    "+44 20 7946 0958",
    "+49 30 901820",
    "(212) 555-0147",
    "4111 1111 1111 1111",
    "5500-0055-5555-5559",
    "378282246310005",
    "6011111111111117",
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "536-22-1847",
    "219-09-9999",
    "078-05-1120",
    "203.0.113.42",
    "198.51.100.7",
    "2001:db8:85a3::8a2e:370:7334",
    "sk-proj-Xq7LmN2pR9sT4vW8yZ1aB3cD5eF6gH0j",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "EMP-204518",
    "EMP-771203",
]
DECOYS = [
    "4111 1111 1111 1112",
    "DE89 3704 0044 0532 0130 07",
    "1234 5678 9012 3456",
    "2026-10-14 at 10:30:00",
]


@pytest.fixture(scope="module")
def dims() -> tuple[Dimension, ...]:
    return load_spec([]).dimensions


@pytest.fixture(scope="module")
def traces(dims: tuple[Dimension, ...]) -> TraceSet:
    return load_traces(ProductionSource.from_config(CONFIG, dims, PACKAGE_ROOT), dims, pool_size=1000)


def _source(dims: tuple[Dimension, ...], base: Path, **changes: Any) -> ProductionSource:
    return ProductionSource.from_config({**CONFIG, "path": "*.*", **changes}, dims, base)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_support_traces_are_ingested_and_counted(traces: TraceSet) -> None:
    assert traces.rows == 300
    assert traces.malformed == {"missing_input": 4, "bad_timestamp": 3}
    assert traces.usable == 293
    assert traces.unmapped["channel"] == 0 and 0 < traces.unmapped["intent"] < 20
    assert set(traces.frame["intent"].drop_nulls().unique()) == {
        "refund",
        "shipping_status",
        "cancel_order",
        "account_access",
        "product_question",
    }


def test_every_planted_value_is_caught_and_none_survives(traces: TraceSet) -> None:
    assert traces.pii == PLANTED
    text = "\n".join(traces.pool["input"].to_list())
    assert [v for v in PLANTED_VALUES if v in text] == []
    assert all(d in text for d in DECOYS)  # look-alikes are not redacted
    with_pii = traces.pool.filter(pl.col("input").str.contains("<EMAIL_1>"))
    assert with_pii.height == 6


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl_two_files"])
def test_formats_give_the_same_statistics(
    fmt: str, tmp_path: Path, dims: tuple[Dimension, ...], traces: TraceSet
) -> None:
    nested = pl.read_ndjson(TRACES)
    if fmt == "csv":
        flat = nested.select(
            pl.col("id"),
            pl.col("ts"),
            *(
                pl.col(p.split(".")[0]).struct.field(p.split(".")[1]).alias(p)
                for p in (
                    "request.text",
                    "request.channel",
                    "response.text",
                    "labels.intent",
                    "labels.behavior",
                    "eval.failed",
                )
            ),
        )
        flat.write_csv(tmp_path / "traces.csv")
    elif fmt == "parquet":
        nested.write_parquet(tmp_path / "traces.parquet")
    else:
        lines = TRACES.read_text().splitlines(keepends=True)
        (tmp_path / "a.jsonl").write_text("".join(lines[:120]))
        (tmp_path / "b.jsonl").write_text("".join(lines[120:]))
    loaded = load_traces(_source(dims, tmp_path), dims)
    assert (loaded.rows, loaded.malformed, loaded.unmapped) == (
        traces.rows,
        traces.malformed,
        traces.unmapped,
    )
    assert compute_evidence(loaded, dims).stats.equals(compute_evidence(traces, dims).stats)


def test_broken_json_lines_are_counted_not_fatal(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    lines = TRACES.read_text().splitlines(keepends=True)
    (tmp_path / "t.jsonl").write_text("".join(lines[:100]) + '{"id": "broken\n' + "".join(lines[100:]))
    loaded = load_traces(_source(dims, tmp_path), dims)
    assert loaded.rows == 301 and loaded.malformed["invalid_json"] == 1
    # what `dsc compile` and `dsc plan` then say on stderr: how many were left out, why, and the first one
    note = loaded.skipped_note()
    assert note is not None and note.startswith(
        f"sources.production: left out {sum(loaded.malformed.values())} malformed of 301 rows in "
    )
    assert "invalid json 1" in note and "; within max_malformed 0.05" in note
    first = loaded.first_malformed
    assert first is not None and int(first.split(":")[1]) <= 101 and f"the first at {first};" in note


def test_clean_traces_leave_nothing_to_say(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    _write_jsonl(tmp_path / "t.jsonl", [{"request": {"text": f"hi {i}"}, "id": str(i)} for i in range(5)])
    loaded = load_traces(
        _source(dims, tmp_path, fields={"input": "request.text"}, map={}, weight_by=[]), dims
    )
    assert loaded.malformed == {} and loaded.skipped_note() is None


@pytest.mark.parametrize("layout", ["one line", "pretty"])
def test_a_json_array_file_is_told_to_be_jsonl(
    tmp_path: Path, dims: tuple[Dimension, ...], layout: str
) -> None:
    rows = [{"request": {"text": "hi"}, "id": str(i)} for i in range(3)]
    text = json.dumps(rows) if layout == "one line" else json.dumps(rows, indent=2)
    (tmp_path / "t.jsonl").write_text(text + "\n")
    with pytest.raises(
        SourceError, match=r"t.jsonl: is one JSON array, not JSONL; write one trace object per line"
    ):
        load_traces(_source(dims, tmp_path, fields={"input": "request.text"}, map={}, weight_by=[]), dims)


def test_too_many_malformed_rows_are_fatal(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    _write_jsonl(
        tmp_path / "t.jsonl",
        [{"request": {"text": "hi" if i % 3 != 1 else ""}, "id": str(i)} for i in range(30)],
    )
    with pytest.raises(
        SourceError,
        match=r"10 of 30 rows \(33.3%\).*missing input 10.*max_malformed 0.05, the first at t.jsonl:2;",
    ):
        load_traces(_source(dims, tmp_path, fields={"input": "request.text"}, map={}, weight_by=[]), dims)


def test_malformed_csv_rows_say_what_a_value_must_look_like(
    tmp_path: Path, dims: tuple[Dimension, ...]
) -> None:
    """A team's CSV export: the row is counted after the header, and the message says what parses."""
    rows = ["text,failed,at"] + [
        f"hi {i},{'maybe' if i % 2 else 'true'},{'yesterday' if i % 3 == 0 else '2026-11-03T10:00:00Z'}"
        for i in range(10)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    source = _source(
        dims, tmp_path, fields={"input": "text", "error": "failed", "timestamp": "at"}, map={}, weight_by=[]
    )
    with pytest.raises(SourceError) as info:
        load_traces(source, dims)
    message = str(info.value)
    assert "the first at t.csv row 1 (counting from 1 after the header)" in message, message
    assert "an error flag is true/false, 1/0" in message and "a timestamp is ISO-8601" in message


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-03 10:07",  # a spreadsheet's or a database export's: a space, no seconds (was malformed)
        "2026-11-03T10:07",
        "2026-11-03 10:07:05",
        "2026-11-03T10:07:05.250Z",
        "2026-11-03 10:07+02:00",
        "2026-11-03T10:07-05:30",
        "2026-11-03 10:07:05.5+01:00",
        "2026-11-03",
    ],
)
def test_timestamps_read_as_python_reads_iso_8601(
    tmp_path: Path, dims: tuple[Dimension, ...], text: str
) -> None:
    from datetime import UTC, datetime

    (tmp_path / "t.csv").write_text(f"text,at\nhello there,{text}\n")
    source = _source(dims, tmp_path, fields={"input": "text", "timestamp": "at"}, map={}, weight_by=[])
    traces = load_traces(source, dims)
    assert traces.malformed == {}
    expected = datetime.fromisoformat(text)
    if expected.tzinfo is not None:
        expected = expected.astimezone(UTC).replace(tzinfo=None)
    assert traces.frame["timestamp"].to_list() == [expected]


def test_missing_field_lists_the_fields_that_exist(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    _write_jsonl(tmp_path / "t.jsonl", [{"request": {"text": "hi", "channel": "chat"}, "id": "1"}])
    with pytest.raises(SourceError) as err:
        load_traces(_source(dims, tmp_path, fields={"input": "request.txt"}, map={}, weight_by=[]), dims)
    assert str(err.value) == (
        "sources.production.fields.input: `request.txt` is not a field of t.jsonl; "
        "its fields: request.text, request.channel, id"
    )


@pytest.mark.parametrize(
    "content",
    [
        b"john.doe@corp.example,+1 415 555 0100,refund please for order 7781\nx@y.org,555-0101,hi\n",
        bytes(range(256)) * 12,  # not text at all
    ],
    ids=["headerless-csv-of-private-data", "binary"],
)
def test_a_file_with_no_configured_field_quotes_none_of_its_first_line(
    tmp_path: Path, dims: tuple[Dimension, ...], content: bytes
) -> None:
    # the "fields" of a CSV without a header are its first row: they were listed, private values and all
    (tmp_path / "t.csv").write_bytes(content)
    source = _source(
        dims, tmp_path, fields={"input": "text", "output": "reply", "error": "failed"}, map={}, weight_by=[]
    )
    with pytest.raises(SourceError) as err:
        load_traces(source, dims)
    message = str(err.value)
    assert "\n" not in message and message.isprintable(), message
    assert "none of the fields it names (`text`, `reply`, `failed`) is a field of t.csv" in message
    assert "check that the file starts with a header line" in message
    for private in ("john", "corp.example", "555", "refund", "7781"):
        assert private not in message


def test_a_header_lists_its_names_but_not_bytes_no_header_has(
    tmp_path: Path, dims: tuple[Dimension, ...]
) -> None:
    (tmp_path / "t.csv").write_bytes(b"text,answr,when,odd\x01name\nhello,hi,2026-11-03,x\n")
    source = _source(dims, tmp_path, fields={"input": "text", "output": "answer"}, map={}, weight_by=[])
    with pytest.raises(SourceError) as err:
        load_traces(source, dims)
    assert str(err.value) == (
        "sources.production.fields.output: `answer` is not a field of t.csv; its fields: text, answr, when "
        "(and 1 that does not read as a field name)"
    )


def test_unparsable_timestamp_column_names_it_without_private_values(
    tmp_path: Path, dims: tuple[Dimension, ...]
) -> None:
    _write_jsonl(tmp_path / "t.jsonl", [{"text": "hi", "when": f"user{i}@mail.com"} for i in range(5)])
    with pytest.raises(SourceError) as err:
        load_traces(
            _source(
                dims,
                tmp_path,
                fields={"input": "text", "timestamp": "when"},
                map={},
                weight_by=[],
                max_malformed=1.0,
            ),
            dims,
        )
    assert "`when` does not parse as a timestamp" in str(err.value) and "@" not in str(err.value)
    _write_jsonl(tmp_path / "t.jsonl", [{"text": "hi", "when": "2026-13-45"} for i in range(5)])
    with pytest.raises(SourceError, match="'2026-13-45'"):
        load_traces(
            _source(
                dims,
                tmp_path,
                fields={"input": "text", "timestamp": "when"},
                map={},
                weight_by=[],
                max_malformed=1.0,
            ),
            dims,
        )


BAD_CONFIG = [
    ("missing_path", {"path": None}, "sources.production.path: is missing"),
    ("empty_glob", {"path": "nothing/*.jsonl"}, "sources.production.path: `nothing/*.jsonl` matches no file"),
    ("unknown_key", {"quotas": 0.2}, "sources.production.quotas: unknown key; did you mean `quota`?"),
    (
        "unknown_dimension",
        {"map": {"intnet": {"field": "x"}}},
        "sources.production.map.intnet: unknown dimension; did you mean `intent`?",
    ),
    (
        "unknown_rule_value",
        {"map": {"difficulty": {"rules": {"brutal": ["x"]}}}},
        "sources.production.map.difficulty.rules.brutal: `brutal` is not a value of difficulty",
    ),
    (
        "unknown_translation",
        {"map": {"intent": {"field": "l", "values": {"REFUND": "refnd"}}}},
        "sources.production.map.intent.values.REFUND: `refnd` is not a value of intent",
    ),
    ("unknown_factor", {"weight_by": ["errors"]}, "sources.production.weight_by: unknown factor `errors`"),
    (
        "factor_without_field",
        {"fields": {"input": "t"}, "weight_by": ["error_rate"]},
        "`error_rate` needs fields.error",
    ),
    ("quota_range", {"quota": 1.5}, "sources.production.quota: must be a number from 0 to 1"),
    ("bad_since", {"since": "last week"}, "sources.production.since: 'last week' is not a date"),
    ("bad_pii", {"pii": "mask"}, "sources.production.pii: must be redact or reject"),
    (
        "bad_pattern",
        {"patterns": {"emp": "EMP-("}},
        "sources.production.patterns.emp: is not a valid regular",
    ),
    ("no_input", {"fields": {"output": "o"}}, "sources.production.fields.input: is missing"),
]


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in BAD_CONFIG], ids=[i for i, _, _ in BAD_CONFIG]
)
def test_bad_production_config_is_one_clear_line(
    change: dict[str, Any], message: str, dims: tuple[Dimension, ...]
) -> None:
    with pytest.raises(ConfigError) as err:
        ProductionSource.from_config({**CONFIG, **change}, dims, PACKAGE_ROOT)
    assert message in str(err.value)
    assert all(line.startswith("sources.production") for line in str(err.value).splitlines())


def _timed_traces(tmp_path: Path, dims: tuple[Dimension, ...], **changes: Any) -> TraceSet:
    rows = [
        {
            "text": "refund please",
            "intent": "refund",
            "ts": f"2026-09-{d:02d}T10:00:00Z",
            "failed": d % 2 == 0,
        }
        for d in range(1, 11)
    ]
    rows += [
        {
            "text": "where is it",
            "intent": "shipping_status",
            "ts": f"2026-10-{d:02d}T10:00:00Z",
            "failed": False,
        }
        for d in range(1, 11)
    ]
    _write_jsonl(tmp_path / "t.jsonl", rows)
    config = {
        "fields": {"input": "text", "timestamp": "ts", "error": "failed"},
        "map": {"intent": {"field": "intent"}},
        **changes,
    }
    return load_traces(_source(dims, tmp_path, **config), dims)


@pytest.mark.parametrize(
    ("since", "previous", "refund", "shipping"),
    [
        ("2026-10-01", None, 0.0, 1.0),
        ("2026-09-06", None, 0.5, 1.0),
        ("2026-10-06", datetime(2026, 9, 1), 0.0, 0.5),  # an explicit date wins over the previous cut-off
        (None, datetime(2026, 10, 6), 0.0, 0.5),  # no date: the previous version's cut-off
        ("previous", datetime(2026, 9, 6), 0.5, 1.0),
        ("previous", None, None, None),  # a first version has nothing to compare with
    ],
    ids=[
        "since",
        "since_mid_september",
        "since_beats_previous",
        "previous_by_default",
        "previous",
        "first_version",
    ],
)
def test_novelty_respects_the_cutoff(
    since: str | None,
    previous: datetime | None,
    refund: float | None,
    shipping: float | None,
    tmp_path: Path,
    dims: tuple[Dimension, ...],
) -> None:
    evidence = compute_evidence(_timed_traces(tmp_path, dims, since=since), dims, previous_cutoff=previous)
    intent = evidence.dimension("intent")
    assert (intent["refund"]["novelty"], intent["shipping_status"]["novelty"]) == (refund, shipping)
    assert evidence.latest == datetime(2026, 10, 10, 10)


def test_statistics_per_value_and_behaviour(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    evidence = compute_evidence(_timed_traces(tmp_path, dims), dims)
    refund = evidence.dimension("intent")["refund"]
    assert (refund["traces"], refund["share"], refund["errors"], refund["error_rate"], refund["rarity"]) == (
        10,
        0.5,
        5,
        0.5,
        0.5,
    )
    assert evidence.dimension("intent")["cancel_order"]["traces"] == 0
    manifest = evidence.to_manifest()
    assert manifest["rows"] == 20 and manifest["dimensions"]["intent"]["refund"]["error_rate"] == 0.5
    json.dumps(manifest)  # plain values only


def test_support_behaviour_labels_and_manifest(traces: TraceSet, dims: tuple[Dimension, ...]) -> None:
    evidence = compute_evidence(traces, dims)
    labels = evidence.behaviors["behavior"].to_list()
    assert "leaked_account_data" in labels and evidence.behaviors["traces"].sum() == 293
    manifest = json.dumps(evidence.to_manifest())
    assert not any(v in manifest for v in PLANTED_VALUES)


# --- weights -------------------------------------------------------------------------------------------


def _evidence(
    counts: dict[str, tuple[int, int, int]], cutoff: datetime | None = datetime(2026, 10, 1)
) -> Evidence:
    """Evidence for one dimension `d` from {value: (traces, errors, new)}."""
    rows = [
        {
            "dimension": "d",
            "value": v,
            "traces": n,
            "share": n / max(1, sum(c[0] for c in counts.values())),
            "errors": e,
            "judged": n,
            "error_rate": e / n if n else None,
            "rarity": 0.0,
            "novelty": new / n if n else None,
            "dated": n,
            "new": new,
            "first_seen": None,
            "last_seen": None,
        }
        for v, (n, e, new) in counts.items()
    ]
    return Evidence(pl.DataFrame(rows), pl.DataFrame(), 0, 0, {}, {}, {}, cutoff, None, ())


def _dimension(weights: dict[str, float]) -> Dimension:
    return Dimension("d", "", tuple(Value(v, w) for v, w in weights.items()))


def test_more_errors_mean_more_weight() -> None:
    dim = _dimension({"a": 2, "b": 1, "c": 1, "~n": 1})
    calm = adjust_weights(
        [dim], _evidence({"a": (100, 5, 0), "b": (100, 5, 0), "c": (100, 5, 0)}), ["error_rate"]
    )
    failing = adjust_weights(
        [dim], _evidence({"a": (100, 5, 0), "b": (100, 40, 0), "c": (100, 5, 0)}), ["error_rate"]
    )
    assert calm["d"]["b"] == pytest.approx((1, 1))
    assert failing["d"]["b"][1] > 1.5 and failing["d"]["a"][1] < 2 and failing["d"]["~n"] == (1, 1)


def test_values_without_traces_and_negatives_keep_their_weight() -> None:
    dim = _dimension({"a": 3, "b": 1, "quiet": 2, "~n": 1})
    weights = adjust_weights(
        [dim],
        _evidence({"a": (10, 0, 0), "b": (10, 9, 10), "quiet": (0, 0, 0)}),
        ["error_rate", "novelty", "frequency"],
    )
    assert weights["d"]["quiet"] == (2, 2) and weights["d"]["~n"] == (1, 1)
    assert weights["d"]["a"][1] + weights["d"]["b"][1] == pytest.approx(4)


VALUES = st.dictionaries(
    st.sampled_from("abcdef"),
    st.tuples(st.floats(0.1, 10), st.integers(0, 500), st.floats(0, 1), st.floats(0, 1)),
    min_size=2,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    VALUES,
    st.sampled_from(
        [
            ["error_rate"],
            ["novelty"],
            ["frequency"],
            ["rarity"],
            ["error_rate", "novelty", "frequency"],
            ["error_rate", "rarity"],
        ]
    ),
)
def test_weights_stay_within_bounds(
    values: dict[str, tuple[float, int, float, float]], weight_by: list[str]
) -> None:
    dim = _dimension({v: w for v, (w, _, _, _) in values.items()} | {"~neg": 1.0})
    counts = {v: (n, int(n * e), int(n * new)) for v, (_, n, e, new) in values.items()}
    result = adjust_weights([dim], _evidence(counts), weight_by)["d"]
    total = sum(base for base, _ in result.values())
    assert sum(adjusted for _, adjusted in result.values()) == pytest.approx(total)
    for value, (base, adjusted) in result.items():
        assert adjusted >= 0.25 * base - 1e-9
        assert adjusted <= max(0.6 * total, base) + 1e-9
        if value == "~neg" or counts.get(value, (0,))[0] == 0:
            assert adjusted == base


@settings(max_examples=150, deadline=None)
@given(VALUES, st.sampled_from("abcdef"), st.integers(1, 200), st.sampled_from(["errors", "new", "traces"]))
def test_weights_move_in_the_documented_direction(
    values: dict[str, tuple[float, int, float, float]], target: str, extra: int, what: str
) -> None:
    """More errors, more new traces (same traffic) or more traffic (with frequency): never less weight."""
    if target not in values:
        return
    dim = _dimension({v: w for v, (w, _, _, _) in values.items()})
    counts = {v: (n + 1, int((n + 1) * e), int((n + 1) * new)) for v, (_, n, e, new) in values.items()}
    n, e, new = counts[target]
    factor = {"errors": "error_rate", "new": "novelty", "traces": "frequency"}[what]
    raised = {
        **counts,
        target: {
            "errors": (n, min(n, e + extra), new),
            "new": (n, e, min(n, new + extra)),
            "traces": (n + extra, e, new),
        }[what],
    }
    before = adjust_weights([dim], _evidence(counts), [factor])["d"][target][1]
    after = adjust_weights([dim], _evidence(raised), [factor])["d"][target][1]
    assert after >= before - 1e-9


# --- snippets and trace cases --------------------------------------------------------------------------


def test_snippets_are_scrubbed_short_and_deterministic(traces: TraceSet, dims: tuple[Dimension, ...]) -> None:
    snippets = select_snippets(traces, dims, k=20)
    assert snippets.keys() >= {"intent=refund", "channel=chat", "difficulty=hard"}
    everything = "\n".join(s for group in snippets.values() for s in group)
    assert not any(v in everything for v in PLANTED_VALUES)
    assert all(len(s) <= 301 for group in snippets.values() for s in group)
    assert all(len(group) <= 20 for group in snippets.values())
    assert select_snippets(traces, dims, k=20) == snippets
    reloaded = load_traces(traces.source, dims, pool_size=1000)
    assert select_snippets(reloaded, dims, k=3) == select_snippets(traces, dims, k=3)


def test_snippets_per_cell_fall_back_to_partial_matches(traces: TraceSet) -> None:
    cells = [
        (
            ("intent", "account_access"),
            ("difficulty", "hard"),
            ("policy_boundary", "within_policy"),
            ("channel", "chat"),
        ),
        {"intent": "refund", "channel": "email"},
    ]
    snippets = select_snippets(traces, cells, k=3)
    assert list(snippets) == [
        "intent=account_access, difficulty=hard, policy_boundary=within_policy, channel=chat",
        "intent=refund, channel=email",
    ]
    assert all(len(group) == 3 for group in snippets.values())


def test_representative_texts_beat_outliers() -> None:
    typical = [
        f"{greet} my parcel for order {n} has not arrived yet, where is it?"
        for greet, n in zip(
            ["Hi,", "Hello,", "Hey,", "Hi there,", "Good morning,", "Hi team,"], range(100, 106), strict=True
        )
    ]
    outliers = ["asdf qwerty zxcv", "URGENT!!! call the CEO about the stock price of banana futures"]
    texts = outliers[:1] + typical + outliers[1:]
    picked = rank_representative(texts, 3)
    assert len(picked) == 3 and not {0, len(texts) - 1} & set(picked)


def test_long_snippets_are_cut_at_a_word(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    _write_jsonl(tmp_path / "t.jsonl", [{"text": f"refund {words}", "intent": "refund"}])
    loaded = load_traces(
        _source(dims, tmp_path, fields={"input": "text"}, map={"intent": {"field": "intent"}}, weight_by=[]),
        dims,
    )
    (snippet,) = select_snippets(loaded, dims, k=3)["intent=refund"]
    assert len(snippet) <= 301 and snippet.endswith("…") and snippet[:-1] in f"refund {words}"
    assert snippet[:-1].split()[-1] in words.split()


def test_trace_cases_spread_over_cells_and_are_scrubbed(traces: TraceSet) -> None:
    cases = select_trace_cases(traces, 12)
    assert len(cases) == 12 and len({c.input for c in cases}) == 12
    assert len({tuple(sorted(c.cell.items())) for c in cases}) >= 10
    assert not any(v in c.input for c in cases for v in PLANTED_VALUES)
    assert select_trace_cases(traces, 12) == cases


def test_reject_mode_drops_traces_with_private_data(dims: tuple[Dimension, ...]) -> None:
    strict = load_traces(
        ProductionSource.from_config({**CONFIG, "pii": "reject"}, dims, PACKAGE_ROOT), dims, pool_size=1000
    )
    assert strict.pii_rejected == 34 and strict.pool.height == 293 - 34
    assert not strict.pool["input"].str.contains("<[A-Z_]+_1>").any()
    assert strict.usable == 293  # statistics still count every trace; only texts are withheld


def test_field_pointing_at_a_struct_names_its_fields(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    _write_jsonl(tmp_path / "t.jsonl", [{"request": {"text": "hi", "channel": "chat"}}])
    with pytest.raises(
        SourceError,
        match=r"`request` in t.jsonl is a struct; point it at a text or flag field such "
        r"as request.text, request.channel",
    ):
        load_traces(_source(dims, tmp_path, fields={"input": "request"}, map={}, weight_by=[]), dims)


def test_sampling_never_changes_the_pool(
    monkeypatch: pytest.MonkeyPatch, dims: tuple[Dimension, ...], traces: TraceSet
) -> None:
    """The first pass keeps the texts of a sample only; rare groups are fetched in a second pass, so the
    pool (the lowest-spread rows per value and cell) is the same as with every text kept."""
    source = traces.source
    whole = load_traces(source, dims, pool_size=5)
    monkeypatch.setattr("compiler.sources.traces.SAMPLE_ROWS", 25)
    sampled = load_traces(source, dims, pool_size=5)
    assert sampled.pool.equals(whole.pool)
    for value, count in traces.frame["intent"].value_counts().iter_rows():
        if value is not None:
            assert sampled.pool.filter(pl.col("intent") == value).height >= min(5, count)


def test_empty_file_is_an_error(tmp_path: Path, dims: tuple[Dimension, ...]) -> None:
    (tmp_path / "t.jsonl").write_text("")
    with pytest.raises(SourceError, match="holds no rows"):
        load_traces(_source(dims, tmp_path, fields={"input": "text"}, map={}, weight_by=[]), dims)


def test_compile_and_plan_say_which_trace_rows_they_left_out(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shipped example traces hold a few rows a real export has: no input, an unreadable timestamp
    from compiler.cli.main import main

    for argv in (["plan", "size=12"], ["compile", "size=12", "dedupe.near=null"]):
        assert main(argv) == 0
        err = capsys.readouterr().err
        warned = [line for line in err.splitlines() if "sources.production: left out" in line]
        assert len(warned) == 1 and warned[0].startswith(
            "dsc: warning: sources.production: left out 7 malformed"
        )
        assert "the first at support_bot.jsonl:" in warned[0]
