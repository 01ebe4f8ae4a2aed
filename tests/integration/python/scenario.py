"""The propagation scenario of ../expected_scenario.json, driven by the real
OpenTelemetry Python SDK: one TracerProvider per service (as if each were its
own process), BatchSpanProcessor + the OTLP exporter under test, the W3C
trace-context propagator for every hand-off that works.

Each "service" handles its requests in a fresh contextvars.Context (the
process boundary): only what crosses in headers connects the spans.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from harness import ids_hex

PROPAGATOR = TraceContextTextMapPropagator()
CAPTURED = "http.request.header.traceparent"
# Sent by a legacy client to G: version ff (forbidden) and an all-zero trace id.
INVALID_TRACEPARENTS = [
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",
]


def make_exporter(transport: str, tap, gzip: bool):
    if transport == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter(endpoint=f"127.0.0.1:{tap.grpc_port}", insecure=True, timeout=10,
                                compression=grpc.Compression.Gzip if gzip else None)
    if transport == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter(endpoint=f"http://127.0.0.1:{tap.http_port}/v1/traces", timeout=10,
                                compression=Compression.Gzip if gzip else Compression.NoCompression)
    raise ValueError(transport)


def make_provider(service: str, exporter=None) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    return provider


def in_process(fn: Callable, *args):
    """Runs fn as the entry of a request in another process: no ambient context."""
    return contextvars.Context().run(fn, *args)


@dataclass
class ScenarioResult:
    trace_ids: Dict[str, str] = field(default_factory=dict)   # scenario letter -> trace id hex
    span_ids: Dict[str, List[str]] = field(default_factory=dict)  # letter -> span ids (creation order)
    proxy_span_id: str = ""  # F's never-exported parent


class Scenario:
    def __init__(self, tap, transport: str, gzip: bool = False):
        self.tap = tap
        self.providers = {s: make_provider(s, make_exporter(transport, tap, gzip))
                          for s in ("gateway", "worker", "consumer")}
        # F's upstream: instrumented, but its exporter is not configured.
        self.providers["edge-proxy"] = make_provider("edge-proxy")
        self.t = {s: p.get_tracer("propwatch.integration") for s, p in self.providers.items()}
        self.r = ScenarioResult()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker-pool")

    def _note(self, letter: str, span):
        tid, sid = ids_hex(span.get_span_context())
        self.r.trace_ids.setdefault(letter, tid)
        self.r.span_ids.setdefault(letter, []).append(sid)

    # --- the services ---------------------------------------------------------

    def worker_http(self, letter: str, headers: Dict[str, str], mode: str, messages: list):
        """worker's HTTP handler. mode: extract | ignore (captures but does not
        extract) | legacy (invalid captured headers) | pool (extract, then a
        thread-pool task)."""
        w = self.t["worker"]
        attrs = {"http.request.method": "POST", "url.path": "/work"}
        if "traceparent" in headers:  # the server records the header it received
            attrs[CAPTURED] = [headers["traceparent"]]
        if mode == "legacy":
            attrs[CAPTURED] = list(INVALID_TRACEPARENTS)
        ctx = PROPAGATOR.extract(headers) if mode in ("extract", "pool") else None
        with w.start_as_current_span("POST /work", context=ctx, kind=SpanKind.SERVER,
                                     attributes=attrs) as server:
            self._note(letter, server)
            if mode == "extract" and letter == "A":
                with w.start_as_current_span("publish orders", kind=SpanKind.PRODUCER,
                                             attributes={"messaging.system": "kafka",
                                                         "messaging.destination.name": "orders"}) as p:
                    self._note(letter, p)
                    msg = {}
                    PROPAGATOR.inject(msg)
                    messages.append(("A", msg))
            if mode == "pool":
                # ThreadPoolExecutor does not carry contextvars into its threads:
                # the task's span starts a new trace (the classic bug).
                def task():
                    with w.start_as_current_span("resize image", kind=SpanKind.INTERNAL) as s:
                        self._note("D-task", s)
                self.pool.submit(task).result(timeout=10)

    def consumer_poll(self, letter: str, msg: Dict[str, str], extract: bool):
        c = self.t["consumer"]
        ctx = PROPAGATOR.extract(msg) if extract else None
        with c.start_as_current_span("process orders", context=ctx, kind=SpanKind.CONSUMER,
                                     attributes={"messaging.system": "kafka",
                                                 "messaging.destination.name": "orders"}) as s:
            self._note(letter, s)
            return s.get_span_context()

    def gateway_request(self, letter: str, worker_mode: str = "", publish: bool = False):
        g = self.t["gateway"]
        messages: list = []
        with g.start_as_current_span("GET /checkout", kind=SpanKind.SERVER,
                                     attributes={"http.request.method": "GET"}) as root:
            self._note(letter, root)
            if worker_mode:
                with g.start_as_current_span("POST worker", kind=SpanKind.CLIENT,
                                             attributes={"peer.service": "worker",
                                                         "server.address": "worker.internal"}) as cl:
                    self._note(letter, cl)
                    headers: Dict[str, str] = {}
                    PROPAGATOR.inject(headers)
                    in_process(self.worker_http, letter, headers, worker_mode, messages)
            if publish:
                with g.start_as_current_span("publish orders", kind=SpanKind.PRODUCER,
                                             attributes={"messaging.system": "kafka",
                                                         "messaging.destination.name": "orders"}) as p:
                    self._note(letter, p)
                    msg: Dict[str, str] = {}
                    PROPAGATOR.inject(msg)
                    messages.append((letter, msg))
        return messages

    # --- the scenario -------------------------------------------------------

    def flush(self):
        for name, p in self.providers.items():
            assert p.force_flush(timeout_millis=15000), f"{name}: force_flush timed out"

    def run_until_late(self):
        """A..G, then H's root. Returns H's still-open child span."""
        # A: connected end to end.
        msgs = in_process(self.gateway_request, "A", "extract")
        a_consumer = in_process(self.consumer_poll, "A", msgs[0][1], True)
        # B: the worker captured the traceparent but did not extract it.
        in_process(self.gateway_request, "B", "ignore")
        # C: the consumer did not extract the message headers.
        msgs = in_process(self.gateway_request, "C", "", True)
        c_consumer = in_process(self.consumer_poll, "C", msgs[0][1], False)
        # D: propagated to the worker, lost in its thread pool.
        in_process(self.gateway_request, "D", "pool")
        # E: a batch consumer span linking both messages, no parent.
        def batch():
            with self.t["consumer"].start_as_current_span(
                    "process batch", kind=SpanKind.CONSUMER,
                    links=[Link(a_consumer), Link(c_consumer)]) as s:
                self._note("E", s)
        in_process(batch)
        # F: the parent span lives in a proxy that exports nothing.
        def proxy():
            with self.t["edge-proxy"].start_as_current_span("proxy", kind=SpanKind.SERVER) as s:
                self.r.proxy_span_id = ids_hex(s.get_span_context())[1]
                headers: Dict[str, str] = {}
                PROPAGATOR.inject(headers)
                in_process(self.worker_http, "F", headers, "extract", [])
        in_process(proxy)
        # G: a legacy client sent garbage traceparents.
        in_process(self.worker_http, "G", {}, "legacy", [])
        self.flush()

        # H: the request ends; background work outlives trace_idle_timeout.
        g = self.t["gateway"]
        def report():
            root = g.start_span("GET /report", kind=SpanKind.SERVER)
            self._note("H", root)
            child = g.start_span("render pdf", kind=SpanKind.INTERNAL,
                                 context=trace.set_span_in_context(root))
            self._note("H", child)
            root.end()
            return child
        child = in_process(report)
        self.providers["gateway"].force_flush(timeout_millis=15000)
        return child

    def shutdown(self):
        self.pool.shutdown(wait=True)
        for p in self.providers.values():
            p.shutdown()
