"""Building a version's manifest from what one compile produced: counts, coverage, usage, shortfall, and the
resolved config without machine-local paths (so reruns on another machine are byte-identical)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import xxhash

from compiler.core.cells import cell_label
from compiler.core.rows import Row
from compiler.core.version import SCHEMA_VERSION, __version__
from compiler.generate.estimate import cost_usd
from compiler.plan.cases import Plan
from compiler.screen.dedupe import DedupeResult
from compiler.screen.select import Selection
from compiler.spec.model import Spec
from compiler.versions.manifest import (
    Coverage,
    LMRecord,
    Manifest,
    ShortCell,
    Shortfall,
    StrategyCount,
    Usage,
)

LOCAL_KEYS = (
    "out_dir",
    "journal_dir",
    "reviews_dir",
    "datasets_dir",
    "shard",
    "max_failure_rate",
)  # where this machine keeps files and how strict this run is: not part of a version's identity


def portable_config(spec: Spec) -> dict[str, Any]:
    """The resolved config without machine-local paths, as the manifest records it."""
    return {k: v for k, v in spec.resolved.items() if k not in LOCAL_KEYS}


def config_hash(spec: Spec) -> str:
    return xxhash.xxh3_64_hexdigest(json.dumps(portable_config(spec), sort_keys=True, default=str).encode())


@dataclass(frozen=True)
class BuildRecord:
    """What one compile produced, as the manifest records it."""

    version: str
    parent: str | None
    rows: Sequence[Row]
    selection: Selection
    screened: DedupeResult
    counts: Mapping[str, int]
    rounds: int
    failures: Mapping[str, int]
    program_hash: str
    templates: Mapping[str, str]
    lm_identity: str
    stats: Any  # the LM handle's CallStats
    sourcing: Mapping[str, Any] = field(default_factory=dict)  # curated, evidence, weights, quotas
    generator: Mapping[str, Any] = field(default_factory=dict)  # module, adapter, user program, saved state
    privacy: Mapping[str, int] = field(default_factory=dict)  # private data redacted from generated rows


def build_manifest(spec: Spec, plan: Plan, record: BuildRecord) -> Manifest:
    """Everything needed to reproduce and audit a version; no secrets, no timestamps (byte-identical reruns)."""
    rows, selection, deduped, stats = record.rows, record.selection, record.screened, record.stats
    per_strategy = Counter(r.strategy or "-" for r in rows)
    per_source = Counter(r.source for r in rows)
    per_cell = Counter(cell_label(r.cell, [d.name for d in spec.dimensions]) for r in rows)
    drop_reasons = Counter(d.reason for d in deduped.drops)
    checks = Counter(d.reason.split(":", 1)[1] for d in deduped.drops if d.reason.startswith("check:"))
    return Manifest(
        dataset=spec.name,
        version=record.version,
        parent=record.parent,
        dsc_version=__version__,
        schema_version=SCHEMA_VERSION,
        rows=len(rows),
        seed=spec.seed,
        lm=LMRecord(
            identity=record.lm_identity,
            kind=spec.lm.kind,
            model=spec.lm.model,
            api_base=spec.lm.api_base,
            temperature=spec.lm.temperature,
            max_tokens=spec.lm.max_tokens,
        ),
        config_hash=config_hash(spec),
        program_hash=record.program_hash,
        templates=dict(record.templates),
        counts=dict(sorted(record.counts.items())),
        top_up_rounds=record.rounds,
        failures=dict(sorted(record.failures.items())),
        strategies={
            name: StrategyCount(target=target, selected=per_strategy.get(name, 0))
            for name, target in plan.targets
        },
        sources=dict(sorted(per_source.items())),
        cells=dict(sorted(per_cell.items())),
        coverage=Coverage(
            strength=plan.cells.strength,
            required_tuples=plan.cells.required_tuples,
            planned_covered_tuples=plan.covered_tuples(),
        ),
        drops=dict(sorted(drop_reasons.items())),
        review=dict(sorted(Counter(r.review_status for r in rows).items())),
        check_failures=dict(sorted(checks.items())),
        usage=Usage(
            requests=stats.used_requests,
            input_tokens=stats.used_input_tokens,
            output_tokens=stats.used_output_tokens,
            cost_usd=round(cost_usd(spec.lm, stats.used_input_tokens, stats.used_output_tokens), 6),
        ),
        shortfall=Shortfall(
            missing_rows=selection.missing,
            cells=tuple(
                ShortCell(strategy=s.strategy, cell=s.cell, wanted=s.wanted, got=s.got)
                for s in selection.short
            ),
        ),
        config=portable_config(spec),
        sourcing=dict(record.sourcing),
        generator=dict(record.generator),
        privacy={"generated": dict(sorted(record.privacy.items()))} if record.privacy else {},
    )
