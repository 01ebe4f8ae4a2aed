"""The OpenTelemetry Python SDK sends the propagation scenario
(../expected_scenario.json) to a real propwatch over OTLP/gRPC and
OTLP/HTTP protobuf (each with and without gzip); /metrics must show exactly
the ground truth, and the trace API the right trees."""
from __future__ import annotations

import json
import os
import re

import pytest

from scenario import Scenario

EXPECTED = json.load(open(os.path.join(os.path.dirname(__file__), "..", "expected_scenario.json")))
IDLE = "2s"

VARIANTS = [
    ("grpc", False),
    ("grpc", True),
    ("http/protobuf", False),
    ("http/protobuf", True),
]


def _wire(transport):
    return "grpc" if transport == "grpc" else "http"


@pytest.fixture(scope="module", params=VARIANTS,
                ids=[f"{t}{'+gzip' if g else ''}" for t, g in VARIANTS])
def run(request, module_taps):
    """Runs the scenario once per transport variant on its own tap."""
    transport, gzip = request.param
    tap = module_taps("--entry-services=" + EXPECTED["entry_services"],
                      f"--trace-idle-timeout={IDLE}", name=f"py-{transport}-{gzip}")
    sc = Scenario(tap, transport, gzip)
    try:
        late_child = sc.run_until_late()
        # Every trace so far (A..G plus H's root) finalized, nothing live.
        tap.wait_for("the first 11 traces to be finalized",
                     lambda m: m.get0("propwatch_traces_finalized_total") >= 11
                     and m.get0("propwatch_traces_tracked", state="live") == 0,
                     show=["propwatch_traces", "propwatch_spans_total", "propwatch_receiver_requests"])
        late_child.end()  # H's child, exported after its trace was finalized
        sc.flush()
        final = tap.wait_for(
            "the late span and the re-finalization",
            lambda m: m.get0("propwatch_late_spans_total", service_name="gateway") >= 1
            and m.get0("propwatch_traces_finalized_total") >= 12
            and m.get0("propwatch_traces_tracked", state="live") == 0,
            show=["propwatch_traces", "propwatch_late", "propwatch_spans_total"])
    finally:
        sc.shutdown()
    yield transport, gzip, tap, sc.r, final
    assert tap.stop() == 0, f"propwatch exit code {tap.returncode} on SIGTERM"



def test_metrics_exact(run):
    _, _, tap, _, m = run
    # A fresh scrape: the values reached must also be the values that stay.
    m2 = tap.metrics()
    problems = []
    for family, want in EXPECTED["families"].items():
        got = m2.nonzero(family)
        if got != want:
            problems.append(f"{family}:\n   want {json.dumps(want, sort_keys=True)}"
                            f"\n   got  {json.dumps(got, sort_keys=True)}")
    assert not problems, "metric families differ from the ground truth:\n" + "\n".join(problems)
    assert m2.label_values("propwatch_spans_total", "service_name") == {"gateway", "worker", "consumer"}


def test_window_ratios(run):
    _, _, tap, _, _ = run
    m = tap.metrics()
    for key, (num, den) in EXPECTED["ratios"].items():
        assert key in m, f"{key} not exported"
        assert m[key] == pytest.approx(num / den, abs=1e-9), key
    assert m.v("propwatch_window_seconds") > 0


def test_receiver_counters(run):
    transport, gzip, tap, _, _ = run
    m = tap.metrics()
    wire, other = _wire(transport), "grpc" if _wire(transport) == "http" else "http"
    assert m.v("propwatch_receiver_spans_received_total", transport=wire) == EXPECTED["spans"]
    assert m.v("propwatch_receiver_spans_received_total", transport=other) == 0
    assert m.v("propwatch_receiver_spans_rejected_total", transport=wire) == 0
    assert m.v("propwatch_receiver_requests_total", transport=wire, result="ok") >= 2
    # Exactly one result per request: everything the SDK sent was ok.
    for k, v in m.family("propwatch_receiver_requests_total").items():
        if "result=ok" not in k or f"transport={other}" in k:
            assert v == 0, k
    ok = m.v("propwatch_receiver_requests_total", transport=wire, result="ok")
    assert m.v("propwatch_receiver_request_duration_seconds_count", transport=wire) == ok
    wire_b = m.v("propwatch_receiver_bytes_total", transport=wire, stage="wire")
    dec_b = m.v("propwatch_receiver_bytes_total", transport=wire, stage="decoded")
    assert wire_b > 0 and dec_b > 0
    if gzip:
        assert wire_b < dec_b, "gzip bodies should be smaller on the wire than decoded"
    else:
        assert wire_b == dec_b


def _trace_json(tap, trace_id):
    r = tap.trace(trace_id)
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def test_trace_api_connected(run):
    """Trace A: gateway -> worker -> consumer, one trace id, every parent resolved."""
    _, _, tap, res, _ = run
    tid = res.trace_ids["A"]
    t = _trace_json(tap, tid)
    want = EXPECTED["connected_trace"]
    assert t["traceId"] == tid
    assert t["spanCount"] == len(want["spans"]) == len(res.span_ids["A"])
    assert t["roots"] == 1
    assert t["unresolvedParents"] == 0
    assert t["truncated"] is False
    assert t["services"] == want["services"]
    spans = t["spans"]
    assert [(s["service"], s["kind"], s["depth"]) for s in spans] == \
        [(w["service"], w["kind"], w["depth"]) for w in want["spans"]]
    assert all(s["parentResolved"] is True for s in spans)
    # A chain: each span's parent is the span before it (depth-first order).
    assert spans[0]["parentSpanId"] is None
    for prev, cur in zip(spans, spans[1:]):
        assert cur["parentSpanId"] == prev["spanId"]
    # The span ids are exactly the ones the SDK created, in order.
    assert [s["spanId"] for s in spans] == res.span_ids["A"]
    assert all(s["links"] == 0 and s["status"] == "unset" for s in spans)


def test_trace_api_broken_parent(run):
    """Trace F: the worker's only span names a parent that never arrived."""
    _, _, tap, res, _ = run
    tid = res.trace_ids["F"]
    t = _trace_json(tap, tid)
    assert t["spanCount"] == 1 and t["roots"] == 1 and t["unresolvedParents"] == 1
    (s,) = t["spans"]
    assert s["service"] == "worker" and s["kind"] == "server"
    assert s["parentSpanId"] == res.proxy_span_id
    assert s["parentResolved"] is False
    assert s["depth"] == 0

    text = tap.trace(tid, text=True)
    assert text.status == 200 and text.headers["content-type"].startswith("text/plain")
    lines = text.body.decode().splitlines()
    assert lines[0] == f"trace {tid} spans=1 roots=1 unresolved_parents=1"
    assert re.fullmatch(r'- worker "POST /work" server unset \d+\.\d{3}ms span=' + res.span_ids["F"][0]
                        + " parent=" + res.proxy_span_id + r" \(parent missing\)", lines[1]), lines[1]


def test_trace_api_text_connected(run):
    _, _, tap, res, _ = run
    tid = res.trace_ids["A"]
    r = tap.trace(tid, text=True)
    assert r.status == 200
    lines = r.body.decode().splitlines()
    assert lines[0] == f"trace {tid} spans=5 roots=1 unresolved_parents=0"
    want = [("gateway", "GET /checkout", "server"), ("gateway", "POST worker", "client"),
            ("worker", "POST /work", "server"), ("worker", "publish orders", "producer"),
            ("consumer", "process orders", "consumer")]
    assert len(lines) == 1 + len(want)
    ids = res.span_ids["A"]
    for depth, (line, (svc, name, kind)) in enumerate(zip(lines[1:], want)):
        parent = "-" if depth == 0 else ids[depth - 1]
        pat = ("  " * depth + f'- {svc} "{re.escape(name)}" {kind} unset ' + r"\d+\.\d{3}ms"
               + f" span={ids[depth]} parent={parent}")
        assert re.fullmatch(pat, line), (pat, line)
    assert "parent missing" not in r.body.decode()


def test_trace_api_linked_root_and_late(run):
    _, _, tap, res, _ = run
    e = _trace_json(tap, res.trace_ids["E"])
    assert e["spanCount"] == 1 and e["spans"][0]["links"] == 2 and e["spans"][0]["parentResolved"]
    h = _trace_json(tap, res.trace_ids["H"])
    # The late child is in the store, under its parent.
    assert h["spanCount"] == 2 and h["unresolvedParents"] == 0
    assert [(s["name"], s["depth"]) for s in h["spans"]] == [("GET /report", 0), ("render pdf", 1)]
    # The thread-pool task started its own trace.
    assert res.trace_ids["D-task"] != res.trace_ids["D"]
    d = _trace_json(tap, res.trace_ids["D-task"])
    assert d["spanCount"] == 1 and d["spans"][0]["kind"] == "internal"


def test_trace_api_errors(run):
    _, _, tap, _, _ = run
    assert tap.trace("0" * 32).status == 400
    assert tap.trace("xyz").status == 400
    assert tap.trace("1" * 32).status == 404


def test_long_request_parent_late_then_forgotten(taps):
    """A request outlives trace_idle_timeout (children export first), then a
    redelivery arrives after late_span_retention. Per docs/semantics.md:
    the child whose parent was missing at finalization is broken (on the
    child's service) and stays counted when the parent arrives late; the
    parent is late; after retention the trace is forgotten, so the
    redelivered span starts a new distinct trace id and is broken too."""
    from opentelemetry import trace as otel_trace
    from opentelemetry.trace import SpanKind

    from scenario import PROPAGATOR, in_process, make_exporter, make_provider

    tap = taps("--entry-services=gateway", "--trace-idle-timeout=2s", "--late-span-retention=2s",
               name="long-request")
    gw = make_provider("gateway", make_exporter("grpc", tap, False))
    wk = make_provider("worker", make_exporter("http/protobuf", tap, False))
    g, w = gw.get_tracer("it"), wk.get_tracer("it")
    show = ["propwatch_traces", "propwatch_late", "propwatch_broken", "propwatch_distinct"]
    try:
        def request():
            root = g.start_span("GET /export", kind=SpanKind.SERVER)
            ctx = otel_trace.set_span_in_context(root)
            with g.start_as_current_span("POST worker", context=ctx, kind=SpanKind.CLIENT,
                                         attributes={"peer.service": "worker"}):
                headers = {}
                PROPAGATOR.inject(headers)
                def handle():
                    with w.start_as_current_span("POST /work", context=PROPAGATOR.extract(headers),
                                                 kind=SpanKind.SERVER):
                        pass
                in_process(handle)
            return root, headers
        root, headers = in_process(request)
        assert gw.force_flush(15000) and wk.force_flush(15000)
        m = tap.wait_for("the first finalization",
                         lambda m: m.get0("propwatch_traces_finalized_total") == 1, show=show)
        assert m.nonzero("propwatch_broken_parent_spans_total") == \
            {"propwatch_broken_parent_spans_total{service_name=gateway}": 1}
        assert m.get0("propwatch_root_spans_total", service_name="gateway") == 0

        root.end()  # the request finally ends: its span is late
        assert gw.force_flush(15000)
        m = tap.wait_for("the late root and re-finalization",
                         lambda m: m.get0("propwatch_traces_finalized_total") == 2
                         and m.get0("propwatch_late_spans_total", service_name="gateway") == 1,
                         show=show)
        assert m.nonzero("propwatch_broken_parent_spans_total") == \
            {"propwatch_broken_parent_spans_total{service_name=gateway}": 1}  # not withdrawn
        assert m.v("propwatch_root_spans_total", service_name="gateway") == 1
        assert m.v("propwatch_orphan_spans_total", service_name="gateway", span_kind="server") == 0
        assert m.v("propwatch_distinct_trace_ids_total") == 1
        tid = f"{root.get_span_context().trace_id:032x}"
        t = tap.trace(tid).json()
        assert t["spanCount"] == 3 and t["unresolvedParents"] == 0 and t["roots"] == 1

        tap.wait_for("the trace to be forgotten after late_span_retention",
                     lambda m: m.get0("propwatch_traces_tracked", state="finalized") == 0
                     and m.get0("propwatch_traces_tracked", state="live") == 0, show=show)

        def redelivery():  # the same request headers, delivered again much later
            with w.start_as_current_span("POST /work (redelivered)",
                                         context=PROPAGATOR.extract(headers), kind=SpanKind.SERVER):
                pass
        in_process(redelivery)
        assert wk.force_flush(15000)
        m = tap.wait_for("the redelivered span's trace to be finalized",
                         lambda m: m.get0("propwatch_traces_finalized_total") == 3, show=show)
        assert m.v("propwatch_distinct_trace_ids_total") == 2
        assert m.nonzero("propwatch_broken_parent_spans_total") == {
            "propwatch_broken_parent_spans_total{service_name=gateway}": 1,
            "propwatch_broken_parent_spans_total{service_name=worker}": 1}
        assert m.v("propwatch_late_spans_total", service_name="worker") == 0
        assert m.v("propwatch_late_spans_total", service_name="gateway") == 1
        assert m.nonzero("propwatch_unpaired_outbound_spans_total") == {}
        assert m.v("propwatch_spans_total", service_name="worker") == 2
        assert m.v("propwatch_spans_total", service_name="gateway") == 2
    finally:
        gw.shutdown()
        wk.shutdown()


def test_trace_cli_subcommand(run, propwatch_bin):
    """`propwatch trace ID --admin-address=...` prints what the API serves."""
    import subprocess
    _, _, tap, res, _ = run
    tid = res.trace_ids["A"]
    admin = f"--admin-address=127.0.0.1:{tap.admin_port}"
    p = subprocess.run([propwatch_bin, "trace", tid, admin], capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == tap.trace(tid, text=True).body
    p = subprocess.run([propwatch_bin, "trace", tid, admin, "--json"], capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == tap.trace(tid).json()
    p = subprocess.run([propwatch_bin, "trace", "1" * 32, admin], capture_output=True, timeout=20)
    assert p.returncode == 1 and b"HTTP 404" in p.stderr, p
