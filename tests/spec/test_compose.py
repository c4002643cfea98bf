"""Hydra composition as a newcomer meets it: test spaces copied as written compile; every mistake is one line."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from compiler.cli.main import main
from compiler.spec.compose import PACKAGE_ROOT
from compiler.spec.project import init_project

FIXTURES = Path(__file__).parents[1] / "fixtures" / "spaces"
SHARED = PACKAGE_ROOT.parent / "shared" / "spaces"  # in CI the shared folder sits beside the clone


def readme_space() -> str:
    """The README's first YAML block declaring a test space, renamed as check-newcomer does."""
    text = (PACKAGE_ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```ya?ml\n(.*?)```", text, re.S):
        if re.search(r"^name:", block, re.M) and re.search(r"^dimensions:", block, re.M):
            return re.sub(r"^name:.*$", "name: readme_example", block, count=1, flags=re.M)
    raise AssertionError("README.md has no YAML block with a test space (name: ... dimensions: ...)")


def newcomer_spaces() -> list[object]:
    spaces = {p.name: p for p in sorted(FIXTURES.glob("*.yaml"))}
    spaces.update({p.name: p for p in sorted(SHARED.glob("*.yaml"))})  # the newest copies, when present
    return [pytest.param(path, id=name) for name, path in sorted(spaces.items())]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository made by `dsc init`, the working directory of the test."""
    init_project(tmp_path)
    monkeypatch.delenv("DSC_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _compile(repo: Path, name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["compile", f"dataset={name}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    manifest = next((repo / "outputs" / name).glob("*/manifest.json"))
    return dict(json.loads(manifest.read_text()))


def test_the_readme_test_space_compiles_as_written(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = readme_space()
    (repo / "conf" / "dataset" / "readme_example.yaml").write_text(text)
    size = int(re.search(r"^size:\s*(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    assert _compile(repo, "readme_example", capsys)["rows"] == size


@pytest.mark.parametrize("space", newcomer_spaces())
def test_a_space_written_by_a_newcomer_compiles_as_written(
    repo: Path, space: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(space, repo / "conf" / "dataset" / space.name)
    size = int(re.search(r"^size:\s*(\d+)", space.read_text(), re.M).group(1))  # type: ignore[union-attr]
    assert _compile(repo, space.stem, capsys)["rows"] == size


def test_the_plan_table_names_every_strategy_whole(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = repo / "conf" / "dataset" / "example.yaml"
    text = example.read_text()
    assert "strategies: {direct: 3, persona: 1, adversarial: 1}" in text
    example.write_text(text.replace("adversarial: 1}", "adversarial: 1, evaluator_aligned: 1}"))
    assert main(["plan"]) == 0
    header = next(
        line for line in capsys.readouterr().out.splitlines() if "total" in line and "share" in line
    )
    assert header.split() == [
        "direct",
        "persona",
        "adversarial",
        "evaluator_aligned",
        "total",
        "share",
        "weight",
    ]


def test_the_plan_says_where_negative_values_are_drawn(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `~emergency: 1` of three read "weight 33%" beside a share of 5%, with nothing saying why
    assert main(["plan", "++dimensions.urgency=[routine, soon, '~emergency']"]) == 0
    out = capsys.readouterr().out
    (note,) = [line for line in out.splitlines() if "negative values" in line]
    assert "urgency=~emergency) are drawn only in adversarial (" in note and "at most one per case" in note


def test_plan_columns_line_up_with_wide_characters(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """日本語 takes six terminal columns, not three: the counts after it stay in their columns."""
    from compiler.cli.plan import shown_width

    assert (shown_width("日本語"), shown_width("Français"), shown_width("e\u0301")) == (6, 8, 1)
    assert main(["plan", "++dimensions.author_locale=['English','日本語']"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith("  author_locale=")]
    assert len(rows) == 2
    starts = {shown_width(line[: re.search(r"\d", line).start()]) for line in rows}  # type: ignore[union-attr]
    assert len(starts) == 1, rows
    header = next(i for i, line in enumerate(out) if line.startswith("covering array ("))
    array = [line for line in out[header + 1 :] if line.strip()]
    assert len({shown_width(line.rstrip()) if "日本語" in line else 0 for line in array} - {0}) <= 1


def test_a_large_plan_says_it_is_working_before_it_starts(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from compiler.cli import plan

    assert main(["plan", "size=12"]) == 0
    assert "rendering" not in capsys.readouterr().err  # a small plan is quick: nothing to say
    monkeypatch.setattr(plan, "SAY_WORKING_FROM", 12)
    assert main(["plan", "size=13"]) == 0
    err = capsys.readouterr().err
    assert "dsc: planning 13 rows and rendering their ~" in err and "takes a while" in err


def test_a_dataset_file_with_the_old_package_directive_still_compiles(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (FIXTURES / "travel_booking.yaml").read_text()
    (repo / "conf" / "dataset" / "travel_booking.yaml").write_text("# @package _global_\n" + text)
    assert main(["plan", "dataset=travel_booking", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == "travel_booking"


def test_an_old_config_picking_the_dataset_without_global_still_works(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("dataset@_global_: example", "dataset: example"))
    example = repo / "conf" / "dataset" / "example.yaml"
    example.write_text("# @package _global_\n" + example.read_text())
    assert main(["plan", "--json", "size=12"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 12


PERSONAS = "pat:\n  expertise: novice\n  style: terse\n  goal: a quick fix\n  locale: fr-FR\n  description: Impatient.\n"


def _use_own_personas(repo: Path, catalogue: str) -> None:
    """The example space picks conf/personas/mine.yaml, holding `catalogue`, as the README shows."""
    example = repo / "conf" / "dataset" / "example.yaml"
    example.write_text("defaults: [override /personas: mine]\n" + example.read_text())
    (repo / "conf" / "personas").mkdir()
    (repo / "conf" / "personas" / "mine.yaml").write_text(catalogue)


def test_a_dataset_file_of_an_init_repository_picks_its_own_personas(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_own_personas(repo, PERSONAS)
    assert main(["compile"]) == 0
    cases = next((repo / "outputs" / "example").glob("*/cases.jsonl")).read_text()
    assert '"variant": "pat"' in cases and '"variant": "busy_parent"' not in cases
    # a config whose dataset line comes before the catalogues cannot let the file override them
    config = repo / "conf" / "config.yaml"
    lines = config.read_text().splitlines()
    dataset = next(line for line in lines if "dataset@_global_" in line and line.lstrip().startswith("-"))
    lines.remove(dataset)
    lines.insert(lines.index("  - _self_") + 1, dataset)
    config.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["plan", "size=12"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(
        "dsc: error: conf/dataset/example.yaml: `override /personas`"
    )
    assert "move the dataset line to the end of that list" in err


@pytest.mark.parametrize(
    ("catalogue", "message"),
    [
        pytest.param("- pat\n- sam\n", "personas: expected a mapping of ids, got list", id="list"),
        pytest.param(
            "pat: {locale: fr-FR}\n",
            "personas.pat: has no expertise, style, goal, description; every entry of personas sets",
            id="fields-missing",
        ),
    ],
)
def test_a_persona_catalogue_mistake_is_one_line(
    repo: Path, catalogue: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_own_personas(repo, catalogue)
    assert main(["plan"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("dsc: error: conf/personas/mine.yaml: ") and message in err


TINY = """name: tiny
description: A calculator bot.
prompt:
  text: "Compute: {{ expression }}"
  variables:
    expression: {description: An arithmetic expression.}
dimensions:
  operation: [add, divide]
columns:
  answer: {type: number}
strategies: {direct: 1}
size: 4
"""


def test_a_space_of_one_dimension_needs_no_coverage_key(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "conf" / "dataset" / "tiny.yaml").write_text(TINY)
    assert _compile(repo, "tiny", capsys)["rows"] == 4
    assert main(["plan", "dataset=tiny", "coverage=2"]) == 2
    assert "coverage.strength: is 2 but there is only 1 dimension; use coverage: 1" in capsys.readouterr().err


def test_a_space_too_small_for_its_size_says_how_to_get_the_rows(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "conf" / "dataset" / "tiny.yaml").write_text(TINY.replace("[add, divide]", "[add]"))
    assert main(["compile", "dataset=tiny", "size=300"]) == 0
    out = capsys.readouterr().out
    assert "rows missing; short cells: direct [operation=add]" in out
    assert "add dimensions or values, lower size, raise max_rounds, or raise dedupe.near" in out


def test_overrides_may_sit_on_both_sides_of_an_option(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "size=12", "--json", "seed=3", "size=14"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["size"] == 14  # later overrides win, as in Hydra


def test_cfg_job_prints_the_composed_config_and_runs_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    before = sorted(p for p in repo.rglob("*") if ".dsc" not in p.parts)
    assert main(["compile", "dataset=example", "--cfg", "job", "size=5", "dedupe.near=0.7"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["name"] == "example" and printed["size"] == 5 and printed["dedupe"]["near"] == 0.7
    assert "hydra" not in printed and not (repo / "outputs" / "example").exists()
    assert sorted(p for p in repo.rglob("*") if ".dsc" not in p.parts) == before


def test_cfg_job_never_prints_a_secret(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "sk-" + "q7" * 12
    overrides = [
        "lm=openai",
        f"lm.api_key_env={secret}",
        "++lm.token=hunter22",
        "++lm.api_base=https://u:pw@x.io/v1",
    ]
    assert main(["plan", "--cfg", "job", *overrides]) == 0
    out = capsys.readouterr().out
    assert secret not in out and "hunter22" not in out and "u:pw" not in out
    assert "token: '***'" in out and "max_tokens: 1024" in out


NEWCOMER_MISTAKES = [
    pytest.param(["plan", "dataset=hr_polcy"], "did you mean `dataset=hr_policy`?", id="dataset-typo"),
    pytest.param(["plan", "size:60"], "write `size=60`", id="colon-instead-of-equals"),
    pytest.param(["compile", "--size", "60"], "write `size=60`", id="dash-dash-option"),
    pytest.param(["compile", "--seed=3"], "write `seed=3`", id="dash-dash-option-equals"),
    pytest.param(["compile", "--sizee", "60"], "write `size=60`", id="dash-dash-misspelt-key"),
    pytest.param(["plan", "--dedupe.near", "0.9"], "write `dedupe.near=0.9`", id="dash-dash-dotted-key"),
    pytest.param(
        ["plan", "experiment=release_pressure"], "write `+experiment=release_pressure`", id="no-plus"
    ),
    pytest.param(["plan", "+experiment=nope"], "no conf/experiment/ folder", id="no-experiment-folder"),
    pytest.param(["plan", "lm=opnai"], "did you mean `lm=openai`?", id="lm-typo"),
    pytest.param(["plan", "--jsn"], "did you mean `--json`?", id="option-typo"),
    pytest.param(
        ["plan", "-j"], "`-j` is not an option of `dsc plan`; did you mean `--json`?", id="short-option"
    ),
    pytest.param(
        ["dedupe", "x.jsonl", "--on", "text", "-o", "y"],
        "did you mean `--on` or `--out`?",
        id="short-ambiguous",
    ),
    pytest.param(
        ["plan", "-q"], "`-q` is not an option of `dsc plan`; see `dsc plan --help`", id="short-unknown"
    ),
    pytest.param(["dedupe"], "error: the following arguments are required", id="missing-argument"),
    pytest.param(["compile", "-m", "--cfg", "job", "size=3,4"], "drop -m", id="cfg-with-multirun"),
    pytest.param(["plan", "--cfg", "hydra"], "invalid choice: 'hydra'", id="cfg-hydra"),
    pytest.param(
        ["compile", "-m", "seed=1,2", "hydra/launcher=ray"],
        "no Hydra launcher `ray` is installed; launchers are Hydra plugins",
        id="launcher-not-installed",
    ),
    pytest.param(
        ["compile", "-m", "seed=1,2", "hydra/launcher=jobblib"],
        "no Hydra launcher `jobblib`; did you mean `hydra/launcher=joblib`?",
        id="launcher-typo",
    ),
    pytest.param(["compil", "size=3"], "did you mean `compile`?", id="verb-typo"),
    pytest.param(["review", "aprove", "x"], "did you mean `approve`?", id="review-action-typo"),
    pytest.param(["review", "accept", "x"], "did you mean `approve`?", id="review-action-synonym"),
    pytest.param(
        ["plan", "overgenerate=two"], "overgenerate: must be a number", id="documented-key-bad-value"
    ),
    pytest.param(
        ["plan", "++dimensions.tone={values: {calm: 1, ~rude: 1}}"],
        "`++dimensions.tone={values: {calm: 1, ~rude: 1}}` does not parse as an override; quote a value",
        id="hydra-lexer-in-a-value",
    ),
    pytest.param(
        ["plan", "++dimensions.mood=[calm, très calme]"],
        "Hydra reads letters beyond ASCII (é, ß, 日本語) only inside quotes; "
        "write `++dimensions.mood=['calm','très calme']`",
        id="non-ascii-unquoted",
    ),
    pytest.param(["plan", "description=Français"], "write `description='Français'`", id="non-ascii-word"),
    pytest.param(
        ["plan", "++dimensions.tone=[a.b,c=d]"],
        "`++dimensions.tone=[a.b,c=d]` does not parse as an override",
        id="hydra-parser-in-a-value",
    ),
    pytest.param(
        ["plan", "++dimensions.mood={values: {calm: 0, rude: 0}}"],
        "dimensions.mood.values: weights sum to 0; give one value a positive weight",
        id="zero-weights-said-once",
    ),
]


@pytest.mark.parametrize(("argv", "fix"), NEWCOMER_MISTAKES)
def test_a_newcomer_mistake_on_the_command_line_is_one_line(
    repo: Path, argv: list[str], fix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(FIXTURES / "hr_policy.yaml", repo / "conf" / "dataset" / "hr_policy.yaml")
    before = sorted(repo.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert fix in err and "Exception" not in err
    assert "dsc: error: dsc" not in err  # one prefix, not the parser's name again
    assert sorted(repo.rglob("*")) == before


FILE_MISTAKES = [
    pytest.param(
        "seniority: [new_hire, staff, manager]",
        "seniority: [new_hire, staff, staff]",
        "dimensions.seniority: lists the value `staff` twice; give each value once",
        id="value-listed-twice",
    ),
    pytest.param(
        "dimensions:",
        "dimensons:",
        "dimensons: unknown key; did you mean `dimensions`?",
        id="misspelt-dimensions",
    ),
    pytest.param(
        "{{ country }}", "{{ countri }}", "prompt.text: uses `countri`", id="undeclared-prompt-variable"
    ),
    pytest.param(
        '{description: "Where the employee works."}',
        "{description: Where the employee works, or lives.}",
        "put that value in double quotes",
        id="comma-in-flow-mapping",
    ),
    pytest.param(
        "columns:\n  expected_behavior:",
        "columns:\n\texpected_behavior:",
        "YAML does not parse (found character '\\t' that cannot start any token); indent with spaces",
        id="tab-indent",
    ),
    pytest.param(
        "columns:\n  expected_behavior: {type: text}\n  handbook_sections: {type: list, description: "
        '"Handbook sections a correct answer cites."}\n  route_to_hr: {type: bool}\n  confidence_floor: '
        '{type: int, description: "Lowest acceptable grader score, 1-5."}\n',
        "columns: [expected_behavior, route_to_hr]\n",
        "columns: expected a mapping of evaluator column names, got list",
        id="columns-as-a-list",
    ),
    pytest.param(
        "prompt:\n  text: |\n    Answer from the employee handbook only. Country: {{ country }}.\n"
        '    Employee: {{ question }}\n  variables:\n    question: {description: "The employee\'s question."}\n'
        '    country: {description: "Where the employee works."}\n',
        'prompt: "Answer from the employee handbook only. Employee: {{ question }}"\n',
        "prompt: is a mapping: put the text under `prompt.text`",
        id="prompt-as-a-string",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "the test space sets none of name, description, prompt,", id="empty-file"),
        pytest.param(
            "name: hr_policy\nsize: 10\n", "sets none of description, prompt, dimensions,", id="begun"
        ),
        pytest.param("42\n", ":1: is the single value '42', not a mapping of keys", id="a-number"),
        pytest.param(
            "- name: hr_policy\n", ":1: is a list (`- item` lines or [...]), not a mapping", id="a-list"
        ),
    ],
)
def test_a_file_with_no_test_space_in_it_is_one_line(
    repo: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # one line per missing key before (11 for an empty file), Hydra's ConfigTypeError for a list, and a
    # traceback (OSError: Invalid loaded object type: int) for a number
    (repo / "conf" / "dataset" / "hr_policy.yaml").write_text(text)
    assert main(["compile", "dataset=hr_policy"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("dsc: error: conf/dataset/hr_policy.yaml") and message in err
    assert not (repo / "outputs").exists()


@pytest.mark.parametrize(("old", "new", "message"), FILE_MISTAKES)
def test_a_newcomer_mistake_in_the_file_is_one_line_naming_file_and_key(
    repo: Path, old: str, new: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (FIXTURES / "hr_policy.yaml").read_text()
    assert old in text
    (repo / "conf" / "dataset" / "hr_policy.yaml").write_text(text.replace(old, new, 1))
    assert main(["compile", "dataset=hr_policy"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("dsc: error: conf/dataset/hr_policy.yaml:") and message in err
    assert not (repo / "outputs").exists()


def test_dsc_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    from compiler.core.version import __version__

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"dsc {__version__}\n"
