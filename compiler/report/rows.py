"""report.html's rows section: the cases themselves, searchable and filterable in the page.

The table is rendered (and escaped) here, so it reads without script; a small inline script, allowed by
its hash in the page's CSP and never by 'unsafe-inline', filters it by text, status, strategy, source,
failed check and cell value, and opens the rows of a heatmap pair (`#rows?intent=refund&channel=chat`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from compiler.core.cells import cell_items, cell_label
from compiler.core.rows import Row
from compiler.report.charts import esc

MAX_ROWS = 500  # rows drawn in the page; `dsc review serve` reads any number
MAX_TEXT = 600  # characters of each field shown

ROWS_CSS = """
#rows .filters{display:flex;flex-wrap:wrap;gap:6px 10px;margin:0 0 8px}
#rows .filters input{width:260px}
#rows td{max-width:420px}#rows td.text{white-space:pre-wrap;word-break:break-word;font-size:13px}
#rows tr.hidden{display:none}#rows .count{color:var(--muted)}
a.pair rect:hover{stroke:#222;stroke-width:2}
"""

ROWS_SCRIPT = """(() => {
const section = document.getElementById("rows");
if (!section) return;
const rows = [...section.querySelectorAll("tbody tr")];
const controls = [...section.querySelectorAll("[data-filter]")];
const count = section.querySelector(".count");
function apply() {
  const wanted = controls.filter((c) => c.value).map((c) => [c.dataset.filter, c.value.toLowerCase()]);
  let shown = 0;
  for (const tr of rows) {
    const ok = wanted.every(([key, value]) => key === "text"
      ? tr.textContent.toLowerCase().includes(value)
      : (tr.getAttribute("data-" + key) || "").toLowerCase().split("|").includes(value));
    tr.classList.toggle("hidden", !ok);
    shown += ok ? 1 : 0;
  }
  count.textContent = shown + " of " + rows.length + " rows shown";
}
function fromHash() {
  const hash = decodeURIComponent(location.hash);
  if (!hash.startsWith("#rows?")) return;
  const params = new URLSearchParams(location.hash.slice(6));
  for (const c of controls) {
    if (c.dataset.filter.startsWith("cell")) c.value = "";
  }
  for (const [dim, value] of params) {
    const c = controls.find((x) => x.dataset.dim === dim);
    if (c) c.value = dim + "=" + value;
  }
  apply();
  section.scrollIntoView();
}
for (const c of controls) c.addEventListener("input", apply);
window.addEventListener("hashchange", fromHash);
fromHash();
apply();
})();"""


def script_hash() -> str:
    """The CSP source that allows exactly ROWS_SCRIPT."""
    digest = hashlib.sha256(ROWS_SCRIPT.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _clip(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\u2026"


def _select(name: str, label: str, values: Sequence[str], dim: str = "") -> str:
    options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
    extra = f' data-dim="{esc(dim)}"' if dim else ""
    return (
        f'<select data-filter="{esc(name)}"{extra} aria-label="{esc(label)}">'
        f'<option value="">{esc(label)}</option>{options}</select>'
    )


def rows_section(rows: Sequence[Row], order: Sequence[str]) -> str:
    """The rows table with its filters; at most MAX_ROWS rows, sorted by id like cases.jsonl."""
    shown = list(rows)[:MAX_ROWS]
    failed = sorted({str(c.get("name")) for r in shown for c in r.checks if c.get("passed") is False})
    filters = [
        '<input type="search" data-filter="text" placeholder="search the rows" aria-label="search">',
        _select("status", "any status", sorted({r.review_status for r in shown})),
        _select("strategy", "any strategy", sorted({r.strategy or "-" for r in shown})),
        _select("source", "any source", sorted({r.source for r in shown})),
        _select("checks", "any failed check", failed),
    ]
    dims = list(order) + sorted({d for r in shown for d in r.cell} - set(order))
    position = {dim: i for i, dim in enumerate(dims)}
    for dim in dims:
        values = sorted({f"{dim}={r.cell[dim]}" for r in shown if dim in r.cell})
        filters.append(_select(f"cell{position[dim]}", f"any {dim}", values, dim))
    body = []
    for row in shown:
        cell = cell_items(row.cell, order)
        checks = [str(c.get("name")) for c in row.checks if c.get("passed") is False]
        attrs = {
            "status": row.review_status,
            "strategy": row.strategy or "-",
            "source": row.source,
            "checks": "|".join(checks),
            **{f"cell{position[d]}": f"{d}={v}" for d, v in cell},
        }
        data = "".join(f' data-{k}="{esc(v)}"' for k, v in attrs.items())
        inputs = "\n".join(f"{k}: {_clip(v)}" for k, v in row.inputs.items())
        expected = "\n".join(f"{k}: {_clip(v)}" for k, v in row.expected.items())
        body.append(
            f'<tr id="row-{esc(row.id)}"{data}><td><code>{esc(row.id[:12])}</code></td>'
            f"<td>{esc(row.review_status)}</td><td>{esc(row.strategy or row.source)}"
            f"{'<br>' + esc(row.variant) if row.variant else ''}</td><td>{esc(cell_label(cell))}</td>"
            f'<td class="text">{esc(inputs)}</td><td class="text">{esc(expected)}</td>'
            f"<td>{esc(', '.join(checks) or '-')}</td></tr>"
        )
    note = (
        f"<p>Showing the first {len(shown):,} of {len(rows):,} rows (by id); "
        "<code>dsc review serve</code> reads every row.</p>"
        if len(rows) > len(shown)
        else ""
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("id", "status", "strategy", "cell", "inputs", "expected", "failed")
    )
    return (
        f'<div class="filters">{"".join(filters)}<span class="count">{len(shown)} rows</span></div>{note}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
