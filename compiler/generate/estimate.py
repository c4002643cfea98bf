"""The one cost formula, and the no-call estimate of what a compile will pay for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from compiler.core.columns import column_type
from compiler.generate.templates import RenderedCase, case_payload
from compiler.spec.model import LMSpec, Spec


def cost_usd(lm: LMSpec, input_tokens: int, output_tokens: int) -> float:
    """USD for these tokens at the LM's price (USD per million input and output tokens)."""
    return (input_tokens * lm.price_input + output_tokens * lm.price_output) / 1e6


@dataclass(frozen=True)
class UsageEstimate:
    calls: int
    input_tokens: int
    output_tokens: int

    def cost(self, spec: Spec) -> float:
        return cost_usd(spec.lm, self.input_tokens, self.output_tokens)


# ~4 characters per token; the adapter adds field markers and format notes around what dsc renders
CHARS_PER_TOKEN = 4
ADAPTER_OVERHEAD_CHARS = 900
VARIABLE_OUTPUT_CHARS = 180
TRACE_OVERHEAD_CHARS = 300  # a labelling call's case: the trace's id, behaviour, error flag and cell as JSON


def estimate_usage(
    spec: Spec, rendered: Sequence[RenderedCase], traces: Sequence[tuple[str, str | None]] = ()
) -> UsageEstimate:
    """Calls and tokens a compile of these cases will pay for, from the rendered prompts (no LM call), plus
    one labelling call per production trace (input, output) that joins the dataset."""
    fields = sum(len(v.name) + len(v.description) + 40 for v in spec.prompt.variables)
    fields += sum(
        len(c.name) + len(c.description) + 60 + sum(len(x) + 2 for x in c.values) for c in spec.columns
    )
    system = ADAPTER_OVERHEAD_CHARS + 2 * fields + len(spec.description)
    input_chars = sum(system + len(r.instruction) + len(case_payload(spec, r.case, 0)) for r in rendered)
    columns_chars = sum(column_type(c.type).output_chars + len(c.name) + 12 for c in spec.columns)
    output_chars = len(rendered) * (VARIABLE_OUTPUT_CHARS * len(spec.prompt.variables) + columns_chars)
    if traces:
        from compiler.generate.signatures import LABEL_INSTRUCTION

        label_system = system + len(LABEL_INSTRUCTION) + TRACE_OVERHEAD_CHARS
        input_chars += sum(label_system + len(text) + len(answer or "") for text, answer in traces)
        output_chars += len(traces) * columns_chars
    calls = len(rendered) + len(traces)
    return UsageEstimate(calls, input_chars // CHARS_PER_TOKEN, output_chars // CHARS_PER_TOKEN)
