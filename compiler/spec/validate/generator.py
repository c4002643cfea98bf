"""The `generator` and `optimizer` groups: which dspy.Module writes the cases, and how `dsc optimize` improves it."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from compiler.spec.model import ADAPTERS, GENERATOR_MODULES, GeneratorSpec, OptimizerSpec
from compiler.spec.project import BUILTIN
from compiler.spec.validate.fields import Problems, Range, check_keys, parse_mapping, parse_number, parse_text

OPTIMIZERS = ("bootstrap", "mipro", "gepa")
_PROGRAM = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _project_path(problems: Problems, key: str, raw: Any, suffix: str) -> str | None:
    """A relative path inside the project ending in `suffix`, or None (with a problem) if it is not one."""
    text = parse_text(problems, key, raw)
    if not text:
        return None
    path = PurePosixPath(text.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", text):
        problems.add(key, f"{text!r} is not inside the project; give a path relative to the project root")
        return None
    if path.suffix != suffix:
        problems.add(key, f"{text!r} must be a {suffix} file (saved with program.save('....json'))")
        return None
    return str(path)


def parse_generator(problems: Problems, raw: Any) -> GeneratorSpec:
    data = parse_mapping(problems, "generator", raw if raw is not None else {}, "a mapping")
    check_keys(problems, "generator", data, ("module", "program", "state", "adapter"))
    module = str(data.get("module") or "predict")
    if module not in GENERATOR_MODULES:
        problems.add(
            "generator.module",
            f"unknown module {module!r}; use one of {', '.join(GENERATOR_MODULES)} "
            "(or generator.program=module:Class for your own dspy.Module)",
        )
    adapter = str(data.get("adapter") or "chat")
    if adapter not in ADAPTERS:
        problems.add("generator.adapter", f"unknown adapter {adapter!r}; use one of {', '.join(ADAPTERS)}")
    program = None
    if data.get("program") is not None:
        program = parse_text(problems, "generator.program", data["program"])
        if not _PROGRAM.match(program):
            problems.add(
                "generator.program",
                f"{program!r} is not module:Class; name a dspy.Module of the project, e.g. mypkg.gen:WriteCases",
            )
    state = None
    if data.get("state") is not None:
        state = _project_path(problems, "generator.state", data["state"], ".json")
    return GeneratorSpec(module, program, state, adapter, problems.origins.where("generator"))


def parse_optimizer(problems: Problems, raw: Any) -> OptimizerSpec:
    data = parse_mapping(problems, "optimizer", raw if raw is not None else {}, "a mapping")
    check_keys(
        problems,
        "optimizer",
        data,
        ("kind", "trainset", "valset", "max_demos", "rounds", "near_threshold", "out"),
    )
    kind = str(data.get("kind") or "bootstrap")
    if kind not in OPTIMIZERS:
        problems.add("optimizer.kind", f"unknown optimizer {kind!r}; use one of {', '.join(OPTIMIZERS)}")
    values: dict[str, Any] = {"kind": kind}
    for key, low, high in (
        ("trainset", 2, 10000),
        ("valset", 1, 10000),
        ("max_demos", 0, 64),
        ("rounds", 1, 20),
    ):
        if data.get(key) is not None:
            value = parse_number(
                problems, f"optimizer.{key}", data[key], integer=True, within=Range(low=low, high=high)
            )
            if value is not None:
                values[key] = int(value)
    if data.get("near_threshold") is not None:
        value = parse_number(
            problems, "optimizer.near_threshold", data["near_threshold"], within=Range(low=0, high=1)
        )
        if value is not None:
            values["near_threshold"] = float(value)
    if data.get("out") is not None:
        values["out"] = _project_path(problems, "optimizer.out", data["out"], ".json")
    # the built-in files' trainset and valset shrink to a small plan; the user's own are kept or refused
    set_in = [problems.origins.where(f"optimizer.{key}") for key in ("trainset", "valset")]
    values["sizes_set_in"] = next((w for w in set_in if not Path(w).is_relative_to(BUILTIN)), "")
    return OptimizerSpec(**values)
