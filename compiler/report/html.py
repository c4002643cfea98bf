"""report.html: one self-contained page per version (inline CSS and SVG, one inline script allowed by its
hash, no network).

Everything is aggregated (counts, heatmaps, capped example lists) except the rows section, which holds the
first rows (capped, see report/rows.py) with client-side filters that the heatmap pairs link to; iteration
is sorted, so the same version always renders to the same bytes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from compiler.core.rows import Row
from compiler.report.charts import CSS, PALETTE, bar_chart, esc, heatmap, legend, stacked_bars, table
from compiler.report.examples import checks_section, clusters_section, reason_label
from compiler.report.rows import ROWS_CSS, ROWS_SCRIPT, rows_section, script_hash
from compiler.spec.constraints import Constraint, ConstraintSyntaxError, parse_constraint
from compiler.versions.manifest import Manifest

STAGES = (
    "planned",
    "top_up",
    "generated",
    "failed",
    "exact_dropped",
    "near_dropped",
    "semantic_dropped",
    "survivors",
    "selected",
)
REVIEW_COLOURS = {
    "approved": "#59a14f",
    "rejected": "#e15759",
    "pending": "#bab0ac",
    "needs_changes": "#edc948",
}

Dimensions = list[tuple[str, list[str]]]


def render_report(
    manifest: Manifest,
    rows: list[Row],
    drops: list[dict[str, Any]],
    spec_dimensions: list[tuple[str, list[str]]] | None = None,
) -> bytes:
    """The version's report.html as UTF-8 bytes; same inputs, same bytes."""
    rows = sorted(rows, key=lambda r: r.id)
    dims = report_dimensions(manifest, rows, spec_dimensions)
    strategies = _strategy_order(manifest, rows)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(strategies)}
    sections = [
        ("coverage", "Coverage", _coverage_section(manifest, rows, dims)),
        ("mix", "Strategy mix", _mix_section(manifest, rows, dims, strategies, colours)),
        ("sources", "Sources", _counts_section(Counter(r.source for r in rows), "rows per source")),
        ("drops", "Drop reasons", _drops_section(manifest, drops)),
        ("dedupe", "Dedupe clusters", clusters_section(rows, drops)),
        ("checks", "Check failures", checks_section(rows, manifest.check_failures)),
        (
            "review",
            "Review status",
            _counts_section(Counter(r.review_status for r in rows), "rows per status", REVIEW_COLOURS),
        ),
        ("usage", "Tokens and cost", _usage_section(manifest)),
        ("rows", "Rows", rows_section(rows, [name for name, _ in dims])),
    ]
    title = f"{manifest.dataset} {manifest.version}"
    nav = "".join(f'<a href="#{key}">{esc(name)}</a>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{esc(name)}</h2>{html}</section>' for key, name, html in sections
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        f'script-src {script_hash()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · dsc report</title><style>{CSS}{ROWS_CSS}</style></head><body>"
        f"{_header(manifest, rows)}<nav>{nav}</nav><main>{body}</main>"
        f"<footer>dsc {esc(manifest.dsc_version)} · schema {esc(manifest.schema_version)}"
        f"</footer><script>{ROWS_SCRIPT}</script></body></html>\n"
    )
    return page.encode("utf-8")


def report_dimensions(
    manifest: Manifest,
    rows: Sequence[Row],
    spec_dimensions: Sequence[tuple[str, Sequence[str]]] | None = None,
) -> Dimensions:
    """Dimensions in spec order: given, else from the manifest's config, plus any value only rows carry."""
    if spec_dimensions is not None:
        dims = [(name, [str(v) for v in values]) for name, values in spec_dimensions]
    else:
        config = manifest.config.get("dimensions") or {}
        dims = [(str(name), _dimension_values(raw)) for name, raw in config.items()]
    known = {name for name, _ in dims}
    for row in rows:
        for name in row.cell:
            if name not in known:
                known.add(name)
                dims.append((name, []))
    seen: dict[str, set[str]] = {name: set(values) for name, values in dims}
    extra: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for name, value in row.cell.items():
            if value not in seen[name]:
                extra[name].add(value)
    return [(name, values + sorted(extra[name])) for name, values in dims]


def _dimension_values(raw: Any) -> list[str]:
    if isinstance(raw, Mapping):
        return _dimension_values(raw["values"]) if "values" in raw else [str(k) for k in raw]
    return [str(v) for v in raw or ()]


def _strategy_order(manifest: Manifest, rows: Sequence[Row]) -> list[str]:
    order = list(manifest.strategies)
    return order + sorted({r.strategy or "-" for r in rows} - set(order))


def _header(manifest: Manifest, rows: Sequence[Row]) -> str:
    facts = [
        ("dataset", manifest.dataset),
        ("version", manifest.version),
        ("parent", manifest.parent or "none"),
        ("lm", manifest.lm.identity or manifest.lm.model),
        ("seed", manifest.seed),
        ("rows", f"{len(rows):,}"),
        ("config hash", manifest.config_hash),
        ("program hash", manifest.program_hash),
    ]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    counts = manifest.counts
    stages = [s for s in STAGES if s in counts] + sorted(set(counts) - set(STAGES))
    colours = {
        s: (
            "#e15759"
            if s == "failed" or s.endswith("_dropped")
            else "#59a14f"
            if s == "selected"
            else PALETTE[0]
        )
        for s in stages
    }
    chart = bar_chart([(s, int(counts[s])) for s in stages], "rows per pipeline stage", colours=colours)
    description = manifest.config.get("description") or ""
    return (
        f"<header><h1>{esc(manifest.dataset)} <span>{esc(manifest.version)}</span></h1>"
        f"<p class=lead>{esc(description)}</p><dl>{dl}</dl>"
        f"<h3>Counts per stage</h3>{chart}</header>"
    )


def _constraints(manifest: Manifest) -> list[Constraint]:
    parsed = []
    for text in manifest.config.get("constraints") or []:
        try:
            parsed.append(parse_constraint(str(text)))
        except ConstraintSyntaxError:  # the version compiled, so this is an old manifest; show no exclusions
            continue
    return parsed


def _excluded_pairs(
    constraints: Sequence[Constraint], a: tuple[str, list[str]], b: tuple[str, list[str]]
) -> frozenset[tuple[str, str]]:
    """Value pairs that some constraint rules out on its own (a partial cell already evaluates to False)."""
    return frozenset(
        (x, y)
        for x in a[1]
        for y in b[1]
        if any(c.evaluate({a[0]: x, b[0]: y}) is False for c in constraints)
    )


def _coverage_section(manifest: Manifest, rows: Sequence[Row], dims: Dimensions) -> str:
    if len(dims) < 2:
        return '<p class="empty">Fewer than two dimensions: no pairs to show.</p>'
    constraints = _constraints(manifest)
    figures, allowed_total, covered_total = [], 0, 0
    for a, b in combinations(dims, 2):
        counts = Counter((r.cell[a[0]], r.cell[b[0]]) for r in rows if a[0] in r.cell and b[0] in r.cell)
        excluded = _excluded_pairs(constraints, a, b)
        allowed = [(x, y) for x in a[1] for y in b[1] if (x, y) not in excluded]
        allowed_total += len(allowed)
        covered_total += sum(1 for p in allowed if counts.get(p))
        grid = heatmap(a[0], a[1], b[0], b[1], counts, excluded)
        figures.append(
            f"<figure>{grid}<figcaption>rows: <b>{esc(a[0])}</b> \u00b7 columns: <b>{esc(b[0])}</b>"
            "</figcaption></figure>"
        )
    coverage = manifest.coverage
    summary = (
        f"<p>Value pairs present in the rows: <b>{covered_total}</b> of <b>{allowed_total}</b> that the "
        f"constraints allow. Planned coverage: strength {esc(coverage.strength)}, "
        f"{esc(coverage.planned_covered_tuples)} of {esc(coverage.required_tuples)} "
        "required tuples.</p>"
        '<p class="key"><i class="k-heat"></i>rows in the pair (darker = more) '
        '<i class="k-empty"></i>allowed but no row <i class="k-excluded"></i>ruled out by a constraint</p>'
    )
    short = manifest.shortfall.cells
    shortfall = ""
    if short:
        body = [[esc(s.strategy), esc(s.cell), esc(s.got), esc(s.wanted)] for s in short]
        shortfall = "<h3>Cells that fell short</h3>" + table(
            ["strategy", "cell", "got", "wanted"], body, (2, 3)
        )
    return summary + f'<div class="grid">{"".join(figures)}</div>' + shortfall


def _mix_section(
    manifest: Manifest,
    rows: Sequence[Row],
    dims: Dimensions,
    strategies: list[str],
    colours: Mapping[str, str],
) -> str:
    per_strategy = Counter(r.strategy or "-" for r in rows)
    targets = manifest.strategies
    targets_table = table(
        ["strategy", "target", "selected"],
        [
            [
                f'<i class="dot" style="background:{colours[s]}"></i>{esc(s)}',
                esc(targets[s].target if s in targets else "-"),
                esc(per_strategy.get(s, 0)),
            ]
            for s in strategies
        ],
        (1, 2),
    )
    figures = []
    for name, values in dims:
        mix: dict[str, Counter[str]] = defaultdict(Counter)
        for row in rows:
            mix[row.cell.get(name, "-")][row.strategy or "-"] += 1
        bars = [(value, [(s, mix[value][s]) for s in strategies]) for value in values]
        figures.append(
            f"<figure>{stacked_bars(bars, colours, f'strategies per {name} value')}"
            f"<figcaption>{esc(name)}</figcaption></figure>"
        )
    return targets_table + legend(colours) + f'<div class="grid">{"".join(figures)}</div>'


def _counts_section(counts: Counter[str], label: str, colours: Mapping[str, str] | None = None) -> str:
    return bar_chart(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), label, colours=colours)


def _drops_section(manifest: Manifest, drops: Sequence[Mapping[str, Any]]) -> str:
    """Every reason a generated row did not make it: LM failures, review, duplicates, checks, surplus."""
    reasons = Counter(str(d.get("reason")) for d in drops) if drops else Counter(manifest.drops)
    items = [(f"generation failed: {r}", int(n)) for r, n in sorted(manifest.failures.items())]
    items += [(reason_label(r), int(n)) for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    counts = manifest.counts
    surplus = int(counts.get("survivors", 0)) - int(counts.get("selected", 0))
    if surplus > 0:
        items.append(("not selected (over-generation surplus)", surplus))
    return bar_chart(items, "rows dropped per reason", colour="#e15759")


def _usage_section(manifest: Manifest) -> str:
    usage = manifest.usage
    rows = max(manifest.rows, 1)
    cost = usage.cost_usd
    tokens = usage.input_tokens + usage.output_tokens
    body = [
        ["LM requests", f"{usage.requests:,}"],
        ["input tokens", f"{usage.input_tokens:,}"],
        ["output tokens", f"{usage.output_tokens:,}"],
        ["tokens per selected row", f"{tokens / rows:,.0f}"],
        ["cost (USD)", f"{cost:,.4f}"],
        ["cost per selected row (USD)", f"{cost / rows:,.6f}"],
    ]
    return table(["", ""], [[esc(k), esc(v)] for k, v in body], (1,))
