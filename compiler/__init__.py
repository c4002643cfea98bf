"""dsc: a declarative compiler for LLM evaluation datasets.

The public API, imported on first use so that `import compiler` (and `dsc --help`) stays light::

    from compiler import compile_dataset, load_spec
    result = compile_dataset(["dataset=support_bot", "size=60"])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from compiler.core.version import SCHEMA_VERSION, __version__

__all__ = [
    "SCHEMA_VERSION",
    "__version__",
    "CompileResult",
    "Project",
    "Spec",
    "compile_dataset",
    "load_spec",
]

_EXPORTS = {
    "compile_dataset": "compiler.pipeline.compile",
    "CompileResult": "compiler.pipeline.compile",
    "load_spec": "compiler.spec.compose",
    "Project": "compiler.spec.compose",
    "Spec": "compiler.spec.model",
}

if TYPE_CHECKING:
    from compiler.pipeline.compile import CompileResult, compile_dataset
    from compiler.spec.compose import Project, load_spec
    from compiler.spec.model import Spec


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")
