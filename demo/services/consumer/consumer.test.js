'use strict';
// The consumer's `kafka` boundary, broken and fixed, without Kafka: the
// eachMessage handler fed kafkajs-shaped records, spans to an in-memory exporter.
// Run: NODE_PATH="$DEMO_CONSUMER_DIR/node_modules" node --test demo/services/consumer/consumer.test.js
const test = require('node:test');
const assert = require('node:assert/strict');
const { propagation, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const {
  parseFixes, kafkaHeaderGetter, createMessageHandler, TOPIC,
} = require('./consumer');

propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('consumer-test');

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PRODUCER_SPAN_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${PRODUCER_SPAN_ID}-01`;

// A record as kafkajs hands it to eachMessage: key, value and header values are Buffers.
const record = (order, headers = {}, offset = '7') => ({
  topic: TOPIC,
  partition: 0,
  message: {
    key: Buffer.from(order),
    value: Buffer.from(JSON.stringify({ order })),
    headers,
    offset,
  },
});

async function handle(fixes, rec) {
  exporter.reset();
  const quiet = [];
  const result = await createMessageHandler({ tracer, fixes: parseFixes(fixes), logger: (m) => quiet.push(m) })(rec);
  const spans = exporter.getFinishedSpans();
  assert.equal(spans.length, 1);
  return { result, span: spans[0], logged: quiet };
}

function assertConsumerSpan(span, order) {
  assert.equal(span.name, 'orders process');
  assert.equal(span.kind, SpanKind.CONSUMER);
  assert.equal(span.attributes['messaging.system'], 'kafka');
  assert.equal(span.attributes['messaging.destination.name'], 'orders');
  assert.equal(span.attributes['messaging.operation.type'], 'process');
  assert.equal(span.attributes['order.id'], order);
}

test('parseFixes', () => {
  assert.deepEqual([...parseFixes('')], []);
  assert.deepEqual([...parseFixes(undefined)], []);
  assert.deepEqual([...parseFixes(' kafka ,HTTP')].sort(), ['http', 'kafka']);
  assert.deepEqual([...parseFixes('all')].sort(), ['async', 'http', 'kafka']);
});

test('header getter turns Buffer values into strings', () => {
  const headers = { traceparent: Buffer.from(TRACEPARENT), multi: [Buffer.from('a'), 'b'], Tracestate: 'k=v' };
  assert.equal(kafkaHeaderGetter.get(headers, 'traceparent'), TRACEPARENT);
  assert.deepEqual(kafkaHeaderGetter.get(headers, 'multi'), ['a', 'b']);
  assert.equal(kafkaHeaderGetter.get(headers, 'tracestate'), 'k=v');
  assert.equal(kafkaHeaderGetter.get(headers, 'absent'), undefined);
  assert.equal(kafkaHeaderGetter.get(undefined, 'traceparent'), undefined);
  assert.deepEqual(kafkaHeaderGetter.keys(headers), ['traceparent', 'multi', 'Tracestate']);
});

test('fixed: the span is a child of the producer span named in the headers', async () => {
  const { result, span } = await handle('kafka', record('o-1', { traceparent: Buffer.from(TRACEPARENT) }));
  assertConsumerSpan(span, 'o-1');
  assert.equal(span.spanContext().traceId, TRACE_ID);
  assert.ok(span.parentSpanContext, 'span has a parent');
  assert.equal(span.parentSpanContext.spanId, PRODUCER_SPAN_ID);
  assert.equal(span.parentSpanContext.traceId, TRACE_ID);
  assert.equal(span.parentSpanContext.isRemote, true);
  assert.equal(result.order, 'o-1');
  assert.equal(result.error, undefined);
});

test('fixed with all: same as kafka', async () => {
  const { span } = await handle('all', record('o-2', { traceparent: TRACEPARENT }));
  assert.equal(span.parentSpanContext.spanId, PRODUCER_SPAN_ID);
  assert.equal(span.spanContext().traceId, TRACE_ID);
});

test('fixed without headers: a root span', async () => {
  const { span } = await handle('kafka', record('o-3'));
  assertConsumerSpan(span, 'o-3');
  assert.equal(span.parentSpanContext, undefined);
});

for (const fixes of ['', 'http,async']) {
  test(`broken (DEMO_FIXES="${fixes}"): a root span in a new trace despite the headers`, async () => {
    const { span } = await handle(fixes, record('o-4', { traceparent: Buffer.from(TRACEPARENT) }));
    assertConsumerSpan(span, 'o-4');
    assert.equal(span.parentSpanContext, undefined);
    assert.notEqual(span.spanContext().traceId, TRACE_ID);
  });
}

test('a bad record is recorded on the span, not thrown', async () => {
  const rec = record('o-5');
  rec.message.value = Buffer.from('not json');
  const { result, span, logged } = await handle('kafka', rec);
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.attributes['order.id'], 'o-5');
  assert.ok(result.error);
  assert.equal(logged.length, 1);
});
