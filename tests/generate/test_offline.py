"""The offline LM through a real dspy.Predict: typed fields, determinism, repetition, tactics, adapters."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy  # noqa: E402

from compiler.generate.backends.offline import text_words as offline_text  # noqa: E402
from compiler.generate.backends.offline.columns import OutputField  # noqa: E402
from compiler.generate.backends.offline.engine import (  # noqa: E402
    OFFLINE_MODEL,
    AsyncOfflineEngine,
    OfflineEngine,
    read_inputs,
    resolve_slot,
    write_answer,
    write_fields,
)
from compiler.generate.backends.offline.situation import enumerated_values, setting_phrase  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
VERDICTS = ("answer", "refuse", "escalate")
COLUMNS: dict[str, dict[str, Any]] = {
    "expected_behavior": {"type": "text", "description": "What a good answer does."},
    "must_include": {"type": "list", "description": "Facts or steps the answer must contain."},
    "verdict": {"type": "enum", "description": "What the agent should do.", "values": list(VERDICTS)},
    "needs_human": {"type": "bool", "description": "Whether a human agent must take over."},
    "max_turns": {"type": "int", "description": "Turns a good conversation needs."},
    "confidence": {"type": "number", "description": "How sure a grader can be, 0 to 1."},
}
VARIABLES = {
    "customer_message": {"description": "The customer's latest message.", "required": True},
    "order_context": {"description": "JSON summary of the order, may be empty.", "required": False},
}


class SupportCase(dspy.Signature):
    """Write one test case for an evaluation dataset."""

    instruction: str = dspy.InputField(desc="the rendered instruction for this case")
    case: str = dspy.InputField(desc="the case as JSON")
    customer_message: str = dspy.OutputField(desc="The customer's latest message.")
    order_context: str = dspy.OutputField(desc="JSON summary of the order, may be empty.")
    expected_behavior: str = dspy.OutputField(desc="What a good answer does.")
    must_include: list[str] = dspy.OutputField(desc="Facts or steps the answer must contain.")
    verdict: Literal["answer", "refuse", "escalate"] = dspy.OutputField(desc="What the agent should do.")
    needs_human: bool = dspy.OutputField(desc="Whether a human agent must take over.")
    max_turns: int = dspy.OutputField(desc="Turns a good conversation needs.")
    confidence: float = dspy.OutputField(desc="How sure a grader can be, 0 to 1.")


FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "customer_message": str,
    "order_context": str,
    "expected_behavior": str,
    "must_include": list,
    "verdict": str,
    "needs_human": bool,
    "max_turns": int,
    "confidence": float,
}
TACTICS = {
    "prompt_injection": "Embeds instructions that try to override the system prompt or reveal hidden instructions.",
    "format_pressure": "Demands an output format the assistant should not or cannot use.",
    "typo_noise": "Heavy typos, missing punctuation and autocorrect errors.",
    "overlong_input": "An unusually long message with repetition that tests truncation and focus.",
    "near_empty_input": 'A message with almost no content ("??", "hello", a single word).',
    "double_intent": "Packs two different requests into one message.",
    "role_confusion": "Claims to be staff, a developer or another customer to gain privileges.",
    "out_of_scope": "Asks for something outside the assistant's job while sounding related.",
    "policy_probe": "Pushes against a policy limit to see whether the assistant bends the rule.",
}
GERMAN_PERSONA = {
    "id": "german_power_user",
    "expertise": "expert",
    "style": "formal",
    "goal": "resolve an edge case efficiently",
    "locale": "de-DE",
    "description": "Formal register, knows the product well.",
}


def make_case(
    strategy: str = "direct",
    cell: dict[str, str] | None = None,
    slot: int = 0,
    sample: int = 0,
    tactic: str | None = None,
    persona: dict[str, str] | None = None,
) -> str:
    """The case JSON dsc sends for one support-bot case."""
    case = {
        "dataset": "support_bot",
        "description": "Support assistant of an electronics web shop; answers order, refund, shipping and "
        "account questions within the shop's policies.",
        "prompt": "You are the support agent of Voltbay, an electronics web shop. Order: {{ order_context }} "
        "Customer: {{ customer_message }}",
        "variables": VARIABLES,
        "strategy": strategy,
        "variant": tactic or (persona or {}).get("id"),
        "persona": persona,
        "tactic": {"id": tactic, "description": TACTICS[tactic]} if tactic else None,
        "cell": cell or {"intent": "refund", "difficulty": "medium", "policy_boundary": "within_policy"},
        "dimensions": {
            "intent": {"description": "What the customer wants."},
            "difficulty": {"description": "How much reasoning the request needs."},
            "policy_boundary": {"description": "Where the request sits relative to the policies."},
        },
        "columns": COLUMNS,
        "slot": slot,
        "sample": sample,
    }
    return json.dumps(case, sort_keys=True, ensure_ascii=False)


def instruction_for(strategy: str, slot: int) -> str:
    return (
        f"You write one test case for an evaluation dataset.\nStrategy: {strategy}.\n"
        f"This is sample {slot} of this case; make it different from other samples of the same cell."
    )


@pytest.fixture(scope="module")
def lm() -> dspy.LM:
    return dspy.LM(OFFLINE_MODEL, engine=OfflineEngine(), async_engine=AsyncOfflineEngine(), cache=False)


def predict(
    lm: dspy.LM, case: str, strategy: str = "direct", slot: int = 0, adapter: dspy.Adapter | None = None
) -> dspy.Prediction:
    with dspy.context(lm=lm, adapter=adapter or dspy.ChatAdapter()):
        return dspy.Predict(SupportCase)(instruction=instruction_for(strategy, slot), case=case)


def chat_request(case: str, strategy: str = "direct", slot: int = 0) -> tuple[str, str]:
    """The system and user text DSPy's ChatAdapter sends for one case."""
    messages = dspy.ChatAdapter().format(
        SupportCase, [], {"instruction": instruction_for(strategy, slot), "case": case}
    )
    return messages[0]["content"], messages[-1]["content"]


CELLS = [
    pytest.param(
        "direct",
        {"intent": "refund", "difficulty": "easy", "policy_boundary": "within_policy"},
        None,
        None,
        id="direct-refund",
    ),
    pytest.param(
        "direct",
        {"intent": "shipping_status", "difficulty": "hard", "policy_boundary": "edge_of_policy"},
        None,
        None,
        id="direct-shipping-edge",
    ),
    pytest.param(
        "persona",
        {"intent": "cancel_order", "difficulty": "medium", "policy_boundary": "within_policy"},
        None,
        GERMAN_PERSONA,
        id="persona-german",
    ),
    pytest.param(
        "adversarial",
        {"intent": "refund", "difficulty": "hard", "policy_boundary": "~outside_policy"},
        "prompt_injection",
        None,
        id="adversarial-injection",
    ),
    pytest.param(
        "evaluator_aligned",
        {"intent": "account_access", "difficulty": "easy", "policy_boundary": "within_policy"},
        None,
        None,
        id="evaluator-aligned",
    ),
    pytest.param(
        "my_custom_strategy",
        {"intent": "warranty_claim", "difficulty": "medium", "policy_boundary": "within_policy"},
        None,
        None,
        id="user-defined-strategy",
    ),
]


@pytest.mark.parametrize(("strategy", "cell", "tactic", "persona"), CELLS)
def test_every_field_parses_with_its_type(
    lm: dspy.LM, strategy: str, cell: dict[str, str], tactic: str | None, persona: dict[str, str] | None
) -> None:
    for slot in range(5):
        result = predict(lm, make_case(strategy, cell, slot, tactic=tactic, persona=persona), strategy, slot)
        for name, expected in FIELD_TYPES.items():
            assert isinstance(result[name], expected), (name, result[name])
        assert result.customer_message.strip()
        assert result.expected_behavior.strip()
        assert 1 <= len(result.must_include) <= 4 and all(isinstance(i, str) for i in result.must_include)
        assert result.verdict in VERDICTS
        if result.order_context:
            assert isinstance(json.loads(result.order_context), dict)


def test_enum_is_always_an_allowed_value() -> None:
    seen = set()
    for slot in range(30):
        for tactic in (None, *TACTICS):
            strategy = "adversarial" if tactic else "direct"
            cell = {
                "intent": ("refund", "cancel_order")[slot % 2],
                "difficulty": "hard",
                "policy_boundary": ("within_policy", "edge_of_policy", "~outside_policy")[slot % 3],
            }
            system, user = chat_request(make_case(strategy, cell, slot, tactic=tactic), strategy, slot)
            answer = write_answer(system, user)
            verdict = answer.split("[[ ## verdict ## ]]\n", 1)[1].split("\n", 1)[0]
            assert verdict in VERDICTS
            seen.add(verdict)
    assert seen == set(VERDICTS)


def test_negative_adversarial_cases_get_a_refusal_like_verdict(lm: dspy.LM) -> None:
    cell = {"intent": "refund", "difficulty": "hard", "policy_boundary": "~outside_policy"}
    verdicts = [
        predict(
            lm, make_case("adversarial", cell, slot, tactic="prompt_injection"), "adversarial", slot
        ).verdict
        for slot in range(10)
    ]
    assert set(verdicts) <= {"refuse", "escalate"}


def test_same_request_gives_the_same_bytes_in_process_and_in_a_subprocess() -> None:
    system, user = chat_request(make_case("adversarial", slot=7, tactic="typo_noise"), "adversarial", 7)
    first = write_answer(system, user)
    assert write_answer(system, user) == first
    code = (
        "import json, sys\nfrom compiler.generate.backends.offline.engine import write_answer\n"
        "system, user = json.load(sys.stdin)\nsys.stdout.write(write_answer(system, user))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different str hash seed must not matter
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([system, user]),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=True,
    )
    assert done.stdout == first


def test_different_slots_and_cells_give_different_answers() -> None:
    messages = [
        read_inputs(
            write_answer(*chat_request(make_case(slot=slot), "direct", slot)).replace(
                "[[ ## completed ## ]]", ""
            )
        )["customer_message"]
        for slot in range(20)
    ]
    assert len(set(messages)) >= 15
    cells = [
        {"intent": intent, "difficulty": "medium", "policy_boundary": "within_policy"}
        for intent in ("refund", "shipping_status", "cancel_order", "account_access")
    ]
    by_cell = [write_answer(*chat_request(make_case(cell=cell, slot=0))) for cell in cells]
    assert len(set(by_cell)) == len(cells)


def _word_changes(a: str, b: str) -> int:
    left, right = a.split(), b.split()
    return sum(x != y for x, y in zip(left, right, strict=False)) + abs(len(left) - len(right))


def test_many_samples_of_one_cell_repeat_like_a_real_model() -> None:
    exact = near = fresh = 0
    for intent in ("refund", "shipping_status", "cancel_order"):
        cell = {"intent": intent, "difficulty": "medium", "policy_boundary": "within_policy"}
        answers: list[str] = []
        for slot in range(50):
            answer = write_answer(*chat_request(make_case(cell=cell, slot=slot), "direct", slot))
            message = answer.split("[[ ## customer_message ## ]]\n", 1)[1].split("\n\n[[ ## ", 1)[0]
            earlier = [
                a.split("[[ ## customer_message ## ]]\n", 1)[1].split("\n\n[[ ## ", 1)[0] for a in answers
            ]
            if answer in answers:
                exact += 1
            elif any(0 < _word_changes(message, e) <= 4 for e in earlier):
                near += 1
            else:
                fresh += 1
            answers.append(answer)
    assert exact >= 5 and near >= 3
    assert fresh >= 0.6 * (exact + near + fresh)


def test_first_two_slots_and_retries_never_repeat() -> None:
    key = b"any request"
    assert resolve_slot(key, 0) == (0, ()) and resolve_slot(key, 1) == (1, ())
    assert all(
        root < slot or (root, near) == (slot, ())
        for slot in range(2, 200)
        for root, near in [resolve_slot(key, slot)]
    )
    first = write_answer(*chat_request(make_case(slot=4, sample=0), "direct", 4))
    retry = write_answer(*chat_request(make_case(slot=4, sample=1), "direct", 4))
    assert first != retry


TACTIC_MARKERS = [
    pytest.param(
        "prompt_injection",
        ("ignore all previous", "system:", "override", "authorised", "<system>", "real instructions"),
        id="prompt_injection",
    ),
    pytest.param(
        "format_pressure",
        ("json", "one word", "yes or no", "table", "haiku", "caps", "dict"),
        id="format_pressure",
    ),
    pytest.param(
        "role_confusion",
        ("staff", "developer", "administrator", "on behalf", "switch roles"),
        id="role_confusion",
    ),
    pytest.param("double_intent", ("also,",), id="double_intent"),
    pytest.param(
        "policy_probe", tuple(p.lower()[:30] for p in offline_text.POLICY_PROBES), id="policy_probe"
    ),
    pytest.param("out_of_scope", tuple(p.lower()[:30] for p in offline_text.OFF_TOPIC), id="out_of_scope"),
]


@pytest.mark.parametrize(("tactic", "markers"), TACTIC_MARKERS)
def test_adversarial_tactics_shape_the_input(lm: dspy.LM, tactic: str, markers: tuple[str, ...]) -> None:
    for slot in range(6):
        message = predict(
            lm, make_case("adversarial", slot=slot, tactic=tactic), "adversarial", slot
        ).customer_message.lower()
        assert any(marker in message for marker in markers), message


def test_message_length_follows_the_tactic() -> None:
    def message(tactic: str | None, slot: int) -> str:
        strategy = "adversarial" if tactic else "direct"
        answer = write_answer(*chat_request(make_case(strategy, slot=slot, tactic=tactic), strategy, slot))
        return answer.split("[[ ## customer_message ## ]]\n", 1)[1].split("\n\n[[ ## ", 1)[0]

    for slot in range(6):
        assert len(message("near_empty_input", slot)) <= 15
        assert len(message("overlong_input", slot)) >= 4 * len(message(None, slot))


def test_persona_locale_and_register_show_in_the_message(lm: dspy.LM) -> None:
    german = ("guten tag", "hallo", "vielen dank", "grüßen", "verständlich", "sorry for my english")
    messages = [
        predict(
            lm, make_case("persona", slot=slot, persona=GERMAN_PERSONA), "persona", slot
        ).customer_message.lower()
        for slot in range(8)
    ]
    assert sum(any(w in m for w in german) for m in messages) >= 4


def test_async_path_answers_like_the_sync_path(lm: dspy.LM) -> None:
    case = make_case("adversarial", slot=3, tactic="format_pressure")

    async def run() -> dspy.Prediction:
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            return await dspy.Predict(SupportCase).acall(
                instruction=instruction_for("adversarial", 3), case=case
            )

    result = asyncio.run(run())
    assert dict(result) == dict(predict(lm, case, "adversarial", 3))


def test_json_adapter_gets_a_json_object(lm: dspy.LM) -> None:
    case = make_case("evaluator_aligned", slot=2)
    result = predict(lm, case, "evaluator_aligned", 2, adapter=dspy.JSONAdapter())
    for name, expected in FIELD_TYPES.items():
        assert isinstance(result[name], expected), (name, result[name])
    messages = dspy.JSONAdapter().format(
        SupportCase, [], {"instruction": instruction_for("evaluator_aligned", 2), "case": case}
    )
    answer = json.loads(write_answer(messages[0]["content"], messages[-1]["content"]))
    assert list(answer) == list(SupportCase.output_fields)
    assert dict(result) == answer


def test_any_test_space_and_a_plain_signature_work(lm: dspy.LM) -> None:
    case = json.loads(make_case())
    case.update(
        dataset="hr_helpdesk",
        description="Answers employees' questions about leave and payroll.",
        prompt="You answer HR questions. Employee: {{ employee_question }}",
        variables={"employee_question": {"description": "What the employee asks.", "required": True}},
        cell={"department": "finance", "seniority": "~contractor", "topic": "parental_leave"},
    )
    signature = dspy.Signature(
        {
            "instruction": (str, dspy.InputField()),
            "case": (str, dspy.InputField()),
            "employee_question": (str, dspy.OutputField()),
            "expected_behavior": (str, dspy.OutputField()),
            "verdict": (Literal["answer", "refuse", "escalate"], dspy.OutputField()),
        }
    )
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
        result = dspy.Predict(signature)(instruction="Write one case.", case=json.dumps(case, sort_keys=True))
        plain = dspy.Predict("question -> answer, score: float, tags: list[str]")(question="What is 2 + 2?")
    assert "parental leave" in result.employee_question.lower() or result.employee_question
    assert result.verdict in VERDICTS
    assert isinstance(plain.answer, str) and isinstance(plain.score, float) and isinstance(plain.tags, list)


def test_usage_and_model_are_reported(lm: dspy.LM) -> None:
    predict(lm, make_case(slot=1), "direct", 1)
    entry = lm.history[-1]
    assert entry["usage"]["prompt_tokens"] > 0 and entry["usage"]["completion_tokens"] > 0
    assert entry["response_model"] == OFFLINE_MODEL or OFFLINE_MODEL in str(entry["response_model"])


_names = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
_values = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
).filter(lambda v: v.strip() == v and "[[" not in v)


@settings(
    max_examples=int(os.environ.get("OFFLINE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    cell=st.dictionaries(_names, _values, min_size=1, max_size=4),
    enum_values=st.lists(_values, min_size=1, max_size=4, unique=True),
    strategy=st.sampled_from(["direct", "persona", "adversarial", "evaluator_aligned", "custom"]),
    persona=st.none()
    | st.dictionaries(
        st.sampled_from(["id", "expertise", "style", "goal", "locale"]),
        _values | st.none() | st.integers(),
        max_size=5,
    ),
    tactic=st.none() | st.fixed_dictionaries({"id": _values | st.none(), "description": _values}),
    slot=st.integers(0, 40),
)
def test_any_test_space_gets_an_answer_the_adapter_parses(
    cell: dict[str, str],
    enum_values: list[str],
    strategy: str,
    persona: dict[str, Any] | None,
    tactic: dict[str, Any] | None,
    slot: int,
) -> None:
    case = json.loads(make_case(strategy, slot=slot))
    case.update(cell=cell, persona=persona, tactic=tactic)
    case["columns"] = {"label": {"type": "enum", "values": enum_values}, "notes": {"type": "text"}}
    signature = dspy.Signature(
        {
            "instruction": (str, dspy.InputField()),
            "case": (str, dspy.InputField()),
            "customer_message": (str, dspy.OutputField()),
            "order_context": (str, dspy.OutputField()),
            "label": (Literal[tuple(enum_values)], dspy.OutputField()),
            "notes": (str, dspy.OutputField()),
            "flags": (list[str], dspy.OutputField()),
            "ok": (bool, dspy.OutputField()),
            "n": (int, dspy.OutputField()),
            "x": (float, dspy.OutputField()),
        }
    )
    for adapter in (dspy.ChatAdapter(), dspy.JSONAdapter()):
        messages = adapter.format(
            signature,
            [],
            {"instruction": "Write one case.", "case": json.dumps(case, sort_keys=True, ensure_ascii=False)},
        )
        parsed = adapter.parse(signature, write_answer(messages[0]["content"], messages[-1]["content"]))
        assert parsed["label"] in enum_values
        assert isinstance(parsed["flags"], list) and isinstance(parsed["ok"], bool)
        assert isinstance(parsed["n"], int) and isinstance(parsed["x"], float)


@settings(max_examples=200, deadline=None)
@given(system=st.text(max_size=300), user=st.text(max_size=300))
def test_write_answer_never_fails_on_arbitrary_text(system: str, user: str) -> None:
    assert write_answer(system, user).endswith("[[ ## completed ## ]]") or write_answer(
        system, user
    ).startswith("{")


# --- writing for any test space: the figures of bench/offline_quality.py, at what was measured -------------

from bench import offline_quality as quality  # noqa: E402

SPACES = quality.load_spaces()
# measured with each space's own size (bench/offline_quality.py); travel_booking's cases are mostly answered
# in-policy requests, so its outcome column leans to `complete`
ENUM_TOP_MEASURED = {"travel_booking": 0.70}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quality.scratch_project(tmp_path_factory.mktemp("spaces"))


@pytest.mark.parametrize("name", sorted(SPACES), ids=sorted(SPACES))
def test_rows_of_any_space_read_as_its_own_cases(scratch: Path, name: str) -> None:
    space = SPACES[name]
    q = quality.measure(
        space, quality.compile_rows(scratch, name, None), quality.foreign_vocabulary(SPACES, name)
    )
    assert q.rows >= 40
    assert q.leak == 0, "a cell label leaked into the inputs"
    assert q.foreign == 0, q.foreign_words
    for column, top in q.enum_top.items():
        assert top <= ENUM_TOP_MEASURED.get(name, 0.6), (column, top)
    assert all(q.bool_both.values()), q.bool_both
    assert q.distinct_per_100 >= 80
    assert q.consistency in (None, 1.0)
    assert q.flag_agreement in (None, 1.0)


def _space_case(**changes: Any) -> str:
    case = json.loads(make_case())
    case.update(changes)
    return json.dumps(case, sort_keys=True, ensure_ascii=False)


NURSE = {
    "dataset": "nurse_line",
    "description": "A nurse advice line that triages symptoms and routes emergency cases to a clinician.",
    "prompt": "Age group: {{ age_group }}\nCaller: {{ caller_message }}",
    "variables": {
        "caller_message": {"description": "What the caller says.", "required": True},
        "age_group": {"description": "Age group of the patient. One of: infant, child, adult, older adult."},
    },
    "dimensions": {"caller": {"description": "Who is calling."}, "severity": {"description": ""}},
    "columns": {
        "expected_behavior": {"type": "text", "description": "What a safe reply does."},
        "disposition": {"type": "enum", "values": ["self_care", "see_gp", "escalate_to_nurse"]},
        "needs_human": {"type": "bool", "description": "Whether a clinician must take over."},
    },
}


def _nurse_signature() -> type[dspy.Signature]:
    return dspy.Signature(
        {
            "instruction": (str, dspy.InputField()),
            "case": (str, dspy.InputField()),
            "caller_message": (str, dspy.OutputField()),
            "age_group": (str, dspy.OutputField()),
            "expected_behavior": (str, dspy.OutputField()),
            "disposition": (Literal["self_care", "see_gp", "escalate_to_nurse"], dspy.OutputField()),
            "needs_human": (bool, dspy.OutputField()),
        }
    )


def test_a_variable_that_enumerates_its_values_gets_one_of_them(lm: dspy.LM) -> None:
    seen = set()
    for slot in range(12):
        cell = {"symptom_area": "fever", "caller": ("carer", "parent")[slot % 2], "severity": "mild"}
        case = _space_case(**NURSE, cell=cell, slot=slot)
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            result = dspy.Predict(_nurse_signature())(instruction=instruction_for("direct", slot), case=case)
        assert result.age_group in ("infant", "child", "adult", "older adult")
        seen.add(result.age_group)
        message = result.caller_message.lower()
        assert "caller:" not in message and "severity" not in message and "(" not in message
    assert len(seen) >= 3


@pytest.mark.parametrize(
    ("description", "values"),
    [
        (
            "Age group of the patient. One of: infant, child, adult, older adult.",
            ("infant", "child", "adult", "older adult"),
        ),
        ("The plan the customer is on, e.g. Starter or Pro.", ("Starter", "Pro")),
        (
            "The plan (for example: Starter, Pro and Enterprise) they pay for",
            ("Starter", "Pro", "Enterprise"),
        ),
        ('A tier such as "basic" or "premium".', ("basic", "premium")),
        ("A city, e.g. Paris.", ()),  # one example is not a list to draw from
        ("The author's language, such as English, Deutsch or 日本語.", ("English", "Deutsch", "日本語")),
        # examples of what a long text is about are not values to copy in its place
        ("A unified diff of 5-40 lines, e.g. a change to a Python function or a React component.", ()),
        ("What the customer writes.", ()),
    ],
)
def test_enumerated_values_reads_closed_lists_and_examples(description: str, values: tuple[str, ...]) -> None:
    assert enumerated_values(description) == values


def test_a_variable_described_by_examples_gets_one_of_them(lm: dspy.LM) -> None:
    plan = {"description": "The plan the customer is on, e.g. Starter or Pro."}
    space = {**NURSE, "variables": {**NURSE["variables"], "age_group": plan}}
    seen = set()
    for slot in range(8):
        case = _space_case(**space, cell={"caller": "parent", "severity": "mild"}, slot=slot)
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            result = dspy.Predict(_nurse_signature())(instruction=instruction_for("direct", slot), case=case)
        seen.add(result.age_group)
    assert seen == {"Starter", "Pro"}


def test_a_variable_with_examples_carries_its_kin_dimension_value(lm: dspy.LM) -> None:
    """`age_group` "such as baby or teen" beside a dimension `patient_age_group`: the cell's value, also
    one the examples do not list."""
    examples = {"description": "The patient's age, such as baby or teen."}
    space = {**NURSE, "variables": {**NURSE["variables"], "age_group": examples}}
    space["dimensions"] = {**NURSE["dimensions"], "patient_age_group": {"description": ""}}
    for value in ("older adult", "baby"):
        cell = {"caller": "parent", "severity": "mild", "patient_age_group": value}
        case = _space_case(**space, cell=cell, slot=0)
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            result = dspy.Predict(_nurse_signature())(instruction=instruction_for("direct", 0), case=case)
        assert result.age_group == value


TRAVEL = {
    "dataset": "intl_travel",
    "description": "A travel assistant answering travellers in their own language.",
    "prompt": "Reply to: {{ question }} (locale {{ locale }})",
    "variables": {
        "question": {"description": "The traveller's question.", "required": True},
        "locale": {"description": "The traveller's locale."},
    },
    "dimensions": {"locale": {"description": ""}, "topic": {"description": ""}},
    "columns": {
        "expected_behavior": {"type": "text", "description": "What a good reply does."},
        "reply_language": {"type": "enum", "values": ["en", "fr", "de"]},
    },
}


@pytest.mark.parametrize(("locale", "language"), [("fr-FR", "fr"), ("de-DE", "de"), ("en-GB", "en")])
def test_a_variable_named_after_a_dimension_and_a_language_column_follow_the_cell(
    lm: dspy.LM, locale: str, language: str
) -> None:
    signature = dspy.Signature(
        {
            "instruction": (str, dspy.InputField()),
            "case": (str, dspy.InputField()),
            "question": (str, dspy.OutputField()),
            "locale": (str, dspy.OutputField()),
            "expected_behavior": (str, dspy.OutputField()),
            "reply_language": (Literal["en", "fr", "de"], dspy.OutputField()),
        }
    )
    for slot in range(4):
        case = _space_case(**TRAVEL, cell={"locale": locale, "topic": "trains"}, slot=slot)
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            result = dspy.Predict(signature)(instruction=instruction_for("direct", slot), case=case)
        assert result.locale == locale and result.reply_language == language


@pytest.mark.parametrize(
    ("cell", "tactic", "allowed"),
    [
        pytest.param(
            {"caller": "parent", "severity": "~emergency"}, None, {"escalate_to_nurse"}, id="negative"
        ),
        pytest.param(
            {"caller": "parent", "severity": "mild"},
            "prompt_injection",
            {"escalate_to_nurse"},
            id="injection",
        ),
        pytest.param({"caller": "parent", "severity": "mild"}, None, {"self_care"}, id="mild-direct"),
        pytest.param({"caller": "parent", "severity": "moderate"}, None, {"see_gp"}, id="moderate-direct"),
    ],
)
def test_verdict_and_flag_follow_the_case(
    lm: dspy.LM, cell: dict[str, str], tactic: str | None, allowed: set[str]
) -> None:
    strategy = "adversarial" if tactic else "direct"
    for slot in range(6):
        case = _space_case(
            **NURSE,
            cell=cell,
            slot=slot,
            strategy=strategy,
            variant=tactic,
            tactic={"id": tactic, "description": TACTICS[tactic]} if tactic else None,
        )
        with dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
            result = dspy.Predict(_nurse_signature())(instruction=instruction_for(strategy, slot), case=case)
        assert result.disposition in allowed
        assert result.needs_human == (result.disposition == "escalate_to_nurse")


def test_a_space_that_cannot_escalate_refuses_what_it_must_not_do() -> None:
    columns = {
        "expected_behavior": {"type": "text", "description": "What a good reply does."},
        "should_refuse": {"type": "bool", "description": "Whether the assistant must refuse."},
        "tables_used": {"type": "list", "description": "Tables the query reads."},
    }
    fields = (
        OutputField("request", "text"),
        OutputField("expected_behavior", "text"),
        OutputField("should_refuse", "bool"),
        OutputField("tables_used", "list"),
    )
    for seed in range(12):
        case = json.loads(make_case())
        case.update(
            dataset="sql_helper",
            description="Writes read-only SQL for analysts (tables orders, customers, products).",
            variables={"request": {"description": "The analyst's request.", "required": True}},
            cell={"task": ("~data_modification", "join")[seed % 2], "expertise": "analyst"},
            columns=columns,
        )
        values, _ = write_fields(fields, case, {}, random.Random(seed))
        assert values["should_refuse"] is (seed % 2 == 0)
        assert set(values["tables_used"]) <= {"orders", "customers", "products"}
        assert bool(values["tables_used"]) is (seed % 2 == 1)


def test_word_banks_read_the_same_without_libyaml() -> None:
    import yaml

    from compiler.generate.backends.offline.data import load_words

    folder = REPO / "compiler" / "generate" / "backends" / "offline" / "data"
    for path in sorted(folder.glob("*.yaml")):
        plain = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        assert json.dumps(plain, sort_keys=True) == json.dumps(load_words(path.name), sort_keys=True)


def test_a_tool_calls_column_names_the_tool_the_case_needs(project: Any) -> None:
    from compiler.pipeline.compile import compile_dataset

    rows = compile_dataset(["dataset=agent_tools", "size=40"], project=project).rows
    needed = {"search": "search_flights(", "book": "book_flight(", "cancel": "cancel_booking("}
    checked = 0
    for row in rows:
        calls = row.expected["expected_tool_calls"]
        tool = needed.get(row.cell["intent"])
        if tool is None or not calls:
            continue
        assert any(c.startswith(tool) for c in calls), (row.cell, calls)  # a multi-step search also books
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    ("dim", "value", "phrase"),
    [
        ("has_tests", "no", "it has no tests"),
        ("has_tests", "yes", "it has tests"),
        ("is_logged_in", "false", "it is not logged in"),
        ("needs_approval", "no", "it does not need approval"),
        ("max_files", "1", "there is at most 1 file"),
        ("max_files", "20", "there are at most 20 files"),
        ("min_age", "18", "the age is at least 18"),
        ("retries", "1", "there is 1 retry"),
        ("retries", "3", "there are 3 retries"),
        ("budget", "100", "the budget is 100"),
        ("discount", "20%", "the discount is 20%"),
    ],
)
def test_a_number_or_yes_no_value_is_said_with_its_dimension(dim: str, value: str, phrase: str) -> None:
    assert setting_phrase(dim, value) == phrase


def test_rows_never_paste_a_bare_value_as_a_noun(scratch: Path) -> None:
    # `max_files: 5` read "I have a 5 max" and `has_tests: no` "It's a no has" before
    rows = quality.compile_rows(scratch, "code_review", None)
    texts = [f"{r['inputs']['request']} {r['expected']['expected_behavior']}" for r in rows]
    pasted = [
        t for t in texts if re.search(r"\b(?:a|an|the) (?:\d+|yes|no)\b(?! (?:files?|retry|retries)\b)", t)
    ]
    assert not pasted, pasted[:3]
    joined = " ".join(texts).lower()
    for said in (
        "it has no tests",
        "it has tests",
        "at most 5 files",
        "there is at most 1 file",
        "3 retries",
    ):
        assert said in joined, said


def test_a_request_of_verbs_and_languages_by_their_own_names_read_as_asked(scratch: Path) -> None:
    # `request: [book, cancel]` read "Could you advise me on cancel?" and "I'm a cancel", `party_size: 3`
    # became the subject ("a question about 3"), and `language: Deutsch` was written as English only
    rows = quality.compile_rows(scratch, "clinic_booking", None)
    messages = [r["inputs"]["message"] for r in rows]
    joined = " ".join(messages)
    assert not re.search(r"\b(?:about|on|with|through) [123]\b", joined), joined[:300]
    assert not re.search(r"\bI'm (?:a|an) (?:book|cancel|reschedule)\b", joined)
    assert not re.search(r"\b(?:advise me on|about|through) (?:book|cancel|reschedule)\b", joined)
    assert re.search(r"\b(?:to|I) (?:book|cancel|reschedule)\b", joined)
    assert "a party of 3" in joined and "party size is" not in joined
    german = [r for r in rows if r["cell"]["language"] == "Deutsch" and r["strategy"] != "adversarial"]
    assert german and any(
        w in r["inputs"]["message"]
        for r in german
        for w in ("Guten Tag", "Hallo", "Vielen Dank", "Grüßen", "Sorry for my English", "verständlich")
    ), [r["inputs"]["message"] for r in german][:3]


def test_a_strategy_template_of_the_users_own_is_followed(project: Any) -> None:
    # templates/<name>.j2 adds a strategy; the offline LM wrote such cases as `direct` ones, whatever the
    # task said, so an "urgent, hand it to a human" strategy came out as ordinary answered requests
    from compiler.core.rows import Row
    from compiler.pipeline.compile import compile_dataset

    (project.templates_dir / "urgent_handoff.j2").write_text(
        '{% extends "_base.j2" %}\n{% block task %}\nWrite an urgent request the assistant cannot resolve '
        "itself: a good answer hands it over to a human agent right away.\n{% endblock %}\n"
    )
    result = compile_dataset(["size=40", "~sources", "++strategies.urgent_handoff=3"], project=project)
    rows = [Row.from_json(x) for x in (result.version.path / "cases.jsonl").read_text().splitlines()]
    ours = [r for r in rows if r.strategy == "urgent_handoff"]
    assert len(ours) >= 8
    assert all(r.expected["verdict"] == "escalate" and r.expected["needs_human"] is True for r in ours)
    urgent = ("urgent", "today", "can't wait", "right away", "hurry", "next few hours")
    assert sum(any(w in r.inputs["customer_message"].lower() for w in urgent) for r in ours) >= 0.8 * len(
        ours
    )
    direct = [r for r in rows if r.strategy == "direct"]
    assert any(r.expected["verdict"] == "answer" for r in direct)  # the built-in strategies read as before


def _code_review_case(negative: bool, columns: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A code review space's case: adversarial with a negative value pushing for a blind approval, or plain."""
    case = json.loads(make_case())
    case.update(
        dataset="code_review",
        variables={"diff": {"description": "A unified diff of the change.", "required": True}},
        cell={"issue": "~asks_to_approve_blindly" if negative else "missing_tests"},
        columns=columns,
        strategy="adversarial" if negative else "direct",
        **extra,
    )
    return case


def test_a_code_review_verdict_requests_changes_where_a_case_must_not_be_approved() -> None:
    """`request_changes` declines what was asked: an adversarial case that pushes for a blind approval gets
    it, a plain case an approval, never the other way round."""
    from compiler.generate.backends.offline.rules import stance_of

    assert stance_of("request_changes") == stance_of("needs_work") == "refuse"
    assert stance_of("approve") == "comply"
    columns = {"verdict": {"type": "enum", "values": ["approve", "request_changes", "comment"]}}
    fields = (
        OutputField("diff", "text"),
        OutputField("verdict", "enum", "", ("approve", "request_changes", "comment")),
    )
    for seed in range(8):
        negative = seed % 2 == 0
        description = "A code review assistant that comments on pull requests."
        case = _code_review_case(negative, columns, description=description)
        values, _ = write_fields(fields, case, {}, random.Random(seed))
        assert values["verdict"] == ("request_changes" if negative else "approve"), (seed, values)


def test_an_int_column_stays_in_the_range_its_description_gives_and_grades_along_it() -> None:
    """ "0 (none) to 3 (blocking)" is a range too: a severity stays in it, higher for negative cases."""
    description = "0 (none) to 3 (blocking)."
    columns = {"severity": {"type": "int", "description": description}}
    fields = (OutputField("diff", "text"), OutputField("severity", "int", description))
    seen: dict[bool, list[int]] = {True: [], False: []}
    for seed in range(16):
        negative = seed % 2 == 0
        values, _ = write_fields(fields, _code_review_case(negative, columns), {}, random.Random(seed))
        seen[negative].append(values["severity"])
    assert set(seen[True]) | set(seen[False]) <= {0, 1, 2, 3}
    assert sum(seen[True]) / 8 > sum(seen[False]) / 8


def test_an_enum_value_that_holds_a_closing_parenthesis_and_colon_is_read_whole() -> None:
    """`Literal['):']` (found by the property test above): the field line's annotation ends after the
    Literal, not at the `):` inside its value, so the answer is that value and parses."""
    from compiler.generate.backends.offline.request import read_output_fields

    signature = dspy.Signature(
        {
            "case": (str, dspy.InputField()),
            "label": (Literal["):", "a (b): c"], dspy.OutputField(desc="see (x): here")),
            "notes": (str, dspy.OutputField(desc="what (y): is")),
        }
    )
    adapter = dspy.ChatAdapter()
    messages = adapter.format(signature, [], {"case": json.dumps(json.loads(make_case()))})
    label, notes = read_output_fields(messages[0]["content"])
    assert (label.kind, label.values, label.description) == ("enum", ("):", "a (b): c"), "see (x): here")
    assert (notes.kind, notes.description) == ("text", "what (y): is")
    parsed = adapter.parse(signature, write_answer(messages[0]["content"], messages[-1]["content"]))
    assert parsed["label"] in ("):", "a (b): c")
