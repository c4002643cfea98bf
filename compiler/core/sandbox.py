"""The one Jinja environment dsc renders user text with: sandboxed, immutable, and reproducible.

Templates and the prompt under test are user input, so they render in Jinja's immutable sandbox. Jinja also
ships two sources of randomness, the `random` filter and the `lipsum` global; either would make the same
config give different datasets, so neither is available (a template picks with `case.slot` instead).
"""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment

NOT_REPRODUCIBLE = {"random": "filter", "lipsum": "function"}


def sandboxed_environment(**options: Any) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(**options)
    env.filters.pop("random", None)
    env.globals.pop("lipsum", None)
    return env


def reproducibility_hint(message: str) -> str:
    """Why a filter or name Jinja users know is missing, for an error that mentions one."""
    for name, kind in NOT_REPRODUCIBLE.items():
        if f"'{name}'" in message or f"`{name}`" in message:
            return (
                f" (dsc removes Jinja's `{name}` {kind} so that a compile is reproducible; pick by the case, "
                "e.g. `items[case.slot % items|length]`)"
            )
    return ""
