"""Differences between two versions of one dataset: rows added, rows removed, and review changes.

A row is its id; an edited row is the same row as the one it was edited from (`provenance.origin`). So a
row whose review status changed, or that a reviewer edited, is a review change; a row replaced by another
(rejected, then topped up) is one removal and one addition, never a "change". Cells are labelled in the
dataset's declaration order, whatever order a file wrote their keys in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from compiler.core.cells import cell_label
from compiler.core.errors import UsageError
from compiler.core.rows import Row
from compiler.screen.decisions import origin_id


@dataclass(frozen=True)
class VersionDiff:
    added: tuple[Row, ...]
    removed: tuple[Row, ...]
    reviewed: tuple[tuple[Row, Row], ...]  # (old, new): the same row, its review status or edit changed
    order: tuple[str, ...] = ()  # dimension order of cell labels

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.reviewed)


def check_same_dataset(a: str, b: str) -> None:
    if a != b:
        raise UsageError(f"diff: {a} and {b} are different datasets; compare two versions of one dataset")


def diff_rows(old: Sequence[Row], new: Sequence[Row], order: Sequence[str] = ()) -> VersionDiff:
    """Rows only in `new` are added, only in `old` removed; a row in both (by id, or an edit by origin)
    whose review status or content differs is a review change."""
    old_by_id = {r.id: r for r in old}
    old_by_origin = {origin_id(r): r for r in old}
    matched: set[str] = set()
    reviewed: list[tuple[Row, Row]] = []
    added: list[Row] = []
    for row in sorted(new, key=lambda r: r.id):
        before = old_by_id.get(row.id) or old_by_id.get(origin_id(row)) or old_by_origin.get(origin_id(row))
        if before is None:
            added.append(row)
            continue
        matched.add(before.id)
        if before.id != row.id or before.review_status != row.review_status:
            reviewed.append((before, row))
    removed = [r for r in sorted(old, key=lambda r: r.id) if r.id not in matched]
    return VersionDiff(tuple(added), tuple(removed), tuple(reviewed), tuple(order))


def _group(row: Row, key: str, order: Sequence[str]) -> str:
    if key == "cell":
        return cell_label(row.cell, order) or "-"
    return row.strategy or row.source


def summarise(diff: VersionDiff, key: str) -> list[tuple[str, int, int, int]]:
    """(group, added, removed, reviewed) per strategy (`key="strategy"`) or per cell (`key="cell"`)."""
    added = Counter(_group(r, key, diff.order) for r in diff.added)
    removed = Counter(_group(r, key, diff.order) for r in diff.removed)
    reviewed = Counter(_group(new, key, diff.order) for _, new in diff.reviewed)
    groups = sorted(set(added) | set(removed) | set(reviewed))
    return [(g, added[g], removed[g], reviewed[g]) for g in groups]


def review_changes(diff: VersionDiff) -> list[tuple[str, int]]:
    """`pending -> approved`, `approved -> edited`, ...: how many rows took each review transition."""
    moves = Counter(f"{old.review_status} -> {new.review_status}" for old, new in diff.reviewed)
    return sorted(moves.items())


def format_diff(diff: VersionDiff, a: str, b: str, *, markdown: bool) -> str:
    total = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.reviewed)} review changes"
    moves = review_changes(diff)
    if markdown:
        lines = [f"### dsc diff `{a}` -> `{b}`", "", f"**{total}**", ""]
        if moves:
            lines += ["| review | rows |", "|---|---:|", *[f"| {m} | {n} |" for m, n in moves], ""]
        for key in ("strategy", "cell"):
            rows = summarise(diff, key)
            if rows:
                lines += [f"| {key} | added | removed | review |", "|---|---:|---:|---:|"]
                lines += [f"| {_md(g)} | {x} | {y} | {z} |" for g, x, y, z in rows]
                lines.append("")
        return "\n".join(lines)
    lines = [f"{a} -> {b}: {total}"]
    if moves:
        lines.append("review: " + ", ".join(f"{m} {n}" for m, n in moves))
    for key in ("strategy", "cell"):
        rows = summarise(diff, key)
        if rows:
            lines.append(f"per {key}:")
            width = max(len(g) for g, *_ in rows)
            lines += [f"  {g:{width}}  +{x} -{y} ~{z}" for g, x, y, z in rows]
    for row in diff.added[:20]:
        lines.append(
            f"+ {row.id[:12]} {row.strategy or row.source} [{cell_label(row.cell, diff.order)}] {_headline(row)}"
        )
    for row in diff.removed[:20]:
        lines.append(
            f"- {row.id[:12]} {row.strategy or row.source} [{cell_label(row.cell, diff.order)}] {_headline(row)}"
        )
    for old, new in diff.reviewed[:20]:
        ids = old.id[:12] if old.id == new.id else f"{old.id[:12]} -> {new.id[:12]}"
        lines.append(f"~ {ids} {old.review_status} -> {new.review_status} {_headline(new)}")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _headline(row: Row) -> str:
    text = row.headline(71)
    return text[:70] + ("..." if len(text) > 70 else "")
