"""The first compile of the near-duplicate kernels after an install is said, once, rather than passing in silence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import sys\n"
    "from compiler.screen.near.warm import announce_first_compile, kernels_cached\n"
    "print(kernels_cached())\n"
    "announce_first_compile(); announce_first_compile()\n"
)


def _probe(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)


def test_an_empty_kernel_cache_is_announced_once(tmp_path: Path) -> None:
    done = _probe(tmp_path / "numba-cache")  # no kernel compiled into it yet: what a fresh install has
    assert done.stdout.strip() == "False"
    assert done.stderr.count("compiling the near-duplicate kernels for this install (once, ~15 s)") == 1
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_kernel_cache_that_holds_every_kernel_says_nothing(tmp_path: Path) -> None:
    import numba

    from compiler.screen.near import warm

    cache = tmp_path / "numba-cache"
    # where numba would keep each kernel's index under NUMBA_CACHE_DIR: lay down empty ones
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib, numba\n"
            f"for name in {warm._LEXICAL!r}:\n"
            "    m = importlib.import_module('compiler.screen.near.' + name)\n"
            "    for k in vars(m).values():\n"
            "        if isinstance(k, numba.core.registry.CPUDispatcher) and k.__module__ == m.__name__:\n"
            "            f = getattr(k._cache, '_cache_file', None)\n"
            "            if f is not None:\n"
            "                print(f._index_path)\n",
        ],
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        check=True,
    )
    paths = done.stdout.split()
    assert len(paths) >= 8 and all(p.startswith(str(cache)) for p in paths), paths
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
    probe = _probe(cache)
    assert probe.stdout.strip() == "True" and probe.stderr == ""
    assert numba.__version__  # the layout read here is numba's own, for the version pinned in pyproject


def test_kernels_load_beside_a_block_only_when_the_dedupe_after_it_needs_them() -> None:
    """A compile's fan-out loads the kernels when its screen will compare more than SMALL_ROWS texts; a small
    compile (the exact small path) never imports numba at all."""
    probe = (
        "import sys\n"
        "from compiler.screen.near.exact import SMALL_ROWS\n"
        "from compiler.screen.near.warm import kernels_loading_for\n"
        "with kernels_loading_for(0.8, 'word', 1, SMALL_ROWS):\n"
        "    pass\n"
        "print('numba' in sys.modules)\n"
        "with kernels_loading_for(0.8, 'word', 1, SMALL_ROWS + 1):\n"
        "    pass\n"
        "from compiler.screen.near import lsh\n"
        "print('numba' in sys.modules, bool(lsh.resolve_kept_rows.signatures))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"], done.stdout + done.stderr
