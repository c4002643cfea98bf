"""The one place heavy packages are imported lazily, so `dsc --help`, `dsc plan` and the version verbs
start fast: a module here is imported on first attribute access, not when dsc starts.

Modules that need these for type annotations import them under `typing.TYPE_CHECKING`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

# dspy's LiteLLM would download model metadata on first use; dsc never needs it. Set before any dspy import,
# also the direct ones of the modules that subclass dspy types.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class LazyModule:
    """Stands for a module and imports it the first time one of its attributes is read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            if self._name.split(".")[0] in ("dspy", "litellm"):
                # dspy's LiteLLM would try to download model metadata on first use; dsc never needs it
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded"
        return f"<lazy module {self._name} ({state})>"


dspy: Any = LazyModule("dspy")
dspy_lm15: Any = LazyModule("dspy.lm15")
dspy_lm15_serde: Any = LazyModule("dspy._vendor.lm15.serde")
dspy_exceptions: Any = LazyModule("dspy.utils.exceptions")
hydra: Any = LazyModule("hydra")
hydra_config: Any = LazyModule("hydra.core.hydra_config")
hydra_global: Any = LazyModule("hydra.core.global_hydra")
hydra_utils: Any = LazyModule("hydra.core.utils")
hydra_errors: Any = LazyModule("hydra.errors")
omegaconf: Any = LazyModule("omegaconf")
polars: Any = LazyModule("polars")
omegaconf_errors: Any = LazyModule("omegaconf.errors")
omegaconf_grammar_parser: Any = LazyModule("omegaconf.grammar_parser")
rich_console: Any = LazyModule("rich.console")
rich_progress: Any = LazyModule("rich.progress")
aiohttp: Any = LazyModule("aiohttp")
aiohttp_web: Any = LazyModule("aiohttp.web")
