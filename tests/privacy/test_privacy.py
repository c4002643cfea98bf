"""The privacy gate: every detector catches its values, numbering is per row, look-alikes pass untouched."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.privacy.detectors import check_pattern
from compiler.privacy.gate import scrub_frame, scrub_row, scrub_text
from compiler.privacy.validators import iban_valid, luhn_valid

USER = {"employee_id": r"EMP-\d{6}"}

PLANTED = [
    ("email", "Reach me at maria.gonzalez@gmail.com please", "maria.gonzalez@gmail.com"),
    ("email_plus", "label to j.smith+orders@outlook.com", "j.smith+orders@outlook.com"),
    ("phone_us_parens", "Call me back on (212) 555-0147.", "(212) 555-0147"),
    ("phone_us_dashes", "my number is 415-555-0199 ok", "415-555-0199"),
    ("phone_intl", "Call +44 20 7946 0958 tomorrow", "+44 20 7946 0958"),
    ("phone_intl_parens", "Call me back on +1 (415) 555-0134.", "+1 (415) 555-0134"),
    ("phone_context_bare", "my phone: 4155550123 thanks", "4155550123"),
    ("card_visa_spaces", "card 4111 1111 1111 1111 exp 08/28", "4111 1111 1111 1111"),
    ("card_mc_dashes", "card 5500-0055-5555-5559 declined", "5500-0055-5555-5559"),
    ("card_amex", "amex 378282246310005", "378282246310005"),
    ("card_then_year", "card 4111 1111 1111 1111 2028", "4111 1111 1111 1111"),
    ("iban_de_spaced", "IBAN DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00"),
    ("iban_nl_compact", "to NL91ABNA0417164300 please", "NL91ABNA0417164300"),
    ("iban_fr_letters", "FR14 2004 1010 0505 0001 3M02 606 is mine", "FR14 2004 1010 0505 0001 3M02 606"),
    ("ssn_dashes", "SSN 536-22-1847.", "536-22-1847"),
    ("ssn_context_bare", "my ssn is 078051120", "078051120"),
    ("ipv4", "blocked IP 203.0.113.42 again", "203.0.113.42"),
    ("ipv6", "address 2001:db8:85a3::8a2e:370:7334 failed", "2001:db8:85a3::8a2e:370:7334"),
    (
        "openai_key",
        "key sk-proj-Xq7LmN2pR9sT4vW8yZ1aB3cD5eF6gH0j broke",
        "sk-proj-Xq7LmN2pR9sT4vW8yZ1aB3cD5eF6gH0j",
    ),
    ("stripe_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc is ours", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("aws_key", "AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
    ("github_token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    (
        "slack_token",
        "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx here",
        "xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    ("google_key", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"),
    ("password", "my password is hunter2! help", "hunter2!"),
    ("entropy_token", "token Zx8Qp2LmN4vR7tYb9WcE3kJf6HgD1sAaQ0 here", "Zx8Qp2LmN4vR7tYb9WcE3kJf6HgD1sAaQ0"),
    ("user_pattern", "ask EMP-204518 about it", "EMP-204518"),
]


@pytest.mark.parametrize(("text", "value"), [(t, v) for _, t, v in PLANTED], ids=[i for i, _, _ in PLANTED])
def test_planted_value_is_redacted(text: str, value: str) -> None:
    result = scrub_text(text, "redact", USER)
    assert value not in result.text
    assert sum(result.counts.values()) == 1
    assert not result.rejected


LOOK_ALIKES = [
    ("luhn_invalid_card", "card 4111 1111 1111 1112 declined"),
    ("luhn_invalid_card_compact", "card 5500005555555558"),
    ("iban_bad_checksum", "IBAN DE89 3704 0044 0532 0130 07"),
    ("iban_bad_checksum_gb", "GB82 WEST 1234 5698 7654 33"),
    ("iban_bad_then_card_digits", "DE89 3704 0044 0532 0130 01"),
    ("ssn_area_000", "ref 000-12-3456"),
    ("ssn_area_666", "ref 666-12-3456"),
    ("ssn_area_9xx", "ref 912-34-5678"),
    ("order_id", "order ORD-2026-104233 and #4478120"),
    ("order_id_phone_shaped", "ticket ORD-555-123-4567"),
    ("iso_date", "ordered on 2026-10-14 at 10:30:00"),
    ("us_date", "bought it on 10/14/2026"),
    ("version", "firmware 2.1.0.3 is buggy"),
    ("tracking", "tracking 1Z999AA10123456784"),
    ("uuid", "request 123e4567-e89b-12d3-a456-426614174000"),
    ("sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ("receipt_number", "receipt 1234 5678 9012 3456"),
    ("price", "charged $1,299.00 twice"),
    ("password_words", "my password is not working after the reset"),
    ("sk_in_words", "a task-based sk-2024-refund-request-for-order flow"),
]


@pytest.mark.parametrize("text", [t for _, t in LOOK_ALIKES], ids=[i for i, _ in LOOK_ALIKES])
def test_look_alike_is_not_flagged(text: str) -> None:
    result = scrub_text(text, "redact", USER)
    assert result.counts == {}
    assert result.text == text


def test_same_value_keeps_its_number_within_a_row() -> None:
    text = "a@shop.io, A@SHOP.IO, b@shop.io; call 415-555-0199 or (415) 555-0199 or 212-555-0147"
    result = scrub_text(text)
    assert result.text == "<EMAIL_1>, <EMAIL_1>, <EMAIL_2>; call <PHONE_1> or <PHONE_1> or <PHONE_2>"
    assert result.counts == {"email": 3, "phone": 3}


def test_row_numbering_spans_fields_and_nesting() -> None:
    row = {
        "customer_message": "I am a@shop.io",
        "order_context": {"contact": "b@shop.io", "cc": ["a@shop.io"]},
        "card": 4111111111111111,
        "count": 3,
    }
    result = scrub_row(row)
    assert result.fields == {
        "customer_message": "I am <EMAIL_1>",
        "order_context": {"contact": "<EMAIL_2>", "cc": ["<EMAIL_1>"]},
        "card": "<CARD_1>",
        "count": 3,
    }
    assert result.counts == {"card": 1, "email": 3}


def test_rows_are_numbered_independently() -> None:
    assert (
        scrub_row({"a": "x b@shop.io"}).fields
        == scrub_row({"a": "x c@shop.io"}).fields
        == {"a": "x <EMAIL_1>"}
    )


def test_reject_mode_flags_with_a_reason_and_still_redacts() -> None:
    result = scrub_text("mail a@shop.io, card 4111 1111 1111 1111", "reject")
    assert result.rejected
    assert result.reason == "private data: card, email"
    assert "a@shop.io" not in result.text
    assert not scrub_text("nothing private here", "reject").rejected


@pytest.mark.parametrize(
    ("name", "pattern", "why"),
    [
        ("employee_id", r"EMP-(\d{6}", "not a valid regular expression"),
        ("anything", r"\d*", "matches the empty string"),
        ("Employee-ID", r"EMP-\d{6}", "lowercase letters"),
        ("email", r"x@y", "clashes with the built-in"),
        ("employee_id", "", "non-empty regular expression"),
    ],
    ids=["bad_regex", "empty_match", "bad_name", "builtin_clash", "empty"],
)
def test_bad_user_pattern_is_explained(name: str, pattern: str, why: str) -> None:
    problem = check_pattern(name, pattern)
    assert problem is not None and why in problem


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE89370400440532013007")


FRAGMENTS = (
    [v for _, _, v in PLANTED]
    + [t for _, t in LOOK_ALIKES]
    + [
        "Hi,",
        "where is my parcel?",
        "refund",
        "order",
        "12",
        "2026",
        "-",
        ":",
        "::",
        "+",
        "@",
        ".",
        "call me at",
        "password:",
        "ssn",
        "4111",
        "1111",
        "\n",
        "Grüße",
        "日本",
    ]
)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map(" ".join), min_size=1, max_size=12))
def test_frame_path_matches_row_path(texts: list[str]) -> None:
    """The vectorised prefilter never hides a value the row path would catch."""
    from unittest import mock

    import compiler.privacy.gate as gate

    df = pl.DataFrame({"text": texts, "other": list(reversed(texts))})
    scrubbed, counts = scrub_frame(df, ["text", "other"], "redact", USER)
    with mock.patch.object(gate, "RESTRICT_FROM", 1):  # only the detectors that could match, as at scale
        restricted, restricted_counts = scrub_frame(df, ["text", "other"], "redact", USER)
    assert restricted.to_dicts() == scrubbed.to_dicts() and restricted_counts == counts
    expected = [
        scrub_row({"text": a, "other": b}, "redact", USER)
        for a, b in zip(texts, reversed(texts), strict=True)
    ]
    assert scrubbed.to_dicts() == [r.fields for r in expected]
    total: dict[str, int] = {}
    for r in expected:
        for k, v in r.counts.items():
            total[k] = total.get(k, 0) + v
    assert counts == dict(sorted(total.items()))


def test_frame_reject_drops_flagged_rows() -> None:
    df = pl.DataFrame({"text": ["fine", "mail a@shop.io", None, "also fine"]})
    kept, counts = scrub_frame(df, ["text"], "reject")
    assert kept["text"].to_list() == ["fine", None, "also fine"]
    assert counts == {"email": 1}


ISSUE_VALUES = [
    ("07700 900123", "PHONE"),
    ("020 7946 0958", "PHONE"),
    ("4155550134", "PHONE"),
    ("4111.1111.1111.1111", "CARD"),
    ("4111\u20091111\u20091111\u20091111", "CARD"),
    ("４１１１ １１１１ １１１１ １１１１", "CARD"),
    ("4111\u30001111\u30001111\u30001111", "CARD"),
    ("DE89-3704-0044-0532-0130-00", "IBAN"),
    ("jörg@müller.de", "EMAIL"),
    ("john(at)example(dot)com", "EMAIL"),
    ("john [at] example [dot] com", "EMAIL"),
]


@pytest.mark.parametrize(("value", "label"), ISSUE_VALUES, ids=[v for v, _ in ISSUE_VALUES])
def test_the_formats_people_write_are_redacted(value: str, label: str) -> None:
    out = scrub_text(f"Customer: please use {value} for this.").text
    assert value not in out and f"<{label}_1>" in out, out


@pytest.mark.parametrize(
    "text",
    [
        "My order number is 4155550134, please check it.",
        "Invoice ORD-2026-100412 shows the wrong address.",
        "It was due on 2026-10-01.",
        "I paid $1,299.99 and then 1.299,00 EUR.",
        "The app says version 2.10.3.4567.",
        "Tracking id 1Z999AA10123456784 has not moved.",
        "Card 4111 1111 1111 1112 was declined.",
        "Refund to DE88 3704 0044 0532 0130 00 please.",
        "Meet me at example.com's office.",
    ],
    ids=[
        "order-number",
        "order-id",
        "date",
        "prices",
        "version",
        "tracking",
        "luhn-invalid",
        "iban-invalid",
        "at-a-domain",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert scrub_text(text).text == text


def test_folded_spans_keep_the_original_text_around_them() -> None:
    out = scrub_row({"a": "ａｂｃ　call 07700\u2009900123", "b": "07700 900123"}).fields
    assert out == {"a": "ａｂｃ　call <PHONE_1>", "b": "<PHONE_1>"}


def test_the_frame_prefilter_finds_unicode_forms() -> None:
    df = pl.DataFrame({"t": ["nothing here", "card ４１１１ １１１１ １１１１ １１１１", "jörg@müller.de"]})
    scrubbed, counts = scrub_frame(df, ["t"])
    assert scrubbed["t"].to_list() == ["nothing here", "card <CARD_1>", "<EMAIL_1>"]
    assert counts == {"card": 1, "email": 1}


def test_precision_and_recall_on_the_generated_corpus() -> None:
    from tests.privacy_corpus import build_corpus, measure

    scores, missed, flagged = measure(build_corpus(seed=11, per_kind=100))
    for name, score in scores.items():
        print(f"{name}: precision {score.precision:.3f} recall {score.recall:.3f} ({score})")
    print("missed:", dict(missed), "look-alikes flagged:", dict(flagged))
    # measured on seeds 7-9 (200 per kind): phone 0.857-0.864 / 1.000, the others 1.000 / 1.000;
    # phone precision is lowered by bare ten-digit numbers without any context, which fit the US plan
    assert scores["phone"].precision >= 0.80 and scores["phone"].recall >= 0.97
    for name in ("email", "card", "iban"):
        assert scores[name].precision >= 0.97 and scores[name].recall >= 0.97, name
    assert (
        set(flagged) <= {"negative:bare 10 digits, no context"}
        or sum(flagged.values()) - flagged.get("negative:bare 10 digits, no context", 0) <= 3
    )


SEPARATORS = [" ", "\n", "\t", "\r\n", '"', "\\"]
ANCHORED = {**USER, "badge": r"^B-\d{4}$"}  # a user pattern anchored to the whole value


@st.composite
def generated_rows(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, object]]:
    def text() -> str:
        parts = draw(
            st.lists(st.sampled_from([*FRAGMENTS, *(v for v, _ in ISSUE_VALUES), "B-1234"]), max_size=6)
        )
        out = ""
        for part in parts:
            out += part + draw(st.sampled_from(SEPARATORS))
        return out

    inputs: dict[str, object] = {"message": text(), "context": {"notes": [text(), text()], "id": text()}}
    if draw(st.booleans()):
        inputs["account"] = draw(st.sampled_from([4111111111111111, 4155550134, 12, 2026]))
    return inputs, {"behavior": text(), "tags": [text()], "ok": draw(st.booleans())}


@settings(max_examples=150, deadline=None)
@given(st.lists(generated_rows(), min_size=1, max_size=8))
def test_generated_rows_path_matches_row_path(
    rows: list[tuple[dict[str, object], dict[str, object]]],
) -> None:
    """The batched gate on generated rows (one prefilter pass, only the detectors that could match) redacts
    exactly what scrubbing each row whole does: newlines, quotes and backslashes in values, nested lists and
    dicts, numbers stored as numbers and anchored user patterns included."""
    from collections import Counter
    from types import SimpleNamespace
    from unittest import mock

    import compiler.privacy.gate as gate
    from compiler.sources.gather import scrub_generated

    spec = SimpleNamespace(
        sources=SimpleNamespace(production=SimpleNamespace(patterns=tuple(ANCHORED.items())))
    )
    counts: Counter[str] = Counter()
    with mock.patch.object(gate, "RESTRICT_FROM", 1):  # the per-detector pass, as batches of 512 rows take it
        scrubbed = scrub_generated(spec, rows, counts)  # type: ignore[arg-type]
    assert scrub_generated(spec, rows, Counter()) == scrubbed  # type: ignore[arg-type]  # (small: all detectors)
    expected = [scrub_row({"inputs": i, "expected": e}, "redact", ANCHORED) for i, e in rows]
    assert scrubbed == [(r.fields["inputs"], r.fields["expected"]) for r in expected]
    total: Counter[str] = Counter()
    for r in expected:
        total.update(r.counts)
    assert counts == total


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("write to john\nat gmail dot com please", "EMAIL"),  # the JSON of the row spelt the newline \n
        ("B-1234", "BADGE"),
        ("B-1234\n", "BADGE"),  # Python's $ matches before a final newline; the Rust prefilter must too
    ],
)
def test_generated_rows_gate_sees_values_as_written(value: str, label: str) -> None:
    from collections import Counter
    from types import SimpleNamespace

    from compiler.sources.gather import scrub_generated

    spec = SimpleNamespace(
        sources=SimpleNamespace(production=SimpleNamespace(patterns=tuple(ANCHORED.items())))
    )
    [(inputs, _)] = scrub_generated(spec, [({"message": value}, {})], Counter())  # type: ignore[arg-type]
    assert f"<{label}_1>" in str(inputs["message"])


def test_an_anchored_user_pattern_is_found_in_traces_before_a_final_newline() -> None:
    df = pl.DataFrame({"text": ["B-1234\n", "B-12345", "ok"]})
    scrubbed, counts = scrub_frame(df, ["text"], "redact", ANCHORED)
    assert scrubbed["text"].to_list() == ["<BADGE_1>\n", "B-12345", "ok"] and counts == {"badge": 1}
