"""Evidence and sources feeding a compile: weights biased by production traces, snippets for templates,
and the production, regression and golden rows that join the dataset beside the synthetic ones."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compiler.core.cells import Cell, cell_label
from compiler.core.confine import shown_path
from compiler.core.rows import Row
from compiler.privacy.gate import candidate_detectors, scrub_row
from compiler.sources.curated import load_curated
from compiler.spec.model import CURATED_NAMES, Spec, input_variable
from compiler.spec.validate.sources import CuratedSource

DEFAULT_CURATED_QUOTA = 0.1


@dataclass
class SourceBundle:
    """What the sources contribute to one compile."""

    spec: Spec  # the spec with evidence-adjusted weights (the same spec without production traces)
    fixed: list[Row] = field(default_factory=list)  # curated and production rows, never altered or dropped
    existing: list[tuple[str, Row]] = field(default_factory=list)  # (label, row) new rows must not duplicate
    traces: Any = None
    manifest: dict[str, Any] = field(default_factory=dict)
    trace_cases: dict[str, Any] = field(default_factory=dict)  # trace id -> TraceCase of a production row
    quotas: list[tuple[float, int]] = field(default_factory=list)  # (quota, rows it can give) per source
    notes: list[str] = field(default_factory=list)  # warnings about the sources' files (one line each)

    def fixed_at(self, size: int) -> int:
        """How many curated and production rows a dataset of `size` rows takes (each source its quota)."""
        return min(size, sum(min(round(size * quota), available) for quota, available in self.quotas))

    def size_for(self, synthetic: int) -> int | None:
        """The smallest `size` that leaves at least `synthetic` rows to generate, or None when the quotas
        take nearly everything."""
        for size in range(synthetic, 100 * synthetic + 100):
            if size - self.fixed_at(size) >= synthetic:
                return size
        return None

    def warnings(self) -> tuple[str, ...]:
        """What the sources left out that the user should hear of (malformed trace rows under the threshold)."""
        note = self.traces.skipped_note() if self.traces is not None else None
        return tuple(self.notes) + ((note,) if note else ())

    def snippets(self, cells: Sequence[Cell]) -> dict[Cell, list[str]]:
        """Representative, scrubbed production inputs per cell, for templates as `examples`."""
        if self.traces is None or not cells:
            return {}

        from compiler.sources.snippets import select_snippets

        unique = sorted(set(cells))
        by_label = select_snippets(self.traces, unique)
        return {cell: by_label.get(cell_label(cell), []) for cell in unique}


def curated_sources(spec: Spec) -> list[Any]:
    """Configured regression/golden sources, or the files `dsc promote` writes under datasets/<dataset>/."""

    sources = spec.sources
    configured = list(sources.curated) if sources is not None else []
    names = {c.name for c in configured}
    patterns = sources.production.patterns if sources is not None and sources.production else ()
    folder = Path(spec.datasets_dir) / spec.name
    for name in CURATED_NAMES:
        # what `dsc promote` appends (.jsonl), and rows a team writes by hand in a spreadsheet (.csv)
        found = [
            p for p in (folder / f"{name}.jsonl", folder / f"{name}.csv") if p.is_file() and p.stat().st_size
        ]
        if name not in names and found:
            # recorded relative to the project root, so manifests do not depend on where it sits
            written = [str(p.relative_to(spec.root) if p.is_relative_to(spec.root) else p) for p in found]
            source = CuratedSource.from_config(
                {"path": written[0], "quota": DEFAULT_CURATED_QUOTA},
                spec.dimensions,
                Path(spec.root),
                name=name,
            )
            configured.append(replace(source, path=", ".join(written), files=tuple(found), patterns=patterns))
    return configured


_ROW_FILES = (".jsonl", ".ndjson", ".csv", ".tsv", ".json", ".parquet", ".yaml", ".yml", ".xlsx")


def unread_curated_files(spec: Spec, sources: Sequence[Any]) -> list[str]:
    """A warning per file of rows under datasets/<dataset>/ that no curated source reads (`goldens.jsonl`,
    `tests.csv`): rows a user put there and would otherwise never hear were left out."""
    folder = Path(spec.datasets_dir) / spec.name
    if not folder.is_dir():
        return []
    read = {Path(f).resolve() for source in sources for f in source.files}
    names = " or ".join(f"{n}.jsonl/.csv" for n in CURATED_NAMES)
    return [
        f"{shown_path(path)}: not read; curated rows are {names} in {shown_path(folder)}/, or a file named "
        f"under sources.golden/sources.regression"
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix.lower() in _ROW_FILES and path.resolve() not in read
    ]


def _curated_row(spec: Spec, name: str, raw: Mapping[str, Any]) -> Row:
    variables = [v.name for v in spec.prompt.variables]
    columns = [c.name for c in spec.columns]
    inputs = (
        dict(raw["inputs"])
        if isinstance(raw.get("inputs"), Mapping)
        else {v: raw.get(v) or "" for v in variables}
    )
    expected = (
        dict(raw["expected"])
        if isinstance(raw.get("expected"), Mapping)
        else {c: raw.get(c) for c in columns}
    )
    cell = {str(k): str(v) for k, v in (raw.get("cell") or {}).items()}
    provenance = {"trace_id": None, "prompt_hash": None, "lm": None, **(raw.get("provenance") or {})}
    return Row.build(
        name,
        raw.get("strategy"),
        raw.get("variant"),
        cell,
        inputs,
        expected,
        provenance,
        review_status="approved",
    )


def gather_sources(spec: Spec, previous: Mapping[str, Any] | None = None) -> SourceBundle:
    """Load traces (evidence, weights) and curated rows; everything is scrubbed before it goes further."""

    bundle = SourceBundle(spec)
    variables = [v.name for v in spec.prompt.variables if v.required]
    optional = [v.name for v in spec.prompt.variables if not v.required]
    columns = [c.name for c in spec.columns]
    curated_manifest: dict[str, Any] = {}
    sources = curated_sources(spec)
    bundle.notes.extend(unread_curated_files(spec, sources))
    for source in sources:
        loaded = load_curated(source, source.name, variables, columns, optional=optional, typed=spec.columns)
        rows = [_curated_row(spec, source.name, raw) for raw in loaded.rows]
        bundle.existing.extend((source.name, row) for row in rows)
        take = round(spec.size * source.quota)
        bundle.fixed.extend(rows[:take])
        bundle.quotas.append((source.quota, len(rows)))
        curated_manifest[source.name] = {
            "path": source.path,
            "rows": len(rows),
            "used": min(take, len(rows)),
            "quota": source.quota,
            "pii": dict(sorted(loaded.pii.items())),
        }
    if curated_manifest:
        bundle.manifest["curated"] = curated_manifest
    production = spec.sources.production if spec.sources is not None else None
    if production is not None:
        _add_production(bundle, spec, production, previous)
    fixed_ids: set[str] = set()
    unique_fixed = []
    for row in bundle.fixed:
        if row.id not in fixed_ids:
            fixed_ids.add(row.id)
            unique_fixed.append(row)
    bundle.fixed = unique_fixed[: spec.size]
    if spec.sources is not None or curated_manifest:
        bundle.manifest["source_quotas"] = {
            **(spec.sources.quotas if spec.sources is not None else {}),
            **{k: v["quota"] for k, v in curated_manifest.items()},
        }
    return bundle


def _add_production(
    bundle: SourceBundle, spec: Spec, production: Any, previous: Mapping[str, Any] | None
) -> None:
    from datetime import datetime

    # polars' lazy scans: imported here, so a space without production traces never loads polars for them
    from compiler.sources.evidence import compute_evidence
    from compiler.sources.snippets import select_trace_cases
    from compiler.sources.traces import load_traces
    from compiler.sources.weights import adjust_weights, apply_weights

    traces = load_traces(production, spec.dimensions)
    latest = (previous or {}).get("evidence", {}).get("latest")  # what this stage recorded last time
    cutoff = datetime.fromisoformat(latest) if isinstance(latest, str) else None
    evidence = compute_evidence(traces, spec.dimensions, previous_cutoff=cutoff)
    weights = adjust_weights(spec.dimensions, evidence, production.weight_by)
    bundle.spec = replace(spec, dimensions=tuple(apply_weights(spec.dimensions, weights)))
    bundle.traces = traces
    required = input_variable(spec.prompt.variables) or ""
    mapped = {m.dimension for m in production.maps} | {name for name, _ in production.variable_fields}
    empty = [
        v.name for v in spec.prompt.variables if v.required and v.name != required and v.name not in mapped
    ]
    if empty and production.quota > 0:
        names = ", ".join(f"`{name}`" for name in empty)
        bundle.notes.append(
            f"sources.production: a trace fills only `{required}` (fields.input), so production rows leave "
            f"the required variable{'s' if len(empty) > 1 else ''} {names} empty; set `required: false` on "
            f"{'them' if len(empty) > 1 else 'it'} in prompt.variables, or name the trace field that holds "
            f"{'each' if len(empty) > 1 else 'it'} in sources.production.fields (e.g. fields: {{{empty[0]}: <field>}})"
        )
    wanted = round(spec.size * production.quota)
    cases = select_trace_cases(traces, wanted)
    bundle.quotas.append((production.quota, len(cases) if len(cases) < wanted else traces.usable))
    for case in cases:
        bundle.trace_cases[case.trace_id] = case
        # a variable `fields` names holds that field of the trace; one named like a mapped dimension
        # (`language`) the trace's value of it, as a synthetic case's does; the trace's text fills the first
        # required variable
        cell = dict(case.cell)
        inputs = {
            v.name: str(case.variables.get(v.name, cell.get(v.name, ""))) for v in spec.prompt.variables
        }
        inputs[required] = case.input
        bundle.fixed.append(
            Row.build(
                "production",
                None,
                None,
                dict(case.cell),
                inputs,
                {c.name: None for c in spec.columns},
                {"trace_id": case.trace_id, "prompt_hash": None, "lm": None},
            )
        )
    bundle.manifest["evidence"] = evidence.to_manifest()
    bundle.manifest["weights"] = {
        dim: {value: [base, adjusted] for value, (base, adjusted) in values.items()}
        for dim, values in weights.items()
    }


def scrub_generated(
    spec: Spec, rows: Sequence[tuple[dict[str, Any], dict[str, Any]]], counts: Counter[str]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The privacy gate on generated rows, before they are hashed and written: redact, count per detector.

    One vectorised prefilter over the batch's values picks the few rows any detector could flag; only those
    go through the exact validators (Luhn, IBAN checksum, entropy, ...), and only of the detectors that could
    match them (a support bot's rows say "password" and "phone" often: the card and IBAN checks need not run).
    """
    patterns = dict(
        spec.sources.production.patterns if spec.sources is not None and spec.sources.production else ()
    )
    fields = [{"inputs": inputs, "expected": expected} for inputs, expected in rows]
    scrubbed = []
    for (inputs, expected), row, only in zip(
        rows, fields, candidate_detectors(fields, patterns), strict=True
    ):
        if only is None:
            scrubbed.append((inputs, expected))
            continue
        result = scrub_row(row, "redact", patterns, only)
        counts.update(result.counts)
        scrubbed.append((dict(result.fields["inputs"]), dict(result.fields["expected"])))
    return scrubbed
