"""Rendering: golden prompts per strategy, sandboxing, strict undefined."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler.core.errors import TemplateError
from compiler.generate.templates import check_templates, render_case
from compiler.pipeline.compile import compile_dataset
from compiler.plan.cases import plan_cases
from compiler.spec.compose import Project, load_spec

GOLDEN = Path(__file__).parents[1] / "golden"
PROJECT = Project.locate()


@pytest.mark.parametrize("strategy", ["direct", "persona", "adversarial", "evaluator_aligned"])
def test_rendered_prompt_matches_golden_file(strategy: str, update_golden: bool) -> None:
    spec = load_spec(["dataset=support_bot"], PROJECT)
    check_templates(spec, PROJECT.templates_dir)
    case = next(c for c in plan_cases(spec).cases if c.strategy == strategy)
    text = render_case(spec, PROJECT.templates_dir, case).instruction
    golden = GOLDEN / f"support_bot.{strategy}.txt"
    if update_golden:
        golden.write_text(text)
    assert golden.exists(), f"{golden} is missing; create it with pytest --update-golden"
    assert text == golden.read_text(), "rendered prompt changed; rerun with --update-golden if intended"


def test_negative_value_is_called_out_in_adversarial_prompts() -> None:
    spec = load_spec(["dataset=support_bot"], PROJECT)
    case = next(c for c in plan_cases(spec).cases if any(v.startswith("~") for _, v in c.cell))
    text = render_case(spec, PROJECT.templates_dir, case).instruction
    assert case.strategy == "adversarial"
    assert "NEGATIVE value" in text
    assert "tactic:" in text


def test_templates_are_sandboxed(project: Project) -> None:
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}{{ dataset.__class__.__mro__ }}{% endblock %}'
    )
    spec = load_spec([], project)
    case = next(c for c in plan_cases(spec).cases if c.strategy == "direct")
    with pytest.raises(TemplateError):
        render_case(spec, project.templates_dir, case)


def test_unknown_attribute_fails_at_render_with_template_and_line(project: Project) -> None:
    (project.templates_dir / "persona.j2").write_text(
        '{% extends "_base.j2" %}\n{% block task %}\nas {{ persona.shoe_size }}\n{% endblock %}\n'
    )
    spec = load_spec([], project)
    case = next(c for c in plan_cases(spec).cases if c.strategy == "persona")
    with pytest.raises(TemplateError, match=r"templates/persona.j2:3: .*shoe_size"):
        render_case(spec, project.templates_dir, case)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("{{ ['a', 'b'] | random }}", r"direct.j2:1: syntax error: No filter named 'random'.*reproducible"),
        ("{{ lipsum(2) }}", r"direct.j2:1: unknown variable `lipsum`.*reproducible"),
    ],
    ids=["random-filter", "lipsum"],
)
def test_jinja_randomness_is_refused_with_the_reason(project: Project, expression: str, message: str) -> None:
    """`random` and `lipsum` would give a different dataset from the same config."""
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}' + expression + "{% endblock %}"
    )
    spec = load_spec([], project)
    with pytest.raises(TemplateError, match=message):
        check_templates(spec, project.templates_dir)


@pytest.mark.parametrize(
    ("expression", "operator"),
    [
        ("{{ 'ab' * 10**7 }}", "`*` would build"),
        ("{{ (9 ** (9 ** 9)) % 7 }}", "`**` would build a number over"),
        (
            "{% set ns = namespace(s='ab') %}{% for i in range(30) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "`+`",
        ),
        ("{{ 'x' | center(10**9) }}", "`center` would build"),
        ("{{ '%0999999999d' | format(1) }}", "`format` would build"),
        # texts built and thrown away: the rendered text stays short while gigabytes are allocated
        ("{% set a = 'x' * 999999 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c | length }}", "`~` would build"),
        (
            "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('ab', 40) }}",
            "`~` would build",
        ),
        ("{{ '{:>9999999999}'.format(1) | length }}", "str.format would build"),
        ("{{ '{:>{}}'.format(1, 9999999999) | length }}", "str.format would build"),
        ("{{ ('%9999999999s' % 1) | length }}", "`%` would build"),
        ("{{ ('x' * 999999) | replace('x', 'xx') | length }}", "`replace` would build"),
        ("{{ ('\\n' * 999999) | indent(999) | length }}", "`indent` would build"),
        ("{{ 'a'.ljust(10**10) | length }}", "str.ljust would build"),
        ("{{ (('x' * 999,) * 999999) | length }}", "`*` would build"),
        ("{{ range(100000) | map('center', 999999) | join | length }}", "the template takes over"),
        # work without end: nested loops, a macro that calls itself twice
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "the template takes over",
        ),
        (
            "{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}",
            "the template takes over",
        ),
    ],
    ids=[
        "repeat", "power", "doubling", "center", "format", "concat-chain", "concat-macro", "str-format",
        "str-format-nested-width", "percent", "replace", "indent", "ljust", "printed-tuple", "join-of-map",
        "nested-loops", "macro-fork",
    ],
)  # fmt: skip
def test_a_template_cannot_make_dsc_allocate_without_bound(
    project: Project, expression: str, operator: str
) -> None:
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}' + expression + "{% endblock %}"
    )
    spec = load_spec([], project)
    case = next(c for c in plan_cases(spec).cases if c.strategy == "direct")
    with pytest.raises(
        TemplateError, match=r"direct.j2:1: fails when rendered .*SecurityError: " + re.escape(operator)
    ):
        render_case(spec, project.templates_dir, case)


def test_bounded_operators_still_compute_what_templates_use(project: Project) -> None:
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}'
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ [1] * 2 + [3] }} {{ 1.5 + 2 }} {{ '%5.2f' | format(3.14159) }}"
        " {{ 'a' ~ 1 ~ [2] }} {% for x in 'abc' %}{{ loop.index }}{{ x }}{% if loop.last %}!{% endif %}"
        "{% endfor %} {% for x in [] %}{{ x }}{% else %}none{% endfor %} {{ '{}-{:>3}'.format(1, 'b') }}"
        " {{ '%s=%d' % ('a', 3) }} {{ 7 % 3 }} {{ ['x', 'y'] | join(',') }} {{ 'a-b'.replace('-', '+') }}"
        "{% endblock %}"
    )
    spec = load_spec([], project)
    case = next(c for c in plan_cases(spec).cases if c.strategy == "direct")
    assert "ababab 1024 [1, 1, 3] 3.5  3.14 a1[2] 1a2b3c! none 1-  b a=3 1 x,y a+b" in (
        render_case(spec, project.templates_dir, case).instruction
    )


def _failing_template(project: Project, condition: str) -> None:
    (project.templates_dir / "direct.j2").write_text(
        '{% extends "_base.j2" %}{% block task %}{% if '
        + condition
        + " %}{{ 1 / 0 }}{% endif %}{% endblock %}"
    )


def test_a_template_failing_for_every_case_stops_before_any_lm_call(project: Project) -> None:
    _failing_template(project, "true")
    with pytest.raises(TemplateError, match=r"direct.j2:1: fails when rendered for strategy direct"):
        compile_dataset(["size=60", "~sources"], project=project)
    assert not list((project.conf_dir.parent / ".dsc").rglob("*.jsonl"))  # no journal: no call was made
    assert not (project.conf_dir.parent / "outputs").exists()


def test_a_template_failing_for_a_later_case_stops_before_any_lm_call(project: Project) -> None:
    _failing_template(project, "case.slot == 2")
    with pytest.raises(
        TemplateError, match=r"^\S*direct.j2:1: fails when rendered for strategy direct"
    ) as err:
        compile_dataset(["size=60", "~sources"], project=project)
    assert "\n" not in str(err.value)
    assert not list((project.conf_dir.parent / ".dsc").rglob("*.jsonl"))  # every case renders first
    assert not (project.conf_dir.parent / "outputs").exists()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("{{ d.a }}", "1"),
        ("{{ d.items is callable }}", "True"),  # a dict's method still wins over its item
        ("{{ d.items is callable }}{{ d.items is callable }}", "TrueTrue"),
        ("{{ c.name }}{{ c.name }}", "xx"),
    ],
)
def test_sandbox_lookups_read_as_jinja_reads_them(text: str, shown: str) -> None:
    import dataclasses

    import jinja2

    from compiler.core.sandbox import sandboxed_environment

    column = dataclasses.make_dataclass("Col", ["name"])("x")
    env = sandboxed_environment(undefined=jinja2.StrictUndefined)
    assert env.from_string(text).render(d={"a": 1, "items": 2}, c=column) == shown


@pytest.mark.parametrize("text", ["{{ d.missing }}", "{{ d.pop }}", "{{ c.__class__ }}", "{{ c.__dict__ }}"])
def test_sandbox_still_refuses_what_it_refused(text: str) -> None:
    import dataclasses

    import jinja2

    from compiler.core.sandbox import sandboxed_environment

    column = dataclasses.make_dataclass("Col", ["name"])("x")
    env = sandboxed_environment(undefined=jinja2.StrictUndefined)
    template = env.from_string(text)
    for _ in range(2):  # the second render reads the kept verdict
        with pytest.raises((jinja2.UndefinedError, jinja2.exceptions.SecurityError)):
            template.render(d={"a": 1}, c=column)


def test_cell_reads_as_a_list_and_by_dimension_name(project: Project) -> None:
    (project.templates_dir / "direct.j2").write_text(
        "{{ cell.intent }}|{{ cell['difficulty'] }}|{{ cell | length }}|"
        "{% for item in cell %}{{ item.dimension }}={{ item.value }};{% endfor %}"
    )
    spec = load_spec([], project)
    case = next(c for c in plan_cases(spec).cases if c.strategy == "direct")
    cell = dict(case.cell)
    text = render_case(spec, project.templates_dir, case).instruction
    listed = "".join(f"{d}={v};" for d, v in case.cell)
    assert text == f"{cell['intent']}|{cell['difficulty']}|{len(cell)}|{listed}\n"


def test_a_misspelt_dimension_names_the_dimensions(project: Project) -> None:
    (project.templates_dir / "direct.j2").write_text("Write a case\n{{ cell.intnet }}\n")
    spec = load_spec([], project)
    case = next(c for c in plan_cases(spec).cases if c.strategy == "direct")
    dimensions = ", ".join(d for d, _ in case.cell)
    with pytest.raises(TemplateError) as err:
        render_case(spec, project.templates_dir, case)
    assert str(err.value) == (
        f"templates/direct.j2:2: `cell.intnet`: the test space has no dimension 'intnet'; its dimensions are "
        f"{dimensions}"
    )


def test_an_empty_render_stops_before_any_lm_call(project: Project) -> None:
    (project.templates_dir / "direct.j2").write_text("{% if case.slot > 10**6 %}Write a case{% endif %}\n")
    with pytest.raises(TemplateError, match=r"direct.j2: renders an empty instruction for strategy direct"):
        compile_dataset(["size=12", "~sources"], project=project)
    assert not (project.conf_dir.parent / "outputs").exists()


def test_a_template_that_is_not_utf8_is_one_line(project: Project) -> None:
    (project.templates_dir / "direct.j2").write_bytes(b"Write a case\n\xff\xfe\n")
    spec = load_spec([], project)
    with pytest.raises(TemplateError) as err:
        check_templates(spec, project.templates_dir)
    assert (
        str(err.value)
        == "templates/direct.j2:2: is not UTF-8 text (byte 0xff at offset 13); save the template as UTF-8"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        ["dataset=support_bot"],
        ["dataset=agent_tools"],
        ["dataset=rag_qa", "description='Réponses — 日本語 \"q\"'"],
    ],
)
def test_case_payload_is_json_dumps_of_the_whole_payload(overrides: list[str]) -> None:
    """The payload is assembled from parts encoded once; its text must be json.dumps's, since it is in every
    prompt and so in every journal key (a changed byte would pay for every answer again)."""
    import json

    from compiler.generate.templates import case_payload, payload_fields

    spec = load_spec(overrides, PROJECT)
    personas = {p.id: vars(p) for p in reversed(spec.personas)}
    tactics = {t.id: vars(t) for t in reversed(spec.tactics)}
    cases = plan_cases(spec).cases
    assert {c.strategy for c in cases} >= {"persona", "adversarial"}
    for case in cases:
        payload = {
            **payload_fields(spec),
            "strategy": case.strategy,
            "variant": case.variant,
            "persona": personas.get(case.variant) if case.strategy == "persona" else None,
            "tactic": tactics.get(case.variant) if case.strategy == "adversarial" else None,
            "cell": dict(case.cell),
            "slot": case.slot,
            "sample": 3,
        }
        assert case_payload(spec, case, 3) == json.dumps(payload, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize(
    "cell",
    [
        {},
        {"b": 'Réponse — 日本語 "q" \\ \n', "a": 3, "c": True, "d": None},
        {"x": 1e-05, "y": 0.1, "z": -2.5e300, "w": 10**30},
        {"n": ["a", {"k": 1}], "m": {"deep": [1, 2]}},
        {"s": "half \ud83d pair", "t": "\x00\x1f\u2028"},
    ],
)
def test_case_payload_writes_odd_cell_values_as_json_dumps(cell: dict) -> None:
    """Cells are written pair by pair on a fast path: tiny and huge numbers, control and non-ASCII text, lone
    surrogates and nested values still come out as json.dumps writes them."""
    import json
    from dataclasses import replace

    from compiler.generate.templates import case_payload, payload_fields

    spec = load_spec(["dataset=support_bot"], PROJECT)
    case = replace(plan_cases(spec).cases[0], cell=tuple(cell.items()))
    text = case_payload(spec, case, 7)
    payload = json.loads(text)
    assert payload["cell"] == json.loads(json.dumps(cell))
    assert text.count(json.dumps(cell, sort_keys=True, ensure_ascii=False)) == 1
    assert payload.keys() >= payload_fields(spec).keys()
