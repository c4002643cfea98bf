"""Spec validation: every option in conf/ validates; every user mistake is one clear line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.cli.main import main
from compiler.core.errors import ConfigError, TemplateError
from compiler.spec.compose import PACKAGE_ROOT, Project, load_spec
from tests.conftest import edit

DATASETS = sorted(p.stem for p in (PACKAGE_ROOT / "conf" / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_dataset_in_conf_validates(dataset: str) -> None:
    spec = load_spec([f"dataset={dataset}"], Project.locate())
    assert spec.name == dataset
    assert len(spec.dimensions) >= 4
    assert {s.name for s in spec.strategies} == {"direct", "persona", "adversarial", "evaluator_aligned"}
    assert len({c.type for c in spec.columns}) >= 3
    assert spec.constraints


@pytest.mark.parametrize("group", ["lm", "personas", "tactics", "optimizer"])
def test_every_group_option_validates(group: str) -> None:
    required = {
        "openai_compatible": ["lm.model=m", "lm.api_base=http://127.0.0.1:8000/v1"],
        "dspy": ["lm.model=gemini/gemini-2.5-flash"],
    }
    project = Project.locate()
    options = project.group_options(group)
    assert options, f"no option in the {group} group"
    for option in options:
        load_spec([f"{group}={option}", *required.get(option, [])], project)


def test_catalogues_are_rich_enough() -> None:
    spec = load_spec([], Project.locate())
    assert len(spec.personas) >= 12
    assert len(spec.tactics) >= 10
    assert {"prompt_injection", "format_pressure", "typo_noise", "role_confusion"} <= {
        t.id for t in spec.tactics
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], ("word", 1, None)),
        (["dedupe.shingle=char"], ("char", 3, None)),
        (["dedupe.shingle=char", "dedupe.ngram=5"], ("char", 5, None)),
        (["+dedupe.ngram=3"], ("word", 3, None)),
        (["dedupe.semantic=true"], ("word", 1, ("local/hashing", 0.9))),
        (["+dedupe.semantic={embedder: openai/text-embedding-3-small, threshold: 0.8}"],
         ("word", 1, ("openai/text-embedding-3-small", 0.8))),
    ],
    ids=["default", "char", "char-5", "word-3", "semantic-local", "semantic-provider"],
)  # fmt: skip
def test_dedupe_measure_reaches_the_spec(overrides: list[str], expected: tuple) -> None:
    dedupe = load_spec(overrides, Project.locate()).dedupe
    semantic = dedupe.semantic and (dedupe.semantic.embedder, dedupe.semantic.threshold)
    assert (dedupe.shingle, dedupe.ngram, semantic) == expected


def test_overrides_reach_the_spec() -> None:
    # max_rounds and dedupe.shingle are not in agent_tools.yaml: documented keys are set as typed, no `+`
    spec = load_spec(
        ["dataset=agent_tools", "size=60", "seed=3", "strategies.adversarial=5", "max_rounds=7"]
        + ["dedupe.shingle=char"],
        Project.locate(),
    )
    assert (spec.max_rounds, spec.dedupe.shingle) == (7, "char")
    assert (spec.size, spec.seed, dict((s.name, s.weight) for s in spec.strategies)["adversarial"]) == (
        60,
        3,
        5,
    )


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _dataset(project: Project) -> Path:
    return project.conf_dir / "dataset" / "support_bot.yaml"


BAD_OVERRIDES = [
    pytest.param(["+colour=blue"], "colour: unknown key", id="unknown-top-level-key"),
    pytest.param(["size=0"], "size: must be >= 1", id="size-zero"),
    pytest.param(["size=-4"], "size: must be >= 1", id="size-negative"),
    pytest.param(["size=2.5"], "size: must be a whole number", id="size-not-integer"),
    pytest.param(["size=many"], "size: must be a whole number", id="size-string"),
    pytest.param(
        ["size='40'"],
        "size: must be a whole number, got the quoted text '40'; drop the quotes: size: 40",
        id="size-quoted",
    ),
    pytest.param(["dimensions.intent.values.refund=-1"], "must be >= 0", id="negative-weight"),
    pytest.param(
        ["dedupe.near=80"],
        "dedupe.near: must be <= 1, got 80; it is a fraction, e.g. 0.8 for 80%",
        id="near-percent",
    ),
    pytest.param(["dataset=nope"], "Could not find 'dataset/nope'", id="dataset-naming-no-file"),
    pytest.param(
        ["+strategies.haiku=2"],
        "strategies.haiku: unknown strategy with no template; add templates/haiku.j2 or use one of: "
        "adversarial, direct, evaluator_aligned, persona",
        id="unknown-strategy",
    ),
    pytest.param(["columns.verdict.type=enumeration"], "unknown column type", id="unknown-column-type"),
    pytest.param(
        ["columns.expected_behavior.type=string"],
        "unknown column type 'string'; use one of text, list, enum, bool, int, number (did you mean `text`?)",
        id="json-schema-type-name",
    ),
    pytest.param(["columns.verdict.type=float"], "(did you mean `number`?)", id="float-type-name"),
    pytest.param(["columns.verdict.values=[]"], "needs a non-empty list of values", id="enum-without-values"),
    pytest.param(
        ["~sources", "~sources"], "`~sources`: the composed config sets no `sources`", id="delete-absent"
    ),
    pytest.param(["sise=3"], "sise: unknown key; did you mean `size`?", id="typo-in-override-key"),
    pytest.param(
        ["strategies.personaa=1"],
        "strategies.personaa: unknown strategy with no template; add templates/"
        "personaa.j2 or did you mean `persona`?",
        id="typo-in-nested-override-key",
    ),
    pytest.param(
        ["dedupe.shingle=words"],
        "dedupe.shingle: unknown shingle 'words'; did you mean `word`?",
        id="shingle-not-in-file",
    ),
    pytest.param(
        ["size=="], "`size==` does not parse as an override; quote a value", id="override-does-not-parse"
    ),
    pytest.param(
        ["seed=1,2"],
        "`seed=1,2`: a comma-separated value is a sweep; add -m to run one job per value (`-m seed=1,2`), "
        "or write `seed=[1,2]` for a list or `seed='1,2'` for text",
        id="sweep-value-without-multirun",
    ),
    pytest.param(
        ["datset=agent_tools"],
        "datset: unknown key; did you mean `dataset=agent_tools` (the config group dataset/)?",
        id="misspelt-group",
    ),
    pytest.param(
        ["experimnt=x"],
        "experimnt: unknown key; did you mean `+experiment=x` (the config group experiment/)?",
        id="misspelt-experiment",
    ),
    pytest.param(
        ["agent_tools"],
        "`agent_tools` is not an override (they are key=value); to pick a test space write "
        "`dataset=agent_tools`",
        id="bare-dataset-name",
    ),
    pytest.param(
        ["agent_tool"],
        "`agent_tool` is not an override (they are key=value); to pick a test space write "
        "`dataset=agent_tools`",
        id="bare-misspelt-dataset-name",
    ),
    pytest.param(
        ["+dedupe.shingle=line"], "dedupe.shingle: unknown shingle 'line'; use word or char", id="shingle"
    ),
    pytest.param(["+dedupe.ngram=0"], "dedupe.ngram: must be >= 1", id="ngram-zero"),
    pytest.param(["+dedupe.ngram=two"], "dedupe.ngram: must be a whole number", id="ngram-string"),
    pytest.param(
        ["+dedupe.semantic=maybe"], "dedupe.semantic: expected true, false or a mapping", id="semantic"
    ),
    pytest.param(
        ["+dedupe.semantic.embedder=ada"], "dedupe.semantic.embedder: 'ada' names no provider", id="embedder"
    ),
    pytest.param(
        ["+dedupe.semantic.threshold=0"], "dedupe.semantic.threshold: must be > 0", id="cosine-zero"
    ),
    pytest.param(["+dedupe.semantic.model=x"], "dedupe.semantic.model: unknown key", id="semantic-key"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_OVERRIDES)
def test_bad_overrides_print_one_line_and_exit_2(
    project: Project, capsys: pytest.CaptureFixture[str], overrides: list[str], message: str
) -> None:
    code, err = _run(["compile", *overrides], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (project.conf_dir.parent / "outputs").exists()


BAD_FILES = [
    pytest.param(
        "values: [easy, medium, hard]",
        "values: [easy, yes, no]",
        "dimensions.difficulty.values: YAML reads unquoted true/false/yes/no/on/off as booleans and null as "
        "nothing (2 booleans here), not value names; quote them, e.g. ['yes', 'no']",
        id="unquoted-yaml-booleans",
    ),
    pytest.param(
        "values: [easy, medium, hard]",
        "values: [easy, 1.0, 1.10]",
        "dimensions.difficulty.values: YAML reads unquoted 1.0, 1.1 as numbers (1.10 becomes 1.1), not value "
        "names; quote them, e.g. ['1.0']",
        id="unquoted-yaml-floats",
    ),
    pytest.param(
        "values: [answer, refuse, escalate]",
        "values: [answer, no, escalate]",
        "columns.verdict.values: YAML reads unquoted true/false/yes/no/on/off as booleans and null as "
        "nothing (1 boolean here)",
        id="unquoted-yaml-boolean-in-enum",
    ),
    pytest.param(
        "description: What the customer wants.",
        "descripton: What the customer wants.",
        "dimensions.intent.descripton: unknown key; did you mean `description`?",
        id="typo-in-dimension-option",
    ),
    pytest.param(
        "difficulty:\n    description: How much reasoning the request needs.\n    values: [easy, medium, hard]",
        "difficulty:\n    description: How much reasoning the request needs.\n    values: []",
        "dimensions.difficulty.values: has no values",
        id="dimension-without-values",
    ),
    pytest.param(
        "values: {within_policy: 3, edge_of_policy: 2, ~outside_policy: 1}",
        "values: {within_policy: 0, edge_of_policy: 0, ~outside_policy: 0}",
        "weights sum to 0; give one value a positive weight",
        id="all-zero-weights",
    ),
    pytest.param(
        "\"intent == 'account_access' -> policy_boundary != 'edge_of_policy'\"",
        "\"mood == 'angry' -> policy_boundary != 'edge_of_policy'\"",
        "names unknown dimension `mood`",
        id="constraint-unknown-dimension",
    ),
    pytest.param(
        "\"intent == 'account_access' -> policy_boundary != 'edge_of_policy'\"",
        "\"intent == 'teleport' -> policy_boundary != 'edge_of_policy'\"",
        "dimension `intent` has no value `teleport`",
        id="constraint-unknown-value",
    ),
    pytest.param(
        "\"intent == 'account_access' -> policy_boundary != 'edge_of_policy'\"",
        "\"intent == 'acount_access' -> policy_boundary != 'edge_of_policy'\"",
        "has no value `acount_access`; did you mean `account_access`?",
        id="constraint-misspelt-value",
    ),
    pytest.param(
        "\"intent == 'account_access' -> policy_boundary != 'edge_of_policy'\"",
        "\"intent = 'account_access' ->\"",
        "does not parse",
        id="constraint-does-not-parse",
    ),
    pytest.param(
        "\"intent == 'account_access' -> policy_boundary != 'edge_of_policy'\"",
        "\"channel == 'chat'\"\n  - \"channel != 'chat'\"",
        "exclude every cell",
        id="constraints-exclude-every-cell",
    ),
    pytest.param(
        "seed: 7", "seed: 7\nseeds: 8", "seeds: unknown key; did you mean `seed`?", id="unknown-key-in-file"
    ),
    pytest.param(
        "name: support_bot", "name: support_bot\n  broken: [", "YAML does not parse", id="yaml-does-not-parse"
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_FILES)
def test_bad_dataset_files_print_file_key_and_fix(
    project: Project, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:
    edit(_dataset(project), old, new)
    code, err = _run(["plan"], capsys)
    assert code == 2
    assert message in err
    assert "support_bot.yaml" in err
    assert "Traceback" not in err
    assert not (project.conf_dir.parent / "outputs").exists()


def test_a_dimension_that_fails_is_reported_once_not_again_by_its_constraints(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    # every value unquoted yes/no: the dimension fails on its own line; the two constraints and a coverage
    # group naming it said "names unknown dimension `policy_boundary`" after it
    edit(
        _dataset(project),
        "values: {within_policy: 3, edge_of_policy: 2, ~outside_policy: 1}",
        "values: [yes, no]",
    )
    edit(
        _dataset(project),
        "coverage: 2",
        "coverage: {strength: 2, groups: [{dims: [intent, policy_boundary], strength: 2}]}",
    )
    code, err = _run(["plan"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "dsc: error: conf/dataset/support_bot.yaml: dimensions.policy_boundary.values: YAML reads unquoted "
        "true/false/yes/no/on/off as booleans and null as nothing (2 booleans here), not value names; quote "
        "them, e.g. ['yes', 'no']"
    ]


def test_all_problems_are_reported_together(project: Project) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(["size=0", "seed=-1", "+colour=blue"], project)
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert all(": " in line for line in lines)


def test_template_with_syntax_error_names_file_and_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}\n{% block task %}\n{% if %}\n{% endblock %}\n'
    )
    code, err = _run(["plan"], capsys)
    assert code == 2
    assert "templates/direct.j2:3: syntax error" in err


def test_template_rendering_half_an_emoji_is_one_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Jinja string literal "\\ud83d" renders a text no request or file can hold: named before any call."""
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}\n{% block task %}Write it {{ "\\ud83d" }}.{% endblock %}\n'
    )
    code, err = _run(["compile"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "templates/direct.j2: renders \\ud83d for strategy direct, half of a UTF-16 pair" in err
    assert not (project.conf_dir.parent / "outputs").exists()


def test_template_with_unknown_variable_names_template_line_and_variable(project: Project) -> None:
    from compiler.generate.templates import check_templates

    (project.templates_dir / "persona.j2").write_text(
        '{% extends "_base.j2" %}\n{% block task %}\nWrite as {{ persona.style }}\nin {{ mood }}\n{% endblock %}\n'
    )
    spec = load_spec([], project)
    with pytest.raises(TemplateError, match=r"templates/persona.j2:4: unknown variable `mood`"):
        check_templates(spec, project.templates_dir)


def test_user_strategy_is_added_by_adding_a_template(project: Project) -> None:
    (project.templates_dir / "haiku.j2").write_text(
        '{% extends "_base.j2" %}\n{% block task %}Write the request as a haiku.{% endblock %}\n'
    )
    spec = load_spec(["+strategies.haiku=2"], project)
    assert "haiku" in {s.name for s in spec.strategies}


BAD_COVERAGE = [
    pytest.param(["coverage=5"], "coverage.strength: must be <= 4", id="strength-above-4"),
    pytest.param(["coverage=0"], "coverage.strength: must be >= 1", id="strength-below-1"),
    pytest.param(
        ["~dimensions.channel", "~dimensions.difficulty", "coverage=3"],
        "but there are only 2 dimensions",
        id="strength-above-dimension-count",
    ),
    pytest.param(
        ["coverage={strength: 2, groups: [{dims: [intent, mood], strength: 2}]}"],
        "names unknown dimension(s) mood",
        id="group-unknown-dimension",
    ),
    pytest.param(
        ["coverage={strength: 2, include: [{intent: teleport}]}"],
        "unknown value 'teleport'",
        id="include-unknown-value",
    ),
    pytest.param(
        ["coverage={strength: 2, include: [{intent: account_access, policy_boundary: edge_of_policy}]}"],
        "coverage.include[0]: violates the constraint",
        id="include-violates-constraint",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_COVERAGE)
def test_bad_coverage_settings_print_one_line(
    project: Project, capsys: pytest.CaptureFixture[str], overrides: list[str], message: str
) -> None:
    code, err = _run(["plan", *overrides], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_group_of_only_negative_capable_dimensions_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        _dataset(project),
        "values: {chat: 3, email: 2, social_media: 1}",
        "values: {chat: 3, email: 2, social_media: 1, ~carrier_pigeon: 1}",
    )
    code, err = _run(
        ["plan", "coverage={strength: 2, groups: [{dims: [policy_boundary, channel], strength: 2}]}"], capsys
    )
    assert code == 2
    assert "every dimension of the group has negative values" in err


def test_a_dimension_written_as_value_weight_pairs_reads_as_its_values(project: Project) -> None:
    """`channel: {chat: 3, email: 2}` (no `values:` key) is what a newcomer writes for weighted values."""
    long_form = load_spec([], project)
    edit(
        _dataset(project),
        "  channel:\n    description: Where the message arrives.\n    values: {chat: 3, email: 2, social_media: 1}",
        "  channel: {chat: 3, email: 2, social_media: 1}",
    )
    short_form = load_spec([], project)
    channel = next(d for d in short_form.dimensions if d.name == "channel")
    assert [(v.name, v.weight) for v in channel.values] == [
        ("chat", 3.0),
        ("email", 2.0),
        ("social_media", 1.0),
    ]
    assert channel.values == next(d for d in long_form.dimensions if d.name == "channel").values


def test_a_bad_weight_in_value_weight_pairs_names_the_value(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        _dataset(project),
        "  channel:\n    description: Where the message arrives.\n    values: {chat: 3, email: 2, social_media: 1}",
        "  channel: {chat: 3, email: -2, social_media: 1}",
    )
    code, err = _run(["plan"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "dimensions.channel.email: must be >= 0, got -2" in err
