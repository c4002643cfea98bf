"""Command-line verbs that work on versions already on disk: diff, verify, review, promote, export."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path
from typing import Any

from compiler.core.errors import StoreError, UsageError
from compiler.spec.model import CURATED_NAMES


def add_version_verbs(verbs: Any) -> None:
    diff = verbs.add_parser(
        "diff",
        help="rows added, removed and changed between two versions",
        description="Compare two versions per strategy and per cell.",
    )
    diff.add_argument("a", help="the older version")
    diff.add_argument("b", help="the newer version")
    diff.add_argument("--markdown", action="store_true", help="print a Markdown summary for a pull request")
    verify = verbs.add_parser(
        "verify",
        help="recompute every row id, file hash and the version id",
        description="Exit 1 naming the row or file that changed; suitable for CI and "
        "pre-commit (give version folders or files inside them).",
    )
    verify.add_argument("paths", nargs="+", help="versions, or files inside versions")
    review = verbs.add_parser(
        "review",
        help="list, approve, reject or edit rows",
        description="Review decisions live in reviews/<dataset>.jsonl and survive recompiles.",
    )
    actions = review.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=verbs._parser_class
    )
    listing = actions.add_parser("list", help="rows of a version with their review status")
    listing.add_argument("version")
    listing.add_argument("--status", choices=["pending", "approved", "rejected", "edited"])
    for name, text in (("approve", "approve rows"), ("reject", "reject rows")):
        action = actions.add_parser(name, help=text)
        action.add_argument("ids", nargs="+", help="row ids (a unique prefix of 8+ characters is enough)")
        action.add_argument("--reason", default="", required=name == "reject")
        action.add_argument("--reviewer", default=os.environ.get("USER", "reviewer"))
    edit = actions.add_parser("edit", help="edit fields of a row (approves it with the edit)")
    edit.add_argument("id")
    edit.add_argument(
        "--set",
        dest="assignments",
        action="append",
        required=True,
        help="inputs.<variable>=<value> or expected.<column>=<value>; repeatable",
    )
    edit.add_argument("--reason", default="")
    edit.add_argument("--reviewer", default=os.environ.get("USER", "reviewer"))
    promote = verbs.add_parser(
        "promote",
        help="append reviewed rows to datasets/<dataset>/<name>.jsonl",
        description="Promote rows into the durable regression or golden datasets.",
    )
    promote.add_argument("version")
    promote.add_argument("--to", required=True, choices=list(CURATED_NAMES))
    promote.add_argument("--status", default="approved", choices=["approved", "edited", "rejected"])
    promote.add_argument(
        "--allow-pending",
        action="store_true",
        help="promote the approved rows even while other rows are still pending",
    )
    dedupe = verbs.add_parser(
        "dedupe",
        help="drop exact and near-duplicate rows of any JSONL, Parquet or CSV file",
        description="Cluster exact and near-duplicate rows (MinHash + LSH over word "
        "shingles, verified by Jaccard) and keep the first row of each cluster.",
    )
    dedupe.add_argument("input", help="a .jsonl/.ndjson, .parquet or .csv file")
    dedupe.add_argument(
        "--on", required=True, help="column(s) to compare, comma-separated; a.b reaches a field"
    )
    dedupe.add_argument(
        "--near", type=float, default=0.85, help="Jaccard similarity above which rows collapse"
    )
    dedupe.add_argument("--exact-only", action="store_true", help="only drop rows whose text is identical")
    dedupe.add_argument("--out", help="output file (default: <stem>.dedup<ext> beside the input)")
    dedupe.add_argument(
        "--annotate",
        action="store_true",
        help="write every row with dup_of (input index of the kept row) and dup_kind",
    )
    export = verbs.add_parser(
        "export",
        help="write a version in the format an eval tool loads",
        description="Export a version for promptfoo, DeepEval, Inspect AI, OpenAI evals or "
        "Hugging Face datasets.",
    )
    export.add_argument("version")
    export.add_argument(
        "--format", required=True, dest="fmt", help="promptfoo | deepeval | inspect | openai-evals | hf"
    )
    export.add_argument("--out", default=".", help="a file, or a folder to write into (default: .)")
    export.add_argument("--force", action="store_true", help="replace files an earlier export did not write")


def _open(ref: str) -> Any:
    from compiler.versions.store import resolve_version
    from compiler.versions.verify import require_intact

    return require_intact(resolve_version(ref))


def run_diff(args: argparse.Namespace) -> int:
    from compiler.versions.diff import diff_rows, format_diff
    from compiler.versions.store import read_rows

    a, b = _open(args.a), _open(args.b)
    result = diff_rows(read_rows(a), read_rows(b))
    print(format_diff(result, f"{a.dataset}/{a.version}", f"{b.dataset}/{b.version}", markdown=args.markdown))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from compiler.versions.store import Version, resolve_version
    from compiler.versions.verify import verify_version, versions_of_paths

    folders = versions_of_paths([Path(p) for p in args.paths if Path(p).exists()])
    versions = [Version(f.parent.name, f.name, f) for f in folders]
    versions += [resolve_version(p) for p in args.paths if not Path(p).exists()]
    if not versions:
        raise UsageError(f"verify: no version among {' '.join(args.paths)}; give outputs/<dataset>/<version>")
    failed = 0
    for version in versions:
        findings = verify_version(version)
        for finding in findings:
            print(f"{finding.path}: {finding.problem}", file=sys.stderr)
        if findings:
            failed += 1
        else:
            print(f"ok: {version.path}")
    return 1 if failed else 0


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


def run_review(args: argparse.Namespace) -> int:
    from compiler.screen.decisions import Decision, apply_decisions
    from compiler.versions.review import append_decisions, load_decisions, parse_assignment
    from compiler.versions.store import read_manifest, read_rows

    out_dir = Path("outputs")
    if args.action == "list":
        version = _open(args.version)
        decisions = load_decisions(version.dataset)
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
        status = "approved" if args.action == "approve" else "rejected"
        by_dataset: dict[str, list[Decision]] = {}
        for version, row in found:
            by_dataset.setdefault(version.dataset, []).append(
                Decision(row.id, status, args.reviewer, args.reason)
            )
        for dataset, new in by_dataset.items():
            path = append_decisions(dataset, new)
            print(f"{status} {len(new)} rows of {dataset} ({path}); recompile to apply")
        return 0
    version, row = _find_row(args.id, out_dir)
    config = read_manifest(version).get("config", {})
    variables = list((config.get("prompt") or {}).get("variables") or {})
    columns = config.get("columns") or {}
    edits = dict(parse_assignment(text, variables, columns) for text in args.assignments)
    path = append_decisions(version.dataset, [Decision(row.id, "edited", args.reviewer, args.reason, edits)])
    print(f"edited {row.id[:16]} of {version.dataset} ({path}); recompile to apply")
    return 0


def run_promote(args: argparse.Namespace) -> int:
    from compiler.screen.decisions import apply_decisions
    from compiler.versions.promote import promote_rows
    from compiler.versions.review import load_decisions
    from compiler.versions.store import read_rows

    version = _open(args.version)
    rows = read_rows(version)
    decisions = load_decisions(version.dataset)
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
        datasets_dir=Path("datasets"),
    )
    print(f"promoted {result.added} rows to {result.path} ({result.already_there} already there)")
    return 0


def run_dedupe(args: argparse.Namespace) -> int:
    from compiler.screen.dedupe_file import dedupe_file

    columns = [c.strip() for c in args.on.split(",") if c.strip()]
    result = dedupe_file(
        Path(args.input),
        columns,
        None if args.exact_only else args.near,
        Path(args.out) if args.out else None,
        args.annotate,
    )
    print(
        f"{result.rows_in} rows in: {result.kept} kept, {result.exact} exact and {result.near} near duplicates "
        f"dropped, {result.empty} with empty text (kept) -> {result.out_path}"
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from compiler.core.confine import claim_export_targets, record_export_targets
    from compiler.export.formats import export_targets, export_version
    from compiler.versions.store import read_manifest, read_rows

    version = _open(args.version)
    out = Path(args.out)
    if out.is_file() and args.fmt == "hf":
        raise UsageError(f"--out {out}: is a file; the hf export writes a folder, give a folder path")
    manifest = read_manifest(version)
    files = export_targets(manifest, args.fmt, out)[1]
    claim_export_targets(out, files, force=args.force)  # inside --out; never over a file dsc did not write
    if not out.exists() and not out.suffix:  # a new path without an extension is a folder to write into
        out.mkdir(parents=True)
    path = export_version(read_rows(version), manifest, args.fmt, out)
    record_export_targets(out, files)
    print(f"exported {version.dataset}/{version.version} as {args.fmt}: {path}")
    return 0


VERSION_COMMANDS = {
    "dedupe": run_dedupe,
    "export": run_export,
    "diff": run_diff,
    "verify": run_verify,
    "review": run_review,
    "promote": run_promote,
}
