"""Review decisions on the rows of one version: find rows by id prefix, name the reviewer, record decisions.

The CLI verbs and `dsc review serve` both go through `record_decisions`, so a decision from a browser tab
and one from a terminal are the same record, appended to the same log under the same lock.
"""

from __future__ import annotations

import difflib
import getpass
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compiler.core.errors import StoreError, UsageError
from compiler.core.rows import Row
from compiler.screen.decisions import Decision, apply_decisions
from compiler.versions.review import append_decisions, load_decisions, parse_assignment
from compiler.versions.store import MANIFEST, Version, read_index, read_rows

STATUSES = ("pending", "approved", "edited", "rejected")
MIN_PREFIX = 4


def default_reviewer(explicit: str | None = None) -> str:
    """`--reviewer`, else `git config user.name`, else the OS user."""
    if explicit and explicit.strip():
        return explicit.strip()
    try:
        done = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5, check=False
        )
        name = done.stdout.strip()
        if done.returncode == 0 and name:
            return name
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "reviewer"


def match_rows(rows: Sequence[Row], prefixes: Sequence[str], where: str) -> list[Row]:
    """The row each id prefix names, in the order given; a prefix must name exactly one row."""
    found: list[Row] = []
    for prefix in prefixes:
        prefix = prefix.strip().lower()
        if len(prefix) < MIN_PREFIX:
            raise UsageError(f"{prefix or '<empty>'}: give at least {MIN_PREFIX} characters of a row id")
        matches = [r for r in rows if r.id.startswith(prefix)]
        if len(matches) > 1:
            raise UsageError(f"{prefix}: matches {len(matches)} rows of {where}; give more characters")
        if not matches:
            close = difflib.get_close_matches(prefix, [r.id[: len(prefix)] for r in rows], n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise StoreError(f"{prefix}: no row with this id in {where}{hint}")
        found.append(matches[0])
    return found


def status_of(row: Row, decisions: Mapping[str, Decision]) -> str:
    """The row's review status under the current log: pending, approved, edited or rejected."""
    reviewed = apply_decisions(row, decisions)
    return "rejected" if reviewed is None else reviewed.review_status


@dataclass(frozen=True)
class Verdict:
    """What a reviewer decided about some rows of one version."""

    action: str  # approve | reject | edit
    reviewer: str
    reason: str = ""
    assignments: Mapping[str, str] = field(default_factory=dict)  # {"expected.verdict": "refuse"}, as typed


def record_decisions(
    dataset: str,
    version: str,
    config: Mapping[str, Any],
    rows: Sequence[Row],
    verdict: Verdict,
    root: Path,
) -> list[Decision]:
    """Check and append one decision per row; an edit is type-checked and merged with earlier edits."""
    if verdict.action not in ("approve", "reject", "edit"):
        raise UsageError(f"{verdict.action}: not a review action; use approve, reject or edit")
    if verdict.action == "reject" and not verdict.reason.strip():
        raise UsageError("reject: give a reason (--reason), so the next reviewer knows why")
    edits: dict[str, Any] = {}
    if verdict.action == "edit":
        variables = list((config.get("prompt") or {}).get("variables") or {})
        columns = config.get("columns") or {}
        edits = dict(parse_assignment(f"{k}={v}", variables, columns) for k, v in verdict.assignments.items())
        if not edits:
            raise UsageError("edit: nothing to change; give at least one inputs.<name> or expected.<name>")
    earlier = load_decisions(dataset, root) if edits else {}
    status = {"approve": "approved", "reject": "rejected", "edit": "edited"}[verdict.action]
    decisions = []
    for row in rows:
        before = earlier.get(row.id)
        merged = {**(before.edits if before is not None and before.status == "edited" else {}), **edits}
        decisions.append(Decision(row.id, status, verdict.reviewer, verdict.reason, merged, version))
    append_decisions(dataset, decisions, root)
    return decisions


def locate_rows(
    prefixes: Sequence[str], out_dir: Path, version: Version | None = None
) -> list[tuple[Version, Row]]:
    """(version, row) for each id prefix: in `version` when given, else in any version under `out_dir`
    (newest first per dataset; the same id in several versions is the same row)."""
    if version is not None:
        rows = read_rows(version)
        return [(version, row) for row in match_rows(rows, prefixes, f"{version.dataset}/{version.version}")]
    versions = _all_versions(out_dir)
    found = []
    for prefix in prefixes:
        if len(prefix.strip()) < 8:
            raise UsageError(
                f"{prefix}: give at least 8 characters of the row id, or name the version with --version"
            )
        hits: dict[str, tuple[Version, Row]] = {}
        known: list[str] = []
        for candidate in versions:
            for row in read_rows(candidate):
                known.append(row.id)
                if row.id.startswith(prefix.strip().lower()):
                    hits.setdefault(row.id, (candidate, row))
        if len(hits) > 1:
            raise UsageError(f"{prefix}: matches {len(hits)} rows; give more characters or --version")
        if not hits:
            close = difflib.get_close_matches(prefix, [k[: len(prefix)] for k in known], n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise StoreError(f"{prefix}: no row with this id in any version under {out_dir}/{hint}")
        found.append(next(iter(hits.values())))
    return found


def _all_versions(out_dir: Path) -> list[Version]:
    """Every published version under `out_dir`, newest first within each dataset."""
    versions = []
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir()) if out_dir.is_dir() else []:
        for entry in reversed(read_index(folder)):
            path = folder / str(entry.get("version"))
            if (path / MANIFEST).is_file():
                versions.append(Version(folder.name, path.name, path))
    return versions


def rows_with_status(
    rows: Sequence[Row], decisions: Mapping[str, Decision], statuses: Sequence[str]
) -> list[Row]:
    """The rows as the current review log leaves them (edits applied) whose status is in `statuses`;
    an edited row counts as approved, a rejected row is returned as it was written."""
    wanted = set(statuses) | ({"edited"} if "approved" in statuses else set())
    kept = []
    for row in rows:
        reviewed = apply_decisions(row, decisions)
        if reviewed is None:
            if "rejected" in wanted:
                kept.append(replace(row, review_status="rejected"))
        elif reviewed.review_status in wanted:
            kept.append(reviewed)
    return kept
