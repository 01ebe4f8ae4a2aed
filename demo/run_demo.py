#!/usr/bin/env python3
"""The demo driver behind scripts/demo.sh.

Starts Kafka, propwatch, the two collector tiers and the three services as
plain processes on 127.0.0.1, then runs each phase (baseline = all broken,
each fix alone, all fixed, all fixed with a misconfigured propagator; then
tail-sampling, see run_tail_sampling): restarts the services with the
phase's fixes, drives N user requests through the gateway, waits until every
span reached propwatch, every trace was finalized and every orphan's broken
edge was decided, and reads propwatch's /metrics. The per-phase numbers are
counter increases over the phase, so nothing is estimated. Writes the
orphan-rate table, the broken-edge attribution table (measured against the
demo's ground truth), one fixed request's span dump (from propwatch's trace
API) and the `propwatch check` gate verdicts to --out.

Exit code 0 when every phase completed (whatever the numbers say); 1 when
something did not start, a span never arrived, or a result could not be
read. Processes are stopped on success and on failure; the work folder with
every log is deleted on success and kept (path printed) on failure.

Python 3.9+ standard library only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
from promtext import parse_samples  # noqa: E402 (the shared parser, found via the path above)
DEFAULT_OUT = ROOT / "docs" / "results"
PROPAGATION_DOC = ROOT / "docs" / "propagation.md"

SERVICES = ("gateway", "worker", "consumer")

# (phase name, DEMO_FIXES value, what it shows)
PHASES = {
    "baseline": ("", "all three boundaries broken"),
    "fix-http": ("http", "only the gateway's HTTP client fixed"),
    "fix-async": ("async", "only the worker's goroutine-pool hand-off fixed"),
    "fix-kafka": ("kafka", "only Kafka inject/extract fixed"),
    "all-fixed": ("all", "every boundary fixed"),
    "misconfigured-propagator": ("all", "every boundary fixed, but the gateway runs with "
                                        "OTEL_PROPAGATORS=baggage: its HTTP client makes the CLIENT "
                                        "span and sends no traceparent"),
    "tail-sampling": ("all", "all fixed, through the tail-sampling tier: one error and "
                             "one slow request among many normal ones"),
    "long-traces": ("all", "all fixed, a batch job longer than the tail sampler's decision_wait, "
                           "among steady normal traffic"),
}
DEFAULT_PHASES = ["baseline", "fix-http", "fix-async", "fix-kafka", "all-fixed",
                  "misconfigured-propagator", "tail-sampling", "long-traces"]
# Phases that are not one of the per-boundary phases (their own runner and
# report).
SPECIAL_PHASES = ("tail-sampling", "long-traces")

# The long-traces phase's three runs: (name, job shape, decision_wait covers
# the job?, what it shows).
LONG_VARIANTS = (
    ("over-wait", "single", False, "the job is one trace, longer than decision_wait"),
    ("raised-wait", "single", True, "the same job, decision_wait raised to cover it"),
    ("sub-traces", "linked", False, "the job as span-linked sub-traces that each fit decision_wait"),
)
TAIL_INSTANCES = ("a", "b")

BOUNDARIES = ("http", "async", "kafka")

# What every phase's services are started with, as their deployment would
# set it: the gateway's requests instrumentation writes the CLIENT span's
# destination (server.address, server.port) only under the stable HTTP
# conventions; without it propwatch cannot name the caller of an orphan
# SERVER span (demo/README.md "Attributes for broken-edge attribution").
SERVICE_ENV = {"gateway": {"OTEL_SEMCONV_STABILITY_OPT_IN": "http"}}
# Per-phase additions. OTEL_PROPAGATORS replaces the default list
# (tracecontext,baggage): set to "baggage" to add baggage, it drops W3C trace
# context, so the gateway's CLIENT span is made but no traceparent is sent.
PHASE_SERVICE_ENV = {
    "misconfigured-propagator": {"gateway": {"OTEL_PROPAGATORS": "baggage"}},
}
DEFAULT_PROPAGATORS = "tracecontext,baggage"


def parse_fixes(value: str) -> set[str]:
    """DEMO_FIXES ("http,kafka", "all" or empty) -> the fixed boundaries."""
    return set(BOUNDARIES) if value == "all" else set(filter(None, value.split(",")))


def service_env(phase: str) -> dict[str, dict[str, str]]:
    """The environment each service gets in `phase`, on top of DEMO_FIXES."""
    out = {s: dict(SERVICE_ENV.get(s, {})) for s in SERVICES}
    for s, extra in PHASE_SERVICE_ENV.get(phase, {}).items():
        out[s].update(extra)
    return out


def gateway_injects_traceparent(env: dict[str, dict[str, str]]) -> bool:
    """Whether the gateway's propagators (OTEL_PROPAGATORS) include W3C
    trace context."""
    value = env.get("gateway", {}).get("OTEL_PROPAGATORS", DEFAULT_PROPAGATORS)
    return "tracecontext" in {p.strip() for p in value.split(",")}


# Broken edges (docs/semantics.md "Broken edge"): which span kind's orphans
# each boundary label counts.
EDGE_ORPHAN_KIND = {"http": "server", "messaging": "consumer"}


def expected_edges(fixes: set[str], injects: bool, n: int) -> dict[tuple[str, str], tuple[str, int]]:
    """The ground truth of the demo's design: {(callee, boundary): (caller,
    orphans)}. The legacy HTTP wrapper makes no CLIENT span, so the worker's
    orphan SERVER spans have no recorded caller ("unknown"); a fixed client
    that sends no traceparent left its CLIENT span ("gateway"); a broken
    Kafka hop leaves the worker's PRODUCER span ("worker")."""
    out = {}
    if "http" not in fixes:
        out[("worker", "http")] = ("unknown", n)
    elif not injects:
        out[("worker", "http")] = ("gateway", n)
    if "kafka" not in fixes:
        out[("consumer", "messaging")] = ("worker", n)
    return out


# A fixed request is 6 spans: gateway SERVER + CLIENT, worker SERVER +
# INTERNAL + PRODUCER, consumer CONSUMER (demo/README.md). The legacy HTTP
# wrapper of the broken gateway makes no CLIENT span.
def expected_spans(fixes: set[str]) -> dict[str, int]:
    return {"gateway": 2 if "http" in fixes else 1, "worker": 3, "consumer": 1}


# The parent chain one fixed request must show, root first: (service, kind).
FIXED_CHAIN = [
    ("gateway", "server"),
    ("gateway", "client"),
    ("worker", "server"),
    ("worker", "internal"),
    ("worker", "producer"),
    ("consumer", "consumer"),
]

PORT_DEFAULTS = {
    "DEMO_KAFKA_PORT": 19092,
    "DEMO_KAFKA_CONTROLLER_PORT": 19093,
    "DEMO_COLLECTOR_GRPC_PORT": 14317,
    "DEMO_COLLECTOR_HTTP_PORT": 14318,
    "DEMO_TAIL_A_GRPC_PORT": 24317,
    "DEMO_TAIL_B_GRPC_PORT": 24327,
    "DEMO_SAMPLED_TAP_A_GRPC_PORT": 24417,
    "DEMO_SAMPLED_TAP_B_GRPC_PORT": 24427,
    "DEMO_TAIL_A_METRICS_PORT": 28888,
    "DEMO_TAIL_B_METRICS_PORT": 28898,
    "DEMO_SAMPLED_TAP_A_ADMIN_PORT": 29417,
    "DEMO_SAMPLED_TAP_B_ADMIN_PORT": 29427,
    "DEMO_TAP_GRPC_PORT": 14417,
    "DEMO_TAP_HTTP_PORT": 14418,
    "DEMO_TAP_ADMIN_PORT": 19417,
    "DEMO_GATEWAY_PORT": 18080,
    "DEMO_WORKER_PORT": 18081,
    "DEMO_CONSUMER_PORT": 18082,
}


class DemoError(Exception):
    """A step of the demo failed; the message says which and why."""


def log(msg: str) -> None:
    print(f"demo: {msg}", flush=True)


# --- Prometheus text format --------------------------------------------------

def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(name, sorted label pairs): value} for every sample; raises DemoError
    on a malformed scrape rather than reading part of it."""
    try:
        return {(n, tuple(sorted(labels.items()))): v for n, labels, v in parse_samples(text)}
    except ValueError as e:
        raise DemoError(f"propwatch /metrics: {e}") from None


def metric_sum(samples, name: str, **want: str) -> float:
    """Sum of `name` over the samples whose labels include `want`."""
    total = 0.0
    for (n, labels), v in samples.items():
        if n != name:
            continue
        d = dict(labels)
        if all(d.get(k) == val for k, val in want.items()):
            total += v
    return total


def label_values(samples, name: str, label: str) -> set[str]:
    return {dict(labels).get(label, "") for (n, labels) in samples if n == name}


# --- processes ----------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path


@dataclass
class Demo:
    args: argparse.Namespace
    work: Path
    env: dict
    procs: dict = field(default_factory=dict)
    kafka_started: bool = False
    edges_supported: bool = False  # the tap exports propwatch_broken_edges_total
    ready_from: dict = field(default_factory=dict)  # collector name -> log offset

    # -- helpers
    def port(self, key: str) -> int:
        return int(self.env[key])

    def admin(self) -> str:
        return f"127.0.0.1:{self.port('DEMO_TAP_ADMIN_PORT')}"

    def start(self, name: str, argv: list[str], extra_env: dict | None = None,
              cwd: Path | None = None) -> Proc:
        log_path = self.work / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(self.env)
        env.update(extra_env or {})
        f = open(log_path, "ab")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env,
                             cwd=str(cwd or ROOT), start_new_session=True)
        f.close()
        proc = Proc(name, p, log_path)
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 30.0) -> None:
        # 30 s: the worker's own shutdown (HTTP, pool, producer, exporter)
        # may take up to 4 x 5 s before its last spans are flushed.
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        p = proc.popen
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in {timeout:.0f}s after SIGTERM; killing it")
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()

    def check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.popen.poll() is not None:
            raise DemoError(f"{name} exited with code {proc.popen.returncode}:\n"
                            + tail(proc.log_path))

    def stop_all(self) -> None:
        """Stops everything started, newest first; one failure does not keep
        the rest running. Signals are ignored meanwhile (a second Ctrl-C
        must not abandon the clean-up)."""
        old = {sig: signal.signal(sig, signal.SIG_IGN)
               for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            for name in reversed(list(self.procs)):
                try:
                    self.stop(name)
                except Exception as e:  # noqa: BLE001 (keep stopping the others)
                    log(f"could not stop {name}: {e}")
            if self.kafka_started:
                subprocess.run(["bash", str(DEMO / "kafka" / "stop.sh"), str(self.work / "kafka")],
                               env=self.env, check=False)
                self.kafka_started = False
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + l for l in text[-lines:])


# Every address is loopback: never go through an http_proxy from the
# environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with _OPENER.open(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def wait_until(what: str, predicate, timeout: float, demo: Demo | None = None,
               alive: tuple[str, ...] = ()) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        for name in alive:
            demo.check_alive(name)
        try:
            if predicate():
                return
        except (OSError, urllib.error.URLError, ValueError) as e:
            last_error = f" (last error: {e})"
        time.sleep(0.2)
    raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}{last_error}")


def healthy(url: str):
    return lambda: http_get(url, timeout=1.0)[0] == 200


# --- the system ------------------------------------------------------------

def start_infrastructure(d: Demo) -> None:
    a = d.args
    log("starting Kafka (KRaft, single node)")
    d.kafka_started = True
    r = subprocess.run([str(DEMO / "kafka" / "start.sh"), str(d.work / "kafka")], env=d.env)
    if r.returncode != 0:
        raise DemoError(f"Kafka did not start (demo/kafka/start.sh exit {r.returncode}); "
                        f"log: {d.work / 'kafka' / 'kafka.log'}")

    doc = subprocess.run([a.propwatch, "--print-metrics-doc"], capture_output=True, text=True)
    d.edges_supported = "propwatch_broken_edges_total" in doc.stdout
    if not d.edges_supported:
        log("this propwatch has no broken-edge attribution (propwatch_broken_edges_total): "
            "the attribution table stays empty")
    log("starting propwatch")
    d.start("propwatch", [
        a.propwatch,
        f"--otlp-grpc-address=127.0.0.1:{d.port('DEMO_TAP_GRPC_PORT')}",
        f"--otlp-http-address=127.0.0.1:{d.port('DEMO_TAP_HTTP_PORT')}",
        f"--admin-address={d.admin()}",
        "--entry-services=gateway",
        f"--trace-idle-timeout={a.trace_idle_timeout}s",
        # The demo's taps start before any service and never change: no
        # trace can be split between two taps, so judge from the first span.
        "--rebalance-window=0",
        f"--window={a.window}s",
        "--window-resolution=1s",
        # The trace API must still hold each phase's first request (the gate)
        # and every tail-sampling trace (durations) when they are looked up.
        f"--trace-store-max-traces="
        f"{max(10000, 8 * ((len(PHASES) - len(SPECIAL_PHASES)) * 4 * a.requests + a.tail_requests + 2))}",
    ])
    wait_until("propwatch /healthz", healthy(f"http://{d.admin()}/healthz"), 30, d, ("propwatch",))

    # Behind each tail-sampling instance, a second propwatch ("sampled tap")
    # whose trace API shows exactly which traces that instance kept.
    log("starting two sampled taps, two tail-sampling collectors, then the fan-out collector")
    for i in TAIL_INSTANCES:
        start_sampled_tap(d, i)
    for i in TAIL_INSTANCES:
        start_tier2(d, i, wait_ready=False)
    start_collector(d, "collector-tier1", "tier1", {}, wait_ready=False)
    for name in [f"collector-tier2{i}" for i in TAIL_INSTANCES] + ["collector-tier1"]:
        wait_collector_ready(d, name)


def start_sampled_tap(d: Demo, i: str) -> None:
    a = d.args
    I = i.upper()
    admin = sampled_admin(d, i)
    d.start(f"propwatch-sampled-{i}", [
        a.propwatch,
        f"--otlp-grpc-address=127.0.0.1:{d.port(f'DEMO_SAMPLED_TAP_{I}_GRPC_PORT')}",
        "--otlp-http-address=off", f"--admin-address={admin}",
        "--entry-services=gateway", f"--trace-idle-timeout={a.trace_idle_timeout}s",
        "--rebalance-window=0",
    ])
    wait_until(f"sampled tap {i} /healthz", healthy(f"http://{admin}/healthz"), 30, d,
               (f"propwatch-sampled-{i}",))


def sampled_admin(d: Demo, i: str) -> str:
    return f"127.0.0.1:{d.port(f'DEMO_SAMPLED_TAP_{i.upper()}_ADMIN_PORT')}"


def start_tier2(d: Demo, i: str, extra_env: dict | None = None, wait_ready: bool = True) -> None:
    """Tail-sampling instance i; extra_env overrides tier2.yaml's settings
    (DEMO_TAIL_DECISION_WAIT, DEMO_TAIL_NUM_TRACES, ...)."""
    I = i.upper()
    env = {"DEMO_TAIL_GRPC_PORT": d.env[f"DEMO_TAIL_{I}_GRPC_PORT"],
           "DEMO_SAMPLED_TAP_GRPC_PORT": d.env[f"DEMO_SAMPLED_TAP_{I}_GRPC_PORT"],
           "DEMO_TAIL_METRICS_PORT": d.env[f"DEMO_TAIL_{I}_METRICS_PORT"]}
    env.update(extra_env or {})
    start_collector(d, f"collector-tier2{i}", "tier2", env, wait_ready)


def start_collector(d: Demo, name: str, config: str, env: dict, wait_ready: bool) -> None:
    log_path = d.work / "logs" / f"{name}.log"
    # The log is appended to across restarts: look for readiness past its end.
    d.ready_from[name] = log_path.stat().st_size if log_path.exists() else 0
    d.start(name, [d.args.otelcol, f"--config={DEMO / 'collector' / (config + '.yaml')}"], env)
    if wait_ready:
        wait_collector_ready(d, name)


def wait_collector_ready(d: Demo, name: str) -> None:
    # The collector logs "Everything is ready" once its pipelines run.
    def ready() -> bool:
        with open(d.procs[name].log_path, "rb") as f:
            f.seek(d.ready_from.get(name, 0))
            return b"Everything is ready" in f.read()
    wait_until(f"{name} ready", ready, 60, d, (name,))


def start_services(d: Demo, fixes_value: str, phase: str) -> None:
    a = d.args
    env = {"DEMO_FIXES": fixes_value}
    extra = service_env(phase)
    d.start("worker", [a.worker_bin], dict(env, **extra["worker"]))
    d.start("gateway", [a.gateway_python, str(DEMO / "services" / "gateway" / "gateway.py")],
            dict(env, **extra["gateway"]))
    d.start("consumer", ["node", str(DEMO / "services" / "consumer" / "consumer.js")],
            dict(env, NODE_PATH=str(Path(a.consumer_dir) / "node_modules"), **extra["consumer"]))
    for name, key in (("worker", "DEMO_WORKER_PORT"), ("gateway", "DEMO_GATEWAY_PORT"),
                      ("consumer", "DEMO_CONSUMER_PORT")):
        wait_until(f"{name} /healthz", healthy(f"http://127.0.0.1:{d.port(key)}/healthz"),
                   90, d, (name,))


def stop_services(d: Demo) -> None:
    # Gateway first (no new work), consumer last (drains what was produced).
    for name in ("gateway", "worker", "consumer"):
        d.stop(name)


def read_metrics(d: Demo):
    status, body = http_get(f"http://{d.admin()}/metrics")
    if status != 200:
        raise DemoError(f"propwatch /metrics answered {status}")
    return parse_metrics(body)


def drive(d: Demo, phase: str, n: int, rate: float = 0.0) -> list[str]:
    """Sends n user requests (at most `rate` per second when > 0); returns the
    trace ids the gateway reported."""
    def one(i: int) -> str:
        status, trace_id = checkout(d, f"{phase}-{i}")
        if status != 200:
            raise DemoError(f"request {phase}-{i}: gateway answered {status}")
        return trace_id

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=d.args.concurrency)
    futures = []
    try:
        t0 = time.monotonic()
        for i in range(n):
            if rate > 0:
                time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            # Stop early rather than queue requests behind a failure.
            for f in futures[-d.args.concurrency:]:
                if f.done() and f.exception():
                    f.result()
            if i % 50 == 0:
                for name in SERVICES:
                    d.check_alive(name)
            futures.append(pool.submit(one, i))
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def diff(after, before):
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def wait_for_spans(d: Demo, before, want: dict[str, int]) -> None:
    """Waits until propwatch received `want` more spans per service than in
    `before`, then until every trace was finalized (idle for
    trace_idle_timeout and judged)."""
    def arrived():
        now = diff(read_metrics(d), before)
        got = {s: metric_sum(now, "propwatch_spans_total", service_name=s) for s in want}
        arrived.last = got
        return all(got[s] >= want[s] for s in want)
    arrived.last = {}
    try:
        wait_until("every span at propwatch", arrived, d.args.delivery_timeout, d, SERVICES)
    except DemoError as e:
        raise DemoError(f"{e}: expected {want}, got {arrived.last}") from None
    wait_until("trace finalization",
               lambda: metric_sum(read_metrics(d), "propwatch_traces_tracked", state="live") == 0,
               d.args.trace_idle_timeout + 30, d, ("propwatch",))


def checkout(d: Demo, order: str, extra: str = "") -> tuple[int, str]:
    """One user request; returns (HTTP status, the request's trace id)."""
    try:
        status, body = http_get(
            f"http://127.0.0.1:{d.port('DEMO_GATEWAY_PORT')}/checkout?order={order}{extra}",
            timeout=15)
    except OSError as e:  # URLError, timeouts, refused connections
        raise DemoError(f"request {order}: gateway unreachable: {e}") from None
    try:
        return status, json.loads(body)["trace_id"]
    except (ValueError, KeyError):
        raise DemoError(f"request {order}: gateway answered {status}: {body[:200]}") from None


def sampled_metrics(admin: str):
    """A sampled tap's /metrics."""
    return parse_metrics(http_get(f"http://{admin}/metrics")[1])


def sampler_check(d: Demo, admins: dict[str, str]) -> dict:
    """`propwatch sampler-check --json`: the main tap's trace store (every
    span) against the sampled taps' stores; every kept trace must be whole
    and on one instance. Exit 1 (a finding) is a result, not an error."""
    check = subprocess.run([d.args.propwatch, "sampler-check", f"--pre={d.admin()}",
                            f"--post={','.join(admins.values())}", "--json"],
                           capture_output=True, text=True, timeout=60)
    if check.returncode not in (0, 1):
        raise DemoError(f"propwatch sampler-check exit {check.returncode}: {check.stdout}{check.stderr}")
    return json.loads(check.stdout)


def run_tail_sampling(d: Demo, results: dict) -> None:
    """All fixed, many normal requests plus one failing and one slow one,
    through tier 1's load_balancing exporter (routing_key: traceID) to two
    tail-sampling instances, each exporting what it keeps to its own sampled
    tap. Reads both sampled taps' trace APIs for every request's trace id."""
    a = d.args
    n = a.tail_requests
    fixes_value, meaning = PHASES["tail-sampling"]
    log(f"phase tail-sampling: {meaning}")
    start_services(d, fixes_value, "tail-sampling")
    admins = {i: sampled_admin(d, i) for i in TAIL_INSTANCES}

    def sampled_span_total():
        return sum(metric_sum(sampled_metrics(adm), "propwatch_spans_total")
                   for adm in admins.values())

    before = read_metrics(d)
    sampled_before = sampled_span_total()
    t0 = time.monotonic()
    # Paced: a burst beyond what the worker's pool and Kafka sustain makes
    # every trace slow (queueing), and the latency policy rightly keeps them.
    normal = drive(d, "tail", n, a.tail_rate)
    status, error_id = checkout(d, "tail-error", "&fail=1")
    if status != 500:
        raise DemoError(f"the injected failure answered {status}, expected 500")
    status, slow_id = checkout(d, "tail-slow", f"&delay_ms={a.slow_ms}")
    if status != 200:
        raise DemoError(f"the slow request answered {status}, expected 200")
    log(f"  {n} normal + 1 failing + 1 slow ({a.slow_ms} ms) requests in {time.monotonic() - t0:.1f}s")
    wait_for_spans(d, before, {s: c * (n + 2) for s, c in expected_spans(parse_fixes(fixes_value)).items()})

    # The sampler decides decision_wait after a trace's first span; wait until
    # both sampled taps have received the two traces that must be kept, then
    # until they have stopped receiving for 3 s.
    def kept_anywhere(trace_id: str) -> bool:
        return any(http_get(f"http://{adm}/api/v1/traces/{trace_id}")[0] == 200
                   for adm in admins.values())

    wait_until("the sampled taps to receive the failing and the slow trace",
               lambda: kept_anywhere(error_id) and kept_anywhere(slow_id),
               60, d, ("collector-tier2a", "collector-tier2b"))
    last, last_change, deadline = -1.0, time.monotonic(), time.monotonic() + 60
    while True:
        now = sampled_span_total()
        if now != last:
            last, last_change = now, time.monotonic()
        elif time.monotonic() - last_change >= 3:
            break
        if time.monotonic() > deadline:
            raise DemoError("the sampled taps were still receiving spans after 60 s")
        time.sleep(0.5)
    log(f"  sampled taps received {int(last - sampled_before)} spans")

    def lookup(trace_id: str) -> dict[str, int]:
        found = {}
        for i, adm in admins.items():
            code, body = http_get(f"http://{adm}/api/v1/traces/{trace_id}")
            if code == 200:
                found[i] = json.loads(body)["spanCount"]
            elif code != 404:
                raise DemoError(f"sampled tap {i} answered {code} for {trace_id}")
        return found

    def duration_ms(trace_id: str) -> float:
        """The whole trace's duration, from the tap that saw every span."""
        code, body = http_get(f"http://{d.admin()}/api/v1/traces/{trace_id}")
        if code != 200:
            raise DemoError(f"propwatch trace API answered {code} for {trace_id}")
        return json.loads(body)["durationMs"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        normal_found = list(pool.map(lookup, normal))
        normal_ms = list(pool.map(duration_ms, normal))
    error_found, slow_found = lookup(error_id), lookup(slow_id)
    all_found = normal_found + [error_found, slow_found]
    per_instance = {i: sum(1 for f in all_found if i in f) for i in TAIL_INSTANCES}
    sampler = sampler_check(d, admins)
    kept_normal = sum(1 for f in normal_found if f)
    tier2 = (DEMO / "collector" / "tier2.yaml").read_text()
    # "num_traces: ${env:DEMO_TAIL_NUM_TRACES:-10000}": the default applies here.
    num_traces = re.search(r"^\s*num_traces:\s*(?:\$\{env:\w+:-)?(\d+)", tier2, re.M)
    threshold = float(re.search(r"^\s*threshold_ms:\s*(\d+)", tier2, re.M).group(1))
    # A normal request can be slow on its own (a stall under load): the
    # latency policy must keep those. The 1% policy is judged on the fast
    # ones. Traces within 5 ms of the threshold are left out of both.
    fast = [f for f, ms in zip(normal_found, normal_ms) if ms < threshold - 5]
    slow = [f for f, ms in zip(normal_found, normal_ms) if ms > threshold + 5]
    results["tail-sampling"] = {
        "fixes": sorted(parse_fixes(fixes_value)),
        "meaning": meaning,
        "requests": n + 2,
        "latency_threshold_ms": threshold,
        "rate_per_s": a.tail_rate,
        "normal_requests": n,
        "normal_kept": kept_normal,
        "normal_kept_fraction": kept_normal / n,
        "normal_fast": len(fast),
        "normal_fast_kept": sum(1 for f in fast if f),
        "normal_slow": len(slow),
        "normal_slow_kept": sum(1 for f in slow if f),
        "error_trace": {"trace_id": error_id, "kept_by": error_found},
        "slow_trace": {"trace_id": slow_id, "delay_ms": a.slow_ms, "kept_by": slow_found},
        "traces_kept_per_instance": per_instance,
        "traces_kept_by_both_instances": len(sampler["split"]),
        "kept_traces_not_whole": len(sampler["missingSpans"]) + len(sampler["moreAfterThanBefore"]),
        "sampler_check": {k: sampler[k] for k in ("kept", "whole", "notInPre", "truncated", "passed")},
        "num_traces_cap": int(num_traces.group(1)) if num_traces else None,
    }
    stop_services(d)
    results["_last_phase_end"] = time.monotonic()
    r = results["tail-sampling"]
    log(f"  kept: error {error_found or 'NO'}, slow {slow_found or 'NO'}, "
        f"{kept_normal}/{n} normal ({100 * r['normal_kept_fraction']:.1f}%), per instance {per_instance}")


# --- the long-traces phase ---------------------------------------------------

def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc (MiB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise DemoError(f"no VmRSS in /proc/{pid}/status")


def otel_sum(samples, name: str, **want: str) -> float:
    """A collector metric: counters carry a _total suffix on /metrics."""
    return metric_sum(samples, name, **want) + metric_sum(samples, name + "_total", **want)


def tier2_state(d: Demo, i: str) -> dict:
    """One tail-sampling instance: RSS, traces in its ring (num_traces
    bound), and traces still awaiting their decision (new trace ids minus
    decisions made, both from its own metrics)."""
    port = d.port(f"DEMO_TAIL_{i.upper()}_METRICS_PORT")
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        raise DemoError(f"collector-tier2{i} /metrics answered {status}")
    m = parse_metrics(body)
    prefix = "otelcol_processor_tail_sampling_"
    received = otel_sum(m, prefix + "new_trace_id_received")
    decided = otel_sum(m, prefix + "global_count_traces_sampled")
    return {
        "rss_mib": rss_mib(d.procs[f"collector-tier2{i}"].popen.pid),
        "traces_in_ring": otel_sum(m, prefix + "sampling_traces_on_memory"),
        "traces_awaiting_decision": received - decided,
        "trace_ids_received": received,
    }


def job_worker_spans(shape: str, job_ms: int, step_ms: int, chunk_ms: int) -> int:
    """The worker's spans for one /batch request (demo/services/worker):
    SERVER + "batch job" + the steps, plus one "batch chunk" per chunk when
    linked (each chunk's steps cover its share of the time)."""
    if shape == "single":
        return 2 + math.ceil(job_ms / step_ms)
    chunks = [min(chunk_ms, job_ms - k) for k in range(0, job_ms, chunk_ms)]
    return 2 + len(chunks) + sum(math.ceil(c / step_ms) for c in chunks)


class Sampler:
    """Calls `probe()` every `interval` seconds on a thread; keeps
    (seconds since start, result) pairs. Errors stop it and are raised by
    stop()."""

    def __init__(self, probe, interval: float = 1.0):
        self.probe, self.interval = probe, interval
        self.samples: list = []
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._t0, self.probe()))
            except Exception as e:  # noqa: BLE001 (reported by stop())
                self.error = e
                return
            self._stop.wait(self.interval)

    def stop(self) -> list:
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise DemoError(f"sampling failed: {self.error}")
        return self.samples


def sleep_watching(d: Demo, seconds: float, alive: tuple[str, ...]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name in alive:
            d.check_alive(name)
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def run_long_traces(d: Demo, results: dict) -> None:
    """Three runs, each with fresh tail-sampling instances and sampled taps
    (their counters and stores then hold that run alone), all fixed, normal
    requests at --long-rate throughout, and one batch job (gateway GET
    /batch -> worker) of --long-job-ms:
      over-wait:   the job is one trace; decision_wait --long-decision-wait;
      raised-wait: the same, decision_wait raised to cover the job;
      sub-traces:  the job as span-linked chunks of --long-chunk-ms.
    num_traces is sized to the traffic as an operator would: each instance's
    share of new traces per second x decision_wait, plus a third."""
    a = d.args
    fixes_value, meaning = PHASES["long-traces"]
    log(f"phase long-traces: {meaning}")
    raised_wait = 5 * math.ceil((a.long_job_ms / 1000 + 15) / 5)
    r = results["long-traces"] = {
        "fixes": sorted(parse_fixes(fixes_value)), "meaning": meaning,
        "job_ms": a.long_job_ms, "step_ms": a.long_step_ms, "chunk_ms": a.long_chunk_ms,
        "rate_per_s": a.long_rate, "variants": {},
    }
    for name, shape, covers, what in LONG_VARIANTS:
        wait_s = raised_wait if covers else a.long_decision_wait
        r["variants"][name] = run_long_variant(d, name, shape, wait_s, what)
    results["_last_phase_end"] = time.monotonic()


def run_long_variant(d: Demo, name: str, shape: str, wait_s: int, what: str) -> dict:
    a = d.args
    per_instance = a.long_rate / len(TAIL_INSTANCES)
    num_traces = math.ceil(per_instance * wait_s * 4 / 3)
    log(f"  {name}: {what} (decision_wait {wait_s}s, num_traces {num_traces} per instance)")
    for i in TAIL_INSTANCES:
        d.stop(f"collector-tier2{i}")
        d.stop(f"propwatch-sampled-{i}")
    for i in TAIL_INSTANCES:
        start_sampled_tap(d, i)
    for i in TAIL_INSTANCES:
        start_tier2(d, i, {"DEMO_TAIL_DECISION_WAIT": f"{wait_s}s",
                           "DEMO_TAIL_NUM_TRACES": str(num_traces),
                           "DEMO_TAIL_EXPECTED_TRACES_PER_SEC": str(math.ceil(per_instance))},
                    wait_ready=False)
    for i in TAIL_INSTANCES:
        wait_collector_ready(d, f"collector-tier2{i}")
    start_services(d, PHASES["long-traces"][0], "long-traces")
    samplers = tuple(f"collector-tier2{i}" for i in TAIL_INSTANCES)
    watched = SERVICES + samplers + ("propwatch",)
    admins = {i: sampled_admin(d, i) for i in TAIL_INSTANCES}

    before = read_metrics(d)
    memory = Sampler(lambda: {i: tier2_state(d, i) for i in TAIL_INSTANCES})
    # Normal traffic through the warm-up and the whole job. The warm-up
    # lasts until the samplers' num_traces rings are full (decided traces
    # stay in them until pushed out) and 15 s more, so the memory measured
    # during the job is the steady state.
    warmup = math.ceil(num_traces / per_instance) + 15
    n_bg = math.ceil(a.long_rate * (warmup + a.long_job_ms / 1000))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    background = pool.submit(drive, d, f"long-{name}", n_bg, a.long_rate)
    try:
        sleep_watching(d, warmup, watched)
        if background.done():
            background.result()  # raises what failed
        t_job = time.monotonic()
        query = (f"job=long-{name}&duration_ms={a.long_job_ms}&shape={shape}"
                 f"&step_ms={a.long_step_ms}&chunk_ms={a.long_chunk_ms}")
        status, body = http_get(f"http://127.0.0.1:{d.port('DEMO_GATEWAY_PORT')}/batch?{query}",
                                timeout=15)
        if status != 200:
            raise DemoError(f"the batch job was refused: gateway answered {status}: {body[:200]}")
        job_trace = json.loads(body)["trace_id"]

        def held() -> dict:
            """Spans of the job's (request) trace each tap holds."""
            out = {}
            for tap, adm in [("pre", d.admin())] + list(admins.items()):
                code, text = http_get(f"http://{adm}/api/v1/traces/{job_trace}")
                out[tap] = json.loads(text)["spanCount"] if code == 200 else 0
            return out
        timeline = Sampler(held)
        bg_ids = background.result()
        t_job_end = t_job + a.long_job_ms / 1000
        sleep_watching(d, max(0.0, t_job_end - time.monotonic()) + 1, watched)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    job_end_memory = {i: tier2_state(d, i) for i in TAIL_INSTANCES}

    job_spans = job_worker_spans(shape, a.long_job_ms, a.long_step_ms, a.long_chunk_ms)
    per_request = expected_spans(parse_fixes(PHASES["long-traces"][0]))
    want = {s: c * len(bg_ids) for s, c in per_request.items()}
    want["gateway"] += 2  # GET /batch: SERVER + CLIENT
    want["worker"] += job_spans
    wait_for_spans(d, before, want)
    # Every span left the services by the job's end; a sampler decides at
    # most decision_wait after a trace id's first span reaches it (a part
    # decided anew included). Then the sampled taps must go quiet and
    # finalize.
    sleep_watching(d, max(0.0, t_job_end + wait_s + 5 - time.monotonic()), watched)

    def sampled_quiet() -> bool:
        now = [sampled_metrics(adm) for adm in admins.values()]
        total = sum(metric_sum(m, "propwatch_spans_total") for m in now)
        live = sum(metric_sum(m, "propwatch_traces_tracked", state="live") for m in now)
        quiet = live == 0 and total == sampled_quiet.last
        sampled_quiet.last = total
        return quiet
    sampled_quiet.last = -1.0
    wait_until("the sampled taps to go quiet", sampled_quiet, 60, d, samplers)
    path = timeline.stop()
    mem = memory.stop()
    stop_services(d)

    delta = diff(read_metrics(d), before)
    sampled = {i: sampled_metrics(adm) for i, adm in admins.items()}
    checked = sampler_check(d, admins)
    code, text = http_get(f"http://{d.admin()}/api/v1/traces/{job_trace}")
    if code != 200:
        raise DemoError(f"propwatch trace API answered {code} for the job's trace {job_trace}")
    pre_job = json.loads(text)

    def sampled_sum(metric: str, **labels: str) -> int:
        return int(sum(metric_sum(m, metric, **labels) for m in sampled.values()))

    # Memory: the sampler's steady state while the job ran (after a
    # decision_wait of warm-up), both instances added up.
    job_t0, job_t1 = t_job - memory._t0, t_job_end - memory._t0
    during = [v for t, v in mem if job_t0 <= t <= job_t1]
    at_start = next((v for t, v in mem if t >= job_t0), None)
    if not during or at_start is None:
        raise DemoError("no memory sample while the job ran")

    def total(sample: dict, key: str) -> float:
        return sum(sample[i][key] for i in TAIL_INSTANCES)

    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        return xs[len(xs) // 2]

    # How the job's trace reached the sampled taps: (seconds after the job
    # started, spans held by both) at each change.
    since_job = timeline._t0 - t_job
    arrivals, last = [], None
    for t, v in path:
        post = sum(v[i] for i in TAIL_INSTANCES)
        if post != last:
            arrivals.append((round(t + since_job, 1), post))
            last = post
    first_seen = {i: next((round(t + since_job, 1) for t, v in path if v[i] > 0), None)
                  for i in TAIL_INSTANCES}
    result = {
        "meaning": what,
        "shape": shape,
        "decision_wait_s": wait_s,
        "num_traces_per_instance": num_traces,
        "normal_requests": len(bg_ids),
        "job_trace_id": job_trace,
        "job_worker_spans": job_spans,
        "pre": {
            "job_trace_spans": pre_job["spanCount"],
            "job_trace_unresolved_parents": pre_job["unresolvedParents"],
            "job_trace_duration_ms": pre_job["durationMs"],
            "worker_broken_parents": int(metric_sum(delta, "propwatch_broken_parent_spans_total", service_name="worker")),
            "worker_orphans": int(metric_sum(delta, "propwatch_orphan_spans_total", service_name="worker")),
            "worker_linked_roots": int(metric_sum(delta, "propwatch_linked_root_spans_total", service_name="worker")),
            "broken_parents": int(metric_sum(delta, "propwatch_broken_parent_spans_total")),
            "orphans": int(metric_sum(delta, "propwatch_orphan_spans_total")),
        },
        "post": {
            "spans": sampled_sum("propwatch_spans_total"),
            "broken_parents": sampled_sum("propwatch_broken_parent_spans_total"),
            "worker_broken_parents": sampled_sum("propwatch_broken_parent_spans_total", service_name="worker"),
            "late_spans": sampled_sum("propwatch_late_spans_total"),
            "worker_linked_roots": sampled_sum("propwatch_linked_root_spans_total", service_name="worker"),
            "orphans": sampled_sum("propwatch_orphan_spans_total"),
            "job_trace_first_seen_s": first_seen,
            "job_trace_arrivals": arrivals,
            "job_trace_spans_at_end": path[-1][1] if path else {},
        },
        "sampler_check": {k: checked[k] for k in ("kept", "whole", "notInPre", "truncated", "passed")},
        "sampler_check_not_whole": len(checked["missingSpans"]) + len(checked["moreAfterThanBefore"]),
        "memory": {
            "rss_mib_at_job_start": round(total(at_start, "rss_mib"), 1),
            "rss_mib_median_during_job": round(median([total(v, "rss_mib") for v in during]), 1),
            "rss_mib_max_during_job": round(max(total(v, "rss_mib") for v in during), 1),
            "rss_mib_at_job_end": round(total(job_end_memory, "rss_mib"), 1),
            "traces_awaiting_decision_median": median([total(v, "traces_awaiting_decision") for v in during]),
            "traces_in_ring_median": median([total(v, "traces_in_ring") for v in during]),
            "samples_during_job": len(during),
        },
        # (seconds after the job started, RSS MiB, awaiting decision, in
        # the ring), both instances added up.
        "memory_series": [(round(t + memory._t0 - t_job, 1), round(total(v, "rss_mib"), 1),
                           total(v, "traces_awaiting_decision"), total(v, "traces_in_ring"))
                          for t, v in mem],
    }
    log(f"    pre-sampling tap: job trace {pre_job['spanCount']} spans, "
        f"{pre_job['unresolvedParents']} unresolved; worker broken parents "
        f"{result['pre']['worker_broken_parents']}, linked roots {result['pre']['worker_linked_roots']}")
    log(f"    sampled taps: broken parents {result['post']['broken_parents']}, late spans "
        f"{result['post']['late_spans']}; job trace arrivals {arrivals}")
    log(f"    samplers: RSS {result['memory']['rss_mib_at_job_start']} -> "
        f"{result['memory']['rss_mib_at_job_end']} MiB (median {result['memory']['rss_mib_median_during_job']}), "
        f"awaiting decision {result['memory']['traces_awaiting_decision_median']:.0f}")
    return result


def run_phase(d: Demo, phase: str, results: dict) -> None:
    a = d.args
    fixes_value, meaning = PHASES[phase]
    fixes = parse_fixes(fixes_value)
    env = service_env(phase)
    log(f"phase {phase}: {meaning} (DEMO_FIXES={fixes_value!r}"
        + "".join(f", {s}: {' '.join(f'{k}={v}' for k, v in e.items())}"
                  for s, e in PHASE_SERVICE_ENV.get(phase, {}).items()) + ")")
    start_services(d, fixes_value, phase)

    # Let the sliding window forget the previous phase, so the gate (which
    # reads the window gauges) judges this phase alone.
    if results.get("_last_phase_end"):
        wait = results["_last_phase_end"] + a.window + 1.5 - time.monotonic()
        if wait > 0:
            log(f"  waiting {wait:.0f}s for the {a.window}s window to forget the previous phase")
            time.sleep(wait)

    before = read_metrics(d)
    t0 = time.monotonic()
    t0_unix_ns = time.time_ns()
    trace_ids = drive(d, phase, a.requests)
    log(f"  {a.requests} requests answered in {time.monotonic() - t0:.1f}s")

    wait_for_spans(d, before, {s: c * a.requests for s, c in expected_spans(fixes).items()})
    after = read_metrics(d)
    delta = diff(after, before)
    results["_last_phase_end"] = time.monotonic()
    edges = None
    if d.edges_supported:
        edges = measure_edges(d, before, delta, fixes, gateway_injects_traceparent(env), a.requests,
                              t0_unix_ns, set(trace_ids))

    per_service = {}
    for s in SERVICES:
        spans = metric_sum(delta, "propwatch_spans_total", service_name=s)
        kinds = {}
        for kind in sorted(label_values(after, "propwatch_orphan_spans_total", "span_kind")):
            c = metric_sum(delta, "propwatch_orphan_spans_total", service_name=s, span_kind=kind)
            if c:
                kinds[kind] = int(c)
        orphans = sum(kinds.values())
        per_service[s] = {
            "spans": int(spans),
            "root_spans": int(metric_sum(delta, "propwatch_root_spans_total", service_name=s)),
            "orphan_spans": orphans,
            "orphan_spans_by_kind": kinds,
            "orphan_rate": orphans / spans if spans else 0.0,
            "broken_parent_spans": int(metric_sum(delta, "propwatch_broken_parent_spans_total", service_name=s)),
            "unpaired_outbound_spans": int(metric_sum(delta, "propwatch_unpaired_outbound_spans_total", service_name=s)),
            "late_spans": int(metric_sum(delta, "propwatch_late_spans_total", service_name=s)),
            "duplicate_spans": int(metric_sum(delta, "propwatch_duplicate_spans_total", service_name=s)),
            # The worker captures inbound traceparent headers on its SERVER
            # spans (docs/capturing-traceparent.md).
            "traceparents_valid": int(metric_sum(delta, "propwatch_traceparent_valid_total", service_name=s)),
            "traceparents_invalid": int(metric_sum(delta, "propwatch_invalid_traceparent_total", service_name=s)),
            "extraction_failures": int(metric_sum(delta, "propwatch_extraction_failures_total", service_name=s)),
            "window_orphan_ratio": metric_sum(after, "propwatch_window_orphan_span_ratio", service_name=s),
        }
    phase_result = {
        "fixes": sorted(fixes),
        "meaning": meaning,
        # The environment the phase gave each service beyond DEMO_FIXES.
        "service_env": {s: e for s, e in env.items() if e},
        "gateway_propagators": env["gateway"].get("OTEL_PROPAGATORS", DEFAULT_PROPAGATORS),
        "requests": a.requests,
        "distinct_trace_ids": int(metric_sum(delta, "propwatch_distinct_trace_ids_total")),
        "traces_finalized": int(metric_sum(delta, "propwatch_traces_finalized_total")),
        "capacity_evictions": int(metric_sum(delta, "propwatch_trace_evictions_total", reason="capacity")),
        "services": per_service,
        "sample_trace_id": trace_ids[0],
        # None when the tap has no broken-edge attribution.
        "broken_edges": edges,
    }

    # The CI gate on one request of this phase, exactly as a user's CI runs it.
    gate = subprocess.run([a.propwatch, "check", f"--admin-address={d.admin()}",
                           f"--trace-id={trace_ids[0]}", f"--expect-spans={len(FIXED_CHAIN)}",
                           "--max-orphan-ratio=0.01"],
                          capture_output=True, text=True)
    phase_result["gate"] = {"exit_code": gate.returncode, "report": gate.stdout + gate.stderr}
    log(f"  gate on trace {trace_ids[0]}: exit {gate.returncode}")

    if phase == "all-fixed":
        phase_result["span_dump"] = span_dump(d, trace_ids[0])

    stop_services(d)
    results[phase] = phase_result
    for s, r in per_service.items():
        log(f"  {s:9s} spans={r['spans']:5d} orphans={r['orphan_spans']:5d} "
            f"({100 * r['orphan_rate']:.1f}%) {r['orphan_spans_by_kind']}")
    if edges is not None:
        log(f"  broken edges: {edges['correct']} of {edges['expected_total']} attributed as expected, "
            f"{edges['wrong']} wrong; "
            + (", ".join(f"{e['caller']} -> {e['callee']} ({e['boundary']}): {e['count']}"
                         for e in edges["measured"]) or "none"))


def broken_edge_counts(samples) -> dict[tuple[str, str, str], int]:
    """{(caller, callee, boundary): count} of propwatch_broken_edges_total."""
    out: dict[tuple[str, str, str], int] = {}
    for (name, labels), v in samples.items():
        if name == "propwatch_broken_edges_total" and v:
            l = dict(labels)
            key = (l.get("caller_service", ""), l.get("callee_service", ""), l.get("boundary", ""))
            out[key] = out.get(key, 0) + int(v)
    return out


def edge_orphans_pending(d: Demo) -> float | None:
    """Orphans the tap has not decided yet (/api/v1/status), None when the
    tap does not report it."""
    status, body = http_get(f"http://{d.admin()}/api/v1/status")
    if status != 200:
        return None
    return json.loads(body).get("engine", {}).get("edgeOrphansPending")


def measure_edges(d: Demo, before, delta, fixes: set[str], injects: bool, n: int,
                  t0_unix_ns: int, trace_ids: set[str]) -> dict:
    """Waits until the tap decided the phase's orphan SERVER/CONSUMER spans
    (each is decided edge_decision_delay, 2 x the trace idle timeout, after it
    arrived), then compares the broken edges counted over the phase with the
    demo's ground truth (expected_edges), and checks the phase's broken_edge
    examples against the trace API."""
    orphans = {(s, b): int(metric_sum(delta, "propwatch_orphan_spans_total", service_name=s, span_kind=k))
               for s in SERVICES for b, k in EDGE_ORPHAN_KIND.items()}
    want = sum(orphans.values())
    t_wait = time.monotonic()

    def decided():
        got = sum(broken_edge_counts(diff(read_metrics(d), before)).values())
        pending = edge_orphans_pending(d)
        decided.last = (got, pending)
        return got >= want and not pending
    decided.last = (0, None)
    try:
        wait_until("broken-edge decisions", decided, 2 * d.args.trace_idle_timeout + 30, d, ("propwatch",))
    except DemoError as e:
        # Recorded, not fatal: check_results.py judges the counts.
        log(f"  {e}: {decided.last[0]} of {want} orphans on an edge, {decided.last[1]} pending")
    waited = time.monotonic() - t_wait
    measured = broken_edge_counts(diff(read_metrics(d), before))

    expected = expected_edges(fixes, injects, n)
    rows = []
    for callee, boundary in sorted({(c, b) for _, c, b in measured} | set(expected),
                                    key=lambda cb: (SERVICES.index(cb[0]) if cb[0] in SERVICES else 99, cb[1])):
        exp_caller, exp_count = expected.get((callee, boundary), (None, 0))
        callers = {caller: c for (caller, c2, b), c in measured.items() if (c2, b) == (callee, boundary)}
        right = min(callers.get(exp_caller, 0), exp_count) if exp_caller else 0
        rows.append({
            "callee": callee, "boundary": boundary,
            "orphans": orphans.get((callee, boundary), 0),
            "orphan_kind": EDGE_ORPHAN_KIND.get(boundary, "?"),
            "expected_caller": exp_caller, "expected_count": exp_count,
            "measured_callers": dict(sorted(callers.items())),
            "correct": right, "wrong": sum(callers.values()) - right,
        })
    result = {
        "expected": [{"caller": c, "callee": callee, "boundary": b, "count": k}
                     for (callee, b), (c, k) in sorted(expected.items())],
        "measured": [{"caller": c, "callee": callee, "boundary": b, "count": k}
                     for (c, callee, b), k in sorted(measured.items())],
        "rows": rows,
        "expected_total": sum(k for _, k in expected.values()),
        "orphans_total": want,
        "correct": sum(r["correct"] for r in rows),
        "wrong": sum(r["wrong"] for r in rows),
        "decision_wait_s": round(waited, 1),
        "examples": check_edge_examples(d, t0_unix_ns, trace_ids),
    }
    return result


def check_edge_examples(d: Demo, t0_unix_ns: int, trace_ids: set[str]) -> dict | None:
    """The phase's broken_edge examples (GET /api/v1/examples), each checked
    against the trace API: the orphan's trace holds the orphan root of its
    service and kind; a named caller's trace holds the paired CLIENT/PRODUCER
    span of the caller service (for the gateway: the trace of one of this
    phase's requests); an unknown caller has no trace. None when the tap
    has no such examples API."""
    status, body = http_get(f"http://{d.admin()}/api/v1/examples?finding=broken_edge&limit=100000")
    if status != 200:
        return None
    examples = [x for x in json.loads(body)["examples"] if int(x["seenUnixNano"]) >= t0_unix_ns]
    traces: dict[str, dict | None] = {}

    def trace(tid: str) -> dict | None:
        if tid not in traces:
            code, text = http_get(f"http://{d.admin()}/api/v1/traces/{tid}")
            traces[tid] = json.loads(text) if code == 200 else None
        return traces[tid]

    problems = []
    for x in examples:
        what = f"{x['callerService']} -> {x['service']} {x['spanKind']} {x['traceId']}"
        t = trace(x["traceId"])
        span = next((s for s in (t or {}).get("spans", []) if s["spanId"] == x["spanId"]), None)
        if span is None or span["service"] != x["service"] or span["kind"] != x["spanKind"] \
                or span["parentSpanId"] is not None:
            problems.append(f"{what}: orphan span {x['spanId']} not a {x['spanKind']} root of "
                            f"{x['service']} in its trace")
            continue
        if x["callerService"] == "unknown":
            if x["callerTraceId"] or x["callerSpanId"]:
                problems.append(f"{what}: unknown caller with trace {x['callerTraceId']}")
            continue
        ct = trace(x["callerTraceId"]) if x["callerTraceId"] else None
        caller = next((s for s in (ct or {}).get("spans", []) if s["spanId"] == x["callerSpanId"]), None)
        want_kind = "client" if x["spanKind"] == "server" else "producer"
        if caller is None or caller["service"] != x["callerService"] or caller["kind"] != want_kind:
            problems.append(f"{what}: caller trace {x['callerTraceId']} has no {want_kind} span "
                            f"{x['callerSpanId']} of {x['callerService']}")
        elif x["callerService"] == "gateway" and x["callerTraceId"] not in trace_ids:
            problems.append(f"{what}: caller trace {x['callerTraceId']} is not one of this phase's requests")
    return {"checked": len(examples), "ok": len(examples) - len(problems), "problems": problems}


def span_dump(d: Demo, trace_id: str) -> dict:
    """The trace API's view of one fixed request, and whether its parent chain
    is exactly gateway SERVER → CLIENT → worker SERVER → INTERNAL → PRODUCER →
    consumer CONSUMER."""
    status, body = http_get(f"http://{d.admin()}/api/v1/traces/{trace_id}")
    if status != 200:
        raise DemoError(f"trace API answered {status} for {trace_id}: {body[:200]}")
    trace = json.loads(body)
    text = subprocess.run([d.args.propwatch, "trace", trace_id, f"--admin-address={d.admin()}"],
                          capture_output=True, text=True, check=True).stdout
    by_id = {s["spanId"]: s for s in trace["spans"]}
    problems = []
    if trace["spanCount"] != len(FIXED_CHAIN):
        problems.append(f"{trace['spanCount']} spans, expected {len(FIXED_CHAIN)}")
    roots = [s for s in trace["spans"] if s["parentSpanId"] is None]
    if len(roots) != 1 or trace["unresolvedParents"] != 0:
        problems.append(f"{len(roots)} roots, {trace['unresolvedParents']} unresolved parents")
    chain = []
    for s in trace["spans"]:
        if any(c["parentSpanId"] == s["spanId"] for c in trace["spans"]):
            continue
        # s is a leaf: walk up to the root.
        path, cur = [], s
        while cur is not None:
            path.append((cur["service"], cur["kind"]))
            cur = by_id.get(cur["parentSpanId"]) if cur["parentSpanId"] else None
        chain = list(reversed(path))
        break
    if chain != FIXED_CHAIN:
        problems.append(f"parent chain {chain} != {FIXED_CHAIN}")
    return {"trace_id": trace_id, "json": trace, "text": text, "problems": problems}


# --- results -------------------------------------------------------------

def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def write_results(out: Path, results: dict, all_phases: list[str], meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {"meta": meta, "phases": {p: results[p] for p in all_phases}}
    if "tail-sampling" in all_phases:
        write_tail_results(out, results["tail-sampling"], meta)
    if "long-traces" in all_phases:
        write_long_results(out, results["long-traces"], meta)
    phases = [p for p in all_phases if p not in SPECIAL_PHASES]
    # Bulky fields go to their own files.
    for p in all_phases:
        data["phases"][p] = {k: v for k, v in results[p].items() if k not in ("span_dump",)}
    if "long-traces" in all_phases:
        lt = data["phases"]["long-traces"] = dict(results["long-traces"])
        lt["variants"] = {n: {k: v for k, v in x.items() if k != "memory_series"}
                          for n, x in lt["variants"].items()}
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n")

    kinds = sorted({k for p in phases for s in SERVICES
                    for k in results[p]["services"][s]["orphan_spans_by_kind"]})
    lines = [
        "# Demo results: orphan rate per service and boundary, per phase",
        "",
        f"Measured by propwatch (counter increases over each phase, `propwatch_spans_total` and "
        f"`propwatch_orphan_spans_total{{span_kind}}`), {meta['requests']} user requests per phase, "
        f"generated by `{meta['command']}` on {meta['date']} ({meta['machine']}).",
        "Orphan rate = orphan spans / all spans of the service; the per-kind columns split it by the "
        "boundary that lost context (`server` = inbound HTTP, `internal` = in-process hand-off, "
        "`consumer` = Kafka extract). `gateway` is the entry point: its roots are trace starts, never orphans. "
        "The worker records inbound `traceparent` headers on its SERVER spans "
        "([capturing-traceparent.md](../capturing-traceparent.md)): one valid header per request when the "
        "gateway's client injects it, and an extraction failure would be a header that arrived but "
        "was not used.",
        "",
        "| phase | service | spans | orphan rate | " + " | ".join(f"orphans: {k}" for k in kinds)
        + " | root spans | broken parents | unpaired outbound | captured traceparents (valid / invalid) "
        "| extraction failures |",
        "|---|---|---:|---:|" + "---:|" * len(kinds) + "---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        for s in SERVICES:
            r = results[p]["services"][s]
            by_kind = " | ".join(str(r["orphan_spans_by_kind"].get(k, 0)) for k in kinds)
            lines.append(f"| {p} | {s} | {r['spans']} | {pct(r['orphan_rate'])} | {by_kind} | "
                         f"{r['root_spans']} | {r['broken_parent_spans']} | {r['unpaired_outbound_spans']} | "
                         f"{r['traceparents_valid']} / {r['traceparents_invalid']} | {r['extraction_failures']} |")
    lines += ["", "Distinct trace ids per phase (one per request when every boundary holds):", "",
              "| phase | fixes | requests | distinct trace ids | gate (`propwatch check`) |",
              "|---|---|---:|---:|---|"]
    for p in phases:
        r = results[p]
        verdict = "pass" if r["gate"]["exit_code"] == 0 else f"FAIL (exit {r['gate']['exit_code']})"
        lines.append(f"| {p} | {fixes_text(r)} | {r['requests']} | "
                     f"{r['distinct_trace_ids']} | {verdict} |")
    (out / "orphan_rates.md").write_text("\n".join(lines) + "\n")
    write_edge_results(out, results, phases, meta)

    gate_lines = ["# `propwatch check` on one request of each phase", ""]
    for p in phases:
        r = results[p]
        gate_lines += [f"## {p} (trace {r['sample_trace_id']}, exit {r['gate']['exit_code']})", "",
                       "```", r["gate"]["report"].rstrip(), "```", ""]
    (out / "gate.md").write_text("\n".join(gate_lines))

    if "all-fixed" in phases:
        dump = results["all-fixed"]["span_dump"]
        (out / "fixed_request_trace.txt").write_text(dump["text"])
        (out / "fixed_request_trace.json").write_text(json.dumps(dump["json"], indent=2) + "\n")


def fixes_text(r: dict) -> str:
    """A phase's fixes, plus what it set beyond DEMO_FIXES."""
    extra = [f"{s} `{k}={v}`" for s, e in r.get("service_env", {}).items() for k, v in e.items()
             if (s, k) not in {(s2, k2) for s2, e2 in SERVICE_ENV.items() for k2 in e2}]
    return ", ".join([",".join(r["fixes"]) or "(none)"] + extra)


def write_edge_results(out: Path, results: dict, phases: list[str], meta: dict) -> None:
    """broken_edges.md: per phase, each orphan SERVER/CONSUMER span's caller
    as propwatch attributed it (propwatch_broken_edges_total) against the
    demo's ground truth (expected_edges)."""
    lines = [
        "# Demo results: broken-edge attribution, per phase",
        "",
        f"Measured by propwatch (counter increases over each phase of `propwatch_broken_edges_total"
        f"{{caller_service,callee_service,boundary}}`, read once every orphan was decided), "
        f"{meta['requests']} user requests per phase, generated by `{meta['command']}` on "
        f"{meta['date']} ({meta['machine']}).",
        "Every orphan SERVER span (`http`) and CONSUMER span (`messaging`) counts on exactly one edge: "
        "the service whose unpaired CLIENT/PRODUCER span sent it, or `unknown` when the caller recorded "
        "no outbound span ([semantics.md](../semantics.md) \"Broken edge\"). Expected = the demo's "
        "design: the legacy HTTP wrapper makes no CLIENT span (caller `unknown`); a client that makes "
        "its CLIENT span but sends no `traceparent` is the caller (`gateway`, phase "
        "`misconfigured-propagator`); a Kafka hop without inject/extract leaves the worker's PRODUCER "
        "span (`worker`). Correct = orphans attributed to the expected caller; wrong = attributed to "
        "any other.",
        "",
        "| phase | callee | boundary | orphans (kind) | expected caller | measured callers | correct | wrong |",
        "|---|---|---|---:|---|---|---:|---:|",
    ]
    total_expected = total_correct = total_wrong = 0
    measured_any = False
    for p in phases:
        e = results[p].get("broken_edges")
        if e is None:
            lines.append(f"| {p} | | | | | (not measured: the tap has no broken-edge attribution) | | |")
            continue
        measured_any = True
        total_expected += e["expected_total"]
        total_correct += e["correct"]
        total_wrong += e["wrong"]
        if not e["rows"]:
            lines.append(f"| {p} | — | — | 0 | — | none | 0 | 0 |")
        for r in e["rows"]:
            callers = ", ".join(f"{c}: {k}" for c, k in r["measured_callers"].items()) or "none"
            lines.append(f"| {p} | {r['callee']} | {r['boundary']} | {r['orphans']} ({r['orphan_kind']}) | "
                         f"{r['expected_caller'] or '(no orphans)'} | {callers} | {r['correct']} | {r['wrong']} |")
    if measured_any:
        share = f"{100 * total_correct / total_expected:.1f} %" if total_expected else "n/a"
        lines += ["", f"Overall: {total_correct} of {total_expected} orphans attributed as expected "
                      f"({share}), {total_wrong} wrong."]
        checked = [(p, results[p]["broken_edges"]["examples"]) for p in phases
                   if results[p].get("broken_edges") and results[p]["broken_edges"]["examples"] is not None]
        if checked:
            lines += ["", "Examples (`GET /api/v1/examples?finding=broken_edge`, the tap's latest per edge) "
                          "checked against the trace API: the orphan's trace holds the orphan root, the caller's "
                          "trace the paired CLIENT/PRODUCER span of the caller service (for the gateway, the "
                          "trace of one of the phase's requests): "
                      + "; ".join(f"{p} {x['ok']} of {x['checked']}" for p, x in checked) + "."]
    (out / "broken_edges.md").write_text("\n".join(lines) + "\n")


def update_propagation_doc(table: Path) -> None:
    """docs/propagation.md quotes the measured table between markers; keep it
    equal to the run that just wrote docs/results/."""
    lines = table.read_text().splitlines()
    body = "\n".join(lines[next(i for i, l in enumerate(lines) if l.startswith("Measured by")):])
    doc = PROPAGATION_DOC.read_text()
    new = re.sub(r"<!-- BEGIN RESULTS -->.*<!-- END RESULTS -->",
                 lambda _: f"<!-- BEGIN RESULTS -->\n{body}\n<!-- END RESULTS -->", doc, flags=re.S)
    edges = (table.parent / "broken_edges.md").read_text().splitlines()
    body = "\n".join(edges[next(i for i, l in enumerate(edges) if l.startswith("Measured by")):])
    new = re.sub(r"<!-- BEGIN EDGES -->.*<!-- END EDGES -->",
                 lambda _: f"<!-- BEGIN EDGES -->\n{body}\n<!-- END EDGES -->", new, flags=re.S)
    if new != doc:
        PROPAGATION_DOC.write_text(new)
        log(f"updated the measured tables in {PROPAGATION_DOC.relative_to(ROOT)}")


def write_tail_results(out: Path, r: dict, meta: dict) -> None:
    def where(found: dict) -> str:
        return ", ".join(f"instance {i} ({c} spans)" for i, c in found.items()) or "dropped"
    lines = [
        "# Demo results: the tail-sampling tier",
        "",
        f"All boundaries fixed; {r['normal_requests']} normal requests ({r['rate_per_s']:g}/s) plus one failing "
        f"(`fail=1`, SERVER span status ERROR) and one slow (`delay_ms={r['slow_trace']['delay_ms']}`) "
        f"request, through tier 1's `load_balancing` exporter (`routing_key: traceID`) to two "
        f"tail-sampling instances (`demo/collector/tier2.yaml`: keep errors, keep traces over 500 ms, "
        f"keep 1% of the rest, `num_traces: {r['num_traces_cap']}`). Behind each instance a second "
        f"propwatch records what it kept; every request's trace id was looked up in both. "
        f"Generated by `{meta['command']}` on {meta['date']} ({meta['machine']}).",
        "",
        "| what | result |",
        "|---|---|",
        f"| failing request's trace | {where(r['error_trace']['kept_by'])} |",
        f"| slow request's trace | {where(r['slow_trace']['kept_by'])} |",
        f"| normal traces kept | {r['normal_kept']} of {r['normal_requests']} "
        f"({100 * r['normal_kept_fraction']:.1f}%; dropped {100 * (1 - r['normal_kept_fraction']):.1f}%) |",
        f"| of which under {r['latency_threshold_ms'] - 5:.0f} ms (only the 1% policy applies) | "
        f"{r['normal_fast_kept']} of {r['normal_fast']} kept "
        f"({100 * r['normal_fast_kept'] / max(r['normal_fast'], 1):.1f}%) |",
        f"| of which over {r['latency_threshold_ms'] + 5:.0f} ms on their own (durations from propwatch's "
        f"trace API) | {r['normal_slow_kept']} of {r['normal_slow']} kept |",
        f"| kept traces per instance | " + ", ".join(f"{i}: {c}" for i, c in r["traces_kept_per_instance"].items()) + " |",
        f"| traces kept by both instances (split by routing) | {r['traces_kept_by_both_instances']} |",
        f"| kept traces missing spans | {r['kept_traces_not_whole']} |",
        "",
        f"Whole-trace check: `propwatch sampler-check --pre=<main tap> --post=<sampled taps>` "
        f"compared all {r['sampler_check']['kept']} traces the samplers kept during the demo "
        f"with the main tap's store: {r['sampler_check']['whole']} whole, "
        f"{r['sampler_check']['notInPre']} no longer in the main store, "
        f"{r['sampler_check']['truncated']} truncated.",
        "",
        "propwatch in tier 1 saw every span of every request, before this sampler.",
    ]
    (out / "tail_sampling.md").write_text("\n".join(lines) + "\n")


def write_long_results(out: Path, r: dict, meta: dict) -> None:
    v = r["variants"]
    names = [name for name, *_ in LONG_VARIANTS]

    def row(what: str, f) -> str:
        return f"| {what} | " + " | ".join(str(f(v[n])) for n in names) + " |"

    def arrivals(x: dict) -> str:
        """Deliveries a second or two apart are one run: "33 spans at 31.1 s, then
        34 → 43 one delivery a second to 41.2 s"."""
        seq = [(t, n) for t, n in x["post"]["job_trace_arrivals"] if n]
        if x["shape"] != "single":
            return "(short; its sub-traces are counted as linked roots)"
        parts, k = [], 0
        while k < len(seq):
            j = k
            while j + 1 < len(seq) and seq[j + 1][0] - seq[j][0] <= 2.5:
                j += 1
            if j - k >= 2:
                parts.append(f"{seq[k][1]} spans at {seq[k][0]:g} s, then {seq[k + 1][1]} → {seq[j][1]} "
                             f"one delivery a second to {seq[j][0]:g} s")
            else:
                parts += [f"{n} spans at {t:g} s" for t, n in seq[k:j + 1]]
            k = j + 1
        return "; ".join(parts) or "none"

    lines = [
        "# Demo results: traces longer than the tail sampler's decision_wait",
        "",
        f"All boundaries fixed. In each run one batch job of {r['job_ms'] / 1000:g} s (gateway `GET /batch` → "
        f"worker, one span per {r['step_ms']} ms step) runs among normal requests at {r['rate_per_s']:g}/s, "
        f"through tier 1's `load_balancing` exporter to two tail-sampling instances "
        f"(`demo/collector/tier2.yaml`: keep errors, keep traces over 500 ms, keep 1 % of the rest), "
        f"each with a propwatch behind it (the post-sampling taps). Each run starts fresh samplers and "
        f"post-sampling taps, with `num_traces` sized to the traffic as an operator would: each instance's "
        f"share of new traces per second × `decision_wait` × 4/3. The pre-sampling tap (tier 1, before any "
        f"sampling) sees every span. Generated by `{meta['command']}` on {meta['date']} ({meta['machine']}).",
        "",
        "| | " + " | ".join(f"{n}: {v[n]['meaning']}" for n in names) + " |",
        "|---|" + "---|" * len(names),
        row("job shape", lambda x: "one trace" if x["shape"] == "single"
            else f"linked sub-traces of {r['chunk_ms'] / 1000:g} s"),
        row("`decision_wait`", lambda x: f"{x['decision_wait_s']} s"),
        row("`num_traces` per instance", lambda x: x["num_traces_per_instance"]),
        row("normal requests during the run", lambda x: x["normal_requests"]),
        row("**pre-sampling tap**: the job's request trace (spans, unresolved parents)",
            lambda x: f"{x['pre']['job_trace_spans']}, {x['pre']['job_trace_unresolved_parents']}"),
        row("pre-sampling tap: worker broken parents / orphans / linked roots",
            lambda x: f"{x['pre']['worker_broken_parents']} / {x['pre']['worker_orphans']} / "
                      f"{x['pre']['worker_linked_roots']}"),
        row("**post-sampling taps**: broken parents (all services)", lambda x: x["post"]["broken_parents"]),
        row("post-sampling taps: late spans (arrived after the trace was judged)",
            lambda x: x["post"]["late_spans"]),
        row("post-sampling taps: worker linked roots (sub-traces kept)", lambda x: x["post"]["worker_linked_roots"]),
        row("post-sampling taps: the job's request trace arriving (s after the job started)", arrivals),
        row("`propwatch sampler-check`: kept traces, whole, not whole",
            lambda x: f"{x['sampler_check']['kept']}, {x['sampler_check']['whole']}, {x['sampler_check_not_whole']}"),
        row("**samplers** (both): traces awaiting a decision, median during the job",
            lambda x: f"{x['memory']['traces_awaiting_decision_median']:.0f}"),
        row("samplers: traces in the `num_traces` ring, median during the job",
            lambda x: f"{x['memory']['traces_in_ring_median']:.0f}"),
        row("samplers: RSS MiB at the job's start → end (median, max during it)",
            lambda x: f"{x['memory']['rss_mib_at_job_start']} → {x['memory']['rss_mib_at_job_end']} "
                      f"({x['memory']['rss_mib_median_during_job']}, {x['memory']['rss_mib_max_during_job']})"),
        "",
        "How to read it: see [docs/deploy.md](../deploy.md#long-running-traces-and-tail-sampling). "
        "Counts are counter increases over each run (the pre-sampling tap) or totals of the fresh "
        "post-sampling taps; memory is sampled every second from `/proc` and the samplers' own metrics "
        "(`otelcol_processor_tail_sampling_*`); every sample is in `long_traces_memory.csv`.",
    ]
    (out / "long_traces.md").write_text("\n".join(lines) + "\n")
    series = ["variant,seconds_after_job_start,rss_mib,traces_awaiting_decision,traces_in_ring"]
    series += [f"{n},{t},{rss},{aw:.0f},{ring:.0f}"
               for n in names for t, rss, aw, ring in v[n]["memory_series"]]
    (out / "long_traces_memory.csv").write_text("\n".join(series) + "\n")


# --- main ------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="scripts/demo.sh installs everything and passes the five binary/folder "
               "arguments itself; give it only the options below them.")
    ap.add_argument("--propwatch", required=True, help="the propwatch binary")
    ap.add_argument("--otelcol", required=True, help="the collector binary (demo/collector/build.sh)")
    ap.add_argument("--worker-bin", required=True, help="the worker binary (demo/services/install.sh)")
    ap.add_argument("--gateway-python", required=True, help="python of the gateway's venv")
    ap.add_argument("--consumer-dir", required=True, help="folder holding the consumer's node_modules")
    ap.add_argument("--requests", type=int, default=100, help="user requests per phase")
    ap.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    ap.add_argument("--phases", default=",".join(DEFAULT_PHASES),
                    help=f"comma-separated, run in this order; known: {', '.join(PHASES)}")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="results folder")
    ap.add_argument("--trace-idle-timeout", type=int, default=3, help="seconds (the tap's default is 30)")
    ap.add_argument("--window", type=int, default=15, help="tap sliding window, seconds")
    ap.add_argument("--delivery-timeout", type=float, default=90,
                    help="seconds to wait for every span of a phase to reach propwatch")
    ap.add_argument("--tail-requests", type=int, default=1000,
                    help="normal requests of the tail-sampling phase (it keeps ~1%% of them)")
    ap.add_argument("--tail-rate", type=float, default=50,
                    help="requests per second in the tail-sampling phase")
    ap.add_argument("--slow-ms", type=int, default=800,
                    help="delay of the slow request (tier2.yaml keeps traces over 500 ms)")
    ap.add_argument("--long-job-ms", type=int, default=45000,
                    help="the long-traces phase's batch job duration")
    ap.add_argument("--long-step-ms", type=int, default=1000, help="one span per step of the job")
    ap.add_argument("--long-chunk-ms", type=int, default=10000,
                    help="sub-trace length when the job is split into linked sub-traces")
    ap.add_argument("--long-decision-wait", type=int, default=30,
                    help="the tail sampler's decision_wait (s) the job outlasts (the processor's default)")
    ap.add_argument("--long-rate", type=float, default=40,
                    help="normal requests per second during the long-traces phase")
    ap.add_argument("--keep-work", action="store_true", help="keep logs even on success")
    ap.add_argument("--command", default="scripts/demo.sh", help="recorded in the results")
    a = ap.parse_args()

    phases = [p for p in a.phases.split(",") if p]
    for p in phases:
        if p not in PHASES:
            ap.error(f"unknown phase {p!r}; known: {', '.join(PHASES)}")
    if len(set(phases)) != len(phases):
        ap.error("--phases names a phase twice")
    if not phases:
        ap.error("--phases is empty")
    if Path(a.out).resolve() == DEFAULT_OUT and phases != DEFAULT_PHASES:
        ap.error(f"{DEFAULT_OUT.relative_to(ROOT)} holds the full run's results; "
                 "give a partial run its own --out")
    if a.requests < 1 or a.concurrency < 1:
        ap.error("--requests and --concurrency must be >= 1")
    if not (a.long_chunk_ms < a.long_decision_wait * 1000 < a.long_job_ms) or a.long_step_ms < 10 \
            or a.long_rate <= 0:
        ap.error("the long-traces phase needs --long-chunk-ms < --long-decision-wait (in ms) < "
                 "--long-job-ms, --long-step-ms >= 10 and --long-rate > 0")
    if a.tail_requests < 100 or a.tail_rate <= 0:
        ap.error("--tail-requests must be >= 100 (the 1% policy needs a sample) and --tail-rate > 0")

    # The children inherit no OpenTelemetry settings from this shell (a
    # sampler, a propagator or OTEL_SDK_DISABLED would change what is
    # measured), and never reach loopback through a proxy.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    for k, v in PORT_DEFAULTS.items():
        env.setdefault(k, str(v))
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{env['DEMO_COLLECTOR_GRPC_PORT']}"
    for k in ("no_proxy", "NO_PROXY"):
        env[k] = ",".join(filter(None, [env.get(k, ""), "127.0.0.1", "localhost"]))

    # SIGTERM / SIGHUP (a CI timeout, a closed terminal) take the same path
    # as Ctrl-C, so the finally block stops every process.
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    work = Path(tempfile.mkdtemp(prefix="propwatch-demo-"))
    d = Demo(a, work, env)
    results: dict = {}
    ok = False
    try:
        start_infrastructure(d)
        for p in phases:
            if p == "tail-sampling":
                run_tail_sampling(d, results)
            elif p == "long-traces":
                run_long_traces(d, results)
            else:
                run_phase(d, p, results)
        meta = {
            "requests": a.requests,
            "command": a.command,
            "date": time.strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} vCPU, {os.uname().sysname} {os.uname().machine}",
            "trace_idle_timeout_s": a.trace_idle_timeout,
            "window_s": a.window,
        }
        write_results(Path(a.out), results, phases, meta)
        log(f"results written to {a.out}")
        if Path(a.out).resolve() == DEFAULT_OUT:
            update_propagation_doc(Path(a.out) / "orphan_rates.md")
        if "all-fixed" in phases and results["all-fixed"]["span_dump"]["problems"]:
            log("the fixed request's trace is NOT the expected chain: "
                + "; ".join(results["all-fixed"]["span_dump"]["problems"]))
        ok = True
    except DemoError as e:
        log(f"FAILED: {e}")
    except KeyboardInterrupt as e:
        log(f"interrupted {e}")
    finally:
        d.stop_all()
        if ok and not a.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"logs kept in {work}/logs")
            if not ok:
                for name in sorted((work / "logs").glob("*.log")):
                    print(f"--- {name.name} (last lines)\n{tail(name, 15)}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
