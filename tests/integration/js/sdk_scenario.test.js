'use strict';
// The OpenTelemetry JS SDK sends the propagation scenario
// (../expected_scenario.json) to a real propwatch over OTLP/gRPC,
// OTLP/HTTP protobuf and OTLP/HTTP JSON; /metrics must show exactly the
// ground truth and the trace API the right trees.
// Run: PROPWATCH_BIN=build/exporter/tap/propwatch NODE_PATH=<env>/node_modules node --test this file
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { withTap } = require('./harness');
const { Scenario } = require('./scenario');

const EXPECTED = require(path.join(__dirname, '..', 'expected_scenario.json'));
const BIN = process.env.PROPWATCH_BIN;

test.before(() => {
  assert.ok(BIN, 'set PROPWATCH_BIN to the propwatch binary');
});

function checkFamilies(m) {
  const problems = [];
  for (const [family, want] of Object.entries(EXPECTED.families)) {
    const got = m.nonzero(family);
    try {
      assert.deepEqual(got, want);
    } catch {
      problems.push(`${family}:\n   want ${JSON.stringify(want)}\n   got  ${JSON.stringify(got)}`);
    }
  }
  assert.equal(problems.length, 0, `metric families differ from the ground truth:\n${problems.join('\n')}`);
}

for (const transport of ['grpc', 'http/protobuf', 'http/json']) {
  test(`JS SDK over ${transport}: exact metrics and trace API`, async () => {
    await withTap(BIN, [`--entry-services=${EXPECTED.entry_services}`, '--trace-idle-timeout=2s'],
      `js-${transport}`, async (tap) => {
        const sc = new Scenario(tap, transport);
        let m;
        try {
          const lateChild = await sc.runUntilLate();
          await tap.waitFor('the first 11 traces to be finalized',
            (x) => x.get0('propwatch_traces_finalized_total') >= 11
              && x.get0('propwatch_traces_tracked', { state: 'live' }) === 0,
            { show: ['propwatch_traces', 'propwatch_spans_total', 'propwatch_receiver_requests'] });
          lateChild.end();
          await sc.flush();
          m = await tap.waitFor('the late span and the re-finalization',
            (x) => x.get0('propwatch_late_spans_total', { service_name: 'gateway' }) >= 1
              && x.get0('propwatch_traces_finalized_total') >= 12
              && x.get0('propwatch_traces_tracked', { state: 'live' }) === 0,
            { show: ['propwatch_traces', 'propwatch_late', 'propwatch_spans_total'] });
        } finally {
          await sc.shutdown();
        }

        // Exact counters.
        checkFamilies(m);
        for (const [key, [num, den]] of Object.entries(EXPECTED.ratios)) {
          assert.ok(m.map.has(key), `${key} not exported`);
          assert.ok(Math.abs(m.map.get(key) - num / den) < 1e-9, `${key} = ${m.map.get(key)}, want ${num}/${den}`);
        }
        const wire = transport === 'grpc' ? 'grpc' : 'http';
        const other = wire === 'grpc' ? 'http' : 'grpc';
        assert.equal(m.v('propwatch_receiver_spans_received_total', { transport: wire }), EXPECTED.spans);
        assert.equal(m.v('propwatch_receiver_spans_received_total', { transport: other }), 0);
        assert.equal(m.v('propwatch_receiver_spans_rejected_total', { transport: wire }), 0);
        assert.ok(m.v('propwatch_receiver_requests_total', { transport: wire, result: 'ok' }) >= 2);
        for (const [k, v] of Object.entries(m.family('propwatch_receiver_requests_total'))) {
          if (!k.includes('result=ok') || k.includes(`transport=${other}`)) assert.equal(v, 0, k);
        }

        // Trace API: A is connected gateway -> worker -> consumer.
        const a = await tap.traceJson(sc.traceIds.A);
        const want = EXPECTED.connected_trace;
        assert.equal(a.traceId, sc.traceIds.A);
        assert.equal(a.spanCount, want.spans.length);
        assert.equal(a.roots, 1);
        assert.equal(a.unresolvedParents, 0);
        assert.deepEqual(a.services, want.services);
        assert.deepEqual(a.spans.map((s) => [s.service, s.kind, s.depth]),
          want.spans.map((s) => [s.service, s.kind, s.depth]));
        assert.ok(a.spans.every((s) => s.parentResolved === true));
        assert.equal(a.spans[0].parentSpanId, null);
        for (let i = 1; i < a.spans.length; i++) assert.equal(a.spans[i].parentSpanId, a.spans[i - 1].spanId);
        assert.deepEqual(a.spans.map((s) => s.spanId), sc.spanIds.A);

        // F: the parent never arrived.
        const f = await tap.traceJson(sc.traceIds.F);
        assert.equal(f.spanCount, 1);
        assert.equal(f.unresolvedParents, 1);
        assert.equal(f.spans[0].parentSpanId, sc.proxySpanId);
        assert.equal(f.spans[0].parentResolved, false);
        const text = await tap.traceText(sc.traceIds.F);
        const lines = text.split('\n');
        assert.equal(lines[0], `trace ${sc.traceIds.F} spans=1 roots=1 unresolved_parents=1`);
        assert.match(lines[1], new RegExp(`^- worker "POST /work" server unset \\d+\\.\\d{3}ms span=${sc.spanIds.F[0]} parent=${sc.proxySpanId} \\(parent missing\\)$`));

        // The job loop's span started its own trace.
        assert.notEqual(sc.traceIds['D-task'], sc.traceIds.D);
        const e = await tap.traceJson(sc.traceIds.E);
        assert.equal(e.spans[0].links, 2);
      });
  });
}
