'use strict';
// The demo's Kafka consumer (demo/README.md): reads topic `orders` in group
// `demo-consumer` and makes one CONSUMER span `orders process` per message.
//
// The `kafka` boundary (worker producer -> consumer) is where it can be broken:
//   broken (default): the span is started without looking at the record's
//     headers (the real bug: the consumer never extracts), so it opens a new
//     trace even when the producer sent a `traceparent`.
//   fixed (DEMO_FIXES contains `kafka`, or is `all`): the W3C context is
//     extracted from the record headers (Buffer values) and the span is
//     parented on it.
// No Kafka auto-instrumentation is loaded: it would hide the bug.
//
// Environment: DEMO_KAFKA_PORT (19092), DEMO_CONSUMER_PORT (18082, health),
// DEMO_FIXES, OTEL_EXPORTER_OTLP_ENDPOINT (http://127.0.0.1:14317, OTLP/gRPC).
// `GET /healthz` answers 200 once the consumer joined its group with a
// partition assigned, 503 before. SIGTERM / SIGINT: disconnect the consumer
// (commits its offsets), flush the spans, exit 0.
//
// Run from the repository with the dependencies that demo/services/install.sh
// prints as DEMO_CONSUMER_DIR:
//   NODE_PATH="$DEMO_CONSUMER_DIR/node_modules" node demo/services/consumer/consumer.js
// Tests: NODE_PATH=... node --test demo/services/consumer/consumer.test.js

const http = require('node:http');
const { context, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode } = require('@opentelemetry/api');

const SERVICE_NAME = 'consumer';
const HOST = '127.0.0.1';
const TOPIC = 'orders';
const GROUP_ID = 'demo-consumer';
const MAX_RESTARTS = 2; // kafkajs restarts after its own retries; then exit 1

const log = (...args) => console.error('consumer:', ...args);

// DEMO_FIXES ("http,async,kafka", "all" or empty) -> Set of fixed boundaries.
function parseFixes(value) {
  const parts = new Set(String(value || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  return parts.has('all') ? new Set(['http', 'async', 'kafka']) : parts;
}

// TextMapGetter over kafkajs record headers: { name: Buffer | string | (Buffer|string)[] }.
// Kafka header names are case-sensitive; fall back to a case-insensitive match.
const headerText = (v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v == null ? undefined : String(v));
const kafkaHeaderGetter = {
  keys(carrier) {
    return carrier ? Object.keys(carrier) : [];
  },
  get(carrier, key) {
    if (!carrier) return undefined;
    let value = carrier[key];
    if (value === undefined) {
      const name = Object.keys(carrier).find((k) => k.toLowerCase() === key);
      value = name === undefined ? undefined : carrier[name];
    }
    if (Array.isArray(value)) return value.map(headerText).filter((v) => v !== undefined);
    return headerText(value);
  },
};

// The work done per order: parse the JSON value. Throws on a bad record.
function processRecord(message) {
  const value = JSON.parse(message.value ? message.value.toString('utf8') : '');
  if (!value || typeof value.order !== 'string' || value.order === '') {
    throw new Error('record value has no "order"');
  }
  return value.order;
}

// The kafkajs eachMessage callback, independent of Kafka so it can be tested
// with plain objects: handle({ topic, partition, message }) where message has
// key / value / headers / offset as kafkajs gives them. Resolves to
// { order, error, spanContext }; a bad record is recorded on the span, logged
// and skipped (never thrown, so the consumer moves on).
function createMessageHandler({ tracer, fixes, logger = log }) {
  const extract = fixes.has('kafka');
  return async function handleMessage({ topic = TOPIC, partition, message }) {
    const key = message.key == null ? undefined : message.key.toString('utf8');
    const attributes = {
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': GROUP_ID,
    };
    if (partition !== undefined) attributes['messaging.destination.partition.id'] = String(partition);
    if (message.offset !== undefined) attributes['messaging.kafka.offset'] = Number(message.offset);
    if (key !== undefined) {
      attributes['messaging.kafka.message.key'] = key;
      attributes['order.id'] = key;
    }
    const options = { kind: SpanKind.CONSUMER, attributes };
    const span = extract
      ? tracer.startSpan(`${topic} process`, options,
        propagation.extract(ROOT_CONTEXT, message.headers || {}, kafkaHeaderGetter))
      // The bug: the record's headers are never looked at.
      : tracer.startSpan(`${topic} process`, options);
    const result = { order: key, error: undefined, spanContext: span.spanContext() };
    try {
      result.order = context.with(trace.setSpan(context.active(), span), () => processRecord(message));
      span.setAttribute('order.id', result.order);
    } catch (err) {
      result.error = err;
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      logger(`bad record at ${topic}/${partition}@${message.offset}: ${err.message}`);
    } finally {
      span.end();
    }
    return result;
  };
}

function setupTracing() {
  const { W3CTraceContextPropagator } = require('@opentelemetry/core');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');

  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT || 'http://127.0.0.1:14317';
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE_NAME }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }),
      { scheduledDelayMillis: 200 })],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return { provider, endpoint };
}

// kafkajs log lines on stderr, WARN and above.
function kafkaLogCreator() {
  const { logLevel } = require('kafkajs');
  const names = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' };
  return () => ({ namespace, level, log: entry }) => {
    // The stacks of connection errors are noise; a crash logs its own.
    const { message, timestamp, logger, stack, ...extra } = entry;
    const rest = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
    log(`kafkajs ${names[level] || level} [${namespace}] ${message}${rest}`);
  };
}

async function main() {
  const { Kafka, logLevel } = require('kafkajs');
  const fixes = parseFixes(process.env.DEMO_FIXES);
  const kafkaPort = Number(process.env.DEMO_KAFKA_PORT || 19092);
  const healthPort = Number(process.env.DEMO_CONSUMER_PORT || 18082);
  const broker = `${HOST}:${kafkaPort}`;

  const { provider, endpoint } = setupTracing();
  const handleMessage = createMessageHandler({ tracer: provider.getTracer(SERVICE_NAME), fixes });

  let ready = false;
  let assignment = {};
  let stopping = false;
  let restarts = 0;

  const health = http.createServer((req, res) => {
    const path = (req.url || '').split('?')[0];
    if (req.method !== 'GET' || path !== '/healthz') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":"not found"}\n');
      return;
    }
    res.writeHead(ready ? 200 : 503, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify({ status: ready ? 'ok' : 'not assigned', group: GROUP_ID, assignment })}\n`);
  });
  await new Promise((resolve, reject) => {
    health.once('error', reject);
    health.listen(healthPort, HOST, resolve);
  });

  const kafka = new Kafka({
    clientId: 'demo-consumer',
    brokers: [broker],
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(),
  });
  const consumer = kafka.consumer({
    groupId: GROUP_ID,
    // Crash loudly rather than retry forever in silence.
    retry: {
      retries: 5,
      restartOnFailure: async (err) => {
        restarts += 1;
        log(`consumer failed (${err.name}: ${err.message}); ` +
          (restarts <= MAX_RESTARTS ? `restart ${restarts}/${MAX_RESTARTS}` : 'giving up'));
        return restarts <= MAX_RESTARTS;
      },
    },
  });
  const { GROUP_JOIN, REBALANCING, CRASH, STOP, DISCONNECT } = consumer.events;
  consumer.on(GROUP_JOIN, ({ payload }) => {
    assignment = payload.memberAssignment || {};
    ready = Object.values(assignment).some((partitions) => partitions.length > 0);
    log(`joined group ${GROUP_ID} as ${payload.memberId}, assigned ${JSON.stringify(assignment)}`);
    if (!ready) log(`no partition of ${TOPIC} assigned to this member`);
  });
  consumer.on(REBALANCING, () => { ready = false; });
  consumer.on(STOP, () => { ready = false; });
  consumer.on(DISCONNECT, () => { ready = false; });

  async function shutdown(code) {
    if (stopping) return;
    stopping = true;
    ready = false;
    try {
      await consumer.disconnect(); // commits the offsets of what was processed
    } catch (err) {
      log(`disconnect failed: ${err.message}`);
    }
    health.close();
    try {
      await provider.shutdown(); // flushes the batch processor
      log('spans flushed, bye');
    } catch (err) {
      log(`span flush failed: ${err.message}`);
    }
    process.exit(code);
  }

  consumer.on(CRASH, ({ payload }) => {
    ready = false;
    if (!payload.restart) {
      log(`FATAL: consumer crashed: ${payload.error && payload.error.stack}`);
      shutdown(1);
    }
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      log(`${sig}, shutting down`);
      shutdown(0);
    });
  }

  log(`broker ${broker}, group ${GROUP_ID}, topic ${TOPIC}, OTLP/gRPC to ${endpoint}, health on ${HOST}:${healthPort}`);
  console.log(`consumer: consuming ${TOPIC} on ${broker}, fixes: kafka=${fixes.has('kafka')}`);

  await consumer.connect();
  // fromBeginning only matters before the group has committed offsets.
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  await consumer.run({ eachMessage: handleMessage });
}

module.exports = { parseFixes, kafkaHeaderGetter, processRecord, createMessageHandler, TOPIC, GROUP_ID };

if (require.main === module) {
  main().catch((err) => {
    log(`FATAL: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  });
}
