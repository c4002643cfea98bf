"""Promote reviewed rows into the durable curated datasets that later compiles read as sources."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compiler.core.atomic import append_lines
from compiler.core.errors import SourceError
from compiler.core.jsonl import iter_records
from compiler.core.rows import Row, compute_row_id
from compiler.screen.decisions import Decision, apply_decisions

OUTCOMES = {"approved": "approve", "edited": "edit_and_approve", "rejected": "reject"}


@dataclass(frozen=True)
class Promotion:
    path: Path
    added: int
    already_there: int
    pending: int


def curated_path(datasets_dir: Path, dataset: str, target: str) -> Path:
    return datasets_dir / dataset / f"{target}.jsonl"


def effective_rows(rows: Sequence[Row], decisions: Mapping[str, Decision]) -> list[tuple[Row, Row | None]]:
    """(row as written in the version, row after its review decision or None when rejected)."""
    return [(row, apply_decisions(row, decisions)) for row in rows]


@dataclass(frozen=True)
class PromotionTarget:
    """Which version's rows go where: rows of `status` into datasets/<dataset>/<target>.jsonl."""

    dataset: str
    version: str
    target: str
    status: str


def promote_rows(
    rows: Sequence[Row], decisions: Mapping[str, Decision], to: PromotionTarget, datasets_dir: Path
) -> Promotion:
    """Append the rows whose review status matches to datasets/<dataset>/<target>.jsonl, once each."""
    dataset, version, target, status = to.dataset, to.version, to.target, to.status
    path = curated_path(datasets_dir, dataset, target)
    existing: set[str] = set()
    if path.is_file():
        for number, data in iter_records(path, SourceError, "a curated row", "fix or remove the line"):
            if not isinstance(data.get("id"), str):
                raise SourceError(f"{path}:{number}: has no `id`; fix or remove the line")
            existing.add(data["id"])
    wanted = ("approved", "edited") if status == "approved" else (status,)
    lines: list[str] = []
    pending = 0
    seen = 0
    for original, reviewed in effective_rows(rows, decisions):
        current = reviewed.review_status if reviewed is not None else "rejected"
        if current == "pending":
            pending += 1
        if current not in wanted or reviewed is None:
            continue
        expected_id = compute_row_id(
            target, reviewed.strategy, reviewed.variant, reviewed.cell, reviewed.inputs, reviewed.expected
        )
        decision = decisions.get(original.id) or decisions.get(reviewed.id)
        if expected_id in existing:
            seen += 1
            continue
        existing.add(expected_id)
        lines.append(
            json.dumps(
                {
                    "id": expected_id,
                    "source": target,
                    "strategy": reviewed.strategy,
                    "variant": reviewed.variant,
                    "cell": reviewed.cell,
                    "inputs": reviewed.inputs,
                    "expected": reviewed.expected,
                    "outcome": OUTCOMES.get(current, current),
                    "provenance": {
                        "version": version,
                        "row_id": original.id,
                        "lm": original.provenance.get("lm"),
                        "reviewer": decision.reviewer if decision is not None else None,
                        # a production row holds only the input its trace had: the loader allows that
                        **(
                            {"trace_id": original.provenance["trace_id"]}
                            if original.source == "production"
                            else {}
                        ),
                    },
                },
                ensure_ascii=False,
                sort_keys=True,
            )
        )
    if lines:
        append_lines(path, lines)
    return Promotion(path, len(lines), seen, pending)
