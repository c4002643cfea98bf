"""Reading the JSON and JSONL files dsc keeps: every file may be damaged, and damage is one clear line.

Indexes, review logs, curated rows and manifests live in git for years: they get merged (conflict markers),
cut off by a kill or a full disk (a torn last line), edited by hand (a line that is not an object) or saved
in another encoding. A reader names the file and line, says what is wrong and how to fix it, and raises
the caller's error type (exit 2); it never lets a JSONDecodeError or UnicodeDecodeError escape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from compiler.core.confine import shown_path
from compiler.core.errors import DscError
from compiler.core.limits import NestingError, load_json

CONFLICT_MARKERS = (b"<<<<<<<", b"=======", b">>>>>>>", b"|||||||")
OnDamage = Callable[[int, str], None]  # (line number, problem) for readers that skip damage (repair)


def damage_of(raw: bytes, last: bool) -> tuple[str, Any]:
    """(problem, None) for a damaged line, ("", value) for a line that parses as JSON."""
    if raw.startswith(CONFLICT_MARKERS):
        return "a git conflict marker", None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start + 1})", None
    try:
        return "", load_json(text)
    except NestingError as exc:
        return f"the row {exc}; flatten it", None
    except ValueError as exc:
        if last:
            return "cut off (a torn last line)", None
        message = getattr(exc, "msg", type(exc).__name__)
        column = getattr(exc, "colno", None)
        return f"not valid JSON ({message}{f' at column {column}' if column else ''})", None


def iter_records(
    path: Path,
    error: type[DscError],
    what: str,
    fix: str,
    *,
    on_damage: OnDamage | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line of a JSONL file.

    A damaged line raises `error("path:line: <problem>; <fix>")`, or, with `on_damage`, is reported
    there and skipped. A conflict marker always says to resolve the merge.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(
            f"{shown_path(path)}: cannot be read ({exc.strerror or type(exc).__name__}); check the file"
        ) from None
    lines = data.split(b"\n")
    torn_at = len(lines) if lines and lines[-1].strip() else 0  # no final newline: the last line may be torn
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        problem, value = damage_of(raw.rstrip(b"\r"), number == torn_at)
        if not problem and not isinstance(value, dict):
            problem = f"not {what} (a JSON {type(value).__name__})"
        if problem:
            if on_damage is not None:
                on_damage(number, problem)
                continue
            remedy = (
                "resolve the merge (keep the lines of both sides, drop the markers)"
                if (problem.startswith("a git conflict"))
                else fix
            )
            raise error(f"{shown_path(path)}:{number}: {problem}; {remedy}")
        yield number, value


def read_json_object(path: Path, error: type[DscError], fix: str) -> dict[str, Any]:
    """A whole-file JSON object (a manifest), or one line naming the damage."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(
            f"{shown_path(path)}: cannot be read ({exc.strerror or type(exc).__name__}); {fix}"
        ) from None
    marked = next((n for n, line in enumerate(data.split(b"\n"), 1) if line.startswith(CONFLICT_MARKERS)), 0)
    if marked:
        raise error(f"{shown_path(path)}:{marked}: a git conflict marker; resolve the merge")
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{shown_path(path)}: not UTF-8 text (byte {exc.start + 1}); {fix}") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{shown_path(path)}:{line}" if line else shown_path(path)
        raise error(f"{where}: not valid JSON ({getattr(exc, 'msg', type(exc).__name__)}); {fix}") from None
    if not isinstance(value, dict):
        raise error(f"{shown_path(path)}: not a JSON object (a JSON {type(value).__name__}); {fix}")
    return value
