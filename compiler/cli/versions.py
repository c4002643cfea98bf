"""Command-line verbs that work on versions already on disk: diff, verify, repair, review, promote, export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from compiler.cli.dedupe import add_dedupe_verb, run_dedupe
from compiler.cli.locate import open_version, project_paths
from compiler.cli.review import run_promote, run_review
from compiler.core.confine import shown_path
from compiler.core.errors import UsageError
from compiler.spec.model import CURATED_NAMES

REVIEW_STATUSES = ("pending", "approved", "edited", "rejected")
EXPORT_DEFAULT_STATUSES = ("approved", "pending")


def add_version_verbs(verbs: Any) -> None:
    """The verbs that read, check, review, promote and export versions (and dedupe any file)."""
    for add in (
        _add_integrity_verbs,
        _add_review_verbs,
        _add_promote_verb,
        add_dedupe_verb,
        _add_export_verb,
    ):
        add(verbs)


def _add_integrity_verbs(verbs: Any) -> None:
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
    repair = verbs.add_parser(
        "repair",
        help="rebuild versions.jsonl from the version folders, remove stale staging folders",
        description="Put a dataset's folder back in order after a kill, a merge or a hand edit: damaged "
        "and duplicate index lines go, versions a kill left out of the index come back, staging folders "
        "of dead writers are removed. Damaged version folders are named (a compile rebuilds them).",
    )
    repair.add_argument("names", nargs="*", metavar="DATASET", help="datasets under out_dir (default: all)")


def _add_review_verbs(verbs: Any) -> None:
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
    listing.add_argument("--status", choices=list(REVIEW_STATUSES))
    listing.add_argument(
        "--cell", action="append", default=[], metavar="DIM=VALUE", help="only rows in this cell; repeatable"
    )
    reviewer_help = "who decides (default: git config user.name, else the OS user)"
    version_help = "the version the rows are in (default: search every version, newest first)"
    for name, text in (("approve", "approve rows"), ("reject", "reject rows")):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "ids",
            nargs="+",
            metavar="[VERSION] ID",
            help="row ids: unique prefixes (8+ characters without a version); a first word with a `/` "
            "names the version, as --version does",
        )
        action.add_argument("--version", dest="in_version", help=version_help)
        action.add_argument("--reason", default="", required=name == "reject")
        action.add_argument("--reviewer", help=reviewer_help)
    edit = actions.add_parser("edit", help="edit fields of a row (approves it with the edit)")
    edit.add_argument("ids", nargs="+", metavar="[VERSION] ID", help="one row id, after its version if given")
    edit.add_argument("--version", dest="in_version", help=version_help)
    edit.add_argument(
        "--set",
        dest="assignments",
        action="append",
        required=True,
        help="inputs.<variable>=<value> or expected.<column>=<value>; repeatable",
    )
    edit.add_argument("--reason", default="")
    edit.add_argument("--reviewer", help=reviewer_help)
    serve = actions.add_parser(
        "serve",
        help="review a version in the browser (a local web workbench on 127.0.0.1)",
        description="Filter, read and decide on rows in the browser; decisions go to reviews/<dataset>.jsonl "
        "at once, exactly as the approve, reject and edit verbs write them.",
    )
    serve.add_argument("version")
    serve.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 picks a free one)")
    serve.add_argument("--no-browser", action="store_true", help="do not open a browser")
    serve.add_argument("--reviewer", help=reviewer_help)


def _add_promote_verb(verbs: Any) -> None:
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


def _add_export_verb(verbs: Any) -> None:
    export = verbs.add_parser(
        "export",
        help="write a version as a folder an eval tool runs",
        description="Export a version as a folder that promptfoo, Inspect AI, DeepEval, OpenAI evals, "
        "Hugging Face datasets or DSPy runs or loads as it is, with a README on how to run it.",
    )
    export.add_argument("version")
    export.add_argument(
        "--format",
        required=True,
        dest="fmt",
        help="promptfoo | inspect | deepeval | openai-evals | hf | dspy",
    )
    export.add_argument(
        "--out",
        default=".",
        help="the folder to write; a folder holding other files gets <dataset>-<version>-<format>/ inside it "
        "(default: .)",
    )
    export.add_argument(
        "--force", action="store_true", help="overwrite files in the folder that this export did not write"
    )
    export.add_argument(
        "--status",
        action="append",
        choices=["approved", "pending", "rejected"],
        help="export rows with this review status (under the current review log; edited rows count as "
        "approved); repeatable; default: approved and pending, never rejected",
    )


def run_diff(args: argparse.Namespace) -> int:
    from compiler.versions.diff import check_same_dataset, diff_rows, format_diff
    from compiler.versions.store import read_manifest, read_rows

    a, b = open_version(args.a, args), open_version(args.b, args)
    manifest_a, manifest_b = read_manifest(a), read_manifest(b)
    check_same_dataset(manifest_a.dataset, manifest_b.dataset)
    dims_a, dims_b = (list(m.config.get("dimensions") or {}) for m in (manifest_a, manifest_b))
    order = dims_b + [d for d in dims_a if d not in dims_b]
    result = diff_rows(read_rows(a), read_rows(b), order)
    print(format_diff(result, f"{a.dataset}/{a.version}", f"{b.dataset}/{b.version}", markdown=args.markdown))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from compiler.versions.store import Version, resolve_version
    from compiler.versions.verify import verify_version, versions_of_paths

    folders = versions_of_paths([Path(p) for p in args.paths if Path(p).exists()])
    versions = [Version(f.parent.name, f.name, f) for f in folders]
    versions += [resolve_version(p, project_paths(args).out_dir) for p in args.paths if not Path(p).exists()]
    if not versions:
        raise UsageError(f"verify: no version among {' '.join(args.paths)}; give outputs/<dataset>/<version>")
    failed = 0
    for version in versions:
        findings = verify_version(version)
        for finding in findings:
            print(f"{shown_path(finding.path)}: {finding.problem}", file=sys.stderr)
        if findings:
            failed += 1
        else:
            print(f"ok: {shown_path(version.path)}")
    return 1 if failed else 0


def run_export(args: argparse.Namespace) -> int:
    from compiler.export.formats import FORMATS, export_version
    from compiler.versions.store import read_manifest, read_rows

    if args.fmt not in FORMATS:  # before opening the version: the mistake is the flag
        from compiler.spec.validate.fields import closest_name

        hint = closest_name(args.fmt, FORMATS)
        guess = f" (did you mean `{hint}`?)" if hint else ""
        raise UsageError(f"--format {args.fmt}: unknown{guess}; use one of: {', '.join(sorted(FORMATS))}")
    version = open_version(args.version, args)
    from compiler.versions.decide import rows_with_status
    from compiler.versions.review import load_decisions

    statuses = tuple(args.status or EXPORT_DEFAULT_STATUSES)
    decisions = load_decisions(version.dataset, project_paths(args, version.dataset).reviews_dir)
    rows = rows_with_status(read_rows(version), decisions, statuses)
    path = export_version(rows, read_manifest(version), args.fmt, Path(args.out), force=args.force)
    print(
        f"exported {len(rows)} {'/'.join(statuses)} rows of {version.dataset}/{version.version} as {args.fmt}: "
        f"{shown_path(path)} (how to run it: {shown_path(path / 'README.md')})"
    )
    return 0


def run_repair(args: argparse.Namespace) -> int:
    from compiler.versions.repair import dataset_folders, repair_dataset

    out_dir = project_paths(args).out_dir
    folders = [out_dir / name for name in args.names] if args.names else dataset_folders(out_dir)
    for folder in folders:
        if not folder.is_dir():
            known = ", ".join(p.name for p in dataset_folders(out_dir)) or "none"
            raise UsageError(f"repair: {folder} is not a dataset folder; datasets under {out_dir}/: {known}")
    damaged = 0
    for folder in folders:
        report = repair_dataset(folder, folder.name)
        done = []
        if report.damaged_lines:
            lines = ", ".join(str(n) for n, _ in report.damaged_lines[:8])
            done.append(f"removed {len(report.damaged_lines)} damaged index lines ({lines})")
        if report.duplicates:
            done.append(f"removed {report.duplicates} duplicate index entries")
        if report.added:
            done.append(f"re-added {len(report.added)} versions ({', '.join(report.added)})")
        if report.staging_removed:
            done.append(f"removed {len(report.staging_removed)} stale staging folders")
        print(
            f"repaired {shown_path(folder)}: " + "; ".join(done)
            if done
            else f"ok: {shown_path(folder)} ({report.versions} versions)"
        )
        for version, finding in report.damaged_versions:
            damaged += 1
            print(
                f"{finding}; `dsc compile` of this config rebuilds {version} (or restore it from git)",
                file=sys.stderr,
            )
    if not folders:
        print(f"nothing to repair: no datasets under {shown_path(out_dir)}/")
    return 1 if damaged else 0


VERSION_COMMANDS = {
    "repair": run_repair,
    "dedupe": run_dedupe,
    "export": run_export,
    "diff": run_diff,
    "verify": run_verify,
    "review": run_review,
    "promote": run_promote,
}
