"""Row ids: xxh3-128 over canonical JSON, stable across dsc versions (committed datasets keep their ids)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.core.rows import canonical_json, compute_row_id

WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(WHITESPACE),
        st.sampled_from("e\u0301A\u030a\u212b\ufb01"),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=40,
)


def reference(value: object) -> object:
    """The canonical form as first defined: NFC, runs of re's \\s collapsed to one space, stripped."""
    if isinstance(value, str):
        return re.sub(r"\s+", " ", unicodedata.normalize("NFC", value)).strip()
    if isinstance(value, dict):
        return {str(k): reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reference(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(exclude_categories=("Cs",)), max_size=5),
        st.one_of(TEXT, st.lists(TEXT, max_size=3), st.integers()),
    )
)
def test_canonical_form_is_the_one_ids_always_hashed(inputs: dict[str, object]) -> None:
    import json

    expected = json.dumps(reference(inputs), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert canonical_json(inputs) == expected.encode("utf-8")


def test_a_known_row_keeps_its_id() -> None:
    """A fixed row's id, as computed when cases were first committed: a change here re-ids every dataset."""
    row_id = compute_row_id(
        "synthetic",
        "direct",
        None,
        {"intent": "refund"},
        {"message": "  Where is\u00a0my  refund?\n", "name": "Jose\u0301"},
        {"behavior": "Explain the refund window."},
    )
    assert row_id == compute_row_id(
        "synthetic",
        "direct",
        None,
        {"intent": "refund"},
        {"message": "Where is my refund?", "name": "Jos\u00e9"},
        {"behavior": "Explain the refund window."},
    )
    assert row_id == PINNED


PINNED = "6ec85cc444e2f798fa5d9d687ef93912"  # dsc 0.x, computed before the canonical form was sped up
