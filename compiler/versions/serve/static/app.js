// dsc review workbench. Builds every node with createElement/textContent: row text never becomes markup.
"use strict";

const TOKEN = document.querySelector('meta[name="dsc-token"]').content;
const STATUSES = ["pending", "approved", "edited", "rejected"];
const MAX_LISTED = 2000; // list items drawn at once; filters narrow the rest
const state = { data: null, rows: [], byId: new Map(), shown: [], current: -1, mode: "read", busy: 0 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function text(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function say(message, ok) {
  const box = document.getElementById("message");
  box.textContent = message || "";
  box.className = ok ? "ok" : "";
}

async function api(path, body) {
  state.busy += 1;
  document.body.dataset.busy = String(state.busy);
  try {
    const options = { headers: { "X-DSC-Token": TOKEN }, credentials: "same-origin" };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  } finally {
    state.busy -= 1;
    document.body.dataset.busy = String(state.busy);
  }
}

function options(select, label, values) {
  const keep = select.value;
  select.replaceChildren(el("option", { value: "" }, label));
  for (const value of values) select.append(el("option", { value: value }, value));
  select.value = values.includes(keep) ? keep : "";
}

function uniq(values) {
  return [...new Set(values.filter((v) => v !== null && v !== undefined && v !== ""))].sort();
}

function failedChecks(row) {
  return row.checks.filter((c) => c && c.passed === false).map((c) => String(c.name));
}

function buildFilters() {
  const rows = state.rows;
  options(document.getElementById("f-status"), "any status", STATUSES);
  options(document.getElementById("f-strategy"), "any strategy", uniq(rows.map((r) => r.strategy)));
  options(document.getElementById("f-source"), "any source", uniq(rows.map((r) => r.source)));
  options(document.getElementById("f-check"), "any checks", uniq(rows.flatMap(failedChecks)));
  const cells = document.getElementById("f-cells");
  cells.replaceChildren();
  const dims = state.data.dimensions.length ? state.data.dimensions : uniq(rows.flatMap((r) => r.cell.map((p) => p[0])));
  for (const dim of dims) {
    const select = el("select", { id: "f-dim-" + dim, "data-dim": dim, "aria-label": dim, onchange: applyFilters });
    options(select, "any " + dim, uniq(rows.map((r) => (r.cell.find((p) => p[0] === dim) || [])[1])));
    cells.append(select);
  }
  for (const id of ["f-status", "f-strategy", "f-source", "f-check"]) {
    document.getElementById(id).onchange = applyFilters;
  }
  document.getElementById("search").oninput = applyFilters;
}

function matches(row) {
  const status = document.getElementById("f-status").value;
  const strategy = document.getElementById("f-strategy").value;
  const source = document.getElementById("f-source").value;
  const check = document.getElementById("f-check").value;
  const needle = document.getElementById("search").value.trim().toLowerCase();
  if (status && row.status !== status) return false;
  if (strategy && row.strategy !== strategy) return false;
  if (source && row.source !== source) return false;
  if (check && !failedChecks(row).includes(check)) return false;
  for (const select of document.querySelectorAll("#f-cells select")) {
    if (!select.value) continue;
    const pair = row.cell.find((p) => p[0] === select.dataset.dim);
    if (!pair || pair[1] !== select.value) return false;
  }
  if (needle) {
    const hay = (row.id + " " + Object.values(row.inputs).map(text).join(" ") + " " +
      Object.values(row.expected).map(text).join(" ")).toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  return true;
}

function applyFilters() {
  const keep = state.shown[state.current];
  state.shown = state.rows.filter(matches).map((r) => r.id);
  const at = state.shown.indexOf(keep);
  state.current = at >= 0 ? at : state.shown.length ? 0 : -1;
  state.mode = "read";
  renderList();
  renderDetail();
}

function snippet(row) {
  const first = Object.values(row.inputs).map(text).find((v) => v) || "";
  return first.replace(/\s+/g, " ").slice(0, 140);
}

function renderList() {
  const list = document.getElementById("list");
  const items = state.shown.slice(0, MAX_LISTED).map((id, i) => {
    const row = state.byId.get(id);
    return el("li", { "data-id": id, class: i === state.current ? "current" : "", onclick: () => select(i) },
      el("span", { class: "badge " + row.status }, row.status),
      el("span", { class: "strategy" }, row.strategy || row.source),
      el("span", { class: "snippet" }, snippet(row)));
  });
  list.replaceChildren(...items);
  const more = state.shown.length - items.length;
  if (more > 0) list.append(el("li", { class: "empty" }, "and " + more + " more: narrow the filters"));
  document.getElementById("count").textContent = state.shown.length + " of " + state.rows.length + " rows";
  renderProgress();
}

function renderProgress() {
  const done = state.rows.filter((r) => r.status !== "pending").length;
  const total = state.rows.length;
  document.getElementById("bar").style.width = (total ? (100 * done) / total : 0).toFixed(1) + "%";
  document.getElementById("progress").setAttribute("aria-valuenow", String(done));
  document.getElementById("progress").setAttribute("aria-valuemax", String(total));
  document.getElementById("progress-text").textContent = done + " / " + total + " reviewed";
}

function select(i) {
  if (i < 0 || i >= state.shown.length) return;
  state.current = i;
  state.mode = "read";
  for (const li of document.querySelectorAll("#list li.current")) li.classList.remove("current");
  const li = document.querySelector('#list li[data-id="' + CSS.escape(state.shown[i]) + '"]');
  if (li) { li.classList.add("current"); li.scrollIntoView({ block: "nearest" }); }
  renderDetail();
}

function definitions(pairs) {
  return el("dl", {}, ...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, text(v))]));
}

function fields(title, values, prefix) {
  const parts = [el("h3", {}, title)];
  for (const [name, value] of Object.entries(values)) {
    parts.push(el("div", { class: "field", "data-field": prefix + "." + name },
      el("b", {}, name), el("pre", {}, text(value))));
  }
  return parts;
}

function renderDetail() {
  const detail = document.getElementById("detail");
  const id = state.shown[state.current];
  const row = id && state.byId.get(id);
  if (!row) { detail.replaceChildren(el("p", { class: "empty" }, "No row matches the filters.")); return; }
  const variant = row.variant ? state.data.variants[row.variant] : null;
  const parts = [
    el("h2", {}, el("span", { class: "badge " + row.status, id: "status" }, row.status), row.id),
    actions(row),
    el("h3", {}, "case"),
    definitions([["source", row.source], ["strategy", row.strategy || "-"], ["variant", row.variant || "-"],
      ...(variant ? Object.entries(variant).filter(([k]) => k !== "kind").map(([k, v]) => [variant.kind + " " + k, v]) : [])]),
    el("h3", {}, "cell"),
    definitions(row.cell),
    ...fields("inputs", row.inputs, "inputs"),
    ...fields("expected", row.expected, "expected"),
    el("h3", {}, "checks"),
    row.checks.length
      ? el("table", {}, ...row.checks.map((c) => el("tr", { class: c.passed === false ? "failed" : "" },
          el("td", {}, text(c.name)), el("td", {}, c.passed === false ? "failed" : "passed"), el("td", {}, text(c.detail)))))
      : el("p", { class: "empty" }, "no checks recorded"),
    el("h3", {}, "provenance"),
    definitions(Object.entries(row.provenance)),
    el("h3", {}, "near-duplicates it beat"),
    row.beat.length
      ? el("ul", { id: "beat" }, ...row.beat.map((d) => el("li", {},
          el("b", {}, text(d.reason) + " " + (typeof d.similarity === "number" ? d.similarity.toFixed(3) : "")), " ",
          text(d.text || d.id))))
      : el("p", { class: "empty" }, "none"),
  ];
  if (row.decision) {
    parts.push(el("h3", {}, "decision"), definitions([["reviewer", row.decision.reviewer],
      ["reason", row.decision.reason || "-"], ["edits", Object.keys(row.decision.edits).length ? row.decision.edits : "-"]]));
  }
  detail.replaceChildren(...parts);
  if (state.mode === "reject") document.getElementById("reason").focus();
  if (state.mode === "edit") { const first = detail.querySelector(".edit-field textarea"); if (first) first.focus(); }
}

function actions(row) {
  const box = el("div", { class: "actions" },
    el("button", { id: "approve", onclick: () => decide("approve") }, "Approve (a)"),
    el("button", { id: "reject", onclick: () => { state.mode = "reject"; renderDetail(); } }, "Reject (r)"),
    el("button", { id: "edit", onclick: () => { state.mode = "edit"; renderDetail(); } }, "Edit (e)"));
  if (state.mode === "reject") {
    const reason = el("input", { id: "reason", type: "text", placeholder: "why? (Enter to reject, Esc to cancel)" });
    reason.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); decide("reject", { reason: reason.value }); }
    });
    box.append(reason, el("button", { id: "confirm-reject", onclick: () => decide("reject", { reason: reason.value }) }, "Reject"));
  }
  if (state.mode === "edit") {
    const form = el("div", { id: "edit-form" });
    for (const [prefix, values] of [["inputs", row.inputs], ["expected", row.expected]]) {
      for (const [name, value] of Object.entries(values)) {
        const area = el("textarea", { "data-field": prefix + "." + name, "data-original": text(value) });
        area.value = text(value);
        form.append(el("label", { class: "edit-field" }, el("span", {}, prefix + "." + name), area));
      }
    }
    form.append(el("button", { id: "save-edit", onclick: saveEdit }, "Save and approve (Ctrl+Enter)"));
    box.append(form);
  }
  return box;
}

function saveEdit() {
  const edits = {};
  for (const area of document.querySelectorAll("#edit-form textarea")) {
    if (area.value !== area.dataset.original) edits[area.dataset.field] = area.value;
  }
  if (!Object.keys(edits).length) { say("nothing changed"); return; }
  decide("edit", { edits: edits });
}

async function decide(action, extra) {
  const id = state.shown[state.current];
  if (!id) return;
  try {
    await api("/api/decide", Object.assign({ ids: [id], action: action }, extra || {}));
    await refresh();
    say(action + "d " + id.slice(0, 12), true);
    state.mode = "read";
    const at = state.shown.indexOf(id);
    select(Math.min((at >= 0 ? at : state.current) + 1, state.shown.length - 1));
  } catch (error) {
    say(error.message);
  }
}

async function refresh() {
  const data = await api("/api/session");
  state.data = data;
  state.rows = data.rows;
  state.byId = new Map(data.rows.map((r) => [r.id, r]));
  document.getElementById("title").textContent = "dsc review · " + data.dataset + " " + data.version;
  document.title = "dsc review · " + data.dataset + " " + data.version;
  const keep = state.shown[state.current];
  state.shown = state.rows.filter(matches).map((r) => r.id);
  const at = state.shown.indexOf(keep);
  state.current = at >= 0 ? at : state.shown.length ? 0 : -1;
  renderList();
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
  if (event.key === "Escape") { state.mode = "read"; renderDetail(); target.blur && target.blur(); return; }
  if (typing) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && state.mode === "edit") { event.preventDefault(); saveEdit(); }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const keys = {
    j: () => select(state.current + 1),
    k: () => select(state.current - 1),
    a: () => decide("approve"),
    r: () => { state.mode = "reject"; renderDetail(); },
    e: () => { state.mode = "edit"; renderDetail(); },
    "/": () => document.getElementById("search").focus(),
  };
  if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
});

async function start() {
  try {
    await refresh();
    buildFilters();
    applyFilters();
    const wanted = new URLSearchParams(location.hash.slice(1)).get("row");
    if (wanted) select(state.shown.findIndex((id) => id.startsWith(wanted)));
    document.body.dataset.ready = "1";
  } catch (error) {
    say("could not load rows: " + error.message);
    document.body.dataset.ready = "error";
  }
}

start();
