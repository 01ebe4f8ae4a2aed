"""The gateway's `http` boundary, broken and fixed, against a fake worker.

Runs the real gateway server (port 0) with the real `requests` instrumentation
switched on in both modes, spans going to an in-memory exporter. The test's
own calls use urllib (http.client), which the instrumentation does not see.
The instrumentation runs as the demo runs it, with the stable HTTP semantic
conventions (`OTEL_SEMCONV_STABILITY_OPT_IN=http`, read once, when it is
first switched on).

    <venv>/bin/python -m pytest demo/services/gateway/test_gateway.py
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "http"  # as run_demo.py starts the gateway

import pytest  # noqa: E402
from opentelemetry import propagate  # noqa: E402
from opentelemetry.instrumentation.requests import RequestsInstrumentor  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

import gateway  # noqa: E402


@pytest.fixture(scope="module")
def tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    RequestsInstrumentor().instrument(tracer_provider=provider)
    yield provider, exporter
    RequestsInstrumentor().uninstrument()
    provider.shutdown()


class FakeWorker:
    """`POST /orders`, `POST /batch` -> 202, remembering each request's path,
    headers and body."""

    def __init__(self, status: int = 202):
        self.received: list[tuple[dict, dict]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                outer.paths.append(self.path)
                data = b'{"queued": true}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def run_checkout(tracing, fixes: str, worker_status: int = 202, query: str = ""):
    status, reply, worker, spans = run_get(tracing, fixes, f"/checkout?order=o-42{query}",
                                           worker_status)
    assert set(worker.paths) <= {"/orders"}
    return status, reply, worker.received, spans


def run_batch(tracing, fixes: str, query: str, worker_status: int = 202):
    status, reply, worker, spans = run_get(tracing, fixes, f"/batch?{query}", worker_status)
    assert set(worker.paths) <= {"/batch"}
    return status, reply, worker.received, spans


def run_get(tracing, fixes: str, path: str, worker_status: int, headers: dict | None = None):
    """GET `path` from a gateway in front of a fake worker, then /healthz."""
    provider, exporter = tracing
    exporter.clear()
    worker = FakeWorker(worker_status)
    server = gateway.make_server("127.0.0.1", 0, worker.url,
                                 gateway.make_client(gateway.parse_fixes(fixes)),
                                 tracer_provider=provider)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        try:
            request = urllib.request.Request(f"{base}{path}", headers=headers or {})
            with urllib.request.urlopen(request, timeout=10) as resp:
                status, reply = resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            status, reply = err.code, json.loads(err.read())
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
            assert resp.status == 200
    finally:
        server.shutdown()
        server.server_close()
        worker.close()
    return status, reply, worker, exporter.get_finished_spans()


@pytest.fixture
def propagators_env(monkeypatch):
    """Rebuilds the global propagator from `OTEL_PROPAGATORS`, as the
    OpenTelemetry API does when the gateway starts; restored afterwards."""
    def configure(value: str) -> None:
        monkeypatch.setenv("OTEL_PROPAGATORS", value)
        importlib.reload(propagate)
    yield configure
    monkeypatch.undo()
    importlib.reload(propagate)


def host_port(headers: dict) -> tuple[str, int]:
    """The Host header the worker received: what its otelhttp SERVER span
    records as server.address / server.port."""
    host, _, port = headers["host"].rpartition(":")
    return host, int(port)


def only(spans, kind):
    found = [s for s in spans if s.kind == kind]
    assert len(found) == 1, [(s.name, s.kind) for s in spans]
    return found[0]


def test_parse_fixes():
    assert gateway.parse_fixes(None) == set()
    assert gateway.parse_fixes("") == set()
    assert gateway.parse_fixes("async, HTTP") == {"async", "http"}
    assert gateway.parse_fixes("all") == {"http", "async", "kafka"}
    assert isinstance(gateway.make_client(set()), gateway.LegacyHttpClient)
    assert isinstance(gateway.make_client({"http"}), gateway.RequestsClient)


def test_fixed_http_client_span_and_traceparent(tracing):
    status, reply, received, spans = run_checkout(tracing, "http,kafka")
    assert status == 200
    server = only(spans, SpanKind.SERVER)
    assert server.name == "GET /checkout"
    assert server.parent is None  # entry point
    assert server.attributes["order.id"] == "o-42"
    assert reply == {"order": "o-42", "trace_id": format(server.context.trace_id, "032x")}

    client = only(spans, SpanKind.CLIENT)
    assert client.name == "POST"
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id
    assert client.context.trace_id == server.context.trace_id

    assert len(received) == 1
    headers, body = received[0]
    assert body == {"order": "o-42"}
    version, trace_id, span_id, _flags = headers["traceparent"].split("-")
    assert version == "00"
    assert int(trace_id, 16) == server.context.trace_id
    assert int(span_id, 16) == client.context.span_id  # names the CLIENT span
    assert len(spans) == 2  # /healthz is untraced
    # The destination, in the stable conventions (the opt-in): where
    # propwatch pairs a CLIENT span with the SERVER span it reached.
    address, port = host_port(headers)
    assert client.attributes["server.address"] == address == "127.0.0.1"
    assert client.attributes["server.port"] == port
    assert client.attributes["url.full"].endswith("/orders")
    assert "http.url" not in client.attributes and "net.peer.name" not in client.attributes


def test_default_propagators_inject_traceparent():
    assert gateway.propagation_fields() == ["baggage", "traceparent", "tracestate"]


def test_misconfigured_propagator_client_span_without_traceparent(tracing, propagators_env):
    """The demo's misconfigured-propagator phase: the fixed client, but
    OTEL_PROPAGATORS=baggage replaced the default tracecontext,baggage. The
    CLIENT span is made as before; no traceparent leaves with the call."""
    propagators_env("baggage")
    assert gateway.propagation_fields() == ["baggage"]
    status, reply, received, spans = run_checkout(tracing, "all")
    assert status == 200
    server = only(spans, SpanKind.SERVER)
    assert reply["trace_id"] == format(server.context.trace_id, "032x")
    client = only(spans, SpanKind.CLIENT)
    assert client.name == "POST"
    assert client.parent is not None and client.parent.span_id == server.context.span_id
    assert len(received) == 1
    headers, body = received[0]
    assert body == {"order": "o-42"}
    assert "traceparent" not in headers and "tracestate" not in headers
    # What propwatch needs to name the gateway as the caller of the worker's
    # orphan SERVER span: the destination the worker saw in its Host header.
    address, port = host_port(headers)
    assert (client.attributes["server.address"], client.attributes["server.port"]) == (address, port)
    assert len(spans) == 2


@pytest.mark.parametrize("fixes", ["", "async,kafka"])
def test_broken_http_no_client_span_no_traceparent(tracing, fixes):
    status, reply, received, spans = run_checkout(tracing, fixes)
    assert status == 200
    server = only(spans, SpanKind.SERVER)
    assert reply["trace_id"] == format(server.context.trace_id, "032x")
    assert not [s for s in spans if s.kind == SpanKind.CLIENT]
    assert len(spans) == 1
    assert len(received) == 1
    headers, body = received[0]
    assert body == {"order": "o-42"}
    assert "traceparent" not in headers
    assert "tracestate" not in headers


@pytest.mark.parametrize("fixes", ["", "all"])
def test_worker_error_is_502(tracing, fixes):
    status, reply, _received, spans = run_checkout(tracing, fixes, worker_status=500)
    assert status == 502
    assert reply["order"] == "o-42" and "500" in reply["error"]
    server = only(spans, SpanKind.SERVER)
    assert server.status.status_code.name == "ERROR"


def test_injected_failure_is_500_with_error_span(tracing):
    status, reply, received, spans = run_checkout(tracing, "all", query="&fail=1")
    assert status == 500
    assert reply["error"] == "injected failure (fail=1)"
    assert len(received) == 1  # the worker still took the order: a full trace
    server = only(spans, SpanKind.SERVER)
    assert server.status.status_code.name == "ERROR"
    assert reply["trace_id"] == format(server.context.trace_id, "032x")


def test_delay_makes_the_server_span_slow(tracing):
    status, _reply, _received, spans = run_checkout(tracing, "all", query="&delay_ms=300")
    assert status == 200
    server = only(spans, SpanKind.SERVER)
    assert server.status.status_code.name == "UNSET"
    assert (server.end_time - server.start_time) / 1e6 >= 300


def test_bad_delay_is_400(tracing):
    status, reply, received, spans = run_checkout(tracing, "all", query="&delay_ms=soon")
    assert status == 400 and "delay_ms" in reply["error"]
    assert not received and not spans


def test_batch_fixed_http_client_span_and_traceparent(tracing):
    status, reply, received, spans = run_batch(
        tracing, "all", "job=b-1&duration_ms=60000&shape=linked&chunk_ms=10000")
    assert status == 200
    server = only(spans, SpanKind.SERVER)
    assert server.name == "GET /batch"
    assert server.parent is None  # entry point
    assert server.attributes["job.id"] == "b-1"
    assert server.attributes["http.route"] == "/batch"
    assert server.attributes["http.response.status_code"] == 200
    assert reply == {"job": "b-1", "trace_id": format(server.context.trace_id, "032x")}

    client = only(spans, SpanKind.CLIENT)
    assert client.parent is not None
    assert client.parent.span_id == server.context.span_id

    assert len(received) == 1
    headers, body = received[0]
    # step_ms was not given, so it is not sent: the worker's default applies.
    assert body == {"job": "b-1", "duration_ms": 60000, "shape": "linked", "chunk_ms": 10000}
    _version, trace_id, span_id, _flags = headers["traceparent"].split("-")
    assert int(trace_id, 16) == server.context.trace_id
    assert int(span_id, 16) == client.context.span_id
    assert len(spans) == 2


@pytest.mark.parametrize("fixes", ["", "async,kafka"])
def test_batch_broken_http_no_client_span_no_traceparent(tracing, fixes):
    status, reply, received, spans = run_batch(
        tracing, fixes, "job=b-2&duration_ms=45000&shape=single&step_ms=500")
    assert status == 200
    server = only(spans, SpanKind.SERVER)
    assert server.name == "GET /batch"
    assert reply == {"job": "b-2", "trace_id": format(server.context.trace_id, "032x")}
    assert len(spans) == 1
    assert len(received) == 1
    headers, body = received[0]
    assert body == {"job": "b-2", "duration_ms": 45000, "shape": "single", "step_ms": 500}
    assert "traceparent" not in headers


@pytest.mark.parametrize("query, word", [
    ("duration_ms=100&shape=single", "job"),
    ("job=b&shape=single", "duration_ms"),
    ("job=b&duration_ms=100", "shape"),
    ("job=b&duration_ms=1.5&shape=single", "duration_ms"),
    ("job=b&duration_ms=%2B5&shape=single", "duration_ms"),
    ("job=b&duration_ms=1_000&shape=single", "duration_ms"),
    ("job=b&duration_ms=100&shape=single&step_ms=soon", "step_ms"),
    ("job=b&duration_ms=100&shape=linked&chunk_ms=-1", "chunk_ms"),
])
def test_batch_bad_query_is_400(tracing, query, word):
    status, reply, received, spans = run_batch(tracing, "all", query)
    assert status == 400 and word in reply["error"]
    assert not received and not spans


@pytest.mark.parametrize("fixes, worker_status", [("", 400), ("all", 503)])
def test_batch_worker_refusal_is_502(tracing, fixes, worker_status):
    # The worker owns the ranges and the job limit: its 400/503 is a 502 here.
    status, reply, received, spans = run_batch(
        tracing, fixes, "job=b-3&duration_ms=9999999&shape=single", worker_status)
    assert status == 502
    assert reply["job"] == "b-3" and str(worker_status) in reply["error"]
    assert len(received) == 1
    server = only(spans, SpanKind.SERVER)
    assert server.status.status_code.name == "ERROR"
    assert reply["trace_id"] == format(server.context.trace_id, "032x")


def test_server_span_captures_an_inbound_traceparent(tracing):
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    _, reply, _, spans = run_get(tracing, "all", "/checkout?order=o-1", 202, {"traceparent": tp})
    server = only(spans, SpanKind.SERVER)
    assert server.attributes["http.request.header.traceparent"] == (tp,)
    # It also continued the caller's trace.
    assert reply["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    _, _, _, spans = run_get(tracing, "all", "/checkout?order=o-2", 202)
    assert "http.request.header.traceparent" not in only(spans, SpanKind.SERVER).attributes
