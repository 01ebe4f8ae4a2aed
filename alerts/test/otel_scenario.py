#!/usr/bin/env python3
"""A small three-service system instrumented with the real OpenTelemetry SDK.

Used by prometheus_e2e.sh to feed a running propwatch tap. All spans are made
and exported by the SDK (TracerProvider, BatchSpanProcessor, OTLP exporters);
context travels between the "services" through the real W3C TraceContext
propagator and a dict standing in for HTTP headers.

  gateway  entry point (--entry-services=gateway). Starts every trace.
           Exports OTLP/gRPC.
  worker   internal, BROKEN for a majority of requests:
             - a custom HTTP client wrapper drops the traceparent header
               (worker SERVER span is a root: orphan, span_kind=server)
             - the header arrives but the handler never extracts it
               (orphan + extraction failure: valid captured traceparent)
             - the header arrives corrupted (invalid traceparent, orphan)
             - a thread pool runs work without the current context
               (orphan, span_kind=internal)
           Healthy requests go through an uninstrumented proxy now and then,
           which re-parents the call onto a span id nobody exports (broken
           parent). Exports OTLP/HTTP.
  billing  internal, healthy: always extracts, always a child. Exports
           OTLP/gRPC.

The gateway also ends an audit span a few seconds after its request
(late span when --trace-idle-timeout is shorter) and calls an uninstrumented
payment API (unpaired outbound).

Stops after --duration seconds or on SIGTERM/SIGINT, flushing the exporters.
"""
import argparse
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
CAPTURED = "http.request.header.traceparent"  # HTTP semconv header capture


def provider(service, exporter):
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    return tp


class System:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.broken_fraction = args.broken_fraction
        grpc_ep = f"{args.grpc_host}:{args.grpc_port}"
        http_ep = f"http://{args.http_host}:{args.http_port}/v1/traces"
        self.providers = [
            provider("gateway", GrpcSpanExporter(endpoint=grpc_ep, insecure=True)),
            provider("worker", HttpSpanExporter(endpoint=http_ep)),
            provider("billing", GrpcSpanExporter(endpoint=grpc_ep, insecure=True)),
        ]
        self.gateway = self.providers[0].get_tracer("scenario.gateway")
        self.worker = self.providers[1].get_tracer("scenario.worker")
        self.billing = self.providers[2].get_tracer("scenario.billing")
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.deferred = []  # (end_at, span): audit spans ended late
        self.lock = threading.Lock()
        self.counts = {}

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    # ---- worker -------------------------------------------------------------
    def worker_handle(self, headers, mode):
        received = headers.get("traceparent", "")
        attrs = {CAPTURED: [received]} if received else {}
        if mode == "header_dropped":
            # The client wrapper lost the header: nothing to extract.
            ctx = otel_context.Context()
            attrs = {}
        elif mode == "not_extracted":
            # Header captured by the server instrumentation, never extracted.
            ctx = otel_context.Context()
        else:
            ctx = PROPAGATOR.extract(headers)  # corrupted header: empty context
        with self.worker.start_as_current_span(
            "POST /work", context=ctx, kind=SpanKind.SERVER, attributes=attrs
        ) as server_span:
            if mode == "pool_without_context":
                # Thread pool hand-off that drops the current context.
                self.pool.submit(self._pool_task, None).result()
            else:
                self.pool.submit(self._pool_task, otel_context.get_current()).result()
            if self.rng.random() < 0.05:
                # Batch follow-up: a new trace that links back (linked root).
                link = Link(server_span.get_span_context())
                self.worker.start_span(
                    "batch flush", context=otel_context.Context(),
                    kind=SpanKind.CONSUMER, links=[link],
                ).end()

    def _pool_task(self, ctx):
        token = otel_context.attach(ctx) if ctx is not None else None
        try:
            with self.worker.start_as_current_span("render", kind=SpanKind.INTERNAL):
                pass
        finally:
            if token is not None:
                otel_context.detach(token)

    # ---- billing ------------------------------------------------------------
    def billing_handle(self, headers):
        ctx = PROPAGATOR.extract(headers)
        with self.billing.start_as_current_span(
            "POST /charge", context=ctx, kind=SpanKind.SERVER,
            attributes={CAPTURED: headers.get("traceparent", "")},
        ):
            pass

    # ---- gateway ------------------------------------------------------------
    def request(self, i):
        r = self.rng.random()
        if r < self.broken_fraction:
            mode = self.rng.choice(
                ["header_dropped", "not_extracted", "corrupted", "pool_without_context"]
            )
        else:
            mode = "ok"
        self.count(mode)
        with self.gateway.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
            with self.gateway.start_as_current_span(
                "POST worker/work", kind=SpanKind.CLIENT,
                attributes={"peer.service": "worker"},
            ):
                headers = {}
                PROPAGATOR.inject(headers)
                if mode == "corrupted":
                    # A hand-rolled header writer upper-cases the trace id.
                    v, tid, pid, fl = headers["traceparent"].split("-")
                    headers["traceparent"] = "-".join([v, tid.upper(), pid, fl])
                if mode == "ok" and self.rng.random() < 0.2:
                    # Uninstrumented proxy: forwards a traceparent naming a
                    # span of its own that is never exported.
                    sc = trace.get_current_span().get_span_context()
                    ghost = SpanContext(
                        trace_id=sc.trace_id,
                        span_id=self.rng.getrandbits(64) or 1,
                        is_remote=True,
                        trace_flags=TraceFlags(TraceFlags.SAMPLED),
                    )
                    headers = {}
                    PROPAGATOR.inject(headers, context=trace.set_span_in_context(NonRecordingSpan(ghost)))
                    self.count("uninstrumented_hop")
                self.worker_handle(headers, mode)
            with self.gateway.start_as_current_span(
                "POST billing/charge", kind=SpanKind.CLIENT,
                attributes={"peer.service": "billing"},
            ):
                headers = {}
                PROPAGATOR.inject(headers)
                self.billing_handle(headers)
            with self.gateway.start_as_current_span(
                "POST payments-api", kind=SpanKind.CLIENT,
                attributes={"peer.service": "payments-api"},
            ):
                pass  # third party: reports no spans (unpaired outbound)
            if i % 10 == 0:
                audit = self.gateway.start_span("audit", kind=SpanKind.INTERNAL)
                with self.lock:
                    self.deferred.append((time.monotonic() + 3.5, audit))
            del root

    def end_due(self, everything=False):
        now = time.monotonic()
        with self.lock:
            due = [s for t, s in self.deferred if everything or t <= now]
            self.deferred = [(t, s) for t, s in self.deferred if not (everything or t <= now)]
        for s in due:
            s.end()

    def shutdown(self):
        self.end_due(everything=True)
        self.pool.shutdown(wait=True)
        for tp in self.providers:
            tp.force_flush(5000)
            tp.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grpc-host", default="127.0.0.1")
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--http-host", default="127.0.0.1")
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds")
    ap.add_argument("--broken-fraction", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    system = System(args)
    start = time.monotonic()
    i = 0
    while not stop.is_set() and time.monotonic() - start < args.duration:
        system.request(i)
        system.end_due()
        i += 1
        next_at = start + i / args.rate
        stop.wait(max(0.0, next_at - time.monotonic()))
    system.shutdown()
    print(f"otel_scenario: {i} requests in {time.monotonic() - start:.1f}s: "
          + ", ".join(f"{k}={v}" for k, v in sorted(system.counts.items())), flush=True)


if __name__ == "__main__":
    main()
