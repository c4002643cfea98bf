"""What the review workbench shows and changes: one version's rows, read in full, and their decisions.

Pure data in and out (JSON-ready dicts); the HTTP layer in `app.py` only routes and guards.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.core.cells import cell_items
from compiler.core.errors import DscError, UsageError
from compiler.core.rows import Row
from compiler.screen.decisions import Decision, apply_decisions
from compiler.versions.decide import Verdict, match_rows, record_decisions
from compiler.versions.manifest import Manifest
from compiler.versions.review import decision_refusal, load_decisions
from compiler.versions.store import Version, read_manifest, read_rows

MAX_BEATEN = 20  # near-duplicates shown per row


def read_drops(version: Version) -> list[dict[str, Any]]:
    """drops.jsonl of a version ([] when absent); a damaged line is skipped, never fatal to the workbench."""
    path = version.path / "drops.jsonl"
    if not path.is_file():
        return []
    drops = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            drops.append(entry)
    return drops


@dataclass
class ReviewSession:
    """One version under review; decisions are re-read from the log on every request, so a decision made
    in another tab or with the CLI shows up at once."""

    version: Version
    reviewer: str
    root: Path
    rows: list[Row] = field(default_factory=list)
    manifest: Manifest = field(default_factory=lambda: Manifest(dataset="", version=""))
    drops: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def open(version: Version, reviewer: str, root: Path) -> ReviewSession:
        return ReviewSession(
            version, reviewer, root, read_rows(version), read_manifest(version), read_drops(version)
        )

    @property
    def config(self) -> Mapping[str, Any]:
        return self.manifest.config

    def dimension_order(self) -> list[str]:
        return [str(name) for name in self.config.get("dimensions") or {}]

    def payload(self) -> dict[str, Any]:
        """Everything the page needs: the version, the vocabulary to filter by, and every row in full."""
        decisions = load_decisions(self.version.dataset, self.root)
        beaten: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for drop in self.drops:
            kept = str(drop.get("kept_id", ""))
            if kept and kept != drop.get("id") and len(beaten[kept]) < MAX_BEATEN:
                beaten[kept].append(
                    {k: drop.get(k) for k in ("id", "similarity", "reason", "text") if k in drop}
                )
        order = self.dimension_order()
        config = self.config
        return {
            "dataset": self.version.dataset,
            "version": self.version.version,
            "reviewer": self.reviewer,
            "dimensions": order,
            "variables": list((config.get("prompt") or {}).get("variables") or {}),
            "columns": {str(k): dict(v or {}) for k, v in (config.get("columns") or {}).items()},
            "variants": _variants(config),
            "rows": [self._row(row, decisions, beaten.get(row.id, []), order) for row in self.rows],
        }

    def _row(
        self,
        row: Row,
        decisions: Mapping[str, Decision],
        beaten: Sequence[Mapping[str, Any]],
        order: Sequence[str],
    ) -> dict[str, Any]:
        decision = decisions.get(row.id)
        current = apply_decisions(row, decisions)
        shown = current or row
        return {
            "id": row.id,
            "source": row.source,
            "strategy": row.strategy,
            "variant": row.variant,
            "cell": [list(pair) for pair in cell_items(row.cell, order)],
            "inputs": shown.inputs,
            "expected": shown.expected,
            "status": "rejected" if current is None else current.review_status,
            "decision": None
            if decision is None
            else {"reviewer": decision.reviewer, "reason": decision.reason, "edits": dict(decision.edits)},
            "checks": list(row.checks),
            "provenance": row.provenance,
            "beat": list(beaten),
        }

    def decide(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one request body ({ids, action, reason, edits}) through the CLI's code path."""
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise UsageError("ids: give a list of row ids")
        reason = body.get("reason") or ""
        edits = body.get("edits") or {}
        if not isinstance(reason, str) or not isinstance(edits, dict):
            raise UsageError("reason must be text and edits an object of field: value")
        assignments = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in edits.items()}
        rows = match_rows(self.rows, ids, f"{self.version.dataset}/{self.version.version}")
        for row in rows:  # a decision no compile would apply (a curated or production row) is refused
            refusal = decision_refusal(row, self.manifest, str(body.get("action", "")))
            if refusal is not None:
                raise UsageError(refusal)
        verdict = Verdict(str(body.get("action", "")), self.reviewer, reason.strip(), assignments)
        decisions = record_decisions(
            self.version.dataset, self.version.version, self.config, rows, verdict, self.root
        )
        return {"decided": [d.id for d in decisions], "status": decisions[0].status if decisions else None}


def _variants(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Persona and tactic descriptions by id, so a case shows who speaks or which tactic it applies."""
    found: dict[str, dict[str, Any]] = {}
    for kind in ("personas", "tactics"):
        catalogue = config.get(kind) or {}
        if isinstance(catalogue, Mapping):
            for name, value in catalogue.items():
                found[str(name)] = {"kind": kind[:-1], **(dict(value) if isinstance(value, Mapping) else {})}
    return found


def describe_error(exc: DscError) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
