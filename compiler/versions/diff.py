"""Differences between two versions: rows added, removed and changed, per strategy and per cell."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from compiler.core.cells import cell_label
from compiler.core.rows import Row


@dataclass(frozen=True)
class VersionDiff:
    added: tuple[Row, ...]
    removed: tuple[Row, ...]
    changed: tuple[tuple[Row, Row], ...]  # (old, new): same strategy and cell, different content

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _slot_key(row: Row) -> tuple[str, str | None, str]:
    return (row.source, row.strategy, cell_label(tuple(sorted(row.cell.items()))))


def diff_rows(old: list[Row], new: list[Row]) -> VersionDiff:
    """Rows only in `new` are added, only in `old` removed; a removed and an added row with the same
    source, strategy and cell pair up as one changed row (in id order, so the pairing is stable)."""
    old_ids = {r.id for r in old}
    new_ids = {r.id for r in new}
    gone = sorted((r for r in old if r.id not in new_ids), key=lambda r: r.id)
    came = sorted((r for r in new if r.id not in old_ids), key=lambda r: r.id)
    waiting: dict[tuple[str, str | None, str], list[Row]] = defaultdict(list)
    for row in gone:
        waiting[_slot_key(row)].append(row)
    changed: list[tuple[Row, Row]] = []
    added: list[Row] = []
    for row in came:
        bucket = waiting.get(_slot_key(row))
        if bucket:
            changed.append((bucket.pop(0), row))
        else:
            added.append(row)
    removed = [r for bucket in waiting.values() for r in bucket]
    return VersionDiff(tuple(added), tuple(sorted(removed, key=lambda r: r.id)), tuple(changed))


def summarise(diff: VersionDiff, key: str) -> list[tuple[str, int, int, int]]:
    """(group, added, removed, changed) per strategy (`key="strategy"`) or per cell (`key="cell"`)."""

    def group(row: Row) -> str:
        if key == "cell":
            return ", ".join(f"{d}={v}" for d, v in row.cell.items()) or "-"
        return row.strategy or row.source

    added = Counter(group(r) for r in diff.added)
    removed = Counter(group(r) for r in diff.removed)
    changed = Counter(group(new) for _, new in diff.changed)
    groups = sorted(set(added) | set(removed) | set(changed))
    return [(g, added[g], removed[g], changed[g]) for g in groups]


def format_diff(diff: VersionDiff, a: str, b: str, *, markdown: bool) -> str:
    lines: list[str] = []
    total = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    if markdown:
        lines += [f"### dsc diff `{a}` -> `{b}`", "", f"**{total}**", ""]
        for key in ("strategy", "cell"):
            rows = summarise(diff, key)
            if not rows:
                continue
            lines += [f"| {key} | added | removed | changed |", "|---|---:|---:|---:|"]
            lines += [f"| {g} | {x} | {y} | {z} |" for g, x, y, z in rows]
            lines.append("")
        return "\n".join(lines)
    lines.append(f"{a} -> {b}: {total}")
    for key in ("strategy", "cell"):
        rows = summarise(diff, key)
        if rows:
            lines.append(f"per {key}:")
            width = max(len(g) for g, *_ in rows)
            lines += [f"  {g:{width}}  +{x} -{y} ~{z}" for g, x, y, z in rows]
    for row in diff.added[:20]:
        lines.append(f"+ {row.id[:12]} {row.strategy} {_first_input(row)}")
    for row in diff.removed[:20]:
        lines.append(f"- {row.id[:12]} {row.strategy} {_first_input(row)}")
    for old, new in diff.changed[:20]:
        lines.append(f"~ {old.id[:12]} -> {new.id[:12]} {new.strategy} {_first_input(new)}")
    return "\n".join(lines)


def _first_input(row: Row) -> str:
    text = next((str(v) for v in row.inputs.values() if v), "")
    text = " ".join(text.split())
    return text[:70] + ("..." if len(text) > 70 else "")
