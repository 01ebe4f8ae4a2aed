// The status page's script (served as /status.js; docs/status-page.md).
// Everything from the tap is shown with textContent, never parsed as HTML:
// service and span names come from the wire.
"use strict";
const MAX_ROWS = 500;  // rows rendered per table; the filter narrows the rest
const REFRESH_MS = 5000;
const state = { services: [], edges: [], examples: [], sort: "orphanRate", dir: -1,
                edgeSort: "window", edgeDir: -1, filter: "", refreshing: 0, trace: 0 };
const $ = (sel) => document.querySelector(sel);

function token() { return sessionStorage.getItem("propwatch-token") || ""; }
async function getJson(path) {
  const headers = token() ? { Authorization: "Bearer " + token() } : {};
  const res = await fetch(path, { headers, cache: "no-store" });
  if (res.status === 401) { const e = new Error("unauthorized"); e.status = 401; throw e; }
  if (!res.ok) throw new Error(path + ": HTTP " + res.status + " " + (await res.text()).trim());
  return res.json();
}

function pct(x) { return (100 * x).toFixed(1) + "%"; }
function rate(x) { return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2); }
function cell(tr, text, cls, col) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (col) td.dataset.col = col;
  tr.appendChild(td);
  return td;
}
function moreRow(body, columns, hidden) {
  if (hidden <= 0) return;
  const tr = document.createElement("tr");
  tr.className = "more";
  const td = cell(tr, hidden + " more: refine the filter", "muted");
  td.colSpan = columns;
  body.appendChild(tr);
}

function row(s) {
  const k = s.orphansByKind || {};
  s.orphans_server = k.server || 0;
  s.orphans_consumer = k.consumer || 0;
  s.orphans_inprocess = (k.internal || 0) + (k.client || 0) + (k.producer || 0) + (k.unspecified || 0);
  return s;
}

function matches(service) { return service.toLowerCase().includes(state.filter.toLowerCase()); }
// A broken edge (or its example) matches when its caller or its callee does.
function edgeMatches(caller, callee) { return matches(caller) || matches(callee); }
const UNKNOWN_CALLER = "unknown";
const UNKNOWN_TITLE = "no client or producer span matched: an uninstrumented caller, or one whose " +
    "spans lack peer.service, server.address or messaging.destination.name";

// A link that opens a trace in the panel; `spanId` is the span to highlight.
function traceLink(traceId, spanId, finding, side, label) {
  const a = document.createElement("a");
  a.href = "#trace=" + traceId;
  a.className = "trace";
  if (side) a.dataset.side = side;
  a.textContent = label;
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    history.replaceState(null, "", "#trace=" + traceId);
    showTrace(traceId, spanId, finding);
  });
  return a;
}
function edgeBoundary(spanKind) { return spanKind === "consumer" ? "messaging" : "http"; }
function edgeKey(caller, callee, boundary) { return caller + "\u0000" + callee + "\u0000" + boundary; }

function renderServices() {
  const rows = state.services.filter((s) => matches(s.service));
  const key = state.sort, dir = state.dir;
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    const c = typeof x === "string" ? x.localeCompare(y) : (x || 0) - (y || 0);
    return c !== 0 ? dir * c : a.service.localeCompare(b.service);
  });
  const body = document.createElement("tbody");
  for (const s of rows.slice(0, MAX_ROWS)) {
    const tr = document.createElement("tr");
    tr.dataset.service = s.service;
    const bad = !s.entryPoint && s.orphanRate > 0.05;
    if (bad) tr.className = "bad";
    const name = cell(tr, s.service, "", "service");
    name.title = s.service;
    if (s.entryPoint) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "entry point";
      name.appendChild(tag);
    }
    cell(tr, rate(s.spansPerSecond), "", "spansPerSecond");
    cell(tr, rate(s.traceStartsPerSecond), "", "traceStartsPerSecond");
    cell(tr, pct(s.orphanRate), bad ? "bad" : "", "orphanRate");
    for (const c of ["orphans_server", "orphans_consumer", "orphans_inprocess", "brokenParents",
                     "invalidTraceparents", "extractionFailures", "unpairedOutbound"]) {
      // An entry point's missing parents are its external callers': not marked.
      const mark = s[c] > 0 && !(s.entryPoint && c === "brokenParents");
      cell(tr, String(s[c]), mark ? "bad" : "", c);
    }
    body.appendChild(tr);
  }
  moreRow(body, 11, rows.length - MAX_ROWS);
  $("#services tbody").replaceWith(body);
  $("#shown").textContent = rows.length === state.services.length
      ? state.services.length + " services"
      : rows.length + " of " + state.services.length + " services match";
  for (const th of document.querySelectorAll("#services th")) {
    th.setAttribute("aria-sort", th.dataset.sort === key ? (dir > 0 ? "ascending" : "descending") : "none");
  }
}

// Broken edges: by window count (then total, then the tap's order), or by
// the clicked column; each row links the latest example's two traces.
function renderEdges() {
  const latest = new Map();
  for (const x of state.examples) {
    if (x.finding !== "broken_edge") continue;
    const k = edgeKey(x.callerService, x.service, edgeBoundary(x.spanKind));
    if (!latest.has(k) || x.ageSeconds < latest.get(k).ageSeconds) latest.set(k, x);
  }
  const rows = state.edges.filter((e) => edgeMatches(e.caller, e.callee));
  const key = state.edgeSort, dir = state.edgeDir;
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    const c = typeof x === "string" ? x.localeCompare(y) : x - y;
    if (c !== 0) return dir * c;
    return (b.window - a.window) || (b.total - a.total) || a.index - b.index;
  });
  const body = document.createElement("tbody");
  for (const e of rows.slice(0, MAX_ROWS)) {
    const tr = document.createElement("tr");
    tr.dataset.caller = e.caller;
    tr.dataset.callee = e.callee;
    tr.dataset.boundary = e.boundary;
    const unknown = e.caller === UNKNOWN_CALLER;
    const caller = cell(tr, e.caller, unknown ? "unknown" : "", "caller");
    caller.title = unknown ? UNKNOWN_TITLE : e.caller;
    cell(tr, e.callee, "", "callee").title = e.callee;
    cell(tr, e.boundary, "", "boundary");
    cell(tr, String(e.window), e.window > 0 ? "bad" : "", "window");
    cell(tr, String(e.total), "", "total");
    const td = cell(tr, "", "", "traces");
    const x = latest.get(edgeKey(e.caller, e.callee, e.boundary));
    if (x) {
      if (x.callerTraceId) {
        td.appendChild(traceLink(x.callerTraceId, x.callerSpanId, x.finding, "caller", "caller"));
        td.appendChild(document.createTextNode(" → "));
      }
      td.appendChild(traceLink(x.traceId, x.spanId, x.finding, "callee", "callee"));
    }
    body.appendChild(tr);
  }
  moreRow(body, 6, rows.length - MAX_ROWS);
  $("#edges tbody").replaceWith(body);
  $("#edges-shown").textContent = rows.length === state.edges.length
      ? state.edges.length + (state.edges.length === 1 ? " edge" : " edges")
      : rows.length + " of " + state.edges.length + " edges match";
  for (const th of document.querySelectorAll("#edges th[data-sort]")) {
    th.setAttribute("aria-sort", th.dataset.sort === key ? (dir > 0 ? "ascending" : "descending") : "none");
  }
}

function renderExamples() {
  const rows = state.examples.filter((x) =>
    x.finding === "broken_edge" ? edgeMatches(x.callerService, x.service) : matches(x.service));
  const body = document.createElement("tbody");
  for (const x of rows.slice(0, MAX_ROWS)) {
    const tr = document.createElement("tr");
    tr.dataset.trace = x.traceId;
    tr.dataset.finding = x.finding;
    // A broken edge names its caller: "caller → callee" (the callee is the
    // example's service), and links the caller's trace under the callee's.
    const edge = x.finding === "broken_edge";
    const who = edge ? x.callerService + " → " + x.service : x.service;
    cell(tr, who).title = edge && x.callerService === UNKNOWN_CALLER ? who + ": " + UNKNOWN_TITLE : who;
    cell(tr, x.finding.replace(/_/g, " "));
    cell(tr, x.spanKind === "unspecified" ? "" : x.spanKind);
    const td = cell(tr, "");
    td.appendChild(traceLink(x.traceId, x.spanId, x.finding, edge ? "callee" : "", x.traceId));
    if (edge && x.callerTraceId) {
      tr.dataset.callerTrace = x.callerTraceId;
      const line = document.createElement("div");
      line.className = "caller-line";
      line.textContent = "caller ";
      line.appendChild(traceLink(x.callerTraceId, x.callerSpanId, x.finding, "caller", x.callerTraceId));
      td.appendChild(line);
    }
    cell(tr, x.ageSeconds.toFixed(0) + " s");
    body.appendChild(tr);
  }
  moreRow(body, 5, rows.length - MAX_ROWS);
  $("#examples tbody").replaceWith(body);
}

// Shows a trace as a tree. For a broken-parent example `spanId` is the
// missing parent: its children are marked; otherwise the span itself (for a
// broken edge, the orphan in the callee's trace or the outbound span in the
// caller's).
async function showTrace(id, spanId, finding) {
  const seq = ++state.trace;  // a later click wins over a slower earlier answer
  state.open = { id, spanId, finding };
  const panel = $("#trace-panel");
  panel.style.display = "block";
  $("#trace-hint").hidden = true;
  panel.textContent = "loading " + id + " …";
  let t;
  try {
    t = await getJson("/api/v1/traces/" + id);
  } catch (e) {
    if (seq !== state.trace) return;
    panel.textContent = e.status === 401 ? "the trace API needs the bearer token (above)"
        : "trace " + id + ": " + e.message + " (it may have left the trace store)";
    if (e.status === 401) $("#token-box").hidden = false;
    return;
  }
  if (seq !== state.trace) return;
  panel.textContent = "";
  const head = document.createElement("div");
  head.id = "trace-head";
  head.textContent = "trace " + t.traceId + ": " + t.spanCount + " spans, " + t.roots +
      " root(s), " + t.unresolvedParents + " unresolved parent(s), " + t.durationMs.toFixed(1) + " ms";
  panel.appendChild(head);
  for (const s of t.spans) {
    const line = document.createElement("div");
    line.className = "span-line";
    line.dataset.span = s.spanId;
    line.textContent = "  ".repeat(s.depth) + "- " + s.service + " \"" + s.name + "\" " + s.kind +
        " " + s.status + " " + s.durationMs.toFixed(1) + "ms";
    if (s.parentSpanId && !s.parentResolved) {
      const m = document.createElement("span");
      m.className = "missing";
      m.textContent = " (parent " + s.parentSpanId + " missing)";
      line.appendChild(m);
    }
    const shown = finding === "broken_parent" ? s.parentSpanId === spanId : s.spanId === spanId;
    if (shown) line.classList.add("example");
    panel.appendChild(line);
  }
}

async function refresh() {
  const seq = ++state.refreshing;  // only the latest refresh may render
  try {
    const st = await getJson("/api/v1/status");
    let examples = [], needToken = false;
    try {
      examples = (await getJson("/api/v1/examples")).examples;
    } catch (e) {
      if (e.status !== 401) throw e;
      needToken = true;
    }
    if (seq !== state.refreshing) return;
    state.services = st.services.map(row);
    state.edges = (st.brokenEdges || []).map((e, index) => ({ ...e, index }));
    state.examples = examples;
    $("#token-box").hidden = !needToken;
    $("#window").textContent = "window: " + st.windowSeconds.toFixed(0) + " s";
    const bad = state.services.filter((s) => !s.entryPoint && s.orphanRate > 0.05).length;
    $("#summary").textContent = state.services.length + " services, " + bad + " over 5 % orphans, " +
        st.engine.liveTraces + " live traces";
    renderServices();
    renderEdges();
    renderExamples();
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("#error").textContent = "";
  } catch (e) {
    if (seq === state.refreshing) $("#error").textContent = "cannot read the tap: " + e.message;
  }
}

// One refresh at a time: the next is scheduled when this one is done, and
// none runs while the tab is hidden or the box is unticked.
async function loop() {
  if (!document.hidden && $("#auto").checked) await refresh();
  setTimeout(loop, REFRESH_MS);
}

for (const th of document.querySelectorAll("#services th")) {
  th.addEventListener("click", () => {
    const key = th.dataset.sort;
    state.dir = state.sort === key ? -state.dir : (th.dataset.type === "text" ? 1 : -1);
    state.sort = key;
    renderServices();
  });
}
for (const th of document.querySelectorAll("#edges th[data-sort]")) {
  th.addEventListener("click", () => {
    const key = th.dataset.sort;
    state.edgeDir = state.edgeSort === key ? -state.edgeDir : (th.dataset.type === "text" ? 1 : -1);
    state.edgeSort = key;
    renderEdges();
  });
}
let filterTimer = 0;
$("#filter").addEventListener("input", (ev) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    state.filter = ev.target.value;
    renderServices();
    renderEdges();
    renderExamples();
  }, 150);
});
$("#token-save").addEventListener("click", async () => {
  sessionStorage.setItem("propwatch-token", $("#token").value);
  await refresh();
  if (state.open) showTrace(state.open.id, state.open.spanId, state.open.finding);
});
function traceFromHash() {
  const m = location.hash.match(/trace=([0-9a-f]{32})/);
  if (m && (!state.open || state.open.id !== m[1])) showTrace(m[1]);
}
window.addEventListener("hashchange", traceFromHash);
traceFromHash();
loop();
