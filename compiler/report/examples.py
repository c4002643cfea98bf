"""The capped example lists of report.html: dedupe clusters (kept row vs dropped rows) and check failures."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from compiler.core.rows import Row
from compiler.report.charts import esc, table

MAX_CLUSTERS = 12  # dedupe clusters shown, largest first
MAX_EXAMPLES = 3  # dropped rows shown per cluster
MAX_CHECK_EXAMPLES = 5  # failing rows shown per check
EXCERPT_CHARS = 280


def reason_label(reason: str) -> str:
    """A drop reason as a reader says it: `near` -> near duplicate, `check:x` -> failed check x."""
    kind, _, detail = reason.partition(":")
    labels = {
        "exact": "exact duplicate",
        "near": "near duplicate",
        "semantic": "semantic duplicate",
        "existing": "already in",
        "check": "failed check",
        "review": "review",
    }
    if kind == "existing" and detail.endswith(":semantic"):  # a paraphrase of an existing row
        detail = f"{detail.removesuffix(':semantic')} (semantic)"
    return f"{labels.get(kind, kind)} {detail}".strip() if kind in labels else reason


def is_duplicate(drop: Mapping[str, Any]) -> bool:
    """Dedupe drops (exact, near, semantic, already in a source or earlier version), not check or review drops."""
    reason = str(drop.get("reason"))
    return reason in ("exact", "near", "semantic") or reason.startswith("existing:")


# near and existing:<label>: Jaccard of the shingle sets; existing:<label>:semantic: cosine
MEASURES = {"exact": "identical", "semantic": "cosine"}


def _score(drop: Mapping[str, Any]) -> str:
    """The similarity with the measure it is in: `Jaccard 0.912`, `cosine 0.950`."""
    reason = str(drop.get("reason"))
    measure = MEASURES.get(reason.rpartition(":")[2] if reason.startswith("existing:") else reason, "Jaccard")
    return f"{measure} {float(drop.get('similarity') or 0):.3f}"


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _row_text(row: Row) -> str:
    return _excerpt(" | ".join(f"{k}: {v}" for k, v in row.inputs.items() if v not in (None, "")))


def clusters_section(rows: Sequence[Row], drops: Sequence[Mapping[str, Any]]) -> str:
    duplicates = [d for d in drops if is_duplicate(d)]
    if not duplicates:
        return '<p class="empty">No duplicates were dropped.</p>'
    by_id = {r.id: r for r in rows}
    clusters: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for drop in duplicates:
        clusters[str(drop.get("kept_id"))].append(drop)
    ordered = sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    shown = min(MAX_CLUSTERS, len(ordered))
    which = f"the largest {shown} are" if shown > 1 else "it is"
    per_reason = Counter(reason_label(str(d.get("reason"))) for d in duplicates)
    measures = ", ".join(
        f"{n:,} {label}" for label, n in sorted(per_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    parts = [
        f"<p>{_plural(len(duplicates), 'row')} dropped in {_plural(len(clusters), 'cluster')} ({esc(measures)}); "
        f"{which} shown with the kept row first, each dropped row with its similarity to it.</p>"
    ]
    dropped_ids = {str(d.get("id")) for d in duplicates}
    for kept_id, members in ordered[:MAX_CLUSTERS]:
        kept = by_id.get(kept_id)
        missing = (
            "(dropped too: it matched an earlier row)"
            if kept_id in dropped_ids
            else "(kept row not in this version: it was not selected)"
        )
        kept_text = _row_text(kept) if kept else _excerpt(members[0].get("kept_text") or missing)
        items = [f'<li class="kept"><b>kept</b> <code>{esc(kept_id[:12])}</code> {esc(kept_text)}</li>']
        closest = sorted(members, key=lambda d: (-float(d.get("similarity") or 0), str(d.get("id"))))
        for drop in closest[:MAX_EXAMPLES]:
            reason = str(drop.get("reason"))
            text = drop.get("text") or (
                "(identical to the kept row)" if reason == "exact" else "(text not recorded)"
            )
            items.append(
                f"<li><b>{esc(reason_label(reason))}</b> "
                f'<span class="sim">{esc(_score(drop))}</span> '
                f"<code>{esc(str(drop.get('id'))[:12])}</code> {esc(_excerpt(text))}</li>"
            )
        if len(members) > MAX_EXAMPLES:
            items.append(f'<li class="more">and {len(members) - MAX_EXAMPLES:,} more</li>')
        parts.append(f'<ul class="cluster">{"".join(items)}</ul>')
    return "".join(parts)


def checks_section(rows: Sequence[Row], dropped: Mapping[str, int]) -> str:
    """Per check: failures among the kept rows (soft checks, with examples) and rows a hard check dropped."""
    ran: Counter[str] = Counter()
    failed: dict[str, list[tuple[Row, str]]] = defaultdict(list)
    for row in rows:
        for check in row.checks:
            name = str(check.get("name"))
            ran[name] += 1
            if check.get("passed") is False:
                failed[name].append((row, str(check.get("detail") or "")))
    names = sorted(set(failed) | {n for n, c in dropped.items() if c}, key=lambda n: (-len(failed[n]), n))
    if not names:
        if not ran:
            return '<p class="empty">No checks have run on this version.</p>'
        return f"<p>All {sum(ran.values()):,} checks on the kept rows passed; none dropped a row.</p>"
    body = []
    for name in names:
        examples = "".join(
            f"<li><code>{esc(row.id[:12])}</code> <b>{esc(_excerpt(detail, 160))}</b> {esc(_row_text(row))}</li>"
            for row, detail in failed[name][:MAX_CHECK_EXAMPLES]
        )
        body.append(
            [
                esc(name),
                f"{len(failed[name]):,}",
                f"{ran[name]:,}",
                f"{int(dropped.get(name, 0)):,}",
                f'<ul class="examples">{examples}</ul>',
            ]
        )
    head = ["check", "failed in kept rows", "ran", "rows dropped", f"examples (first {MAX_CHECK_EXAMPLES})"]
    return table(head, body, (1, 2, 3))
