"""dsc's adapters (DSPy's, with cached prompt parts and no JSON fallback call) parse what DSPy's own parse and
fail where they fail, on answers of every column type, and format messages byte for byte as DSPy does."""

from __future__ import annotations

from typing import Any, Literal

import dspy
import pytest
from dspy.utils.exceptions import AdapterParseError
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.generate.adapters import LeanChatAdapter, LeanJSONAdapter


class Every(dspy.Signature):
    """One field of each column type dsc declares."""

    question: str = dspy.InputField()
    text: str = dspy.OutputField()
    items: list[str] = dspy.OutputField()
    verdict: Literal["answer", "refuse", "escalate"] = dspy.OutputField()
    flag: bool = dspy.OutputField()
    count: int = dspy.OutputField()
    score: float = dspy.OutputField()


def chat(**values: str) -> str:
    return "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in values.items()) + "[[ ## completed ## ]]\n"


CHAT = [
    chat(text="hi", items='["a", "b"]', verdict="refuse", flag="true", count="3", score="0.5"),
    chat(text=" spaced\n\nlines ", items="['a']", verdict="'answer'", flag="False", count="7", score="1"),
    chat(text="x", items="[]", verdict="Literal[escalate]", flag="yes", count="2.0", score="1e-3"),
    chat(text="x", items="not a list", verdict="answer", flag="true", count="1", score="0"),
    chat(text="x", items="[]", verdict="maybe", flag="true", count="1", score="0"),
    chat(text="x", items="[]", verdict="answer", flag="true", count="many", score="0"),
    chat(text="missing the rest"),
    "no headers at all",
    chat(text="first", items="[]", verdict="answer", flag="1", count="1", score="0") + chat(text="second"),
    chat(text="x", items='["a", 1]', verdict="refuse", flag="false", count="1", score="0"),
    chat(text="x", items='["a"]', verdict="refuse", flag="false", count="-0", score="-0"),
    chat(text="x", items='["\\u00e9", "\\ud800"]', verdict="answer", flag="True", count="007", score="-0.0"),
    chat(
        text="x",
        items='["a"] trailing',
        verdict=" answer ",
        flag="no",
        count="1e2",
        score="12345678901234567890",
    ),
    chat(
        text="x", items="[]", verdict='"escalate"', flag="true", count="123456789012345678901", score="1.5E+3"
    ),
    '  [[ ## text ## ]] same line\n[[ ## items ## ]]   ["inline"]\n'
    + chat(verdict="answer", flag="true", count="1", score="2"),
]
JSON = [
    '{"text": "hi", "items": ["a"], "verdict": "refuse", "flag": true, "count": 3, "score": 0.5}',
    'prose {"text": "t", "items": [], "verdict": "answer", "flag": "false", "count": "4", "score": "2"} prose',
    '{"text": 1, "items": "[\\"q\\"]", "verdict": "escalate", "flag": 0, "count": 1.0, "score": 1, "x": 2}',
    '{"text": "t", "items": [], "verdict": "nope", "flag": true, "count": 1, "score": 0}',
    '{"text": "t"}',
    "[1, 2]",
    "not json",
]


def outcome(parse: Any, completion: str) -> tuple[str, Any]:
    try:
        return "ok", repr(parse(Every, completion))  # repr: -0.0 and 0.0, True and 1 differ
    except AdapterParseError as exc:  # dsc words its messages itself: the fields it did read must agree
        return "parse error", repr(exc.parsed_result)
    except (ValueError, TypeError) as exc:
        return type(exc).__name__, None


@pytest.mark.parametrize("completion", CHAT)
def test_chat_answers_parse_as_dspy_parses_them(completion: str) -> None:
    adapter = LeanChatAdapter()
    theirs = outcome(lambda s, c: dspy.ChatAdapter.parse(adapter, s, c), completion)
    assert outcome(adapter.parse, completion) == theirs


@pytest.mark.parametrize("completion", JSON)
def test_json_answers_parse_as_dspy_parses_them(completion: str) -> None:
    adapter = LeanJSONAdapter()
    theirs = outcome(lambda s, c: dspy.JSONAdapter.parse(adapter, s, c), completion)
    assert outcome(adapter.parse, completion) == theirs


TOKENS = [
    "true",
    "false",
    "True",
    "False",
    "1",
    "-0",
    "2.5",
    "1e2",
    "[]",
    '["a", "b"]',
    "[1]",
    "answer",
    "'refuse'",
    "x",
    " ",
]
ANSWER = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=2).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({name: ANSWER for name in Every.output_fields}), st.booleans())
def test_generated_chat_answers_parse_as_dspy_parses_them(values: dict[str, str], shuffled: bool) -> None:
    names = list(values)[::-1] if shuffled else list(values)
    completion = chat(**{name: values[name] for name in names})
    adapter = LeanChatAdapter()
    theirs = outcome(lambda s, c: dspy.ChatAdapter.parse(adapter, s, c), completion)
    assert outcome(adapter.parse, completion) == theirs


def test_the_cases_cover_successes_and_failures() -> None:
    kinds = {outcome(dspy.ChatAdapter().parse, c)[0] for c in CHAT} | {
        outcome(dspy.JSONAdapter().parse, c)[0] for c in JSON
    }
    assert {"ok", "parse error"} <= kinds


class Ask(dspy.Signature):
    """Answer with every column type."""

    question: str = dspy.InputField()
    context: list[str] = dspy.InputField()
    meta: dict[str, int] = dspy.InputField()
    text: str = dspy.OutputField()
    verdict: Literal["answer", "refuse"] = dspy.OutputField()


INPUTS = [
    {"question": "plain", "context": ["a", "b"], "meta": {"n": 1}},
    {"question": ' "quoted" \n lines é ✓ ', "context": [], "meta": {}},
    {"question": '{"looks": "like json"}', "context": ["x"], "meta": {"k": 2}},
]
DEMOS = [dspy.Example(question="q", context=["c"], meta={"m": 3}, text="t", verdict="answer")]


@pytest.mark.parametrize(
    "lean, plain", [(LeanChatAdapter, dspy.ChatAdapter), (LeanJSONAdapter, dspy.JSONAdapter)]
)
@pytest.mark.parametrize("demos", [[], DEMOS], ids=["no-demos", "demos"])
def test_messages_are_formatted_byte_for_byte_as_dspy_formats_them(
    lean: type[Any], plain: type[Any], demos: list[Any]
) -> None:
    for inputs in INPUTS:
        ours = lean().format(Ask, demos, inputs)
        assert ours == plain().format(Ask, demos, inputs)
