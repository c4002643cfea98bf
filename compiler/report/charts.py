"""Inline SVG charts for report.html, drawn in Python: no script, no network, the same bytes every time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import urlencode

# Tableau 10: distinguishable, colour-blind friendly, printable.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_HEAT_STOPS = ((0.0, (222, 235, 247)), (0.5, (107, 174, 214)), (1.0, (8, 48, 107)))  # ColorBrewer Blues
EMPTY_FILL = "#fde0dd"  # an allowed pair that no row covers: the gap a reader is looking for
EXCLUDED_FILL = "#eeeeee"  # a pair the constraints rule out
FONT = 12
_NARROW, _WIDE = frozenset("fijlrt.,:;'|!()[] -"), frozenset("mwMW@%")


def esc(value: object) -> str:
    """Text or attribute value, HTML-escaped (quotes included)."""
    return escape(str(value), quote=True)


def text_width(text: str) -> float:
    """A generous estimate of the rendered width of 12px sans-serif text (no font metrics without a browser)."""
    return sum(4.0 if c in _NARROW else 11.0 if c in _WIDE else 8.5 if c.isupper() else 7.2 for c in text)


def heat_colour(fraction: float) -> str:
    """A blue from light (few rows) to dark (many rows) for a fraction in [0, 1]."""
    fraction = min(max(fraction, 0.0), 1.0)
    for (lo, lo_rgb), (hi, hi_rgb) in zip(_HEAT_STOPS, _HEAT_STOPS[1:], strict=False):
        if fraction <= hi:
            t = (fraction - lo) / (hi - lo)
            rgb = tuple(round(a + (b - a) * t) for a, b in zip(lo_rgb, hi_rgb, strict=True))
            return "#{:02x}{:02x}{:02x}".format(*rgb)
    return "#{:02x}{:02x}{:02x}".format(*_HEAT_STOPS[-1][1])


def _num(value: float) -> str:
    """Coordinates with at most one decimal, so the bytes do not depend on float noise."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg(width: float, height: float, body: Sequence[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(label)}" '
        f'width="{_num(width)}" height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" '
        f'font-size="{FONT}">' + "".join(body) + "</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str, extra: str = "") -> str:
    return (
        f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="{fill}"{extra}>'
        f"<title>{esc(title)}</title></rect>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = "#222", extra: str = "") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>{esc(text)}</text>'


def bar_chart(
    items: Sequence[tuple[str, int]],
    label: str,
    colour: str = PALETTE[0],
    colours: Mapping[str, str] | None = None,
    bar_width: float = 360,
) -> str:
    """Horizontal bars, one per (label, value), with the value written after the bar."""
    if not items:
        return '<p class="empty">Nothing to show.</p>'
    label_w = max(text_width(name) for name, _ in items) + 12
    top = max(value for _, value in items) or 1
    row_h = 22
    body = []
    for i, (name, value) in enumerate(items):
        y = i * row_h
        w = bar_width * value / top
        fill = (colours or {}).get(name, colour)
        body.append(_text(label_w - 8, y + 15, name, "end"))
        body.append(_rect(label_w, y + 3, max(w, 1 if value else 0), row_h - 6, fill, f"{name}: {value}"))
        body.append(_text(label_w + w + 6, y + 15, f"{value:,}", fill="#444"))
    return _svg(label_w + bar_width + 70, len(items) * row_h + 4, body, label)


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    colours: Mapping[str, str],
    label: str,
    bar_width: float = 360,
) -> str:
    """One horizontal bar per row, split into coloured segments (e.g. a dimension value split by strategy)."""
    if not rows:
        return '<p class="empty">Nothing to show.</p>'
    label_w = max(text_width(name) for name, _ in rows) + 12
    top = max(sum(v for _, v in segments) for _, segments in rows) or 1
    row_h = 22
    body = []
    for i, (name, segments) in enumerate(rows):
        y = i * row_h
        x = label_w
        total = sum(v for _, v in segments)
        body.append(_text(label_w - 8, y + 15, name, "end"))
        for segment, value in segments:
            if not value:
                continue
            w = bar_width * value / top
            body.append(
                _rect(
                    x,
                    y + 3,
                    w,
                    row_h - 6,
                    colours.get(segment, "#999"),
                    f"{name} / {segment}: {value} of {total}",
                )
            )
            x += w
        body.append(_text(x + 6, y + 15, f"{total:,}", fill="#444"))
    return _svg(label_w + bar_width + 60, len(rows) * row_h + 4, body, label)


def heatmap(
    row_name: str,
    row_values: Sequence[str],
    col_name: str,
    col_values: Sequence[str],
    counts: Mapping[tuple[str, str], int],
    excluded: frozenset[tuple[str, str]],
) -> str:
    """Rows x columns grid; colour = rows in the pair, pale red = allowed but empty, grey = ruled out."""
    cell_w, cell_h = 40, 24
    label_w = max(text_width(v) for v in row_values) + 14
    head_h = max([text_width(v) for v in col_values] + [40]) * 0.72 + 22  # labels at -45 degrees
    top = max(counts.values(), default=0) or 1
    body = []
    for j, col in enumerate(col_values):
        x = label_w + j * cell_w + cell_w / 2
        body.append(
            _text(x, head_h - 6, col, "start", extra=f' transform="rotate(-45 {_num(x)} {_num(head_h - 6)})"')
        )
    for i, row in enumerate(row_values):
        y = head_h + i * cell_h
        body.append(_text(label_w - 8, y + cell_h / 2 + 4, row, "end"))
        for j, col in enumerate(col_values):
            x = label_w + j * cell_w
            count = counts.get((row, col), 0)
            pair = f"{row_name}={row}, {col_name}={col}"
            if (row, col) in excluded:
                body.append(
                    _rect(x, y, cell_w - 2, cell_h - 2, EXCLUDED_FILL, f"{pair}: ruled out by a constraint")
                )
                text, ink = ("-", "#999") if not count else (str(count), "#222")
            elif count == 0:
                body.append(
                    _rect(
                        x,
                        y,
                        cell_w - 2,
                        cell_h - 2,
                        EMPTY_FILL,
                        f"{pair}: no rows",
                        ' stroke="#d9534f" stroke-width="1"',
                    )
                )
                text, ink = "0", "#b52b27"
            else:
                fraction = count / top
                rect = _rect(x, y, cell_w - 2, cell_h - 2, heat_colour(fraction), f"{pair}: {count} rows")
                link = "#rows?" + urlencode({row_name: row, col_name: col})
                body.append(f'<a href="{esc(link)}" class="pair">{rect}</a>')  # opens the rows of the pair
                text, ink = str(count), "#fff" if fraction > 0.45 else "#123"
            body.append(
                _text(x + (cell_w - 2) / 2, y + cell_h / 2 + 3, text, "middle", ink, ' pointer-events="none"')
            )
    width = label_w + cell_w * (len(col_values) - 0.5) + max(text_width(v) for v in col_values) * 0.72 + 8
    height = head_h + cell_h * len(row_values) + 4
    return _svg(width, height, body, f"rows per {row_name} x {col_name}")


def legend(colours: Mapping[str, str]) -> str:
    """HTML swatches for the categorical colours of a chart."""
    items = "".join(
        f'<span class="swatch"><i style="background:{c}"></i>{esc(name)}</span>'
        for name, c in colours.items()
    )
    return f'<div class="legend">{items}</div>'


def table(head: Sequence[str], body: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table from already-escaped cell HTML; columns listed in `numeric` are right-aligned."""
    th = "".join(f"<th{' class=num' if i in numeric else ''}>{h}</th>" for i, h in enumerate(head))
    trs = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in body
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


CSS = """
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg)}
header,nav,main,footer{max-width:1240px;margin:0 auto;padding:0 24px}
header{background:#fff;border-bottom:1px solid var(--line);padding:20px 24px 12px}
h1{margin:0 0 4px;font-size:24px}h1 span{font:500 18px ui-monospace,SFMono-Regular,Menlo,monospace;
color:var(--muted)}
h2{margin:0 0 12px;font-size:18px}h3{margin:16px 0 8px;font-size:14px;color:var(--muted)}
.lead{margin:0 0 12px;color:var(--muted);max-width:900px}
dl{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0 0 8px}dl div{min-width:110px}
dt{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
dd{margin:0;font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
nav{display:flex;flex-wrap:wrap;gap:6px 16px;padding:10px 24px}nav a{color:#0969da;text-decoration:none}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:0 0 16px;
overflow-x:auto}
.grid{display:flex;flex-wrap:wrap;gap:12px 28px;align-items:flex-start}
figure{margin:0}figcaption{font-size:12px;color:var(--muted);text-align:center;margin-top:2px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
table{border-collapse:collapse;margin:4px 0 8px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600;white-space:nowrap}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--bg);padding:0 3px;border-radius:3px}
ul.cluster,ul.examples{list-style:none;margin:0 0 10px;padding:0}
ul.cluster{border-left:3px solid #76b7b2;padding-left:10px}
ul.cluster li,ul.examples li{margin:2px 0}ul.cluster li.kept{color:#1a5e3a}
li.more{color:var(--muted);font-style:italic}.sim{font-variant-numeric:tabular-nums;color:#8a4b08}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 12px}
.swatch i,.dot,.key i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.key i{margin-left:12px}.key i:first-child{margin-left:0}
.k-heat{background:linear-gradient(90deg,#deebf7,#08306b)}.k-empty{background:#fde0dd;outline:1px solid #d9534f}
.k-excluded{background:#eeeeee}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;padding:8px 24px 24px}
"""
