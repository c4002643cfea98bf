"""report.html: one self-contained, deterministic page that real Chromium renders without errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from compiler.core.rows import Row
from compiler.pipeline.compile import compile_dataset
from compiler.report.examples import MAX_CHECK_EXAMPLES, MAX_CLUSTERS
from compiler.report.html import render_report
from compiler.report.rows import MAX_ROWS, script_hash
from compiler.spec.compose import Project
from compiler.versions.manifest import Manifest
from compiler.versions.store import read_manifest, read_rows, resolve_version
from tests.browser import distinct_colours, dump_dom, read_png, screenshot

SECTIONS = ("coverage", "mix", "sources", "drops", "dedupe", "checks", "review", "usage", "rows")
DIMENSIONS = {
    "intent": {"description": "What the user wants.", "values": {"refund": 3, "cancel": 1, "<b>odd</b>": 1}},
    "difficulty": ["easy", "hard"],
    "channel": {"values": ["chat", "email"]},
}


def make_manifest(**extra: Any) -> Manifest:
    manifest: dict[str, Any] = {
        "dataset": "shop",
        "version": "abc123def456",
        "parent": None,
        "dsc_version": "0.1.0",
        "schema_version": 1,
        "rows": 0,
        "seed": 7,
        "lm": {"identity": "offline/procedural-v2"},
        "config_hash": "c0ffee",
        "counts": {
            "planned": 10,
            "generated": 12,
            "failed": 1,
            "exact_dropped": 1,
            "near_dropped": 2,
            "survivors": 9,
            "selected": 8,
        },
        "strategies": {"direct": {"target": 4, "selected": 4}, "adversarial": {"target": 4, "selected": 4}},
        "failures": {"unparseable answer": 1},
        "usage": {"requests": 12, "input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.0123},
        "config": {
            "description": "A shop's assistant.",
            "dimensions": DIMENSIONS,
            "constraints": ["intent == 'cancel' -> channel != 'email'"],
        },
    }
    return Manifest.from_json(manifest | extra)


def make_row(i: int, text: str = "", checks: tuple[dict[str, Any], ...] = (), **cell: str) -> Row:
    full = {"intent": "refund", "difficulty": "easy", "channel": "chat"} | cell
    return Row.build(
        "synthetic",
        ["direct", "adversarial"][i % 2],
        None,
        full,
        {"message": text or f"message number {i}"},
        {"verdict": "answer"},
        {},
        checks=checks,
    )


def test_report_renders_in_chromium_without_errors(project: Project, tmp_path: Path) -> None:
    result = compile_dataset(["size=40"], project=project)
    version = resolve_version(str(result.version.path), result.spec.out_dir)
    drops = [json.loads(line) for line in (version.path / "drops.jsonl").read_text().splitlines() if line]
    dims = [(d.name, [v.name for v in d.values]) for d in result.spec.dimensions]
    page = tmp_path / "report.html"
    page.write_bytes(render_report(read_manifest(version), read_rows(version), drops, dims))

    dom = dump_dom(page)
    assert not dom.console_errors(), dom.console_errors()
    assert all(f'<section id="{key}">' in dom.output for key in SECTIONS)
    pairs = len(dims) * (len(dims) - 1) // 2
    assert dom.output.count("<figcaption>") == pairs + len(
        dims
    )  # a heatmap per pair, a mix chart per dimension
    assert dom.output.count("<rect") > 100

    shot = tmp_path / "report.png"
    run = screenshot(page, shot)
    assert not run.console_errors(), run.console_errors()
    pixels = read_png(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert distinct_colours(pixels) > 100  # text, heat scale, strategy colours: not a blank or error page
    background = (pixels[..., :3] >= 240).all(axis=-1)
    assert 0.05 < 1 - background.mean() < 0.9
    heat_blue = (pixels[..., 2] > 120) & (pixels[..., 0] < 60)
    assert heat_blue.sum() > 500  # the darker heatmap cells were painted


def test_same_inputs_render_the_same_bytes() -> None:
    rows = [make_row(i, intent=["refund", "cancel"][i % 2]) for i in range(20)]
    drops = [
        {"id": f"d{i}", "kept_id": rows[i % 3].id, "similarity": 0.9, "reason": "near", "text": "x"}
        for i in range(6)
    ]
    first = render_report(make_manifest(), rows, drops)
    assert first == render_report(make_manifest(), list(reversed(rows)), drops)
    assert first.startswith(b"<!DOCTYPE html>") and first.endswith(b"</html>\n")


def test_page_needs_no_network() -> None:
    html = render_report(make_manifest(), [make_row(i) for i in range(5)], []).decode()
    assert html.count("<script") == 1 and "<script>" in html  # the rows filter, inline: no src
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert f"script-src {script_hash()}" in html and "script-src 'unsafe-inline'" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in html  # a stray external reference would be blocked, and show as an error


def test_user_text_is_escaped_everywhere() -> None:
    evil = "<script>alert('x')</script> & \"quotes\""
    rows = [
        make_row(0, evil, ({"name": "<i>check</i>", "passed": False, "detail": evil},), intent="<b>odd</b>")
    ]
    drops = [{"id": "d1", "kept_id": rows[0].id, "similarity": 0.91, "reason": "near", "text": evil}]
    html = render_report(make_manifest(), rows, drops).decode()
    assert "<script>alert" not in html and html.count("<script>") == 1  # only the page's own filter script
    assert "<b>odd</b>" not in html and "<i>check</i>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in html
    assert "&lt;b&gt;odd&lt;/b&gt;" in html


def test_coverage_shows_empty_pairs_and_pairs_ruled_out_by_constraints() -> None:
    html = render_report(make_manifest(), [make_row(i) for i in range(4)], []).decode()
    assert "intent=cancel, channel=email: ruled out by a constraint" in html
    assert "intent=cancel, channel=chat: no rows" in html
    assert "intent=refund, channel=chat: 4 rows" in html
    assert "Value pairs present in the rows: <b>3</b> of <b>15</b>" in html  # 16 pairs, 1 ruled out


def test_check_failures_are_grouped_by_check_with_capped_examples() -> None:
    rows = [
        make_row(
            i,
            checks=(
                {"name": "schema", "passed": True},
                {"name": "leaks_answer", "passed": i % 2 == 0, "detail": f"leak {i}"},
            ),
        )
        for i in range(20)
    ]
    drops = [
        {"id": f"h{i}", "kept_id": f"h{i}", "similarity": 0.0, "reason": "check:too_short"} for i in range(3)
    ]
    manifest = make_manifest(check_failures={"too_short": 3})
    html = render_report(manifest, rows, drops).decode()
    section = html.split('<section id="checks">')[1].split("</section>")[0]
    assert "leaks_answer" in section and "too_short" in section and "schema" not in section
    assert "<td class=num>10</td><td class=num>20</td><td class=num>0</td>" in section  # failed, ran, dropped
    assert "<td class=num>0</td><td class=num>0</td><td class=num>3</td>" in section  # a hard check dropped 3
    assert section.count("<li>") == MAX_CHECK_EXAMPLES
    assert "failed check too_short" in html.split('<section id="drops">')[1].split("</section>")[0]
    assert "No duplicates were dropped" in html.split('<section id="dedupe">')[1].split("</section>")[0]


def test_dedupe_clusters_show_kept_and_dropped_text_largest_first() -> None:
    rows = [make_row(i, f"kept text {i}") for i in range(30)]
    drops = [
        {
            "id": f"drop{i:03d}",
            "kept_id": rows[i % 20].id,
            "similarity": 0.86 + (i % 5) / 100,
            "reason": "near",
            "text": f"dropped text {i}",
        }
        for i in range(60)
    ]
    drops.append({"id": "gone", "kept_id": "not-selected", "similarity": 1.0, "reason": "exact"})
    html = render_report(make_manifest(), rows, drops).decode()
    section = html.split('<section id="dedupe">')[1].split("</section>")[0]
    assert section.count('<ul class="cluster">') == MAX_CLUSTERS
    assert "61 rows dropped in 21 clusters" in section
    assert section.count("<b>kept</b>") == MAX_CLUSTERS and section.count("dropped text") == 3 * MAX_CLUSTERS
    assert re.search(r'<span class="sim">Jaccard 0\.\d{3}</span>', section) and "and 0 more" not in section
    assert "(60 near duplicate, 1 exact duplicate)" in section


def test_each_measure_shows_its_own_score_and_a_chained_drop_says_its_match_was_dropped() -> None:
    rows = [make_row(i, f"kept text {i}") for i in range(3)]
    drops = [
        {"id": "n1", "kept_id": rows[0].id, "similarity": 0.91, "reason": "near", "text": "near one"},
        {"id": "s1", "kept_id": rows[0].id, "similarity": 0.953, "reason": "semantic", "text": "paraphrase"},
        {"id": "s2", "kept_id": "s1", "similarity": 0.92, "reason": "semantic", "text": "paraphrase of it"},
    ]
    html = render_report(make_manifest(), rows, drops).decode()
    section = html.split('<section id="dedupe">')[1].split("</section>")[0]
    assert "3 rows dropped in 2 clusters (2 semantic duplicate, 1 near duplicate)" in section
    assert (
        '<span class="sim">cosine 0.953</span>' in section
        and '<span class="sim">Jaccard 0.910</span>' in section
    )
    assert "(dropped too: it matched an earlier row)" in section


def test_ten_thousand_rows_stay_a_small_readable_page() -> None:
    intents, levels = ["refund", "cancel", "<b>odd</b>"], ["easy", "hard"]
    rows = [
        make_row(
            i,
            f"text {i}",
            ({"name": "leaks_answer", "passed": i % 3 != 0, "detail": "d"},),
            intent=intents[i % 3],
            difficulty=levels[i % 2],
        )
        for i in range(10_000)
    ]
    drops = [
        {"id": f"d{i}", "kept_id": rows[i % 500].id, "similarity": 0.9, "reason": "near", "text": f"t{i}"}
        for i in range(3_000)
    ]
    html = render_report(make_manifest(rows=10_000), rows, drops)
    assert len(html) < 800_000  # aggregates, plus the first MAX_ROWS rows of the rows section
    assert f"Showing the first {MAX_ROWS} of 10,000 rows".encode() in html
    assert b"10,000" in html and b"3,000 rows dropped in 500 clusters" in html


def test_rows_section_filters_in_chromium_from_a_heatmap_link(tmp_path: Path) -> None:
    rows = [
        make_row(
            i, f"message {i}", intent=["refund", "cancel"][i % 2], difficulty=["easy", "hard"][i % 3 > 0]
        )
        for i in range(30)
    ]
    html = render_report(make_manifest(), rows, [])
    assert b'href="#rows?intent=refund&amp;difficulty=easy"' in html  # a heatmap pair links to its rows
    page = tmp_path / "report.html"
    page.write_bytes(html)
    dom = dump_dom(page, "#rows?intent=refund&difficulty=easy")
    assert not dom.console_errors(), dom.console_errors()
    section = dom.output.split('<section id="rows">')[1].split("</section>")[0]
    shown = re.findall(r'<tr id="row-([0-9a-f]+)"(?![^>]*class="hidden")', section)
    want = {r.id for r in rows if r.cell["intent"] == "refund" and r.cell["difficulty"] == "easy"}
    assert set(shown) == want and 0 < len(want) < len(rows)
    assert f"{len(want)} of {len(rows)} rows shown" in section


def test_rows_section_escapes_and_orders_cells_by_declaration() -> None:
    evil = "<script>alert(1)</script>"
    row = make_row(0, evil, intent="<b>odd</b>")
    html = render_report(make_manifest(), [row], []).decode()
    section = html.split('<section id="rows">')[1].split("</section>")[0]
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "intent=&lt;b&gt;odd&lt;/b&gt;, difficulty=easy, channel=chat" in section
