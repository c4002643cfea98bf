"""numba, readied for the near-duplicate kernels without the scipy import it does not need.

numba's first kernel load imports `numba.np.arraymath`, which probes for a BLAS by importing
`scipy.linalg` when scipy is installed (~0.3 s of a 1M-row `dsc dedupe`). The kernels here call no BLAS
(no np.dot or linear algebra), so this imports that module once with the probe answered "no BLAS":
numba then uses its own loops for a float np.dot, which nothing in dsc compiles. Every kernel module
imports this first; once scipy.linalg is loaded anyway, it changes nothing.
"""

from __future__ import annotations

import sys

_PROBE = "scipy.linalg.cython_blas"


def _import_arraymath_without_blas_probe() -> None:
    if "numba.np.arraymath" in sys.modules or _PROBE in sys.modules:
        return
    sys.modules[_PROBE] = None  # type: ignore[assignment]  # `import` of a None entry raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if sys.modules.get(_PROBE, 0) is None:
            del sys.modules[_PROBE]


_import_arraymath_without_blas_probe()
