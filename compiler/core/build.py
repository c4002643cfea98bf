"""What dsc itself is, as bytes: its version and the bytes of its code and built-in files.

A fingerprint that includes this recompiles (or recomposes) whenever dsc changes, even without a new
version number: an edited template or built-in catalogue is a different dsc.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xxhash

import compiler

BUILD_SUFFIXES = (".py", ".yaml", ".j2")


@cache
def dsc_build() -> str:
    """One hash of dsc's version and every code and built-in file in its package."""
    package = Path(compiler.__file__).resolve().parent
    digest = xxhash.xxh3_128(compiler.__version__.encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in BUILD_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
