"""The review and promote verbs: decisions in reviews_dir, promoted rows in datasets_dir."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from compiler.cli.locate import open_version, project_paths
from compiler.cli.locate import shown as shown_path
from compiler.core.errors import StoreError, UsageError


def _find_row(prefix: str, out_dir: Path) -> tuple[Any, Any]:
    """(version, row) of the newest version holding a row id that starts with `prefix`."""
    from compiler.versions.store import MANIFEST, Version, read_index, read_rows

    if len(prefix) < 8:
        raise UsageError(f"{prefix}: give at least 8 characters of the row id")
    known: list[str] = []
    for dataset_dir in sorted(p for p in out_dir.iterdir() if p.is_dir()) if out_dir.is_dir() else []:
        entries = read_index(dataset_dir)
        for entry in reversed(entries):
            folder = dataset_dir / entry["version"]
            if not (folder / MANIFEST).is_file():
                continue
            version = Version(dataset_dir.name, entry["version"], folder)
            rows = read_rows(version)
            matches = [r for r in rows if r.id.startswith(prefix)]
            if len(matches) == 1:
                return version, matches[0]
            if len(matches) > 1:
                raise UsageError(f"{prefix}: matches {len(matches)} rows; give more characters")
            known.extend(r.id for r in rows)
            break  # only the newest version of each dataset
    close = difflib.get_close_matches(prefix, [k[: len(prefix)] for k in known], n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise StoreError(f"{prefix}: no row with this id in the newest versions under {out_dir}/{hint}")


def _refuse_inapplicable(found: list[tuple[Any, Any]], action: str) -> None:
    """Refuse, before anything is written, a decision that no compile would apply."""
    from compiler.versions.review import decision_refusal
    from compiler.versions.store import read_manifest

    for version, row in found:
        refusal = decision_refusal(row, read_manifest(version), action)
        if refusal is not None:
            raise UsageError(refusal)


def run_review(args: argparse.Namespace) -> int:
    from compiler.screen.decisions import Decision, apply_decisions
    from compiler.versions.review import append_decisions, load_decisions, parse_assignment
    from compiler.versions.store import read_manifest, read_rows

    out_dir = project_paths(args).out_dir
    if args.action == "list":
        version = open_version(args.version, args)
        decisions = load_decisions(version.dataset, project_paths(args, version.dataset).reviews_dir)
        shown = 0
        for row in read_rows(version):
            reviewed = apply_decisions(row, decisions)
            status = "rejected" if reviewed is None else reviewed.review_status
            if args.status and status != args.status:
                continue
            text = " ".join(str(next(iter(row.inputs.values()), "")).split())[:80]
            print(f"{row.id[:16]}  {status:9} {row.strategy or row.source:18} {text}")
            shown += 1
        print(f"{shown} rows", file=sys.stderr)
        return 0
    if args.action in ("approve", "reject"):
        found = [_find_row(prefix, out_dir) for prefix in args.ids]
        _refuse_inapplicable(found, args.action)
        status = "approved" if args.action == "approve" else "rejected"
        by_dataset: dict[str, list[Decision]] = {}
        for version, row in found:
            by_dataset.setdefault(version.dataset, []).append(
                Decision(row.id, status, args.reviewer, args.reason)
            )
        for dataset, new in by_dataset.items():
            path = append_decisions(dataset, new, project_paths(args, dataset).reviews_dir)
            print(f"{status} {len(new)} rows of {dataset} ({shown_path(path)}); recompile to apply")
        return 0
    version, row = _find_row(args.id, out_dir)
    _refuse_inapplicable([(version, row)], "edit")
    config = read_manifest(version).get("config", {})
    variables = list((config.get("prompt") or {}).get("variables") or {})
    columns = config.get("columns") or {}
    edits = dict(parse_assignment(text, variables, columns) for text in args.assignments)
    path = append_decisions(
        version.dataset,
        [Decision(row.id, "edited", args.reviewer, args.reason, edits)],
        project_paths(args, version.dataset).reviews_dir,
    )
    print(f"edited {row.id[:16]} of {version.dataset} ({shown_path(path)}); recompile to apply")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from compiler.screen.decisions import apply_decisions
    from compiler.versions.promote import promote_rows
    from compiler.versions.review import load_decisions
    from compiler.versions.store import read_rows

    version = open_version(args.version, args)
    rows = read_rows(version)
    paths = project_paths(args, version.dataset)
    decisions = load_decisions(version.dataset, paths.reviews_dir)
    pending = sum(
        1 for r in rows if (x := apply_decisions(r, decisions)) is not None and x.review_status == "pending"
    )
    if pending and args.status == "approved" and not args.allow_pending:
        raise UsageError(
            f"{version.path}: {pending} rows are still pending review; review them first "
            f"(`dsc review list {version.path} --status pending`) or pass --allow-pending "
            f"to promote only the approved rows"
        )
    result = promote_rows(
        rows,
        decisions,
        dataset=version.dataset,
        version=version.version,
        target=args.to,
        status=args.status,
        datasets_dir=paths.datasets_dir,
    )
    print(f"promoted {result.added} rows to {shown_path(result.path)} ({result.already_there} already there)")
    return 0
