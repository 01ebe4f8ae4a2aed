#!/usr/bin/env python3
"""The demo's gateway: the entry point of every request (demo/README.md).

`GET /checkout?order=<id>` opens a SERVER span `GET /checkout` (context
extracted from the incoming headers; the driver sends none, so it is a trace
root), then asks the worker to take the order with `POST /orders`. Test
hooks for the tail-sampling check: `&fail=1` answers 500 with the SERVER span
in ERROR (after the worker took the order), `&delay_ms=N` (at most 10000)
answers N ms later.

`GET /batch?job=<id>&duration_ms=N&shape=single|linked[&step_ms=M][&chunk_ms=C]`
opens a SERVER span `GET /batch` the same way and starts a long job on the
worker with `POST /batch` (JSON; `step_ms`/`chunk_ms` only when given),
answering 200 `{"job", "trace_id"}` once the worker accepted it (202). It
shows how tail sampling treats a trace longer than its decision_wait. The
gateway only checks that job and shape are there and that the numbers are
whole numbers (400 otherwise); ranges and shape names are the worker's to
check, and its 400 comes back as 502 with the worker's message.

The `http` boundary (gateway -> worker) is where this service can be broken.
The official `requests` instrumentation is switched on in every mode, the
realistic situation where instrumentation is installed and yet bypassed:

* broken (default): the call goes through `LegacyHttpClient`, the team's old
  home-grown wrapper over `http.client`. `requests` never sees the call, so
  there is no CLIENT span and no `traceparent` header: the worker starts a new
  trace.
* fixed (`DEMO_FIXES` contains `http`, or is `all`): the call goes through a
  `requests.Session`; the instrumentation makes a CLIENT span `POST` and
  injects `traceparent`.

The instrumentation injects with the global propagator, which the
OpenTelemetry API builds from `OTEL_PROPAGATORS` (default
`tracecontext,baggage`). The demo's `misconfigured-propagator` phase runs the
fixed client with `OTEL_PROPAGATORS=baggage`, the classic slip of meaning to
add baggage and replacing the default list instead: the CLIENT span is still
made, but no `traceparent` leaves, so the worker starts a new trace while the
gateway holds a CLIENT span without a child.

The requests instrumentation of this version puts the destination on the
CLIENT span as `server.address`/`server.port` only with
`OTEL_SEMCONV_STABILITY_OPT_IN=http` (the stable HTTP conventions); by
default it writes the old `http.url` alone. The demo sets the opt-in, so
propwatch can pair a CLIENT span that sent no `traceparent` with the orphan
SERVER span it reached (docs/semantics.md "Broken edge").

Environment: DEMO_GATEWAY_PORT (18080), DEMO_WORKER_PORT (18081), DEMO_FIXES,
OTEL_EXPORTER_OTLP_ENDPOINT (http://127.0.0.1:14317, OTLP/gRPC, insecure),
OTEL_PROPAGATORS, OTEL_SEMCONV_STABILITY_OPT_IN (read by the OpenTelemetry
packages themselves).
SIGTERM / SIGINT: stop serving, flush the spans, exit 0.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Protocol

import requests
from opentelemetry import trace
from opentelemetry.propagate import extract, get_global_textmap
from opentelemetry.trace import SpanKind, Status, StatusCode

SERVICE_NAME = "gateway"
HOST = "127.0.0.1"
WORKER_TIMEOUT_S = 5.0


def parse_fixes(value: Optional[str]) -> set[str]:
    """`DEMO_FIXES` ("http,async,kafka", "all" or empty) -> set of fixed boundaries."""
    parts = {p.strip().lower() for p in (value or "").split(",") if p.strip()}
    if "all" in parts:
        return {"http", "async", "kafka"}
    return parts


class WorkerClient(Protocol):
    def post_json(self, url: str, payload: dict) -> tuple[int, str]:
        """POST `payload` as JSON; returns (HTTP status, response body)."""


class LegacyHttpClient:
    """Our team's retrying JSON client from 2017, written before we had tracing.

    A thin wrapper over `http.client.HTTPConnection` that retries when the
    connection is refused (the upstream restarting). It knows nothing about
    OpenTelemetry: no span, no `traceparent`, and since it never goes through
    `requests`, the `requests` instrumentation never sees it either.
    """

    def __init__(self, retries: int = 2, backoff_s: float = 0.1,
                 timeout_s: float = WORKER_TIMEOUT_S) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def post_json(self, url: str, payload: dict) -> tuple[int, str]:
        parts = urllib.parse.urlsplit(url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "legacy-http-client/1.3"}
        attempt = 0
        while True:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                              timeout=self.timeout_s)
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read().decode("utf-8", "replace")
            except ConnectionRefusedError:
                # Nothing was sent: safe to retry a POST.
                if attempt >= self.retries:
                    raise
                attempt += 1
                time.sleep(self.backoff_s * attempt)
            finally:
                conn.close()


class RequestsClient:
    """The fix: go through `requests`, which the official instrumentation wraps."""

    def __init__(self, timeout_s: float = WORKER_TIMEOUT_S) -> None:
        self.session = requests.Session()
        self.timeout_s = timeout_s

    def post_json(self, url: str, payload: dict) -> tuple[int, str]:
        resp = self.session.post(url, json=payload, timeout=self.timeout_s)
        return resp.status_code, resp.text


def make_client(fixes: set[str]) -> WorkerClient:
    return RequestsClient() if "http" in fixes else LegacyHttpClient()


def propagation_fields() -> list[str]:
    """The headers the global propagator (from `OTEL_PROPAGATORS`) writes:
    `['baggage', 'traceparent', 'tracestate']` by default, no `traceparent`
    when trace context was configured away."""
    return sorted(get_global_textmap().fields)


def make_server(host: str, port: int, worker_url: str, client: WorkerClient,
                tracer_provider: Optional[trace.TracerProvider] = None
                ) -> ThreadingHTTPServer:
    """The gateway's HTTP server (not started). Port 0 picks a free port.

    `worker_url` is the worker's base URL (`http://127.0.0.1:18081`); the
    routes `/orders` and `/batch` are appended to it.
    """
    tracer = trace.get_tracer(SERVICE_NAME, tracer_provider=tracer_provider)
    worker_url = worker_url.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "demo-gateway/1"

        def log_message(self, fmt: str, *args) -> None:  # noqa: N802 (stdlib name)
            sys.stderr.write("gateway: %s %s\n" % (self.address_string(), fmt % args))

        def _send_json(self, status: int, obj: dict) -> None:
            data = (json.dumps(obj) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/healthz":
                self._send_json(200, {"status": "ok"})  # untraced
            elif url.path == "/checkout":
                self._checkout(url)
            elif url.path == "/batch":
                self._batch(url)
            else:
                self._send_json(404, {"error": "not found"})

        def _server_span(self, url: urllib.parse.SplitResult, route: str, attributes: dict):
            """The SERVER span of a traced route, continuing the incoming
            context (the driver sends none, so it is a root: the gateway is
            the entry point of the request). An inbound traceparent is kept
            as http.request.header.traceparent, so propwatch can validate it
            (docs/capturing-traceparent.md); the instrumentations' own
            switch for it (OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST)
            does not apply to a span made by hand."""
            captured = self.headers.get_all("traceparent") or []
            if captured:
                attributes = {**attributes, "http.request.header.traceparent": tuple(captured)}
            return tracer.start_as_current_span(
                f"GET {route}", context=extract(self.headers), kind=SpanKind.SERVER,
                attributes={
                    "http.request.method": "GET",
                    "http.route": route,
                    "url.path": url.path,
                    "url.scheme": "http",
                    "server.address": HOST,
                    "server.port": self.server.server_address[1],
                    **attributes,
                })

        def _call_worker(self, path: str, payload: dict) -> Optional[str]:
            """POST `payload` to the worker; None once it answered 202, else
            the error for the reply and the span."""
            try:
                status, body = client.post_json(worker_url + path, payload)
            except (OSError, http.client.HTTPException, requests.RequestException) as exc:
                return f"worker unreachable: {exc}"
            return None if status == 202 else f"worker answered {status}: {body.strip()[:200]}"

        def _checkout(self, url: urllib.parse.SplitResult) -> None:
            query = urllib.parse.parse_qs(url.query)
            order = query.get("order", [""])[0]
            if not order:
                self._send_json(400, {"error": "missing ?order=<id>"})
                return
            # Test hooks for the tail-sampling check (demo/README.md):
            # fail=1 ends the request with an error, delay_ms=N makes it slow.
            fail = query.get("fail", ["0"])[0] == "1"
            try:
                delay_ms = min(max(int(query.get("delay_ms", ["0"])[0]), 0), 10_000)
            except ValueError:
                self._send_json(400, {"error": "delay_ms must be a whole number"})
                return
            with self._server_span(url, "/checkout", {"order.id": order}) as span:
                trace_id = format(span.get_span_context().trace_id, "032x")
                error = self._call_worker("/orders", {"order": order})
                if delay_ms:
                    time.sleep(delay_ms / 1000)
                if error is not None:
                    code = 502
                elif fail:
                    code, error = 500, "injected failure (fail=1)"
                else:
                    code = 200
                reply = {"order": order, "trace_id": trace_id}
                if error is not None:
                    reply["error"] = error
                    span.set_status(Status(StatusCode.ERROR, error))
                span.set_attribute("http.response.status_code", code)
                self._send_json(code, reply)

        def _batch(self, url: urllib.parse.SplitResult) -> None:
            query = urllib.parse.parse_qs(url.query)
            job = query.get("job", [""])[0]
            shape = query.get("shape", [""])[0]
            if not job:
                self._send_json(400, {"error": "missing ?job=<id>"})
                return
            if not shape:
                self._send_json(400, {"error": "missing &shape=single|linked"})
                return
            payload: dict = {"job": job, "shape": shape}
            # Only the syntax is checked here: the worker owns the ranges, so
            # they live in one place.
            for name, required in (("duration_ms", True), ("step_ms", False),
                                   ("chunk_ms", False)):
                value = query.get(name, [""])[0]
                if not value:
                    if required:
                        self._send_json(400, {"error": f"missing &{name}=N"})
                        return
                    continue
                # Not int(): it would also take "+5", " 5" and "1_000".
                if not value.isascii() or not value.isdigit():
                    self._send_json(400, {"error": f"{name} must be a whole number"})
                    return
                payload[name] = int(value)
            with self._server_span(url, "/batch", {"job.id": job}) as span:
                trace_id = format(span.get_span_context().trace_id, "032x")
                error = self._call_worker("/batch", payload)
                code = 200 if error is None else 502
                reply = {"job": job, "trace_id": trace_id}
                if error is not None:
                    reply["error"] = error
                    span.set_status(Status(StatusCode.ERROR, error))
                span.set_attribute("http.response.status_code", code)
                self._send_json(code, reply)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def setup_tracing():
    """Global TracerProvider exporting OTLP/gRPC with a short batch delay."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://127.0.0.1:14317"
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint, insecure=True), schedule_delay_millis=200))
    trace.set_tracer_provider(provider)
    return provider, endpoint


def main() -> int:
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    fixes = parse_fixes(os.environ.get("DEMO_FIXES"))
    port = int(os.environ.get("DEMO_GATEWAY_PORT") or 18080)
    worker_port = int(os.environ.get("DEMO_WORKER_PORT") or 18081)
    worker_url = f"http://{HOST}:{worker_port}"

    provider, endpoint = setup_tracing()
    # On in every mode: installed, and bypassed when the call does not go
    # through `requests` (the broken mode).
    RequestsInstrumentor().instrument()

    server = make_server(HOST, port, worker_url, make_client(fixes))
    stop = threading.Event()

    def on_signal(signum, _frame):
        print(f"gateway: {signal.Signals(signum).name}, shutting down", file=sys.stderr,
              flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    print(f"gateway: listening on {HOST}:{server.server_address[1]}, "
          f"fixes: http={'true' if 'http' in fixes else 'false'}", flush=True)
    print(f"gateway: worker {worker_url}, OTLP/gRPC to {endpoint}", file=sys.stderr, flush=True)
    fields = propagation_fields()
    print(f"gateway: propagators inject {', '.join(fields) or 'nothing'} "
          f"(OTEL_PROPAGATORS={os.environ.get('OTEL_PROPAGATORS', '(unset)')}); "
          f"OTEL_SEMCONV_STABILITY_OPT_IN={os.environ.get('OTEL_SEMCONV_STABILITY_OPT_IN', '(unset)')}",
          file=sys.stderr, flush=True)

    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    provider.shutdown()  # flushes the batch processor
    print("gateway: spans flushed, bye", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
