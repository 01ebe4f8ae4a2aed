'use strict';
// The propagation scenario of ../expected_scenario.json, driven by the real
// OpenTelemetry JS SDK (sdk-trace-node): one NodeTracerProvider per service
// (as if each were its own process), BatchSpanProcessor + the OTLP exporter
// under test, AsyncLocalStorage context, the W3C trace-context propagator for
// every hand-off that works. Each "service" handles a request under
// ROOT_CONTEXT (the process boundary): only headers connect the spans.
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');

const { context, trace, SpanKind, ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter } = api;

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const PROP = new W3CTraceContextPropagator();
const CAPTURED = 'http.request.header.traceparent';
const INVALID_TRACEPARENTS = [
  'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  '00-00000000000000000000000000000000-b7ad6b7169203331-01',
];

function makeExporter(transport, tap) {
  if (transport === 'grpc') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
    return new OTLPTraceExporter({ url: `http://127.0.0.1:${tap.grpcPort}`, timeoutMillis: 10000 });
  }
  const url = `http://127.0.0.1:${tap.httpPort}/v1/traces`;
  if (transport === 'http/protobuf') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
    return new OTLPTraceExporter({ url, timeoutMillis: 10000 });
  }
  if (transport === 'http/json') {
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url, timeoutMillis: 10000 });
  }
  throw new Error(transport);
}

function makeProvider(service, exporter) {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: service }),
    spanProcessors: exporter ? [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 })] : [],
  });
}

const inject = (carrier) => PROP.inject(context.active(), carrier, defaultTextMapSetter);
const extract = (carrier) => PROP.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
// Runs fn as the entry of a request in another process: no ambient context.
const inProcess = (fn) => context.with(ROOT_CONTEXT, fn);

// A job loop started at boot, under the root context: jobs pushed from a
// request run in the loop's async context, not the request's (the Node.js
// form of "the thread pool dropped the context").
class JobLoop {
  constructor() {
    this.jobs = [];
    this.wake = null;
    this.running = true;
    this.done = inProcess(() => this.loop());
  }
  async loop() {
    while (this.running) {
      while (this.jobs.length) {
        const { fn, resolve, reject } = this.jobs.shift();
        try { resolve(await fn()); } catch (e) { reject(e); }
      }
      if (!this.running) break;
      await new Promise((r) => { this.wake = r; });
    }
  }
  submit(fn) {
    return new Promise((resolve, reject) => {
      this.jobs.push({ fn, resolve, reject });
      if (this.wake) { const w = this.wake; this.wake = null; w(); }
    });
  }
  async stop() {
    this.running = false;
    if (this.wake) this.wake();
    await this.done;
  }
}

class Scenario {
  constructor(tap, transport) {
    this.providers = {};
    for (const s of ['gateway', 'worker', 'consumer']) this.providers[s] = makeProvider(s, makeExporter(transport, tap));
    // F's upstream: instrumented, but its exporter is not configured.
    this.providers['edge-proxy'] = makeProvider('edge-proxy', null);
    this.t = Object.fromEntries(Object.entries(this.providers).map(([s, p]) => [s, p.getTracer('propwatch.integration')]));
    this.traceIds = {};
    this.spanIds = {};
    this.proxySpanId = '';
    this.jobs = new JobLoop();
  }

  note(letter, span) {
    const { traceId, spanId } = span.spanContext();
    if (!(letter in this.traceIds)) this.traceIds[letter] = traceId;
    (this.spanIds[letter] ??= []).push(spanId);
  }

  // Starts an active span, runs fn(span) inside it, ends it.
  async span(service, name, opts, ctx, fn = async () => {}) {
    const tracer = this.t[service];
    const run = (span) => Promise.resolve(fn(span)).finally(() => span.end());
    return ctx ? tracer.startActiveSpan(name, opts, ctx, run) : tracer.startActiveSpan(name, opts, run);
  }

  // worker's HTTP handler; mode: extract | ignore | legacy | pool.
  async workerHttp(letter, headers, mode, messages) {
    const attributes = { 'http.request.method': 'POST', 'url.path': '/work' };
    if (headers.traceparent) attributes[CAPTURED] = [headers.traceparent];
    if (mode === 'legacy') attributes[CAPTURED] = [...INVALID_TRACEPARENTS];
    const ctx = mode === 'extract' || mode === 'pool' ? extract(headers) : undefined;
    await this.span('worker', 'POST /work', { kind: SpanKind.SERVER, attributes }, ctx, async (server) => {
      this.note(letter, server);
      if (mode === 'extract' && letter === 'A') {
        await this.span('worker', 'publish orders', {
          kind: SpanKind.PRODUCER,
          attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
        }, undefined, async (p) => {
          this.note(letter, p);
          const msg = {};
          inject(msg);
          messages.push(msg);
        });
      }
      if (mode === 'pool') {
        await this.jobs.submit(() => this.span('worker', 'resize image', { kind: SpanKind.INTERNAL }, undefined,
          async (s) => this.note('D-task', s)));
      }
    });
  }

  async consumerPoll(letter, msg, doExtract) {
    let sc;
    await this.span('consumer', 'process orders', {
      kind: SpanKind.CONSUMER,
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
    }, doExtract ? extract(msg) : undefined, async (s) => { this.note(letter, s); sc = s.spanContext(); });
    return sc;
  }

  async gatewayRequest(letter, workerMode, publish) {
    const messages = [];
    await this.span('gateway', 'GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET' } },
      undefined, async (root) => {
        this.note(letter, root);
        if (workerMode) {
          await this.span('gateway', 'POST worker', {
            kind: SpanKind.CLIENT, attributes: { 'peer.service': 'worker', 'server.address': 'worker.internal' },
          }, undefined, async (cl) => {
            this.note(letter, cl);
            const headers = {};
            inject(headers);
            await inProcess(() => this.workerHttp(letter, headers, workerMode, messages));
          });
        }
        if (publish) {
          await this.span('gateway', 'publish orders', {
            kind: SpanKind.PRODUCER,
            attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
          }, undefined, async (p) => {
            this.note(letter, p);
            const msg = {};
            inject(msg);
            messages.push(msg);
          });
        }
      });
    return messages;
  }

  async flush() {
    for (const p of Object.values(this.providers)) await p.forceFlush();
  }

  // A..G, then H's root; returns H's still-open child span.
  async runUntilLate() {
    let msgs = await inProcess(() => this.gatewayRequest('A', 'extract', false));
    const aConsumer = await inProcess(() => this.consumerPoll('A', msgs[0], true));
    await inProcess(() => this.gatewayRequest('B', 'ignore', false));
    msgs = await inProcess(() => this.gatewayRequest('C', '', true));
    const cConsumer = await inProcess(() => this.consumerPoll('C', msgs[0], false));
    await inProcess(() => this.gatewayRequest('D', 'pool', false));
    await inProcess(() => this.span('consumer', 'process batch', {
      kind: SpanKind.CONSUMER, links: [{ context: aConsumer }, { context: cConsumer }],
    }, undefined, async (s) => this.note('E', s)));
    await inProcess(() => this.span('edge-proxy', 'proxy', { kind: SpanKind.SERVER }, undefined, async (s) => {
      this.proxySpanId = s.spanContext().spanId;
      const headers = {};
      inject(headers);
      await inProcess(() => this.workerHttp('F', headers, 'extract', []));
    }));
    await inProcess(() => this.workerHttp('G', {}, 'legacy', []));
    await this.flush();

    const g = this.t.gateway;
    const root = g.startSpan('GET /report', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    this.note('H', root);
    const child = g.startSpan('render pdf', { kind: SpanKind.INTERNAL }, trace.setSpan(ROOT_CONTEXT, root));
    this.note('H', child);
    root.end();
    await this.providers.gateway.forceFlush();
    return child;
  }

  async shutdown() {
    await this.jobs.stop();
    for (const p of Object.values(this.providers)) await p.shutdown();
  }
}

module.exports = { Scenario };
