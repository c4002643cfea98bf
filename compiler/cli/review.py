"""The review verbs: list, approve, reject, edit and serve (the decisions themselves live in versions/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from compiler.core.errors import UsageError


def _open(ref: str) -> Any:
    from compiler.versions.store import resolve_version
    from compiler.versions.verify import require_intact

    return require_intact(resolve_version(ref))


def run_review(args: argparse.Namespace) -> int:
    from compiler.versions.decide import Verdict, default_reviewer, locate_rows, record_decisions

    if args.action == "list":
        return _list_rows(args)
    if args.action == "serve":
        return _serve(args)
    in_version = _open(args.in_version) if args.in_version else None
    found = locate_rows(args.ids if args.action != "edit" else [args.id], Path("outputs"), in_version)
    assignments: dict[str, str] = {}
    for text in getattr(args, "assignments", None) or []:
        field, sep, value = text.partition("=")
        if not sep:
            raise UsageError(f"--set {text}: write inputs.<variable>=<value> or expected.<column>=<value>")
        assignments[field.strip()] = value
    verdict = Verdict(args.action, default_reviewer(args.reviewer), args.reason, assignments)
    by_version: dict[Any, list[Any]] = {}
    for version, row in found:
        by_version.setdefault(version, []).append(row)
    done = "approved" if args.action == "approve" else f"{args.action}ed"
    for version, rows in by_version.items():
        config = _read_config(version)
        decisions = record_decisions(version.dataset, version.version, config, rows, verdict)
        ids = ", ".join(d.id[:12] for d in decisions[:5]) + (" ..." if len(decisions) > 5 else "")
        print(
            f"{done} {len(decisions)} rows of {version.dataset}/{version.version} ({ids}); recompile to apply"
        )
    return 0


def _read_config(version: Any) -> dict[str, Any]:
    from compiler.versions.store import read_manifest

    return dict(read_manifest(version).get("config") or {})


def _list_rows(args: argparse.Namespace) -> int:
    from compiler.core.cells import cell_label
    from compiler.versions.decide import status_of
    from compiler.versions.review import load_decisions
    from compiler.versions.store import read_rows

    version = _open(args.version)
    order = list(_read_config(version).get("dimensions") or {})
    wanted: dict[str, str] = {}
    for text in args.cell:
        dim, sep, value = text.partition("=")
        if not sep or not dim.strip():
            raise UsageError(f"--cell {text}: write <dimension>=<value>, e.g. --cell intent=refund")
        if order and dim.strip() not in order:
            raise UsageError(
                f"--cell {text}: no dimension `{dim.strip()}`; dimensions are {', '.join(order)}"
            )
        wanted[dim.strip()] = value.strip()
    decisions = load_decisions(version.dataset)
    shown = 0
    for row in read_rows(version):
        status = status_of(row, decisions)
        if args.status and status != args.status:
            continue
        if any(row.cell.get(d) != v for d, v in wanted.items()):
            continue
        text = " ".join(str(next(iter(row.inputs.values()), "")).split())[:80]
        print(
            f"{row.id[:16]}  {status:9} {row.strategy or row.source:18} [{cell_label(row.cell, order)}] {text}"
        )
        shown += 1
    print(f"{shown} rows", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from compiler.versions.decide import default_reviewer
    from compiler.versions.serve.app import serve
    from compiler.versions.serve.state import ReviewSession

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port between 1 and 65535 (0 picks a free one)")
    version = _open(args.version)
    session = ReviewSession.open(version, default_reviewer(args.reviewer))

    def ready(url: str) -> None:
        print(
            f"reviewing {version.dataset}/{version.version} ({len(session.rows)} rows) as {session.reviewer} "
            f"at {url}  (Ctrl-C to stop)",
            flush=True,
        )

    try:
        serve(session, args.port, ready, open_browser=not args.no_browser)
    except KeyboardInterrupt:
        print("stopped; every decision is in reviews/", file=sys.stderr)
    return 0
