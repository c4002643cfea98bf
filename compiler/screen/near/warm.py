"""Load the near-duplicate kernels on another thread while the caller reads its input.

Importing numba and loading the cached kernels costs ~0.5 s of one core at the start of `dsc dedupe`, nearly
all of it holding the GIL, while reading a Parquet or JSONL file is polars' work, which releases it: the two
overlap on a second core. The kernels are loaded by running them on a few rows with the argument types the
real call will have; nothing they compute is kept.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from compiler.spec.model import ShingleKind

_SAMPLE = ["a few words to load kernels", "a few words to load kernels", "a few words to load kernel", " "]
_LEXICAL = ("chars", "identical", "index", "lsh", "sketch")  # the modules of the exact and near kernels
_SAID: list[bool] = []  # the first-compile notice is said once a process


def kernels_cached() -> bool:
    """Whether numba's cache holds every lexical kernel (its index file exists); True when numba's cache
    layout cannot be read, so an unknown numba never prints a wrong notice."""
    import numba

    try:
        for name in _LEXICAL:
            module = importlib.import_module(f"compiler.screen.near.{name}")
            for kernel in vars(module).values():
                if (
                    isinstance(kernel, numba.core.registry.CPUDispatcher)
                    and kernel.__module__ == module.__name__
                ):
                    cache_file = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
                    if cache_file is not None and not os.path.exists(cache_file._index_path):
                        return False
    except (AttributeError, ImportError):  # pragma: no cover (a numba whose cache layout differs)
        return True
    return True


def announce_first_compile() -> None:
    """Say on stderr, once, that the kernels are about to be compiled: ~15 s that would otherwise pass in
    silence on the first compile or dedupe of more than SMALL_ROWS texts after dsc is installed."""
    if _SAID or kernels_cached():
        return
    _SAID.append(True)
    sys.stderr.write(
        "dsc: compiling the near-duplicate kernels for this install (once, ~15 s); later runs load them "
        "from numba's cache\n"
    )
    sys.stderr.flush()


def kernels_loading_for(
    near: float | None, shingle: ShingleKind, ngram: int | None, texts: int
) -> AbstractContextManager[None]:
    """`kernels_loading` when the dedupe after the block will compare more than SMALL_ROWS texts (the
    small path needs no kernels), else nothing: a compile loads them while its requests are in flight."""
    from compiler.screen.near.exact import SMALL_ROWS

    return kernels_loading(near, shingle, ngram) if texts > SMALL_ROWS else nullcontext()


@contextmanager
def kernels_loading(near: float | None, shingle: ShingleKind, ngram: int | None) -> Iterator[None]:
    """Within the block the kernels dedupe at `near` calls load on another thread; leaving it waits for them.

    Nothing of the thread is shared with the block but numba's and Python's import machinery, and no kernel
    runs in the block, so the two never launch numba's parallel kernels at once.
    """
    thread = threading.Thread(target=_load, args=(near, shingle, ngram), name="dsc-kernels", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _load(near: float | None, shingle: ShingleKind, ngram: int | None) -> None:
    announce_first_compile()  # here, not before the thread: it imports numba and every kernel module
    import polars as pl

    from compiler.screen.near.index import find_blank_rows, find_exact_duplicates, find_near_duplicates

    texts = pl.Series(_SAMPLE, dtype=pl.String)
    try:
        if near is None:
            find_exact_duplicates(texts)
            find_blank_rows(texts)
        else:
            find_near_duplicates(texts, near, shingle=shingle, ngram=ngram)
    except Exception:  # noqa: BLE001, S110  (only a head start: the real call does the same work and reports)
        pass
