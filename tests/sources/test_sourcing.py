"""Sources in a compile: evidence weights, production and curated rows with quotas, and the privacy gate
checked end to end at the LM server and in every file written."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from compiler.core.rows import Row
from compiler.pipeline.compile import compile_dataset
from compiler.privacy.gate import scrub_text
from compiler.spec.compose import PACKAGE_ROOT, Project
from tests.llm_server import MockLLMServer


def _planted_values() -> set[str]:
    """Every private value in the example traces, found by diffing each text against its redaction."""
    values: set[str] = set()
    for line in (PACKAGE_ROOT / "data" / "traces" / "support_bot.jsonl").read_text().splitlines():
        try:
            text = json.loads(line)["request"]["text"]
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(text, str):
            continue
        redacted = scrub_text(text, "redact").text
        matcher = difflib.SequenceMatcher(a=text, b=redacted, autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag in ("replace", "delete") and len(text[i1:i2].strip()) >= 6:
                values.add(text[i1:i2].strip())
    return values


def test_planted_private_values_never_reach_the_lm_or_any_output(project: Project) -> None:
    planted = _planted_values()
    assert len(planted) >= 10  # e-mails, phones, cards, IBANs, SSNs, IPs, keys are planted in the traces
    with MockLLMServer(latency=0.0) as server:
        result = compile_dataset(
            ["lm=openai_compatible", f"lm.api_base={server.base_url}", "lm.model=mock", "size=60"],
            project=project,
        )
        bodies = [body.decode("utf-8", "replace") for body in server.stats.bodies]
    assert any("Real requests seen in production" in body for body in bodies)  # snippets did reach templates
    for value in planted:
        assert not any(value in body for body in bodies), "a private value reached the LM"
    written = [p for p in (project.conf_dir.parent / "outputs").rglob("*") if p.is_file()]
    written += [p for p in (project.conf_dir.parent / ".dsc").rglob("*") if p.is_file()]
    for path in written:
        text = path.read_bytes().decode("utf-8", "replace")
        for value in planted:
            assert value not in text, f"a private value reached {path.name}"
    manifest = json.loads((result.version.path / "manifest.json").read_text())
    assert sum(manifest["evidence"]["pii"].values()) >= len(planted) // 2


def test_production_rows_follow_their_quota_and_weights_their_evidence(project: Project) -> None:
    result = compile_dataset(["size=50"], project=project)
    rows = [Row.from_json(line) for line in (result.version.path / "cases.jsonl").read_text().splitlines()]
    production = [r for r in rows if r.source == "production"]
    assert len(rows) == 50 and len(production) == 5  # quota 0.1
    assert all(r.provenance["trace_id"].startswith("tr-") for r in production)
    # labelled by the LM from the scrubbed trace: every evaluator column is filled, the input is the trace's
    assert all(value is not None for r in production for value in r.expected.values())
    assert all(r.provenance["lm"] == "offline/procedural-v2" for r in production)
    manifest = json.loads((result.version.path / "manifest.json").read_text())
    weights = manifest["weights"]["intent"]
    stats = manifest["evidence"]["dimensions"]["intent"]
    # account_access has the highest error rate in the traces: its weight goes up, bounded
    assert stats["account_access"]["error_rate"] == max(s["error_rate"] for s in stats.values())
    base, adjusted = weights["account_access"]
    assert base < adjusted <= 2 * base
    assert manifest["source_quotas"]["production"] == 0.1


def test_a_production_rows_variable_named_like_a_mapped_dimension_holds_its_value(project: Project) -> None:
    # `language: {field: lang}` maps the trace's language; a prompt variable `language` was left empty
    overrides = [
        "size=50",
        "++prompt.variables.channel={description: 'Where the message arrives.', required: false}",
    ]
    result = compile_dataset(overrides, project=project)
    rows = [Row.from_json(line) for line in (result.version.path / "cases.jsonl").read_text().splitlines()]
    production = [r for r in rows if r.source == "production"]
    assert production and all(r.inputs["channel"] == r.cell["channel"] != "" for r in production)
    assert all(r.inputs["customer_message"] for r in production)  # the trace's text, as before


def test_golden_rows_written_as_csv_join_and_an_unread_file_is_said(project: Project) -> None:
    # a hand-written golden.csv beside the promoted golden.jsonl, and a misnamed goldens.jsonl: the CSV was
    # left out in silence, and so was the misnamed file
    curated_dir = project.conf_dir.parent / "datasets" / "support_bot"
    curated_dir.mkdir(parents=True)
    (curated_dir / "golden.csv").write_text(
        "customer_message,expected_behavior,must_include,verdict,needs_human\n"
        '"Where is my parcel, order 123?",Gives the tracking status.,"[""tracking link""]",answer,false\n'
    )
    (curated_dir / "goldens.jsonl").write_text('{"customer_message": "misnamed"}\n')
    result = compile_dataset(["size=60", "~sources"], project=project)
    rows = [Row.from_json(x) for x in (result.version.path / "cases.jsonl").read_text().splitlines()]
    (golden,) = [r for r in rows if r.source == "golden"]
    assert golden.inputs["customer_message"] == "Where is my parcel, order 123?"
    assert golden.expected == {
        "expected_behavior": "Gives the tracking status.",
        "must_include": ["tracking link"],
        "verdict": "answer",
        "needs_human": False,
    }
    (said,) = [w for w in result.warnings if "goldens.jsonl" in w]
    assert "not read" in said and "golden.jsonl/.csv" in said


def test_curated_rows_join_untouched(project: Project) -> None:
    curated_dir = project.conf_dir.parent / "datasets" / "support_bot"
    curated_dir.mkdir(parents=True)
    source = (PACKAGE_ROOT / "datasets" / "support_bot" / "golden.jsonl").read_text().splitlines()
    (curated_dir / "golden.jsonl").write_text("\n".join(source) + "\n")
    result = compile_dataset(["size=60", "~sources"], project=project)
    rows = {
        r.id: r
        for r in (Row.from_json(x) for x in (result.version.path / "cases.jsonl").read_text().splitlines())
    }
    golden = [json.loads(line) for line in source]
    used = [g for g in golden if g["id"] in rows]
    assert len(used) == 6  # quota 0.1 of 60
    for original in used:
        row = rows[original["id"]]
        assert (
            row.source == "golden"
            and row.inputs == original["inputs"]
            and row.expected == original["expected"]
        )


def test_plan_counts_the_curated_and_production_rows_the_compile_joins(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # `dsc plan` planned all of `size` as synthetic rows, while the compile gives production and curated rows
    # their quotas first: the plan showed 50 synthetic rows and 75 calls for a compile of 45 and 5
    from compiler.cli.main import main

    curated_dir = project.conf_dir.parent / "datasets" / "support_bot"
    curated_dir.mkdir(parents=True)
    (curated_dir / "golden.jsonl").write_bytes(
        (PACKAGE_ROOT / "datasets" / "support_bot" / "golden.jsonl").read_bytes()
    )
    assert main(["plan", "--json", "size=50"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["size"] == 50 and planned["fixed"] == {"golden": 5, "production": 5}
    assert planned["synthetic"] == 40 and sum(planned["strategies"].values()) == 40
    result = compile_dataset(["size=50"], project=project)
    assert result.rows_by("source") == {"golden": 5, "production": 5, "synthetic": 40}
    assert planned["lm_calls"] == result.counts["planned"]
    assert (
        planned["estimate"]["calls"] == result.calls
    )  # its cases, and one labelling call per production row
    assert main(["plan", "size=50"]) == 0
    assert "dataset support_bot: 50 rows (5 golden, 5 production, 40 synthetic), " in capsys.readouterr().out


def test_the_coverage_warning_counts_the_rows_that_join_as_they_are(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from compiler.cli.main import main

    # it said "size=15 covers them all" of the 11 synthetic rows a size of 12 leaves: 15 rows hold 13
    assert main(["plan", "size=12"]) == 0
    err = capsys.readouterr().err
    assert "size 12 leaves " in err and "1 of its rows are curated and production rows" in err, err
    assert "its 11 synthetic rows need 15; " in err
    wanted = int(err.split("size=")[1].split()[0])
    assert main(["plan", f"size={wanted - 1}"]) == 0
    assert "uncovered" in capsys.readouterr().err
    assert main(["plan", f"size={wanted}"]) == 0
    assert "uncovered" not in capsys.readouterr().err
    result = compile_dataset([f"size={wanted - 1}"], project=project)
    assert (
        result.coverage.startswith(f"size {wanted - 1} leaves ")
        and f"size={wanted} covers" in result.coverage
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            ("path: data/traces/*.jsonl", "path: data/nothing/*.jsonl"), "matches no file", id="empty-glob"
        ),
        pytest.param(
            ("input: request.text", "input: request.txt"), "`request.txt` is not a field", id="missing-field"
        ),
        pytest.param(
            ("quota: 0.1                  #", "quota: 1.2                  #"),
            "must be a number from 0 to 1",
            id="quota-too-big",
        ),
        pytest.param(
            ("intent: {field: labels.intent}", "intnet: {field: labels.intent}"),
            "unknown dimension",
            id="map-unknown-dimension",
        ),
    ],
)
def test_bad_sources_print_one_line(
    project: Project, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], message: str
) -> None:
    from compiler.cli.main import main
    from tests.conftest import edit as edit_file

    edit_file(project.conf_dir / "dataset" / "support_bot.yaml", *edit)
    assert main(["plan"]) == 2
    err = capsys.readouterr().err
    assert message in err and "sources.production" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not Path("outputs").exists()


def test_a_required_variable_no_trace_fills_is_said_before_production_rows_leave_it_empty(
    project: Project,
) -> None:
    """A trace fills the first required variable (fields.input) and variables named like a mapped dimension;
    another required variable would be empty in every production row: one warning names it and the fixes."""
    from compiler.sources.gather import gather_sources
    from compiler.spec.compose import load_spec

    dataset = project.conf_dir / "dataset" / "support_bot.yaml"
    text = dataset.read_text()
    marker = "    customer_message:"
    assert text.count(marker) == 1
    dataset.write_text(
        text.replace(marker, "    account_tier: {description: The customer's plan.}\n" + marker)
    )
    said = [w for w in gather_sources(load_spec([], project), None).warnings() if "fills only" in w]
    # the trace's text fills the first required variable as declared: here the new one
    assert said == [
        "sources.production: a trace fills only `account_tier` (fields.input), so production rows leave the "
        "required variable `customer_message` empty; set `required: false` on it in prompt.variables, or name "
        "the trace field that holds it in sources.production.fields (e.g. fields: {customer_message: <field>})"
    ]
    assert not [w for w in gather_sources(load_spec([], project), None).warnings() if "channel" in w]


def test_a_prompt_variable_named_in_fields_holds_its_trace_field_scrubbed(project: Project) -> None:
    """`fields: {order_context: <field>}` fills that prompt variable of every production row from the trace,
    through the privacy gate like the input; a missing value leaves it empty, never the row malformed."""
    root = project.conf_dir.parent
    lines = ["text,ctx,channel"]
    for i in range(30):
        context = f"Order ORD-{i:04d}, contact jane.doe{i}@example.com" if i % 3 else ""
        lines.append(f'Where is my parcel number {i}? It is late,"{context}",chat')
    (root / "data" / "orders.csv").write_text("\n".join(lines) + "\n")
    dataset = project.conf_dir / "dataset" / "support_bot.yaml"
    text = dataset.read_text()
    start, end = text.index("    path: data/traces/*.jsonl"), text.index("    weight_by:")
    dataset.write_text(
        text[:start]
        + "    path: data/orders.csv\n    fields: {input: text, order_context: ctx}\n"
        + "    map: {channel: {field: channel}}\n"
        + text[end:].replace("weight_by: [frequency, error_rate, novelty]", "weight_by: [frequency]")
    )
    result = compile_dataset(["size=40", "sources.production.quota=0.5"], project=project)
    rows = [Row.from_json(x) for x in (result.version.path / "cases.jsonl").read_text().splitlines()]
    production = [r for r in rows if r.source == "production"]
    assert len(production) >= 10
    contexts = [r.inputs["order_context"] for r in production]
    assert any(c.startswith("Order ORD-") and "<EMAIL_1>" in c for c in contexts), contexts
    assert "" in contexts  # a trace without the field: the variable is empty, the row still joins
    written = "".join(p.read_text(errors="replace") for p in result.version.path.iterdir() if p.is_file())
    assert "@example.com" not in written
    assert all(r.inputs["customer_message"].startswith("Where is my parcel") for r in production)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("{input: request.text, order_contxt: response.text}", "fields.order_contxt: unknown role; did you mean `order_context`?"),
        ("{input: request.text, customer_message: response.text}", "fields.customer_message: `customer_message` is the prompt variable fields.input fills; name its field as fields.input"),
    ],
)  # fmt: skip
def test_a_fields_role_names_a_prompt_variable_or_says_which(
    project: Project, capsys: pytest.CaptureFixture[str], fields: str, message: str
) -> None:
    from compiler.cli.main import main

    dataset = project.conf_dir / "dataset" / "support_bot.yaml"
    text = dataset.read_text()
    start = text.index("    fields: {input: request.text")
    end = text.index("    map:", start)
    dataset.write_text(
        text[:start] + f"    fields: {fields}\n" + text[end:].replace("error_rate, novelty", "")
    )
    assert main(["plan"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
