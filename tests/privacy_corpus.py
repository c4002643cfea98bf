"""A generated corpus for the privacy gate: private values written the ways people write them, and look-alikes
that are not private (order numbers, dates, versions, prices, tracking ids). Values come from the formats'
own rules (Luhn, ISO 13616 mod-97, national numbering plans), never from the gate's regexes.

    corpus = build_corpus(seed=7, per_kind=200)
    scores = measure(corpus)   # detector -> Score(tp, fp, fn)
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from compiler.privacy.gate import scrub_text

FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
SEPARATORS = (" ", "-", ".", "\u2009", "\u202f", "\u3000", "")


@dataclass(frozen=True)
class Sample:
    text: str
    value: str  # the private value inside the text, "" for a look-alike
    detector: str  # the detector that should flag it, or the one a look-alike resembles
    form: str  # how it is written (for the per-form breakdown)


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        digits = prefix + check
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _card(rng: random.Random) -> str:
    prefix = rng.choice(["4", "51", "55", "2221", "37", "6011"])
    length = 15 if prefix == "37" else 16
    return _luhn_complete(prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1)))


def _group(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, i = [], 0
    for size in sizes:
        parts.append(digits[i : i + size])
        i += size
    if i < len(digits):
        parts.append(digits[i:])
    return sep.join(p for p in parts if p)


IBAN_FORMATS = {"DE": 18, "GB": 18, "FR": 23, "NL": 14, "ES": 20, "IT": 23}


def _iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    body = "".join(rng.choice("0123456789") for _ in range(IBAN_FORMATS[country]))
    if country in ("GB", "NL"):
        body = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + body[4:]
    numeric = "".join(str(int(ch, 36)) for ch in body + country + "00")
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{body}"


def _uk_phone(rng: random.Random) -> str:
    kind = rng.choice(["mobile", "london", "geo"])
    sep = rng.choice([" ", " ", "-", ".", "\u2009", ""])
    if kind == "mobile":
        return f"07{rng.randint(100, 999)}{sep}{rng.randint(100000, 999999)}"
    if kind == "london":
        return f"020{sep}{rng.randint(3000, 8999)}{sep}{rng.randint(1000, 9999)}"
    return f"01{rng.randint(100, 999)}{sep}{rng.randint(100000, 999999)}"


def _us_phone(rng: random.Random) -> str:
    area = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}"
    exchange = f"{rng.randint(2, 9)}{rng.randint(2, 9)}{rng.randint(0, 9)}"
    line = f"{rng.randint(0, 9999):04d}"
    style = rng.choice(["bare", "dashes", "dots", "parens", "spaces"])
    return {
        "bare": f"{area}{exchange}{line}",
        "dashes": f"{area}-{exchange}-{line}",
        "dots": f"{area}.{exchange}.{line}",
        "parens": f"({area}) {exchange}-{line}",
        "spaces": f"{area} {exchange} {line}",
    }[style]


NAMES = ["john", "maria.lopez", "k.tanaka", "jörg", "anne-marie", "li_wei", "søren", "o.brien"]
DOMAINS = ["example.com", "müller.de", "shop.co.uk", "mail.example.org", "bücher.at", "correo.es"]


def _email(rng: random.Random) -> tuple[str, str]:
    local, domain = rng.choice(NAMES), rng.choice(DOMAINS)
    form = rng.choice(["plain", "plain", "parens", "brackets", "words"])
    if form == "plain":
        return f"{local}@{domain}", "email:plain" if (local + domain).isascii() else "email:idn"
    labels = domain.split(".")
    if form == "parens":
        return f"{local}(at){'(dot)'.join(labels)}", "email:(at)(dot)"
    if form == "brackets":
        return f"{local} [at] {' [dot] '.join(labels)}", "email:[at] [dot]"
    return f"{local} at {' dot '.join(labels)}", "email:at dot"


SENTENCES = [
    "Hi, this is about my refund. {v} is where you can reach me.",
    "Please update the account: {v}.",
    "my details -> {v} (thanks!)",
    "Could you call or write to {v} before Friday?",
    "{v}",
    "Customer wrote: 'use {v} for the chargeback'",
]
# look-alikes appear in the sentences they come with in real support traffic
ORDER = [
    "My order number is {v}, please check it.",
    "Invoice {v} shows the wrong address.",
    "Ticket {v} is still open.",
    "order #{v} never arrived",
    "Ref: {v}",
]
DATE = ["Where is my parcel? It was due on {v}.", "I bought it on {v} and it broke."]
PRICE = ["I paid {v} for the headphones and want the difference back.", "It was {v} yesterday!"]
VERSION = ["The app says version {v} and keeps crashing.", "after the update to firmware {v} it fails"]
TRACKING = ["Tracking id {v} has not moved for a week.", "The parcel {v} says delivered."]
BANK = ["My account says {v} but the transfer bounced.", "Refund to {v} please."]
BARE = ["{v}", "What about {v}?"]


def _positives(rng: random.Random, per_kind: int) -> list[Sample]:
    out: list[Sample] = []
    makers: list[tuple[str, Callable[[], tuple[str, str]]]] = [
        ("phone", lambda: (_uk_phone(rng), "phone:uk")),
        ("phone", lambda: (_us_phone(rng), "phone:us")),
        ("email", lambda: _email(rng)),
    ]
    for detector, make in makers:
        for _ in range(per_kind):
            value, form = make()
            out.append(Sample(rng.choice(SENTENCES).format(v=value), value, detector, form))
    for _ in range(per_kind):
        digits = _card(rng)
        sep = rng.choice(SEPARATORS)
        sizes = (4, 6, 5) if len(digits) == 15 else (4, 4, 4, 4)
        value = _group(digits, sizes, sep)
        form = "card:" + {"\u2009": "thin", "\u202f": "narrow", "\u3000": "ideographic", "": "run"}.get(
            sep, sep
        )
        if rng.random() < 0.2:
            value, form = value.translate(FULL_WIDTH_DIGITS), "card:full-width"
        out.append(Sample(rng.choice(SENTENCES).format(v=value), value, "card", form))
    for _ in range(per_kind):
        iban = _iban(rng)
        sep = rng.choice([" ", "-", ""])
        value = _group(iban, (4,) * 8, sep)
        out.append(Sample(rng.choice(SENTENCES).format(v=value), value, "iban", f"iban:{sep or 'run'}"))
    return out


def _negatives(rng: random.Random, per_kind: int) -> list[Sample]:
    def digits(n: int) -> str:
        return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(n - 1))

    def bad_card() -> str:
        good = _card(rng)
        return _group(good[:-1] + str((int(good[-1]) + 1) % 10), (4, 4, 4, 4), rng.choice(" -"))

    def bad_iban() -> str:
        good = _iban(rng)
        return _group(good[:2] + f"{(int(good[2:4]) + 1) % 100:02d}" + good[4:], (4,) * 8, " ")

    makers: list[tuple[str, str, list[str], Callable[[], str]]] = [
        ("phone", "order number", ORDER, lambda: digits(10)),
        ("phone", "order number (11 digits, 0...)", ORDER, lambda: "0" + digits(10)),
        ("phone", "order id", ORDER, lambda: f"ORD-{rng.randint(2020, 2027)}-{digits(6)}"),
        (
            "phone",
            "date",
            DATE,
            lambda: f"{rng.randint(2020, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        ),
        (
            "phone",
            "date dmy",
            DATE,
            lambda: f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2020, 2027)}",
        ),
        (
            "ipv4",
            "version",
            VERSION,
            lambda: f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(100, 9999)}",
        ),
        (
            "card",
            "price",
            PRICE,
            lambda: f"${rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(10, 99)}",
        ),
        (
            "card",
            "price eu",
            PRICE,
            lambda: f"{rng.randint(1, 9)}.{rng.randint(100, 999)},{rng.randint(10, 99)} EUR",
        ),
        ("card", "tracking", TRACKING, lambda: f"1Z{digits(3)}AA1{digits(10)}"),
        ("card", "usps tracking", TRACKING, lambda: "9400" + digits(18)),
        ("card", "luhn-invalid card", BANK, bad_card),
        ("iban", "checksum-invalid iban", BANK, bad_iban),
        (
            "card",
            "isbn",
            ORDER,
            lambda: f"978-{rng.randint(0, 9)}-{digits(2)}-{digits(6)}-{rng.randint(0, 9)}",
        ),
        ("email", "at a place", DATE, lambda: f"at {rng.choice(['example.com', 'the store', 'noon'])}"),
        # no context at all: ten digits that happen to fit the US plan cannot be told from a phone number
        ("phone", "bare 10 digits, no context", BARE, lambda: digits(10)),
    ]
    out: list[Sample] = []
    for detector, form, sentences, make in makers:
        for _ in range(per_kind):
            text = rng.choice(sentences).format(v=make())
            out.append(Sample(text, "", detector, f"negative:{form}"))
    return out


def build_corpus(seed: int = 7, per_kind: int = 200) -> list[Sample]:
    rng = random.Random(seed)
    return _positives(rng, per_kind) + _negatives(rng, per_kind // 2)


LABELS = {"phone": "PHONE", "email": "EMAIL", "card": "CARD", "iban": "IBAN", "ipv4": "IPV4"}


def measure(corpus: list[Sample]) -> tuple[dict[str, Score], Counter[str], Counter[str]]:
    """Per detector: a positive counts as found when its value is gone and the detector's placeholder is
    there; a look-alike counts as a false positive when any placeholder appears. Also misses per form."""
    scores: dict[str, Score] = {name: Score() for name in LABELS}
    missed: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    for sample in corpus:
        out = scrub_text(sample.text).text
        if sample.value:
            found = sample.value not in out and f"<{LABELS[sample.detector]}_" in out
            score = scores[sample.detector]
            if found:
                score.tp += 1
            else:
                score.fn += 1
                missed[sample.form] += 1
        else:
            hit = [name for name, label in LABELS.items() if f"<{label}_" in out]
            for name in hit:
                scores[name].fp += 1
            if hit:
                flagged[sample.form] += 1
            else:
                scores[sample.detector].tn += 1
    return scores, missed, flagged
