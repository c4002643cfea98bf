"""The privacy gate: redact private values in texts, rows and frames (typed, numbered placeholders) or reject.

The detectors (see privacy_detectors.py) find the values. A raw value never leaves the gate: not in a log,
a count key or an exception. Placeholders are numbered per row: the same address twice is `<EMAIL_1>`
twice, another is `<EMAIL_2>`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compiler.privacy.detectors import Detector, compile_patterns
from compiler.privacy.formats import FOLD_PREFILTER, fold

if TYPE_CHECKING:  # polars loads when a frame is scrubbed, not when a config names a mode
    import polars as pl

MODES = ("redact", "reject")


class _Redactor:
    """One row's placeholder numbering: the same value twice gets the same number."""

    def __init__(self, detectors: tuple[Detector, ...]) -> None:
        self.detectors = detectors
        self.numbers: dict[tuple[str, str], int] = {}
        self.next: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        taken: list[tuple[int, int, Detector]] = []
        probe = fold(text)  # full-width digits, thin spaces, ...: found as their ASCII twins, same spans
        for detector in self.detectors:  # priority order: an earlier detector keeps an overlapping span
            for start, end in detector.find(probe):
                if all(end <= s or start >= e for s, e, _ in taken):
                    taken.append((start, end, detector))
        if not taken:
            return text
        taken.sort(key=lambda item: item[0])
        parts, last = [], 0
        for start, end, detector in taken:
            key = (detector.label, detector.normalize(probe[start:end]))
            if key not in self.numbers:
                self.next[detector.label] += 1
                self.numbers[key] = self.next[detector.label]
            self.counts[detector.name] += 1
            parts += [text[last:start], f"<{detector.label}_{self.numbers[key]}>"]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
            text = str(value)  # a card or phone number stored as a JSON number
            redacted = self.redact(text)
            return value if redacted == text else redacted
        return value


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"privacy mode must be one of {MODES}, got {mode!r}")


@dataclass(frozen=True)
class ScrubResult:
    """Redacted text (always, also when rejected: a caller that forgets the flag still leaks nothing)."""

    text: str
    counts: dict[str, int]  # detector -> values found
    rejected: bool  # reject mode and something was found

    @property
    def reason(self) -> str | None:
        return f"private data: {', '.join(sorted(self.counts))}" if self.rejected else None


@dataclass(frozen=True)
class RowScrub:
    fields: dict[str, Any]
    counts: dict[str, int]
    rejected: bool

    @property
    def reason(self) -> str | None:
        return f"private data: {', '.join(sorted(self.counts))}" if self.rejected else None


_NAME = re.compile(r"[^\W\d][\w .\-/]{0,63}")


def reads_as_name(text: str) -> bool:
    """Whether a file's key or column name may be quoted in a message: it reads as a name (a letter first,
    then letters, digits, spaces, `_ . - /`, up to 64) and the gate finds nothing private in it. The "names"
    of a CSV without a header are its first row, which may be anything."""
    return _NAME.fullmatch(text) is not None and not scrub_text(text).counts


def names_to_show(names: Sequence[str]) -> tuple[list[str], int]:
    """The names a message may quote (`reads_as_name`), and how many others it only counts."""
    shown = [n for n in names if reads_as_name(n)]
    return shown, len(names) - len(shown)


def scrub_text(text: str, mode: str = "redact", patterns: Mapping[str, str] | None = None) -> ScrubResult:
    """One text through the gate."""
    _check_mode(mode)
    redactor = _Redactor(compile_patterns(patterns))
    out = redactor.redact(text)
    counts = dict(sorted(redactor.counts.items()))
    return ScrubResult(out, counts, mode == "reject" and bool(counts))


def scrub_row(
    fields: Mapping[str, Any],
    mode: str = "redact",
    patterns: Mapping[str, str] | None = None,
    only: frozenset[str] | None = None,
) -> RowScrub:
    """Every string of a row (nested lists and dicts too) with one placeholder numbering for the row.

    `only` names the detectors to run (the others' prefilters matched no value of the row: they would find
    nothing, so the result is the same); None runs them all.
    """
    _check_mode(mode)
    detectors = compile_patterns(patterns)
    if only is not None:
        detectors = tuple(d for d in detectors if d.name in only)
    redactor = _Redactor(detectors)
    out = {key: redactor.redact_value(value) for key, value in fields.items()}
    counts = dict(sorted(redactor.counts.items()))
    return RowScrub(out, counts, mode == "reject" and bool(counts))


RESTRICT_FROM = 128  # candidate values from which the per-detector prefilters pay for their ~6 ms


def _texts_of(value: Any, out: list[str]) -> None:
    """The texts `_Redactor.redact_value` looks at in a value, in order (keep the two in step)."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _texts_of(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            _texts_of(item, out)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
        out.append(str(value))


def candidate_detectors(
    rows: Sequence[Mapping[str, Any]], patterns: Mapping[str, str] | None = None
) -> list[frozenset[str] | None]:
    """For each row, the detectors that could flag one of its values (None: none could, skip the row).

    Each value is prefiltered as it is written (not inside a JSON of the row, where a newline is spelt `\\n`
    and `^` never starts a value): one polars pass of the union prefilter over every value, then each
    detector's own prefilter over the few values the union matched. A value with look-alike characters
    (full-width digits, thin spaces) gets every detector, as folding it may make any of them match.
    """
    import polars as pl

    texts: list[str] = []
    owners: list[int] = []
    for number, row in enumerate(rows):
        before = len(texts)
        _texts_of(row, texts)
        owners += [number] * (len(texts) - before)
    found: list[frozenset[str] | None] = [None] * len(rows)
    if not texts:
        return found
    series = pl.Series(texts, dtype=pl.String)
    hits = series.str.contains(prefilter_pattern(patterns)).fill_null(False).arg_true()
    if hits.len() == 0:
        return found
    detectors = compile_patterns(patterns)
    names = frozenset(d.name for d in detectors)
    if hits.len() < RESTRICT_FROM:  # compiling each detector's regex would cost more than it saves
        for index in hits.to_list():
            found[owners[index]] = names
        return found
    candidates = series.gather(hits)
    columns = [candidates.str.contains(d.prefilter).fill_null(False) for d in detectors]
    folded = candidates.str.contains(FOLD_PREFILTER).fill_null(False).to_list()
    matched = [column.to_list() for column in columns]
    sets: dict[int, set[str]] = {}
    for k, index in enumerate(hits.to_list()):
        owner = owners[index]
        wanted = sets.setdefault(owner, set())
        if folded[k]:
            wanted.update(names)
        else:
            wanted.update(d.name for d, column in zip(detectors, matched, strict=True) if column[k])
    for owner, wanted in sets.items():
        found[owner] = frozenset(wanted)
    return found


def prefilter_pattern(patterns: Mapping[str, str] | None = None) -> str:
    """One Rust regex that matches every text some detector could flag (a superset)."""
    return "|".join([*(f"(?:{d.prefilter})" for d in compile_patterns(patterns)), FOLD_PREFILTER])


def scrub_frame(
    df: pl.DataFrame,
    columns: list[str] | tuple[str, ...],
    mode: str = "redact",
    patterns: Mapping[str, str] | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Scrub string columns of a frame; reject mode drops the flagged rows.

    A vectorised prefilter (one regex per column in polars) picks the candidate rows; only those go
    through the Python validators (Luhn, mod-97, ...), one numbering per row across the columns.
    """
    import polars as pl

    _check_mode(mode)
    if df.height == 0 or not columns:
        return df, {}
    prefilter = prefilter_pattern(patterns)
    mask = df.select(pl.any_horizontal(pl.col(c).str.contains(prefilter).fill_null(False) for c in columns))
    candidates = mask.to_series().arg_true()
    counts: Counter[str] = Counter()
    rejected: list[int] = []
    replaced: dict[str, list[str | None]] = {c: [] for c in columns}
    flagged = [
        dict(zip(columns, values, strict=True)) for values in df.select(columns)[candidates].iter_rows()
    ]
    # few flagged rows: every detector on each (the per-value pass would cost more than it saves)
    small = len(flagged) < RESTRICT_FROM
    restricted = [None] * len(flagged) if small else candidate_detectors(flagged, patterns)
    for index, row, only in zip(candidates.to_list(), flagged, restricted, strict=True):
        result = scrub_row(row, mode, patterns, None if small else only or frozenset())
        counts.update(result.counts)
        if result.rejected:
            rejected.append(index)
        for column in columns:
            replaced[column].append(result.fields[column])
    if candidates.len():
        df = df.with_columns(
            df[c].clone().scatter(candidates, pl.Series(replaced[c], dtype=pl.String)) for c in columns
        )
    if rejected:
        keep = pl.Series(range(df.height)).is_in(rejected).not_()
        df = df.filter(keep)
    return df, dict(sorted(counts.items()))
