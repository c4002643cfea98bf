"""DSPy signatures built from the test space: what the generator, the labeller and the judge are asked."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from compiler.core import lazy
from compiler.core.columns import column_type
from compiler.spec.model import Column, Spec

if TYPE_CHECKING:
    import dspy

LABEL_INSTRUCTION = (
    "This case is a real production request (scrubbed of private data), not one you write. Keep its inputs "
    "as they are and write only the evaluator columns a grader uses to score an answer to it; the trace's "
    "own answer, behaviour label and error flag are evidence, not the expected behaviour."
)
GENERATOR_INPUTS = ("instruction", "case")


def _column_type(column: Column) -> Any:
    return column_type(column.type).annotation(column.values)


def generator_outputs(spec: Spec) -> tuple[str, ...]:
    """The fields every generator program must produce: the prompt's variables, then the evaluator columns."""
    return tuple(v.name for v in spec.prompt.variables) + tuple(c.name for c in spec.columns)


def build_signature(spec: Spec) -> type[dspy.Signature]:
    """Inputs: the rendered instruction and the case spec; outputs: prompt variables + typed columns."""
    fields: dict[str, tuple[Any, Any]] = {
        "instruction": (
            str,
            lazy.dspy.InputField(desc="What to write: the strategy's instruction for this case."),
        ),
        "case": (
            str,
            lazy.dspy.InputField(desc="The case spec as JSON: cell, strategy, persona or tactic, slot."),
        ),
    }
    for variable in spec.prompt.variables:
        desc = variable.description + ("" if variable.required else " (may be empty)")
        fields[variable.name] = (str, lazy.dspy.OutputField(desc=desc))
    for column in spec.columns:
        fields[column.name] = (
            _column_type(column),
            lazy.dspy.OutputField(desc=column.description or column.name),
        )
    instructions = (
        f"Write one realistic test case for: {spec.description.strip()} "
        "Fill the prompt's input variables and the evaluator columns."
    )
    return lazy.dspy.make_signature(fields, instructions, signature_name="WriteTestCase")


def build_label_signature(spec: Spec) -> type[dspy.Signature]:
    """Inputs: the instruction and the case (with the trace); outputs: the evaluator columns only."""
    fields: dict[str, tuple[Any, Any]] = {
        "instruction": (str, lazy.dspy.InputField(desc="What to write.")),
        "case": (
            str,
            lazy.dspy.InputField(desc="The case as JSON, with the production trace under `trace`."),
        ),
    }
    for column in spec.columns:
        fields[column.name] = (
            _column_type(column),
            lazy.dspy.OutputField(desc=column.description or column.name),
        )
    return lazy.dspy.make_signature(
        fields, f"Label a production request for: {spec.description.strip()}", signature_name="LabelTrace"
    )


@cache
def build_judge_signature() -> type[dspy.Signature]:
    """The plausibility judge: the system under test and a case in, a score and a reason out."""
    d: Any = lazy.dspy

    class JudgeCase(d.Signature):
        """Score how plausible this test case is for the system under test, from 0.0 (implausible) to 1.0
        (a request real users would send, with expected behaviour a grader could apply)."""

        description: str = d.InputField(desc="The system under test.")
        case: str = d.InputField(desc="The test case as JSON: its inputs and expected behaviour.")
        plausibility: float = d.OutputField(desc="From 0.0 to 1.0.")
        reason: str = d.OutputField(desc="One sentence.")

    return JudgeCase
