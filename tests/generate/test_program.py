"""The generator program (compiler/generate/program.py): built-in modules, a user's own dspy.Module, saved state
and adapters, each compiled end to end against the loopback server and checked on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dspy
import pytest

from compiler.cli.main import main
from compiler.generate.program import WriteCase, build_generator
from compiler.generate.signatures import build_signature
from compiler.pipeline.compile import compile_dataset
from compiler.spec.compose import Project, load_spec
from tests.llm_server import MockLLMServer

SMALL = ["size=6", "~sources", "max_rounds=0", "dedupe.near=null", "lm.concurrency=4"]


@pytest.fixture
def server() -> Iterator[MockLLMServer]:
    with MockLLMServer() as running:
        yield running


def over_http(server: MockLLMServer, *more: str) -> list[str]:
    return ["lm=openai_compatible", f"lm.api_base={server.base_url}", "lm.model=mock", *SMALL, *more]


def messages_of(server: MockLLMServer) -> list[list[dict[str, Any]]]:
    return [json.loads(body)["messages"] for body in server.stats.bodies]


def manifest_of(result: Any) -> dict[str, Any]:
    return json.loads((result.version.path / "manifest.json").read_text())


USER_MODULE = '''
import dspy


class WriteCases(dspy.Module):
    """Two steps: draft the customer's message, then the rest of the case from the draft."""

    def __init__(self, signature):
        super().__init__()
        variables = [n for n in signature.output_fields if n in ("customer_message",)]
        draft = dspy.Signature({"instruction": signature.input_fields["instruction"],
                                "case": signature.input_fields["case"],
                                "customer_message": signature.output_fields["customer_message"]},
                               "Draft the customer's message for this test case.")
        self.draft = dspy.Predict(draft)
        self.rest = dspy.Predict(signature)

    async def aforward(self, instruction, case):
        first = await self.draft.acall(instruction=instruction, case=case)
        full = await self.rest.acall(instruction=instruction + "\\nDraft: " + first.customer_message, case=case)
        return full
'''


def test_a_users_module_from_the_project_writes_the_cases(project: Project, server: MockLLMServer) -> None:
    (project.root / "mygen.py").write_text(USER_MODULE)
    result = compile_dataset(over_http(server, "generator.program=mygen:WriteCases"), project=project)
    assert result.created and len(result.rows) == 6
    systems = [m[0]["content"] for m in messages_of(server)]
    assert any("Draft the customer's message" in s for s in systems)  # both predictors reached the wire
    assert any("Write one realistic test case" in s for s in systems)
    assert manifest_of(result)["generator"]["program"] == "mygen:WriteCases"


@pytest.mark.parametrize(
    ("override", "says"),
    [
        pytest.param("generator.program=mygen:Nope", "has no 'Nope'", id="no-such-class"),
        pytest.param("generator.program=nomodule:X", "cannot import 'nomodule'", id="no-such-module"),
        pytest.param("generator.program=mygen:Short", "produces no order_context", id="outputs-not-covered"),
        pytest.param("generator.program=not-a-path", "is not module:Class", id="not-module-class"),
        pytest.param("generator.module=react", "unknown module 'react'", id="unknown-module"),
        pytest.param("generator.adapter=xml", "unknown adapter 'xml'", id="unknown-adapter"),
        pytest.param("generator.state=../elsewhere.json", "is not inside the project", id="state-outside"),
        pytest.param("generator.state=programs/missing.json", "does not exist", id="state-missing"),
    ],
)
def test_a_wrong_generator_is_one_line_and_exit_2(
    project: Project, capsys: pytest.CaptureFixture[str], override: str, says: str
) -> None:
    (project.root / "mygen.py").write_text(
        "import dspy\n\nclass Short(dspy.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.p = dspy.Predict('instruction, case -> customer_message')\n"
        "    def forward(self, instruction, case):\n        return self.p(instruction=instruction, case=case)\n"
    )
    assert main(["compile", override, *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "generator." in err and len(err.splitlines()) == 1, err
    assert not (project.root / "outputs").exists()


def test_saved_demos_reach_the_wire_as_system_user_assistant_turns(
    project: Project, server: MockLLMServer
) -> None:
    spec = load_spec(over_http(server), project)
    program = WriteCase(build_signature(spec))
    demo = {
        "instruction": "Write a refund request.",
        "case": '{"cell": {"intent": "refund"}}',
        "customer_message": "I want my money back for the headphones.",
        "order_context": "",
        "expected_behavior": "Explains the 30-day refund policy.",
        "must_include": ["30 days"],
        "verdict": "answer",
        "needs_human": False,
    }
    program.write.demos = [dspy.Example(**demo)]
    (project.root / "programs").mkdir()
    program.save(str(project.root / "programs" / "support_bot.json"))

    plain = compile_dataset(over_http(server), project=project)
    # the offline answers read only the last user turn, so the rows match: publish them as a version of their own
    state = ["generator.state=programs/support_bot.json", "out_dir=with_state"]
    shot = compile_dataset(over_http(server, *state), project=project)
    roles = {tuple(m["role"] for m in messages) for messages in messages_of(server)}
    assert roles == {("system", "user"), ("system", "user", "assistant", "user")}
    few_shot = next(m for m in messages_of(server) if len(m) == 4)
    assert (
        "I want my money back" in few_shot[2]["content"] and "[[ ## verdict ## ]]" in few_shot[2]["content"]
    )
    described = manifest_of(shot)["generator"]
    assert described["state"] == "programs/support_bot.json" and len(described["state_hash"]) == 16
    assert manifest_of(shot)["program_hash"] != manifest_of(plain)["program_hash"]


def test_chain_of_thought_asks_for_reasoning_first(project: Project, server: MockLLMServer) -> None:
    result = compile_dataset(over_http(server, "generator.module=chain_of_thought"), project=project)
    assert result.created and len(result.rows) == 6
    system = messages_of(server)[0][0]["content"]
    assert "1. `reasoning` (str)" in system  # the reasoning field comes before the case's fields
    assert all("reasoning" not in row.inputs and "reasoning" not in row.expected for row in result.rows)


@pytest.mark.parametrize(
    ("lm", "kind"),
    [
        pytest.param(["lm=openai_compatible", "lm.model=mock"], "json_schema", id="aiohttp"),
        pytest.param(["lm=dspy", "lm.model=openai/gpt-4o-mini"], "json_schema", id="lm=dspy-openai"),
    ],
)
def test_the_json_adapter_sends_native_structured_output(
    project: Project, server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, lm: list[str], kind: str
) -> None:
    monkeypatch.setenv("DSC_TEST_KEY", "sk-test")
    overrides = [*lm, f"lm.api_base={server.base_url}", "lm.api_key_env=DSC_TEST_KEY", *SMALL]
    result = compile_dataset([*overrides, "generator.adapter=json"], project=project)
    assert result.created and len(result.rows) == 6
    body = json.loads(server.stats.bodies[0])
    assert body["response_format"]["type"] == kind
    schema = body["response_format"]["json_schema"]["schema"]
    assert {"customer_message", "verdict", "must_include"} <= set(schema["properties"])
    assert "Respond with a JSON object" in body["messages"][-1]["content"]


def test_the_same_program_hashes_the_same_and_a_changed_one_differently(project: Project) -> None:
    spec = load_spec(SMALL, project)
    first, again = build_generator(spec, project.root), build_generator(spec, project.root)
    assert first.program_hash() == again.program_hash()
    cot = build_generator(load_spec([*SMALL, "generator.module=chain_of_thought"], project), project.root)
    assert cot.program_hash() != first.program_hash()
    first.program.write.demos = [dspy.Example(instruction="x", case="{}")]
    assert first.program_hash() != again.program_hash()


def test_a_sync_only_user_module_runs_in_a_worker_thread(project: Project, server: MockLLMServer) -> None:
    (project.root / "syncgen.py").write_text(
        "import dspy\n\nclass Gen(dspy.Module):\n"
        "    def __init__(self, signature):\n        super().__init__()\n"
        "        self.p = dspy.ChainOfThought(signature)\n"
        "    def forward(self, instruction, case):\n        return self.p(instruction=instruction, case=case)\n"
    )
    result = compile_dataset(over_http(server, "generator.program=syncgen:Gen"), project=project)
    assert result.created and len(result.rows) == 6 and result.calls == server.stats.requests


def test_every_generator_option_in_conf_validates(project: Project) -> None:
    for module in ("predict", "chain_of_thought"):
        for adapter in ("chat", "json"):
            spec = load_spec([f"generator.module={module}", f"generator.adapter={adapter}"], project)
            assert (spec.generator.module, spec.generator.adapter) == (module, adapter)
    for optimizer in sorted(p.stem for p in (project.conf_dir / "optimizer").glob("*.yaml")):
        assert load_spec([f"optimizer={optimizer}"], project).optimizer.kind in ("bootstrap", "mipro", "gepa")
