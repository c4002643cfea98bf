"""The code point tables the near-duplicate kernels normalise with, and the file that keeps them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compiler.screen.near import chars


def test_kept_tables_equal_freshly_built_ones_and_a_damaged_file_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "tables.npz"
    monkeypatch.setattr(chars, "_table_files", lambda: [kept])
    chars.unicode_tables.cache_clear()
    try:
        built = chars.unicode_tables()
        assert kept.is_file()
        chars.unicode_tables.cache_clear()
        read = chars.unicode_tables()
        assert all(np.array_equal(a, b) for a, b in zip(built, read, strict=True))
        kept.write_bytes(b"not an npz file")
        chars.unicode_tables.cache_clear()
        again = chars.unicode_tables()
        assert all(np.array_equal(a, b) for a, b in zip(built, again, strict=True))
        assert chars._read_tables(kept) is not None  # rewritten whole
        lower, flags, compose_keys, composed = built
        assert lower[ord("Ä")] == ord("ä") and flags[ord(" ")] & chars.WHITESPACE
        assert flags[ord("!")] & chars.PUNCTUATION and flags[ord("Σ")] & chars.NEEDS_POLARS
        e_acute = np.searchsorted(compose_keys, ord("E") << 21 | 0x301)
        assert composed[e_acute] == ord("é")  # E + combining acute is É, lowercased
    finally:
        chars.unicode_tables.cache_clear()
