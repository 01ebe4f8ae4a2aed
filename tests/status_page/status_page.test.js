// The status page (GET / on a tap's admin listener) in a real browser:
// Debian's chromium, driven over the DevTools protocol by playwright-core.
// A tap is fed a known scenario over OTLP/HTTP; the test asserts what the
// page shows (per-service figures, sorting, the filter over 1,003 services,
// the examples, a trace opened as a tree, the bearer-token prompt) and
// writes a screenshot to docs/images/status_page.png.
//
//   PROPWATCH_BIN=build/exporter/tap/propwatch NODE_PATH=<node_modules> node --test tests/status_page/
// (tests/status_page/run.sh sets both.)
"use strict";
const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
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

async function startTap(extraArgs = []) {
  const log = [];
  const child = spawn(BIN, [
    "--otlp-grpc-address=off", "--otlp-http-address=127.0.0.1:0", "--admin-address=127.0.0.1:0",
    "--entry-services=gateway", "--trace-idle-timeout=1s", "--rebalance-window=0",
    "--window=60s", "--window-resolution=1s", "--log-level=info", ...extraArgs,
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

const hex = (n, width) => n.toString(16).padStart(width, "0");
const T = (n) => "5a" + hex(n, 30);
const S = (n) => "77" + hex(n, 14);
const VALID_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

function span(trace, id, parent, name, kind, attrs = {}) {
  const s = { traceId: T(trace), spanId: S(id), name, kind,
              startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(id) * 1000n),
              endTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(id) * 1000n + 500000n) };
  if (parent) s.parentSpanId = S(parent);
  s.attributes = Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } }));
  return s;
}

function resource(service, spans) {
  return { resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
           scopeSpans: [{ spans }] };
}

function scenario() {
  const gateway = [
    span(1, 1, 0, "GET /checkout", 2), span(1, 2, 1, "POST", 3, { "peer.service": "worker" }),
    span(2, 11, 0, "GET /checkout", 2), span(2, 12, 11, "POST", 3, { "peer.service": "worker" }),
    span(6, 61, 0, "GET /checkout", 2),
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
               resource(HOSTILE, hostile)];
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

// Polls the tap's examples until one of `finding` is there (10 s at most).
async function waitForExample(tap, finding) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const res = await fetch(`${tap.base}/api/v1/examples?finding=${finding}`);
    if ((await res.json()).examples.length > 0) return;
    if (Date.now() > deadline) throw new Error(`no ${finding} example after 10 s`);
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
    // Idle timeout 1 s: the broken parent is judged once its trace goes idle.
    await waitForExample(tap, "broken_parent");
    const { page, problems } = await openPage(tap);
    await page.waitForSelector('#examples tr[data-finding="broken_parent"]', { timeout: 15000 });

    assert.match(await page.textContent("#summary"), /^1004 services, 3 over 5 % orphans, 0 live traces$/);
    assert.equal(await page.textContent("#shown"), "1004 services");
    // Default order: orphan rate, highest first (name breaks the tie).
    const byName = (names) => page.evaluate((n) => n.sort((a, b) => a.localeCompare(b)), names);
    assert.deepEqual((await serviceOrder(page)).slice(0, 3), [...await byName([HOSTILE, "consumer"]), "worker"]);
    // At most 500 rows are drawn; the filter reaches the rest.
    assert.equal((await serviceOrder(page)).length, 500);
    assert.equal(await page.textContent("#services tr.more"), "504 more: refine the filter");
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
    assert.equal(await page.getAttribute('#services tr[data-service="worker"]', "class"), "bad");
    assert.equal(await page.getAttribute('#services tr[data-service="svc-0001"]', "class"), null);

    // Sorting by name, then back; the filter over a thousand services.
    await page.click('th[data-sort="service"]');
    assert.deepEqual((await serviceOrder(page)).slice(0, 3), await byName([HOSTILE, "consumer", "gateway"]));
    await page.click('th[data-sort="service"]');
    assert.equal((await serviceOrder(page))[0], "worker");
    await filter(page, "svc-05", "100 of 1004 services match");
    assert.equal((await serviceOrder(page)).length, 100);
    assert.equal(await page.$$eval("#services tr.more", (trs) => trs.length), 0);
    await filter(page, "", "1004 services");

    // Every finding of the scenario has its example, linked to its trace.
    const examples = await page.$$eval("#examples tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent).join("|") +
                      "|" + tr.dataset.trace).sort());
    assert.deepEqual(examples, [
      `${HOSTILE}|orphan|server|${T(7)}`,
      `consumer|orphan|consumer|${T(4)}`,
      `gateway|unpaired outbound|client|${T(2)}`,
      `worker|broken parent||${T(5)}`,
      `worker|extraction failure||${T(3)}`,
      `worker|invalid traceparent||${T(6)}`,
      `worker|orphan|server|${T(3)}`,
    ]);
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

    // The screenshot in docs/ is this run's page, problems first.
    await page.click('th[data-sort="orphanRate"]');
    assert.equal((await serviceOrder(page))[2], "worker");
    await page.click(`#examples tr[data-finding="orphan"][data-trace="${T(3)}"] a.trace`);
    await page.waitForSelector(`#trace-panel .span-line[data-span="${S(31)}"]`);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
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
