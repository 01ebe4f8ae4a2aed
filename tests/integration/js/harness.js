'use strict';
// Runs the real propwatch binary on ephemeral loopback ports (127.0.0.1:0)
// and talks to it: /metrics parsed into {series key: value}, polling with a
// deadline, the trace API. Mirrors ../python/harness.py.
const { spawn } = require('node:child_process');
const http = require('node:http');
const assert = require('node:assert/strict');

const LOOPBACK = '127.0.0.1';
const LISTEN_RE =
  /listening: otlp-grpc=\S+ \(port (\d+)\), otlp-http=\S+ \(port (\d+)\), admin=\S+ \(port (\d+)\)/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- Prometheus text format --------------------------------------------------

// Canonical key: name{a=x,b=y}, labels sorted by name; the bare name without labels.
function seriesKey(name, labels) {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  return `${name}{${names.map((k) => `${k}=${labels[k]}`).join(',')}}`;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/;
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parsePrometheus(text) {
  const out = new Map();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`metrics line ${i + 1} malformed: ${line}`);
    const labels = {};
    const lt = m[3] || '';
    LABEL_RE.lastIndex = 0;
    while (LABEL_RE.lastIndex < lt.length) {
      const lm = LABEL_RE.exec(lt);
      if (!lm) throw new Error(`metrics line ${i + 1}: bad labels: ${line}`);
      labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const key = seriesKey(m[1], labels);
    if (out.has(key)) throw new Error(`duplicate series ${key}`);
    const v = m[4];
    out.set(key, v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v));
  });
  return new Metrics(out);
}

class Metrics {
  constructor(map) { this.map = map; }
  get0(name, labels = {}) { return this.map.get(seriesKey(name, labels)) ?? 0; }
  v(name, labels = {}) {
    const k = seriesKey(name, labels);
    assert.ok(this.map.has(k), `series ${k} not exported`);
    return this.map.get(k);
  }
  family(name) {
    const out = {};
    for (const [k, v] of this.map) if (k === name || k.startsWith(`${name}{`)) out[k] = v;
    return out;
  }
  nonzero(name) {
    return Object.fromEntries(Object.entries(this.family(name)).filter(([, v]) => v !== 0));
  }
}

// --- HTTP -----------------------------------------------------------------------

function request(port, method, path, { body, headers = {}, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: LOOPBACK, port, method, path, headers, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                      body: Buffer.concat(chunks) }));
      });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// --- the tap process ------------------------------------------------------------

class Tap {
  constructor(binary, flags, name) {
    this.binary = binary;
    this.flags = flags;
    this.name = name;
    this.stderr = '';
    this.exit = null;
  }

  async start(timeoutMs = 15000) {
    const args = [
      `--otlp-grpc-address=${LOOPBACK}:0`, `--otlp-http-address=${LOOPBACK}:0`,
      `--admin-address=${LOOPBACK}:0`, '--advance-interval=100ms',
      // Started before any span is sent: no trace can be split with another process.
      '--rebalance-window=0', ...this.flags,
    ];
    this.proc = spawn(this.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit); });
    });
    this.proc.stderr.on('data', (d) => { this.stderr += d.toString(); });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = LISTEN_RE.exec(this.stderr);
      if (m) {
        [this.grpcPort, this.httpPort, this.adminPort] = m.slice(1).map(Number);
        return this;
      }
      if (this.exit) throw new Error(`propwatch exited ${JSON.stringify(this.exit)} before listening:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`propwatch printed no listening line:\n${this.stderr}`);
      await sleep(20);
    }
  }

  alive() { return this.proc && this.exit === null; }

  // SIGTERM, then SIGKILL after timeoutMs. Resolves to {code, signal}.
  async stop(timeoutMs = 15000) {
    if (!this.proc) return null;
    if (this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }

  get(path) { return request(this.adminPort, 'GET', path); }

  async metrics() {
    const r = await this.get('/metrics');
    assert.equal(r.status, 200, `/metrics answered ${r.status}`);
    return parsePrometheus(r.body.toString());
  }

  // Polls /metrics until pred(metrics); bounded by timeoutMs.
  async waitFor(what, pred, { timeoutMs = 20000, show = [] } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive()) throw new Error(`propwatch died ${JSON.stringify(this.exit)} waiting for ${what}`);
      const m = await this.metrics();
      if (pred(m)) return m;
      if (Date.now() > deadline) {
        const shown = [...m.map].filter(([k]) => show.some((s) => k.startsWith(s)));
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(shown)}`);
      }
      await sleep(100);
    }
  }

  async traceJson(traceId) {
    const r = await this.get(`/api/v1/traces/${traceId}`);
    assert.equal(r.status, 200, `trace API: ${r.status} ${r.body}`);
    assert.match(r.headers['content-type'], /^application\/json/);
    return JSON.parse(r.body.toString());
  }

  async traceText(traceId) {
    const r = await this.get(`/api/v1/traces/${traceId}?format=text`);
    assert.equal(r.status, 200, `trace API: ${r.status} ${r.body}`);
    return r.body.toString();
  }
}

// Starts a tap, runs body(tap), always stops it; a failure carries the tap's stderr.
async function withTap(binary, flags, name, body) {
  const tap = new Tap(binary, flags, name);
  try {
    await tap.start();
    await body(tap);
  } catch (e) {
    e.message += `\n--- propwatch[${name}] stderr ---\n${tap.stderr}`;
    throw e;
  } finally {
    const exit = await tap.stop();
    if (exit && exit.code !== 0) {
      // eslint-disable-next-line no-unsafe-finally
      throw new Error(`propwatch[${name}] exit ${JSON.stringify(exit)} on SIGTERM:\n${tap.stderr}`);
    }
  }
}

module.exports = { Tap, withTap, parsePrometheus, seriesKey, request, sleep, LOOPBACK };
