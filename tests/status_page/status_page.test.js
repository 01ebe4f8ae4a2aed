// The status page (GET / on a tap's admin listener) in a real browser:
// Debian's chromium, driven over the DevTools protocol by playwright-core.
// A tap is fed a known scenario over OTLP/HTTP; the test asserts what the
// page shows (per-service figures, sorting, the filter over 1,006 services,
// the broken edges, the examples, traces opened as trees, the bearer-token
// prompt) and writes a screenshot to docs/images/status_page.png.
//
//   PROPWATCH_BIN=build/exporter/tap/propwatch NODE_PATH=<node_modules> node --test tests/status_page/
// (tests/status_page/run.sh sets both.)
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "../..");
const BIN = process.env.PROPWATCH_BIN || path.join(ROOT, "build/exporter/tap/propwatch");
const SCREENSHOT = process.env.PROPWATCH_SCREENSHOT || path.join(ROOT, "docs/images/status_page.png");
const FILLER_SERVICES = 1000;
const HOSTILE = `<img src=x onerror="window.__pwned=1">"'&`;

// --- the tap -------------------------------------------------------------------

// An orphan's broken edge is decided --edge-decision-delay after it arrived
// (default 2 x --trace-idle-timeout): 2 s here, when the binary has the flag.
const HELP = spawnSync(BIN, ["--help"], { encoding: "utf8" });
const EDGE_DELAY_FLAG = /--edge-decision-delay\b/.test(HELP.stdout + HELP.stderr)
  ? ["--edge-decision-delay=2s"] : [];

async function startTap(extraArgs = []) {
  const log = [];
  const child = spawn(BIN, [
    "--otlp-grpc-address=off", "--otlp-http-address=127.0.0.1:0", "--admin-address=127.0.0.1:0",
    "--entry-services=gateway", "--trace-idle-timeout=1s", "--rebalance-window=0",
    "--window=60s", "--window-resolution=1s", "--log-level=info", ...EDGE_DELAY_FLAG, ...extraArgs,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no listening line:\n" + log.join(""))), 10000);
    const onData = (chunk) => {
      log.push(chunk.toString());
      const text = log.join("");
      const http = text.match(/otlp-http=\S+ \(port (\d+)\)/);
      const admin = text.match(/admin=\S+ \(port (\d+)\)/);
      if (http && admin) {
        clearTimeout(timer);
        resolve({ http: Number(http[1]), admin: Number(admin[1]) });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`tap exited ${code}:\n` + log.join(""))));
  });
  return { child, ...ports, base: `http://127.0.0.1:${ports.admin}` };
}

function stopTap(tap) {
  return new Promise((resolve) => {
    if (!tap || tap.child.exitCode !== null) return resolve();
    tap.child.on("exit", resolve);
    tap.child.kill("SIGTERM");
  });
}

// --- the scenario --------------------------------------------------------------
// gateway (entry point): traces A, B, F and ten filler traces.
// worker: a3 child of the gateway's call (A); c1 an orphan SERVER root that
//   carried a valid traceparent (orphan + extraction failure); e2 whose parent
//   never arrives (broken parent); f1 with an invalid captured traceparent.
// consumer: d1 an orphan CONSUMER root.
// B's gateway CLIENT b2 gets no child: one unpaired outbound span.
// 1,000 filler services, one connected span each, under the ten filler roots.
// Broken edges (decided --edge-decision-delay after the orphans arrive):
//   checkout → orders, http, 2: trace H (gateway → checkout) makes two calls
//     to orders.internal:8080 (h4, h5) that get no child; orders' orphan
//     SERVER roots i1 (trace I) and j1 (trace J) were received at that address
//     and port, each inside one call's start and end.
//   unknown → orders, http: k1 (trace K), same address, an hour later: no
//     call matches it.
//   gateway → worker, http: b2 (peer.service worker, unpaired) sent c1.
//   unknown → consumer, messaging (d1), unknown → the hostile name (g1).

const hex = (n, width) => n.toString(16).padStart(width, "0");
const T = (n) => "5a" + hex(n, 30);
const S = (n) => "77" + hex(n, 14);
const VALID_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

const EPOCH = 1_700_000_000_000_000_000n;  // span timestamps, Unix ns
// A span starting `id` µs after EPOCH and lasting 0.5 ms, unless `at` gives
// { startUs, durationUs }. Number attributes are OTLP ints, others strings.
function span(trace, id, parent, name, kind, attrs = {}, at = {}) {
  const start = EPOCH + BigInt(at.startUs ?? id) * 1000n;
  const s = { traceId: T(trace), spanId: S(id), name, kind, startTimeUnixNano: String(start),
              endTimeUnixNano: String(start + BigInt(at.durationUs ?? 500) * 1000n) };
  if (parent) s.parentSpanId = S(parent);
  s.attributes = Object.entries(attrs).map(([key, v]) =>
    ({ key, value: typeof v === "number" ? { intValue: String(v) } : { stringValue: v } }));
  return s;
}
const ORDERS_ADDRESS = { "server.address": "orders.internal", "server.port": 8080 };

function resource(service, spans) {
  return { resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
           scopeSpans: [{ spans }] };
}

function scenario() {
  const gateway = [
    span(1, 1, 0, "GET /checkout", 2), span(1, 2, 1, "POST", 3, { "peer.service": "worker" }),
    span(2, 11, 0, "GET /checkout", 2), span(2, 12, 11, "POST", 3, { "peer.service": "worker" }),
    span(6, 61, 0, "GET /checkout", 2),
    span(8, 81, 0, "GET /cart", 2, {}, { startUs: 0, durationUs: 6000 }),
    span(8, 82, 81, "POST", 3, { "peer.service": "checkout" }, { startUs: 100, durationUs: 5800 }),
  ];
  const checkout = [
    span(8, 83, 82, "POST /checkout", 2, {}, { startUs: 200, durationUs: 5600 }),
    span(8, 84, 83, "POST /orders", 3, ORDERS_ADDRESS, { startUs: 500, durationUs: 2000 }),
    span(8, 85, 83, "POST /orders", 3, ORDERS_ADDRESS, { startUs: 3000, durationUs: 2000 }),
  ];
  const orders = [
    span(9, 91, 0, "POST /orders", 2, ORDERS_ADDRESS, { startUs: 800, durationUs: 1000 }),
    span(10, 92, 0, "POST /orders", 2, ORDERS_ADDRESS, { startUs: 3300, durationUs: 1000 }),
    span(11, 93, 0, "POST /orders", 2, ORDERS_ADDRESS, { startUs: 3_600_000_000, durationUs: 1000 }),
  ];
  const worker = [
    span(1, 3, 2, "POST /orders", 2),
    span(3, 31, 0, "POST /orders", 2, { "http.request.header.traceparent": VALID_TP }),
    span(5, 52, 51, "process order", 1),
    span(6, 62, 61, "POST /orders", 2, { "http.request.header.traceparent": "00-not-a-traceparent" }),
  ];
  const consumer = [span(4, 41, 0, "orders process", 5)];
  // A name from the wire that would run script if it were ever parsed as HTML.
  const hostile = [span(7, 71, 0, "<b>x</b>", 2)];
  const out = [resource("gateway", gateway), resource("worker", worker), resource("consumer", consumer),
               resource(HOSTILE, hostile), resource("checkout", checkout), resource("orders", orders)];
  for (let g = 0; g < 10; g++) {
    out.push(resource("gateway", [span(100 + g, 1000 + g, 0, "GET /batch", 2)]));
  }
  for (let i = 0; i < FILLER_SERVICES; i++) {
    const g = i % 10;
    out.push(resource(`svc-${String(i).padStart(4, "0")}`, [span(100 + g, 10000 + i, 1000 + g, "work", 2)]));
  }
  return { resourceSpans: out };
}

async function send(tap, body) {
  const res = await fetch(`http://127.0.0.1:${tap.http}/v1/traces`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

// Polls the tap's examples until `count` of `finding` are there (15 s at most).
async function waitForExample(tap, finding, count = 1) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const res = await fetch(`${tap.base}/api/v1/examples?finding=${finding}`);
    if ((await res.json()).examples.length >= count) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${count} ${finding} examples after 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// --- the browser ---------------------------------------------------------------

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.PROPWATCH_CHROMIUM || "/usr/bin/chromium",
    // Nothing here may reach past loopback: no background networking.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { if (browser) await browser.close(); });

async function openPage(tap) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("request", (r) => { if (!r.url().startsWith(tap.base)) problems.push("request: " + r.url()); });
  await page.goto(tap.base + "/");
  return { page, problems };
}

const edgeRows = (page) => page.$$eval("#edges tbody tr[data-callee]", (trs) =>
  trs.map((tr) => ["caller", "callee", "boundary", "window", "total"]
    .map((c) => tr.querySelector(`td[data-col="${c}"]`).textContent)));
const rowCells = (page, service) => page.$$eval(`#services tr[data-service="${service}"] td`,
  (tds) => Object.fromEntries(tds.map((td) => [td.dataset.col, td.textContent])));
const serviceOrder = (page) =>
  page.$$eval("#services tbody tr[data-service]", (trs) => trs.map((tr) => tr.dataset.service));
// The filter applies 150 ms after the last keystroke.
async function filter(page, text, shown) {
  await page.fill("#filter", text);
  await page.waitForFunction((want) => document.querySelector("#shown").textContent === want, shown);
}

test("the status page shows the scenario, sorts, filters and opens examples", async () => {
  const tap = await startTap();
  try {
    await send(tap, scenario());
    // Idle timeout 1 s: the broken parent is judged once its trace goes idle;
    // the six orphan SERVER/CONSUMER roots' edges are decided together, once
    // the edge decision delay has passed.
    await waitForExample(tap, "broken_parent");
    await waitForExample(tap, "broken_edge", 6);
    const { page, problems } = await openPage(tap);
    await page.waitForSelector('#examples tr[data-finding="broken_edge"]', { timeout: 15000 });

    assert.match(await page.textContent("#summary"), /^1006 services, 4 over 5 % orphans, 0 live traces$/);
    assert.equal(await page.textContent("#shown"), "1006 services");
    // Default order: orphan rate, highest first (name breaks the tie).
    const byName = (names) => page.evaluate((n) => n.sort((a, b) => a.localeCompare(b)), names);
    assert.deepEqual((await serviceOrder(page)).slice(0, 4),
                     [...await byName([HOSTILE, "consumer", "orders"]), "worker"]);
    // At most 500 rows are drawn; the filter reaches the rest.
    assert.equal((await serviceOrder(page)).length, 500);
    assert.equal(await page.textContent("#services tr.more"), "506 more: refine the filter");
    // Names from the wire are text, never markup.
    assert.deepEqual(await page.$$eval("#services tbody tr[data-service]", (trs, name) =>
      trs.filter((tr) => tr.dataset.service === name).map((tr) => tr.querySelector("td").textContent), HOSTILE),
      [HOSTILE]);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await page.$$eval("#services img", (imgs) => imgs.length), 0);
    const worker = await rowCells(page, "worker");
    // Rates are window counts over the seconds the window covers so far.
    assert.ok(Number(worker.spansPerSecond) > 0, worker.spansPerSecond);
    delete worker.spansPerSecond;
    delete worker.traceStartsPerSecond;
    assert.deepEqual(worker, {
      service: "worker", orphanRate: "25.0%", orphans_server: "1", orphans_consumer: "0",
      orphans_inprocess: "0", brokenParents: "1", invalidTraceparents: "1", extractionFailures: "1",
      unpairedOutbound: "0",
    });
    const consumer = await rowCells(page, "consumer");
    assert.equal(consumer.orphanRate, "100.0%");
    assert.equal(consumer.orphans_consumer, "1");
    const gateway = await rowCells(page, "gateway");
    assert.equal(gateway.service, "gatewayentry point");
    assert.equal(gateway.orphanRate, "0.0%");
    assert.equal(gateway.unpairedOutbound, "1");
    assert.equal((await rowCells(page, "checkout")).unpairedOutbound, "2");
    assert.equal((await rowCells(page, "orders")).orphans_server, "3");
    assert.equal(await page.getAttribute('#services tr[data-service="worker"]', "class"), "bad");
    assert.equal(await page.getAttribute('#services tr[data-service="svc-0001"]', "class"), null);

    // Sorting by name, then back; the filter over a thousand services.
    await page.click('#services th[data-sort="service"]');
    assert.deepEqual((await serviceOrder(page)).slice(0, 3), await byName([HOSTILE, "checkout", "consumer"]));
    await page.click('#services th[data-sort="service"]');
    assert.equal((await serviceOrder(page))[0], "worker");
    await filter(page, "svc-05", "100 of 1006 services match");
    assert.equal((await serviceOrder(page)).length, 100);
    assert.equal(await page.$$eval("#services tr.more", (trs) => trs.length), 0);
    assert.equal(await page.textContent("#edges-shown"), "0 of 5 edges match");
    await filter(page, "", "1006 services");

    // Broken edges: the caller that lost the context, by count in the window
    // (ties in the tap's order: callee, then caller), names as text.
    assert.equal(await page.textContent("#edges-shown"), "5 edges");
    assert.deepEqual(await edgeRows(page), [
      ["checkout", "orders", "http", "2", "2"],
      ["unknown", HOSTILE, "http", "1", "1"],
      ["unknown", "consumer", "messaging", "1", "1"],
      ["unknown", "orders", "http", "1", "1"],
      ["gateway", "worker", "http", "1", "1"],
    ]);
    assert.equal(await page.$$eval("#edges img", (imgs) => imgs.length), 0);
    assert.equal(await page.getAttribute('#edges tr[data-callee="orders"][data-caller="unknown"] td[data-col="caller"]',
                                         "class"), "unknown");
    // Sorting by caller; the filter matches caller or callee.
    await page.click('#edges th[data-sort="caller"]');
    assert.deepEqual((await edgeRows(page)).map((r) => r[0] + " → " + r[1]).slice(0, 3),
                     ["checkout → orders", "gateway → worker", `unknown → ${HOSTILE}`]);
    await page.click('#edges th[data-sort="window"]');
    assert.deepEqual((await edgeRows(page))[0].slice(0, 2), ["checkout", "orders"]);
    await filter(page, "orders", "1 of 1006 services match");
    assert.equal(await page.textContent("#edges-shown"), "2 of 5 edges match");
    assert.deepEqual((await edgeRows(page)).map((r) => r[0]), ["checkout", "unknown"]);
    await filter(page, "", "1006 services");  // so that the next wait sees the next filter
    await filter(page, "checkout", "1 of 1006 services match");
    assert.deepEqual((await edgeRows(page)).map((r) => r[1]), ["orders"]);
    await filter(page, "", "1006 services");

    // Every finding of the scenario has its example, linked to its trace;
    // a broken edge reads "caller → callee" and links the caller's trace too.
    const examples = await page.$$eval("#examples tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent).join("|") +
                      "|" + tr.dataset.trace + (tr.dataset.callerTrace ? " ← " + tr.dataset.callerTrace : "")).sort());
    assert.deepEqual(examples, [
      `${HOSTILE}|orphan|server|${T(7)}`,
      `checkout → orders|broken edge|server|${T(10)} ← ${T(8)}`,
      `checkout → orders|broken edge|server|${T(9)} ← ${T(8)}`,
      `checkout|unpaired outbound|client|${T(8)}`,
      `checkout|unpaired outbound|client|${T(8)}`,
      `consumer|orphan|consumer|${T(4)}`,
      `gateway → worker|broken edge|server|${T(3)} ← ${T(2)}`,
      `gateway|unpaired outbound|client|${T(2)}`,
      `orders|orphan|server|${T(10)}`,
      `orders|orphan|server|${T(11)}`,
      `orders|orphan|server|${T(9)}`,
      `unknown → ${HOSTILE}|broken edge|server|${T(7)}`,
      `unknown → consumer|broken edge|consumer|${T(4)}`,
      `unknown → orders|broken edge|server|${T(11)}`,
      `worker|broken parent||${T(5)}`,
      `worker|extraction failure||${T(3)}`,
      `worker|invalid traceparent||${T(6)}`,
      `worker|orphan|server|${T(3)}`,
    ].sort());
    // An unknown caller has no caller trace to link.
    assert.equal(await page.$$eval(`#examples tr[data-finding="broken_edge"][data-trace="${T(11)}"] a.trace`,
                                   (as) => as.map((a) => a.dataset.side).join()), "callee");
    // The caller's link opens the caller's trace with its outbound span marked;
    // the callee's link the orphan's trace with the orphan marked.
    const edgeExample = `#examples tr[data-finding="broken_edge"][data-trace="${T(9)}"]`;
    await page.click(`${edgeExample} a.trace[data-side="caller"]`);
    await page.waitForSelector(`#trace-panel .span-line[data-span="${S(84)}"]`);
    assert.equal(await page.textContent("#trace-head"),
                 `trace ${T(8)}: 5 spans, 1 root(s), 0 unresolved parent(s), 6.0 ms`);
    assert.deepEqual(await page.$$eval("#trace-panel .span-line.example", (ls) => ls.map((l) => l.dataset.span)),
                     [S(84)]);
    assert.match(await page.evaluate(() => location.hash), new RegExp(`^#trace=${T(8)}$`));
    await page.click(`${edgeExample} a.trace[data-side="callee"]`);
    await page.waitForSelector(`#trace-panel .span-line[data-span="${S(91)}"]`);
    assert.match(await page.textContent("#trace-head"), new RegExp(`^trace ${T(9)}: 1 spans, 1 root\\(s\\)`));
    assert.deepEqual(await page.$$eval("#trace-panel .span-line.example", (ls) => ls.map((l) => l.dataset.span)),
                     [S(91)]);
    // The edges table links the latest example's two traces.
    await page.click('#edges tr[data-caller="gateway"][data-callee="worker"] a.trace[data-side="caller"]');
    await page.waitForSelector(`#trace-panel .span-line[data-span="${S(12)}"]`);
    assert.match(await page.textContent("#trace-head"), new RegExp(`^trace ${T(2)}: `));
    assert.deepEqual(await page.$$eval("#trace-panel .span-line.example", (ls) => ls.map((l) => l.dataset.span)),
                     [S(12)]);
    await page.click('#edges tr[data-caller="gateway"][data-callee="worker"] a.trace[data-side="callee"]');
    await page.waitForSelector(`#trace-panel .span-line.example[data-span="${S(31)}"]`);
    assert.match(await page.textContent("#trace-head"), new RegExp(`^trace ${T(3)}: `));
    await page.click(`#examples tr[data-finding="broken_parent"] a.trace`);
    await page.waitForSelector("#trace-head");
    assert.equal(await page.textContent("#trace-head"),
                 `trace ${T(5)}: 1 spans, 1 root(s), 1 unresolved parent(s), 0.5 ms`);
    assert.match(await page.textContent(`#trace-panel .span-line[data-span="${S(52)}"]`),
                 new RegExp(`^- worker "process order" internal unset 0\\.5ms \\(parent ${S(51)} missing\\)$`));
    // The broken-parent example names the missing parent: its child is marked.
    assert.equal(await page.getAttribute(`#trace-panel .span-line[data-span="${S(52)}"]`, "class"),
                 "span-line example");
    assert.match(await page.evaluate(() => location.hash), new RegExp(`^#trace=${T(5)}$`));

    // The screenshot in docs/ is this run's page, problems first, with the
    // caller's side of the top broken edge open.
    await page.click('#services th[data-sort="orphanRate"]');
    assert.equal((await serviceOrder(page))[3], "worker");
    await page.click(`${edgeExample} a.trace[data-side="caller"]`);
    await page.waitForSelector(`#trace-panel .span-line.example[data-span="${S(84)}"]`);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    // The whole page: the broken edges and the examples sit below the fold.
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await stopTap(tap);
  }
});

test("with a bearer token, the page asks for it before showing examples", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "propwatch-page-"));
  fs.writeFileSync(path.join(dir, "token"), "s3cret-token\n", { mode: 0o600 });
  const tap = await startTap([`--admin-bearer-token-file=${path.join(dir, "token")}`]);
  try {
    await send(tap, { resourceSpans: [resource("consumer", [span(4, 41, 0, "orders process", 5)])] });
    const { page, problems } = await openPage(tap);
    await page.waitForSelector('#services tr[data-service="consumer"]');
    // The examples are read after the services: wait for their 401.
    await page.waitForSelector("#token-box", { state: "visible", timeout: 10000 });
    assert.equal(await page.$$eval("#examples tbody tr", (trs) => trs.length), 0);
    await page.fill("#token", "s3cret-token");
    await page.click("#token-save");
    await page.waitForSelector('#examples tr[data-finding="orphan"]');
    assert.equal(await page.isVisible("#token-box"), false);
    // The 401s before the token are the point of this test, not a fault.
    assert.deepEqual(problems.filter((p) => !p.includes("401")), []);
  } finally {
    await stopTap(tap);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
