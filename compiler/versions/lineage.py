"""A version's plan on disk (plan.json) and what a new version carries over from its parent.

The plan seeds the next compile (see plan/stable.py); versions written before plan.json existed seed
from their rows instead (cells and strategies, first slots).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.core.errors import StoreError
from compiler.core.rows import Row
from compiler.plan.cases import Plan
from compiler.plan.space import seed_cell
from compiler.plan.stable import PlanSeed, SeedCase, seed_of
from compiler.screen.decisions import origin_id
from compiler.spec.model import Spec
from compiler.versions.manifest import Manifest
from compiler.versions.store import (
    MANIFEST,
    Version,
    dataset_dir,
    latest_version,
    read_index,
    read_manifest_file,
    read_rows,
)

PLAN = "plan.json"


def plan_bytes(plan: Plan) -> bytes:
    """plan.json: the covering array and the first-round cases, cells as ordered pairs."""
    seed = seed_of(plan)
    data = {
        "array": [[list(pair) for pair in cell] for cell in seed.array],
        "cases": [
            {"strategy": c.strategy, "variant": c.variant, "cell": [list(p) for p in c.cell], "slot": c.slot,
             "primary": c.primary}
            for c in seed.cases
        ],
    }  # fmt: skip
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def parent_version(spec: Spec) -> Version | None:
    """The version a compile of `spec` builds on: the newest in the index (pinned by a sweep's cut-off)."""
    folder = dataset_dir(spec.out_dir, spec.name)
    entries = read_index(folder)
    # a sweep's jobs are alternatives, not successors: each builds on what existed when the sweep started
    pinned = os.environ.get("DSC_INDEX_CUTOFF")
    cutoff = json.loads(pinned).get(spec.name, 0) if pinned else None
    for entry in reversed(entries[:cutoff] if cutoff is not None else entries):
        path = folder / str(entry.get("version"))
        if (path / MANIFEST).is_file():
            return Version(spec.name, path.name, path)
    return None


def previous_sourcing(spec: Spec) -> Mapping[str, Any] | None:
    """What the source stage recorded in the newest version (production evidence compares against it)."""
    folder = dataset_dir(spec.out_dir, spec.name)
    latest = latest_version(folder)
    path = folder / latest / MANIFEST if latest else None
    return read_manifest_file(path).sourcing if path is not None and path.is_file() else None


def seed_for(spec: Spec, parent: Version | None) -> PlanSeed | None:
    """The parent's plan when it seeds this compile: same `seed` (a new seed asks for a new sample)."""
    if parent is None:
        return None
    try:
        manifest = Manifest.from_json(json.loads((parent.path / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, StoreError) as exc:
        raise StoreError(f"{parent.path / MANIFEST}: unreadable; run `dsc verify {parent.path}`") from exc
    return read_seed(parent) if manifest.seed == spec.seed else None


def read_seed(version: Version) -> PlanSeed:
    """The parent's plan as a seed: from plan.json, else from its synthetic rows."""
    path = version.path / PLAN
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return PlanSeed(
                tuple(_cell(c) for c in data["array"]),
                tuple(
                    SeedCase(
                        str(c["strategy"]), c["variant"], _cell(c["cell"]), int(c["slot"]), bool(c["primary"])
                    )
                    for c in data["cases"]
                ),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{path}: not a plan ({type(exc).__name__}); run `dsc verify {version.path}` and restore the file"
            ) from exc
    slots: Counter[tuple[str, str | None, tuple[tuple[str, str], ...]]] = Counter()
    cases = []
    for row in read_rows(version):
        if row.source != "synthetic" or row.strategy is None:
            continue
        cell = tuple((str(d), str(v)) for d, v in row.cell.items())
        key = (row.strategy, row.variant, cell)
        cases.append(SeedCase(row.strategy, row.variant, cell, slots[key], True))
        slots[key] += 1
    return PlanSeed(tuple(dict.fromkeys(c.cell for c in cases)), tuple(cases))


def _cell(pairs: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(d), str(v)) for d, v in pairs)


@dataclass(frozen=True)
class CarryOver:
    """What a new version kept of its parent's generated rows."""

    parent: str
    parent_rows: int  # the parent's synthetic rows
    in_space: int  # of those, rows whose cell the new space still holds
    kept: int  # of those, rows the new version holds (same id, or an edit of the same origin)
    # what changed in the requests themselves (program, templates, lm): the cases they reach were asked anew
    asked_anew: tuple[str, ...] = ()

    @property
    def share(self) -> float:
        return self.kept / self.in_space if self.in_space else 1.0


def carry_over(spec: Spec, parent: Version, rows: Sequence[Row], child: Version) -> CarryOver:
    old = [r for r in read_rows(parent) if r.source == "synthetic"]
    present = {r.id for r in rows} | {origin_id(r) for r in rows}
    in_space = [r for r in old if seed_cell(spec, r.cell.items()) is not None]
    kept = sum(1 for r in in_space if r.id in present or origin_id(r) in present)
    return CarryOver(parent.version, len(old), len(in_space), kept, request_changes(parent, child))


def request_changes(parent: Version, child: Version) -> tuple[str, ...]:
    """What differs between two versions' requests to the LM, from their manifests: the generator program,
    each template, the model and its sampling settings. A version whose manifest cannot be read names none."""
    try:
        before, after = read_manifest_file(parent.path / MANIFEST), read_manifest_file(child.path / MANIFEST)
    except StoreError:
        return ()
    changed = ["the generator program"] if before.program_hash != after.program_hash else []
    templates = sorted(  # a template only one of them uses (a strategy added or dropped) changed no request
        name for name in set(before.templates) & set(after.templates)
        if before.templates[name] != after.templates[name]
    )  # fmt: skip
    changed += [f"template {name}" for name in templates]
    changed += [
        f"lm.{key}" for key in ("model", "api_base", "temperature", "max_tokens")
        if getattr(before.lm, key) != getattr(after.lm, key)
    ]  # fmt: skip
    return tuple(changed)
