"""Curated regression and golden rows, and the `sources` block with its quotas."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from compiler.core.errors import ConfigError, SourceError
from compiler.sources.curated import load_curated
from compiler.spec.compose import PACKAGE_ROOT, load_spec
from compiler.spec.model import Spec
from compiler.spec.validate.sources import CuratedSource, Sources

DATASET = PACKAGE_ROOT / "datasets" / "support_bot"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec([])


def _load(spec: Spec, path: Path, **config: Any) -> Any:
    source = CuratedSource.from_config(
        {"path": path.name, **config}, spec.dimensions, path.parent, name="regression"
    )
    return load_curated(
        source, "regression", ["customer_message"], [c.name for c in spec.columns], optional=["order_context"]
    )


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("name", ["regression", "golden"])
def test_support_files_load(spec: Spec, name: str) -> None:
    source = CuratedSource.from_config(
        f"datasets/support_bot/{name}.jsonl", spec.dimensions, PACKAGE_ROOT, name=name
    )
    loaded = load_curated(
        source, name, ["customer_message"], [c.name for c in spec.columns], optional=["order_context"]
    )
    assert len(loaded.rows) == 6 and loaded.lines == (1, 2, 3, 4, 5, 6)
    written = [json.loads(line) for line in (DATASET / f"{name}.jsonl").read_text().splitlines()]
    assert [r["id"] for r in loaded.rows] == [r["id"] for r in written]
    assert [r["cell"] for r in loaded.rows] == [r["cell"] for r in written]
    assert [list(r) for r in loaded.rows] == [list(r) for r in written]  # same shape, same key order
    assert {r["source"] for r in loaded.rows} == {name}  # the shape `dsc promote` appends


def test_private_values_in_curated_rows_are_redacted(spec: Spec) -> None:
    loaded = _load(spec, DATASET / "regression.jsonl")
    assert loaded.pii == {"card": 1, "email": 1, "iban": 1}
    text = json.dumps(loaded.rows)
    for value in ("maria.gonzalez@gmail.com", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00"):
        assert value not in text
    assert "Maybe it's <EMAIL_1>?" in loaded.rows[1]["inputs"]["customer_message"]
    kept = _load(spec, DATASET / "regression.jsonl", pii="keep")
    assert kept.rows[1]["inputs"]["customer_message"].endswith("maria.gonzalez@gmail.com?")
    assert [r["id"] for r in kept.rows] == [r["id"] for r in loaded.rows]  # ids and cells are never rewritten


def test_a_lone_surrogate_escape_in_a_curated_row_is_mended(spec: Spec, tmp_path: Path) -> None:
    """`\\ud83d` alone is valid JSON but no UTF-8 text: the row loads with U+FFFD in its place and an id."""
    row = json.loads((DATASET / "golden.jsonl").read_text().splitlines()[0])
    row["inputs"]["customer_message"] += " \ud83d"
    row.pop("id", None)
    loaded = _load(spec, _write(tmp_path / "golden.jsonl", [row]))
    message = loaded.rows[0]["inputs"]["customer_message"]
    assert message.endswith(" \ufffd") and message.encode("utf-8")


def test_reject_refuses_the_file_without_quoting_the_value(spec: Spec) -> None:
    with pytest.raises(SourceError) as err:
        _load(spec, DATASET / "regression.jsonl", pii="reject")
    message = str(err.value)
    assert (
        "regression.jsonl:2: regression row holds private data: email and sources.regression.pii is reject"
        in message
    )
    assert "maria" not in message and "4111" not in message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet(spec: Spec, fmt: str, tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "customer_message": ["Where is my parcel?", "Mail me at a@shop.io"],
            "order_context": ["", "{}"],
            "verdict": ["answer", "escalate"],
        }
    )
    path = tmp_path / f"golden.{fmt}"
    frame.write_csv(path) if fmt == "csv" else frame.write_parquet(path)
    loaded = _load(spec, path)
    assert [r["customer_message"] for r in loaded.rows] == ["Where is my parcel?", "Mail me at <EMAIL_1>"]
    assert loaded.lines == ((2, 3) if fmt == "csv" else (1, 2))


def test_rows_without_the_input_columns_name_file_lines_and_columns(spec: Spec, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "regression.jsonl",
        [
            {"customer_message": "fine", "verdict": "answer"},
            {"order_context": "{}", "verdict": "answer"},
            {"inputs": {"customer_message": "nested is fine"}},
            {"customer_message": "  ", "verdict": "refuse"},
        ],
    )
    with pytest.raises(SourceError) as err:
        _load(spec, path)
    assert str(err.value) == (
        f"{path}: lines 2, 4 lack input column customer_message; every regression row needs "
        "customer_message (at the top level or under `inputs`)"
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"customer_message": "x", "verdit": "answer"}, "unknown field `verdit`; did you mean `verdict`?"),
        (
            {"customer_message": "x", "expected": {"verdikt": "answer"}},
            "unknown evaluator column `expected.verdikt`",
        ),
        (
            {"customer_message": "x", "cell": {"intnet": "refund"}},
            "`cell.intnet` but there is no such dimension",
        ),
        (
            {"customer_message": "x", "cell": {"intent": "refunds"}},
            "a `cell.intent` value that intent does not have",
        ),
        ({"inputs": {"customer_msg": "x"}}, "unknown input column `inputs.customer_msg`"),
    ],
    ids=["typo", "expected_typo", "cell_dimension", "cell_value", "inputs_typo"],
)
def test_malformed_rows_are_explained(spec: Spec, tmp_path: Path, row: dict[str, Any], message: str) -> None:
    path = _write(tmp_path / "regression.jsonl", [{"customer_message": "ok"}, row])
    with pytest.raises(SourceError, match=re.escape(f"regression.jsonl:2: regression row has {message}")):
        _load(spec, path)


def test_a_curated_csv_without_a_header_quotes_none_of_its_first_row(spec: Spec, tmp_path: Path) -> None:
    # its first row became the field names, and each was quoted: an e-mail address and a card number too
    path = tmp_path / "regression.csv"
    path.write_text(
        "jane.roe@corp.example,my card 4111 1111 1111 1111 was charged twice,refund\n"
        "bob@corp.example,where is my order,status\n"
    )
    with pytest.raises(SourceError) as err:
        _load(spec, path)
    message = str(err.value)
    assert message == (
        f"{path}:2: regression row has 3 field names that do not read as a name (not shown: they may be "
        "data); check that the file starts with a header line"
    )


def test_an_unknown_field_names_the_input_and_evaluator_columns(spec: Spec, tmp_path: Path) -> None:
    path = _write(tmp_path / "regression.jsonl", [{"customer_message": "ok", "zzz": 1}])
    with pytest.raises(SourceError) as err:
        _load(spec, path)
    assert (
        "unknown field `zzz`; use the input columns (customer_message, order_context), the evaluator "
        in str(err.value)
    )


def test_invalid_json_names_the_line(spec: Spec, tmp_path: Path) -> None:
    path = tmp_path / "regression.jsonl"
    path.write_text('{"customer_message": "ok"}\n{"customer_message": "secret@mail.com"\n')
    with pytest.raises(SourceError) as err:
        _load(spec, path)
    assert str(err.value).startswith(f"{path}:2: not valid JSON") and "secret" not in str(err.value)


BAD_SOURCES = [
    ("missing_path", {"golden": {"quota": 0.1}}, "sources.golden.path: is missing"),
    (
        "empty_glob",
        {"golden": "datasets/support_bot/nothing*.jsonl"},
        "sources.golden.path: `datasets/support_bot/nothing*.jsonl` matches no file",
    ),
    (
        "quota_range",
        {"golden": {"path": "datasets/support_bot/golden.jsonl", "quota": -0.1}},
        "sources.golden.quota: must be a number from 0 to 1",
    ),
    (
        "unknown_key",
        {"golden": {"path": "datasets/support_bot/golden.jsonl", "qouta": 0.1}},
        "sources.golden.qouta: unknown key; did you mean `quota`?",
    ),
    ("unknown_source", {"goldne": "x.jsonl"}, "sources.goldne: unknown source; did you mean `golden`?"),
    (
        "quotas_above_one",
        {
            "production": {"path": "data/traces/*.jsonl", "fields": {"input": "request.text"}, "quota": 0.6},
            "regression": {"path": "datasets/support_bot/regression.jsonl", "quota": 0.3},
            "golden": {"path": "datasets/support_bot/golden.jsonl", "quota": 0.2},
        },
        "sources: the quotas add up to 1.1 (production 0.6, regression 0.3, golden 0.2)",
    ),
]


@pytest.mark.parametrize(
    ("raw", "message"), [(r, m) for _, r, m in BAD_SOURCES], ids=[i for i, _, _ in BAD_SOURCES]
)
def test_bad_sources_are_one_clear_line(spec: Spec, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Sources.from_config(raw, spec.dimensions, PACKAGE_ROOT)
    assert message in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_sources_block_parses_all_three(spec: Spec) -> None:
    sources = Sources.from_config(
        {
            "production": {
                "path": "data/traces/*.jsonl",
                "fields": {"input": "request.text"},
                "quota": 0.2,
                "patterns": {"employee_id": r"EMP-\d{6}"},
            },
            "regression": {"path": "datasets/support_bot/regression.jsonl", "quota": 0.1},
            "golden": "datasets/support_bot/golden.jsonl",
        },
        spec.dimensions,
        PACKAGE_ROOT,
    )
    assert sources.quotas == {"production": 0.2, "regression": 0.1, "golden": 0.1}
    assert all(c.patterns == (("employee_id", r"EMP-\d{6}"),) for c in sources.curated)
    assert Sources.from_config({}, spec.dimensions, PACKAGE_ROOT) == Sources(None, ())


def _load_typed(spec: Spec, path: Path) -> Any:
    source = CuratedSource.from_config({"path": path.name}, spec.dimensions, path.parent, name="golden")
    return load_curated(
        source,
        "golden",
        ["customer_message"],
        [c.name for c in spec.columns],
        optional=["order_context"],
        typed=spec.columns,
    )


def test_an_evaluator_value_of_the_wrong_type_is_one_line_per_value(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    row = {"inputs": {"customer_message": "Where is my parcel?"}}
    _write(
        tmp_path / "golden.jsonl",
        [
            {**row, "expected": {"verdict": "answer", "needs_human": False, "must_include": ["tracking"]}},
            {**row, "expected": {"verdict": "maybe", "needs_human": "no"}},
            {**row, "must_include": "tracking"},
        ],
    )
    with pytest.raises(SourceError) as err:
        _load_typed(spec, tmp_path / "golden.jsonl")
    assert str(err.value).splitlines() == [
        "golden.jsonl:2: golden row has an `expected.verdict` that is not one of answer, refuse, escalate "
        "(the column is enum)",
        "golden.jsonl:2: golden row has an `expected.needs_human` that is not true or false (the column is bool)",
        "golden.jsonl:3: golden row has an `expected.must_include` that is not a list like [a, b] "
        "(the column is list)",
    ]


def test_csv_cells_are_read_as_their_columns_types(
    spec: Spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "golden.csv").write_text(
        "customer_message,verdict,needs_human,must_include\n"
        'Where is my parcel?,answer,true,"[""tracking""]"\n'
        "Cancel it,refuse,,\n"
    )
    loaded = _load_typed(spec, tmp_path / "golden.csv")
    assert [(r["needs_human"], r["must_include"]) for r in loaded.rows] == [
        (True, ["tracking"]),
        (None, None),
    ]
    (tmp_path / "golden.csv").write_text("customer_message,needs_human\nWhere is my parcel?,perhaps\n")
    with pytest.raises(
        SourceError, match=r"^golden.csv:2: golden row has an `expected.needs_human` that is not"
    ):
        _load_typed(spec, tmp_path / "golden.csv")
