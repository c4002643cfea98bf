"""The review and promote verbs: list, approve, reject, edit, serve and promote (decisions in reviews_dir,
promoted rows in datasets_dir; the decisions themselves live in versions/)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from compiler.cli.locate import open_version, project_paths
from compiler.core.confine import shown_path
from compiler.core.errors import UsageError


def _refuse_inapplicable(found: list[tuple[Any, Any]], action: str) -> None:
    """Refuse, before anything is written, a decision that no compile would apply (curated, production rows)."""
    from compiler.versions.review import decision_refusal
    from compiler.versions.store import read_manifest

    for version, row in found:
        refusal = decision_refusal(row, read_manifest(version), action)
        if refusal is not None:
            raise UsageError(refusal)


def run_review(args: argparse.Namespace) -> int:
    from compiler.versions.decide import Verdict, default_reviewer, locate_rows, record_decisions

    if args.action == "list":
        return _list_rows(args)
    if args.action == "serve":
        return _serve(args)
    ids = list(args.ids)
    if len(ids) == 1 and "/" in ids[0]:  # a version and no row: a row id never holds a `/`
        raise UsageError(
            f"{ids[0]}: names a version but no row; give the row ids after it (`dsc review {args.action} "
            f"{ids[0]} <id> ...`; `dsc review list {ids[0]}` shows them)"
        )
    if len(ids) > 1 and "/" in ids[0]:  # `dsc review approve outputs/x/<v> ID`, as `review list` is written
        if args.in_version:
            raise UsageError(f"{ids[0]}: give the version once, as the first word or with --version")
        args.in_version = ids.pop(0)
    if args.action == "edit" and len(ids) != 1:
        raise UsageError(
            f"review edit takes one row id, got {len(ids)}: dsc review edit [VERSION] ID --set ..."
        )
    in_version = open_version(args.in_version, args) if args.in_version else None
    found = locate_rows(ids, project_paths(args).out_dir, in_version)
    _refuse_inapplicable(found, args.action)
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
        root = project_paths(args, version.dataset).reviews_dir
        decisions = record_decisions(version.dataset, version.version, config, rows, verdict, root)
        shown = ", ".join(d.id[:12] for d in decisions[:5]) + (" ..." if len(decisions) > 5 else "")
        print(
            f"{done} {len(decisions)} row{'' if len(decisions) == 1 else 's'} of {version.dataset}/{version.version} ({shown}) in "
            f"{shown_path(root / f'{version.dataset}.jsonl')}; recompile to apply"
        )
    return 0


def _dimension_values(raw: Any) -> list[str]:
    """A dimension's value names as the version's config wrote them: a list, `value: weight` pairs, or
    {description, values}; [] when the shape is not one of these (the filter then checks nothing)."""
    if isinstance(raw, dict) and "values" in raw:
        raw = raw["values"]
    return [str(v) for v in raw] if isinstance(raw, dict | list) else []


def _read_config(version: Any) -> dict[str, Any]:
    from compiler.versions.store import read_manifest

    return dict(read_manifest(version).config)


def _list_rows(args: argparse.Namespace) -> int:
    from compiler.core.cells import cell_label
    from compiler.versions.decide import status_of
    from compiler.versions.review import load_decisions
    from compiler.versions.store import read_rows

    version = open_version(args.version, args)
    dimensions = _read_config(version).get("dimensions") or {}
    order = list(dimensions)
    wanted: dict[str, str] = {}
    for text in args.cell:
        dim, sep, value = text.partition("=")
        if not sep or not dim.strip():
            raise UsageError(f"--cell {text}: write <dimension>=<value>, e.g. --cell intent=refund")
        if order and dim.strip() not in order:
            raise UsageError(
                f"--cell {text}: no dimension `{dim.strip()}`; dimensions are {', '.join(order)}"
            )
        values = _dimension_values(dimensions.get(dim.strip()))
        if values and value.strip() not in values:
            import difflib

            close = difflib.get_close_matches(value.strip(), values, n=1)
            raise UsageError(
                f"--cell {text}: {dim.strip()} has no value `{value.strip()}`; "
                + (f"did you mean `{close[0]}`?" if close else f"its values are {', '.join(values)}")
            )
        wanted[dim.strip()] = value.strip()
    decisions = load_decisions(version.dataset, project_paths(args, version.dataset).reviews_dir)
    shown = 0
    for row in read_rows(version):
        status = status_of(row, decisions)
        if args.status and status != args.status:
            continue
        if any(row.cell.get(d) != v for d, v in wanted.items()):
            continue
        text = row.headline(80)
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
    version = open_version(args.version, args)
    reviews_dir = project_paths(args, version.dataset).reviews_dir
    session = ReviewSession.open(version, default_reviewer(args.reviewer), reviews_dir)

    def ready(url: str) -> None:
        print(
            f"reviewing {version.dataset}/{version.version} ({len(session.rows)} rows) as {session.reviewer} "
            f"at {url}  (Ctrl-C to stop)",
            flush=True,
        )

    try:
        serve(session, args.port, ready, open_browser=not args.no_browser)
    except KeyboardInterrupt:
        print(f"stopped; every decision is in {shown_path(reviews_dir)}/", file=sys.stderr)
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from compiler.screen.decisions import apply_decisions
    from compiler.versions.promote import PromotionTarget, promote_rows
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
    target = PromotionTarget(version.dataset, version.version, args.to, args.status)
    result = promote_rows(rows, decisions, target, paths.datasets_dir)
    print(f"promoted {result.added} rows to {shown_path(result.path)} ({result.already_there} already there)")
    return 0
