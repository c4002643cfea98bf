"""The generator program: a `dspy.Module` that writes one test case.

Built in (`generator.module: predict | chain_of_thought`), or the user's own (`generator.program:
module:Class`, imported from the project: the one setting in dsc that runs the project's code), optionally
with saved state (`generator.state: programs/<dataset>.json`, what `dsc optimize` writes with `.save()`).
Every program is called as `await program.acall(instruction=..., case=...)` under
`dspy.context(lm=..., adapter=...)`, so DSPy's adapters, demos, callbacks and optimizers all apply.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy
import xxhash

from compiler.core.errors import ConfigError
from compiler.generate.signatures import GENERATOR_INPUTS, build_signature, generator_outputs
from compiler.spec.model import GeneratorSpec, Spec


class WriteCase(dspy.Module):
    """dsc's built-in generator: one predictor (Predict or ChainOfThought) of the test space's signature."""

    def __init__(self, signature: type[dspy.Signature], module: str = "predict") -> None:
        super().__init__()
        self.write = (
            dspy.ChainOfThought(signature) if module == "chain_of_thought" else dspy.Predict(signature)
        )

    def forward(self, instruction: str, case: str) -> dspy.Prediction:
        return self.write(instruction=instruction, case=case)

    async def aforward(self, instruction: str, case: str) -> dspy.Prediction:
        return await self.write.acall(instruction=instruction, case=case)


@dataclass
class Generator:
    """The program with how it was chosen; `describe()` is what the manifest records."""

    program: dspy.Module
    spec: GeneratorSpec
    state_hash: str | None
    _async: bool

    async def acall(self, **inputs: Any) -> Any:
        if self._async:
            return await self.program.acall(**inputs)
        # a user's module with only forward(): run it in a worker thread (DSPy's settings travel with the
        # context), its LM calls hop back onto this loop (SyncJournaledEngine)
        return await asyncio.to_thread(self.program, **inputs)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"module": self.spec.module, "adapter": self.spec.adapter}
        if self.spec.program:
            out["program"] = self.spec.program
        if self.spec.state:
            out["state"] = self.spec.state
            out["state_hash"] = self.state_hash
        return out

    def state_json(self) -> str:
        """The program's dump_state() as canonical JSON: what the manifest's program hash covers."""
        state = self.program.dump_state()
        return json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)

    def program_hash(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True) + "|" + self.state_json()
        return xxhash.xxh3_64_hexdigest(text.encode("utf-8"))


@contextmanager
def _project_on_path(root: Path) -> Iterator[None]:
    entry = str(root)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _where(spec: Spec, key: str) -> str:
    return spec.generator.where


def load_user_program(spec: Spec, root: Path, signature: type[dspy.Signature]) -> dspy.Module:
    """Import `module:Class` from the project and build it (with the signature if its __init__ takes one)."""
    text = spec.generator.program or ""
    where = f"{_where(spec, 'generator.program')}: generator.program"
    module_name, _, class_name = text.partition(":")
    _forget_if_elsewhere(module_name, root)
    try:
        with _project_on_path(root):
            module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module failed to import: report it in one line
        raise ConfigError(
            f"{where}: cannot import {module_name!r} from {root} ({type(exc).__name__}: {exc}); "
            "give module:Class of a module inside the project"
        ) from exc
    cls: Any = module
    for part in class_name.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise ConfigError(f"{where}: {module_name!r} has no {class_name!r}; give module:Class")
    if not (isinstance(cls, type) and issubclass(cls, dspy.Module)):
        raise ConfigError(f"{where}: {text} is not a dspy.Module subclass")
    constructor: Any = next(vars(base)["__init__"] for base in cls.__mro__ if "__init__" in vars(base))
    parameters = [
        p
        for p in inspect.signature(constructor).parameters.values()
        if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    try:
        return cls(signature) if parameters else cls()
    except Exception as exc:
        raise ConfigError(f"{where}: building {text} failed ({type(exc).__name__}: {exc})") from exc


def _forget_if_elsewhere(module_name: str, root: Path) -> None:
    """A module of that name imported earlier from another folder (another project) is not this project's."""
    cached = sys.modules.get(module_name)
    if cached is None:
        return
    base = root.joinpath(*module_name.split("."))
    candidates = [base.with_suffix(".py"), base / "__init__.py"]
    here = next((c.resolve() for c in candidates if c.is_file()), None)
    origin = getattr(cached, "__file__", None)
    if here is not None and (origin is None or Path(origin).resolve() != here):
        for name in [n for n in sys.modules if n == module_name or n.startswith(module_name + ".")]:
            del sys.modules[name]


def check_outputs(spec: Spec, program: dspy.Module) -> None:
    """Every output field of the test space is produced by some predictor of the program."""
    produced: set[str] = set()
    for _, predictor in program.named_predictors():
        produced.update(predictor.signature.output_fields)
    missing = [name for name in generator_outputs(spec) if name not in produced]
    if missing:
        raise ConfigError(
            f"{_where(spec, 'generator.program')}: generator.program: {spec.generator.program} produces no "
            f"{', '.join(missing)}; its predictors' outputs must cover the test space's variables and columns"
        )


def build_generator(spec: Spec, root: Path) -> Generator:
    """The generator program of this spec: built, checked against the signature, its saved state loaded."""
    signature = build_signature(spec)
    setting = spec.generator
    program: dspy.Module
    if setting.program:
        program = load_user_program(spec, root, signature)
        check_outputs(spec, program)
    else:
        program = WriteCase(signature, setting.module)
    state_hash = None
    if setting.state:
        path = root / setting.state
        where = f"{_where(spec, 'generator.state')}: generator.state"
        if not path.is_file():
            raise ConfigError(f"{where}: {setting.state} does not exist; run `dsc optimize` or fix the path")
        try:
            raw = path.read_bytes()
            program.load(str(path))
        except Exception as exc:  # damaged or foreign state: one line, not a traceback
            raise ConfigError(
                f"{where}: cannot load {setting.state} into the program ({type(exc).__name__}: {exc}); "
                "save it with program.save(path) from the same program"
            ) from exc
        state_hash = xxhash.xxh3_64_hexdigest(raw)
        check_outputs(spec, program)
    inputs_ok = _accepts(program, GENERATOR_INPUTS)
    if not inputs_ok:
        raise ConfigError(
            f"{_where(spec, 'generator.program')}: generator.program: {setting.program}.forward must accept "
            "instruction= and case= keyword arguments"
        )
    base_aforward = getattr(dspy.Module, "aforward", None)
    asynchronous = getattr(type(program), "aforward", None) not in (None, base_aforward)
    return Generator(program, setting, state_hash, asynchronous)


def _accepts(program: dspy.Module, names: tuple[str, ...]) -> bool:
    method = getattr(type(program), "aforward", None) or getattr(type(program), "forward", None)
    if method is None:
        return False
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return True
    return all(name in parameters for name in names)
