"""`dsc dedupe` on files: JSONL, Parquet and CSV in and out, annotations, and one clear error per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from compiler.core.errors import SourceError, UsageError
from compiler.screen.dedupe_file import DedupeFileResult, dedupe_file

POEM = "write a short poem about the sea and the wind that blows over the grey waves at night"
ROWS = [
    {"id": 1, "prompt": POEM, "lang": "en"},
    {"id": 2, "prompt": POEM.capitalize() + "!", "lang": "en"},  # near: case and punctuation
    {"id": 3, "prompt": POEM, "lang": "fr"},  # exact copy of row 1's prompt
    {"id": 4, "prompt": None, "lang": "en"},
    {
        "id": 5,
        "prompt": "explain how attention lets a transformer weigh every token of a long input",
        "lang": "en",
    },
    {"id": 6, "prompt": "", "lang": "en"},
]


def write_table(frame: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    elif path.suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_ndjson(path)
    return path


def read_table(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    return pl.read_ndjson(path)


@pytest.mark.parametrize(
    "suffix", [".jsonl", ".ndjson", ".parquet", ".csv"], ids=["jsonl", "ndjson", "parquet", "csv"]
)
def test_survivors_are_written_beside_the_input_in_its_format_and_order(tmp_path: Path, suffix: str) -> None:
    source = write_table(pl.DataFrame(ROWS), tmp_path / f"rows{suffix}")
    result = dedupe_file(source, ["prompt"])
    assert result == DedupeFileResult(
        rows_in=6, kept=4, exact=1, near=1, empty=2, out_path=tmp_path / f"rows.dedup{suffix}"
    )
    assert read_table(result.out_path)["id"].cast(pl.Int64).to_list() == [1, 4, 5, 6]  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, f"rows.dedup{suffix}"])


@pytest.mark.parametrize(
    "out_name", ["notes.parquet", "notes.jsonl", "notes.csv"], ids=["parquet", "jsonl", "csv"]
)
def test_annotate_keeps_every_row_and_names_its_kept_row(tmp_path: Path, out_name: str) -> None:
    source = write_table(pl.DataFrame(ROWS), tmp_path / "rows.jsonl")
    result = dedupe_file(source, ["prompt"], out=tmp_path / out_name, annotate=True)
    annotated = read_table(tmp_path / out_name)
    assert result.out_path == tmp_path / out_name
    assert annotated.columns == ["id", "prompt", "lang", "dup_of", "dup_kind"]
    assert annotated["dup_of"].cast(pl.Int64).to_list() == [None, 0, 0, None, None, None]
    assert annotated["dup_kind"].to_list() == [None, "near", "exact", None, None, None]


def test_exact_only_keeps_near_duplicates(tmp_path: Path) -> None:
    source = write_table(pl.DataFrame(ROWS), tmp_path / "rows.parquet")
    result = dedupe_file(source, ["prompt"], near=None)
    assert (result.kept, result.exact, result.near, result.empty) == (5, 1, 0, 2)
    assert pl.read_parquet(tmp_path / "rows.dedup.parquet")["id"].to_list() == [1, 2, 4, 5, 6]


def test_several_columns_and_nested_fields_are_compared_together(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "meta": [{"lang": "en"}, {"lang": "en"}, {"lang": "fr"}, {"lang": "en"}],
            "messages": [
                [{"role": "user", "content": POEM}],
                [{"role": "user", "content": POEM + "."}],  # the same words
                [{"role": "user", "content": POEM}],  # another language
                [{"role": "user", "content": POEM}],  # a copy of row 1
            ],
        }
    )
    source = write_table(frame, tmp_path / "chat.jsonl")
    result = dedupe_file(source, ["messages", "meta.lang"], near=0.99, annotate=True)
    assert (result.kept, result.exact, result.near) == (2, 1, 1)
    annotated = pl.read_ndjson(tmp_path / "chat.dedup.jsonl")
    assert annotated["dup_kind"].to_list() == [None, "near", None, "exact"]


def test_an_existing_output_is_replaced_whole(tmp_path: Path) -> None:
    source = write_table(pl.DataFrame(ROWS), tmp_path / "rows.jsonl")
    (tmp_path / "rows.dedup.jsonl").write_text("stale\n" * 100)
    dedupe_file(source, ["prompt"])
    assert pl.read_ndjson(tmp_path / "rows.dedup.jsonl")["id"].to_list() == [1, 4, 5, 6]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"], ids=["jsonl", "csv", "parquet"])
def test_an_empty_input_gives_an_empty_output(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / f"empty{suffix}"
    if suffix == ".parquet":
        pl.DataFrame({"prompt": []}, schema={"prompt": pl.String}).write_parquet(source)
    else:
        source.write_text("")
    result = dedupe_file(source, ["prompt"])
    assert (result.rows_in, result.kept, result.exact, result.near, result.empty) == (0, 0, 0, 0, 0)
    assert result.out_path is not None and result.out_path.exists()


@pytest.mark.parametrize(
    ("make_input", "kwargs", "error", "message"),
    [
        (lambda d: d / "missing.jsonl", {}, SourceError, "no such file"),
        (lambda d: d, {}, SourceError, "is a folder; give the file to dedupe"),
        (
            lambda d: write_text(d / "rows.jsonl", '{"prompt": 1}\n{"prompt": null}\n{"prompt": [1]}\n'),
            {},
            SourceError,
            "rows.jsonl:3: field 'prompt' is a list here and a number on line 1; give it one kind",
        ),
        (lambda d: write_text(d / "rows.txt", "x"), {}, SourceError, "unknown format '.txt'; use .jsonl"),
        (lambda d: write_text(d / "rows.jsonl", '{"prompt": 1}\n{"prompt": \n'), {}, SourceError, "rows.jsonl:2: not valid JSON"),
        (lambda d: write_text(d / "rows.jsonl", '{"prompt": 1}\n[1]\n'), {}, SourceError, "rows.jsonl:2: not a JSON object"),
        (lambda d: rows_file(d), {"on": ["promt"]}, UsageError, "columns are: id, prompt, lang"),
        (lambda d: rows_file(d), {"on": ["prompt.text"]}, UsageError, "no such column"),
        (lambda d: rows_file(d), {"on": []}, UsageError, "name at least one column"),
        (lambda d: rows_file(d), {"near": 0.0}, UsageError, "must be in (0, 1]"),
        (lambda d: rows_file(d), {"near": 1.01}, UsageError, "must be in (0, 1]"),
        (lambda d: rows_file(d), {"near": 80.0}, UsageError, "--near 80: the similarity threshold must be in (0, 1], e.g. --near 0.8"),
        (lambda d: rows_file(d), {"out": Path("rows.xlsx")}, UsageError, "unknown format '.xlsx'"),
        (lambda d: rows_file(d), {"out": Path("rows.jsonl")}, UsageError, "would overwrite the input"),
        (lambda d: rows_file(d), {"out": Path("missing/out.jsonl")}, UsageError, "does not exist"),
        (lambda d: rows_file(d), {"shingle": "line"}, UsageError, "--shingle line: unknown shingle"),
        (lambda d: rows_file(d), {"ngram": 0}, UsageError, "--ngram 0: must be a whole number from 1"),
    ],
    ids=[
        "missing-file", "a-folder", "kinds-differ", "unknown-format", "bad-jsonl", "jsonl-list-line", "missing-column", "missing-field", "no-columns",
        "threshold-zero", "threshold-above-one", "threshold-as-percent", "unknown-output-format", "output-is-input", "missing-output-dir",
        "unknown-shingle", "zero-ngram",
    ],
)  # fmt: skip
def test_each_mistake_raises_one_clear_error(
    tmp_path: Path, make_input, kwargs: dict, error: type[Exception], message: str
) -> None:
    source = make_input(tmp_path)
    if "out" in kwargs:
        kwargs = {**kwargs, "out": tmp_path / kwargs["out"]}
    with pytest.raises(error, match=None) as raised:
        dedupe_file(source, **{"on": ["prompt"], **kwargs})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_nested_columns_cannot_go_to_csv(tmp_path: Path) -> None:
    source = write_table(pl.DataFrame({"prompt": ["a b c"], "meta": [{"x": 1}]}), tmp_path / "rows.jsonl")
    with pytest.raises(UsageError, match="CSV cannot hold nested columns \\(meta\\)"):
        dedupe_file(source, ["prompt"], out=tmp_path / "rows.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rows_file(directory: Path) -> Path:
    return write_table(pl.DataFrame(ROWS), directory / "rows.jsonl")


@pytest.mark.parametrize(
    ("flags", "kept"),
    [
        (["--near", "0.8"], 2),
        (["--near", "0.8", "--shingle", "char"], 1),
        (["--near", "0.8", "--shingle", "char", "--ngram", "8"], 2),
        (["--near", "0.75"], 1),
    ],
    ids=["word-unigrams-miss-a-typo", "char-3-grams-catch-it", "char-8-grams-miss-it", "lower-threshold"],
)
def test_the_shingling_is_chosen_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], kept: int
) -> None:
    from compiler.cli.main import main

    rows = [{"prompt": "Please cancel my order number 55 today, thanks"}, {"prompt": "please cancle my order number 55 today thanks"}]  # fmt: skip
    source = write_table(pl.DataFrame(rows), tmp_path / "rows.jsonl")
    assert main(["dedupe", str(source), "--on", "prompt", *flags]) == 0
    assert f"2 rows in: {kept} kept" in capsys.readouterr().out
    assert read_table(tmp_path / "rows.dedup.jsonl").height == kept


PARAPHRASE_ROWS = [
    {"prompt": "Write a short poem about the sea at night"},
    {"prompt": "explain how attention lets a transformer weigh every token of a long input"},
    {"prompt": "write short poems about the seas at night time"},  # word-unigram Jaccard 0.5, cosine ~0.61
    {"prompt": "Write short poems about the seas at night time!"},  # a lexical copy of row 2
]


def test_semantic_drops_what_lexical_dedupe_keeps_and_names_the_kept_row(tmp_path: Path) -> None:
    from compiler.spec.model import SemanticDedupe

    source = write_table(pl.DataFrame(PARAPHRASE_ROWS), tmp_path / "rows.jsonl")
    lexical = dedupe_file(source, ["prompt"], near=0.85, annotate=True)
    assert (lexical.kept, lexical.near, lexical.semantic) == (3, 1, 0)
    result = dedupe_file(source, ["prompt"], near=0.85, annotate=True, semantic=SemanticDedupe(threshold=0.6))
    assert (result.kept, result.near, result.semantic) == (2, 1, 1)
    annotated = read_table(tmp_path / "rows.dedup.jsonl")
    assert annotated["dup_kind"].to_list() == [None, None, "semantic", "near"]
    assert annotated["dup_of"].to_list() == [None, None, 0, 0]  # the copy follows its paraphrase to row 0
    strict = dedupe_file(source, ["prompt"], near=0.85, semantic=SemanticDedupe(threshold=0.95))
    assert strict.semantic == 0  # the threshold is honoured: 0.61 < 0.95


def test_semantic_dedupe_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compiler.cli.main import main

    source = write_table(pl.DataFrame(PARAPHRASE_ROWS), tmp_path / "rows.parquet")
    command = ["dedupe", str(source), "--on", "prompt", "--semantic", "--threshold", "0.6"]
    assert main([*command, "--embedder", "local/hashing"]) == 0
    assert "4 rows in: 2 kept, 0 exact and 1 near, 1 semantic duplicates dropped" in capsys.readouterr().out
    assert read_table(tmp_path / "rows.dedup.parquet")["prompt"].to_list() == [
        row["prompt"] for row in PARAPHRASE_ROWS[:2]
    ]
    assert main(["dedupe", str(source), "--on", "prompt", "--semantic"]) == 0  # default 0.9 keeps them
    assert "4 rows in: 3 kept, 0 exact and 1 near, 0 semantic" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--threshold", "0.8"], "--threshold: only means something with --semantic"),
        (["--embedder", "openai/text-embedding-3-small"], "--embedder: only means something with --semantic"),
        (["--semantic", "--threshold", "1.5"], "--threshold 1.5: the cosine threshold must be in (0, 1]"),
        (["--semantic", "--threshold", "0"], "--threshold 0.0: the cosine threshold must be in (0, 1]"),
        (["--semantic", "--embedder", "ada"], "--embedder ada: names no provider; use local/hashing"),
    ],
    ids=[
        "threshold-alone",
        "embedder-alone",
        "threshold-above-one",
        "threshold-zero",
        "embedder-no-provider",
    ],
)
def test_semantic_flag_mistakes_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    from compiler.cli.main import main

    source = rows_file(tmp_path)
    assert main(["dedupe", str(source), "--on", "prompt", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]


def test_a_failing_embedding_provider_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.main import main

    source = rows_file(tmp_path)
    # Port 9 (discard) on loopback refuses the connection: the request fails fast, without a network.
    command = [
        "dedupe",
        str(source),
        "--on",
        "prompt",
        "--semantic",
        "--embedder",
        "openai/text-embedding-3-small",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", "sk-test")
        patch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        patch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
        assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "embedding request failed" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.jsonl"]


@pytest.mark.parametrize(
    ("flags", "summary"),
    [([], "1 near duplicates dropped"), (["--semantic"], "1 near, 0 semantic duplicates dropped")],
    ids=["lexical", "local-semantic"],
)
def test_dedupe_process_prints_its_summary_and_writes_the_file(
    tmp_path: Path, flags: list[str], summary: str
) -> None:
    # The process ends without interpreter teardown: its summary and output file must still be whole.
    source = write_table(pl.DataFrame(ROWS), tmp_path / "rows.jsonl")
    out = tmp_path / "kept.jsonl"
    args = [sys.executable, "-m", "compiler.cli", "dedupe", str(source), "--on", "prompt", "--out", str(out)]
    done = subprocess.run(
        args + flags, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("6 rows in: 4 kept, 1 exact and ") and summary in done.stdout
    assert read_table(out)["id"].to_list() == [1, 4, 5, 6]


def test_annotate_says_it_marked_rather_than_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.main import main

    source = write_table(pl.DataFrame(ROWS), tmp_path / "rows.jsonl")
    assert main(["dedupe", str(source), "--on", "prompt", "--annotate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "6 rows in: 4 unique, 1 exact and 1 near duplicates marked (dup_of, dup_kind), every"
    )
    assert len(read_table(tmp_path / "rows.dedup.jsonl")) == 6


def test_a_missing_column_lists_names_but_not_a_headerless_first_row(tmp_path: Path) -> None:
    # a CSV without a header: its first row is the "columns", and it was quoted whole
    path = tmp_path / "rows.csv"
    path.write_text("jane@corp.example,4111 1111 1111 1111,refund\nbob@x.org,hi,status\n")
    with pytest.raises(UsageError) as err:
        dedupe_file(path, on=["prompt"])
    message = str(err.value)
    assert "jane" not in message and "4111" not in message
    assert message.endswith(
        "columns are: refund and 2 that do not read as names (is the first line a header?)"
    )
    assert not (tmp_path / "rows.dedup.csv").exists()


def test_a_misspelt_column_gets_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("prompt,score\nhello there,1\n")
    for typed in ("Prompt", "promt"):
        with pytest.raises(UsageError, match=r"; did you mean --on prompt\? columns are: prompt, score$"):
            dedupe_file(path, on=[typed])
