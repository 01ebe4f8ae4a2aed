#!/usr/bin/env python3
"""The demo driver behind scripts/demo.sh.

Starts Kafka, propwatch, the two collector tiers and the three services as
plain processes on 127.0.0.1, then runs each phase (baseline = all broken,
each fix alone, all fixed; then tail-sampling, see run_tail_sampling):
restarts the services with the phase's fixes,
drives N user requests through the gateway, waits until every span reached
propwatch and every trace was finalized, and reads propwatch's /metrics.
The per-phase numbers are counter increases over the phase, so nothing is
estimated. Writes the orphan-rate table, one fixed request's span dump (from
propwatch's trace API) and the `propwatch check` gate verdicts to --out.

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
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
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
    "tail-sampling": ("all", "all fixed, through the tail-sampling tier: one error and "
                             "one slow request among many normal ones"),
}
DEFAULT_PHASES = ["baseline", "fix-http", "fix-async", "fix-kafka", "all-fixed", "tail-sampling"]
TAIL_INSTANCES = ("a", "b")

BOUNDARIES = ("http", "async", "kafka")


def parse_fixes(value: str) -> set[str]:
    """DEMO_FIXES ("http,kafka", "all" or empty) -> the fixed boundaries."""
    return set(BOUNDARIES) if value == "all" else set(filter(None, value.split(",")))


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
        f"--trace-store-max-traces={max(10000, 8 * (5 * 4 * a.requests + a.tail_requests + 2))}",
    ])
    wait_until("propwatch /healthz", healthy(f"http://{d.admin()}/healthz"), 30, d, ("propwatch",))

    # Behind each tail-sampling instance, a second propwatch ("sampled tap")
    # whose trace API shows exactly which traces that instance kept.
    log("starting two sampled taps, two tail-sampling collectors, then the fan-out collector")
    for i in TAIL_INSTANCES:
        I = i.upper()
        admin = f"127.0.0.1:{d.port(f'DEMO_SAMPLED_TAP_{I}_ADMIN_PORT')}"
        d.start(f"propwatch-sampled-{i}", [
            a.propwatch,
            f"--otlp-grpc-address=127.0.0.1:{d.port(f'DEMO_SAMPLED_TAP_{I}_GRPC_PORT')}",
            "--otlp-http-address=off", f"--admin-address={admin}",
            "--entry-services=gateway", f"--trace-idle-timeout={a.trace_idle_timeout}s",
            "--rebalance-window=0",
        ])
        wait_until(f"sampled tap {i} /healthz", healthy(f"http://{admin}/healthz"), 30, d,
                   (f"propwatch-sampled-{i}",))
    collectors = []
    for i in TAIL_INSTANCES:
        I = i.upper()
        collectors.append((f"collector-tier2{i}", "tier2", {
            "DEMO_TAIL_GRPC_PORT": d.env[f"DEMO_TAIL_{I}_GRPC_PORT"],
            "DEMO_SAMPLED_TAP_GRPC_PORT": d.env[f"DEMO_SAMPLED_TAP_{I}_GRPC_PORT"]}))
    collectors.append(("collector-tier1", "tier1", {}))
    for name, config, env in collectors:
        d.start(name, [a.otelcol, f"--config={DEMO / 'collector' / (config + '.yaml')}"], env)
    # The collector logs "Everything is ready" once its pipelines run.
    for name, _, _ in collectors:
        wait_until(f"{name} ready",
                   lambda n=name: "Everything is ready" in d.procs[n].log_path.read_text(errors="replace"),
                   60, d, (name,))


def start_services(d: Demo, fixes_value: str) -> None:
    a = d.args
    env = {"DEMO_FIXES": fixes_value}
    d.start("worker", [a.worker_bin], env)
    d.start("gateway", [a.gateway_python, str(DEMO / "services" / "gateway" / "gateway.py")], env)
    d.start("consumer", ["node", str(DEMO / "services" / "consumer" / "consumer.js")],
            dict(env, NODE_PATH=str(Path(a.consumer_dir) / "node_modules")))
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


def run_tail_sampling(d: Demo, results: dict) -> None:
    """All fixed, many normal requests plus one failing and one slow one,
    through tier 1's load_balancing exporter (routing_key: traceID) to two
    tail-sampling instances, each exporting what it keeps to its own sampled
    tap. Reads both sampled taps' trace APIs for every request's trace id."""
    a = d.args
    n = a.tail_requests
    fixes_value, meaning = PHASES["tail-sampling"]
    log(f"phase tail-sampling: {meaning}")
    start_services(d, fixes_value)
    admins = {i: f"127.0.0.1:{d.port(f'DEMO_SAMPLED_TAP_{i.upper()}_ADMIN_PORT')}" for i in TAIL_INSTANCES}

    def sampled_span_total():
        return sum(metric_sum(parse_metrics(http_get(f"http://{adm}/metrics")[1]), "propwatch_spans_total")
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
    # Whole and on one instance: propwatch's own sampler check, comparing the
    # main tap's trace store (every span) with both sampled taps' stores.
    check = subprocess.run([a.propwatch, "sampler-check", f"--pre={d.admin()}",
                            f"--post={','.join(admins.values())}", "--json"],
                           capture_output=True, text=True, timeout=60)
    if check.returncode not in (0, 1):
        raise DemoError(f"propwatch sampler-check exit {check.returncode}: {check.stdout}{check.stderr}")
    sampler = json.loads(check.stdout)
    kept_normal = sum(1 for f in normal_found if f)
    tier2 = (DEMO / "collector" / "tier2.yaml").read_text()
    num_traces = re.search(r"^\s*num_traces:\s*(\d+)", tier2, re.M)
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


def run_phase(d: Demo, phase: str, results: dict) -> None:
    a = d.args
    fixes_value, meaning = PHASES[phase]
    fixes = parse_fixes(fixes_value)
    log(f"phase {phase}: {meaning} (DEMO_FIXES={fixes_value!r})")
    start_services(d, fixes_value)

    # Let the sliding window forget the previous phase, so the gate (which
    # reads the window gauges) judges this phase alone.
    if results.get("_last_phase_end"):
        wait = results["_last_phase_end"] + a.window + 1.5 - time.monotonic()
        if wait > 0:
            log(f"  waiting {wait:.0f}s for the {a.window}s window to forget the previous phase")
            time.sleep(wait)

    before = read_metrics(d)
    t0 = time.monotonic()
    trace_ids = drive(d, phase, a.requests)
    log(f"  {a.requests} requests answered in {time.monotonic() - t0:.1f}s")

    wait_for_spans(d, before, {s: c * a.requests for s, c in expected_spans(fixes).items()})
    after = read_metrics(d)
    delta = diff(after, before)
    results["_last_phase_end"] = time.monotonic()

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
            "window_orphan_ratio": metric_sum(after, "propwatch_window_orphan_span_ratio", service_name=s),
        }
    phase_result = {
        "fixes": sorted(fixes),
        "meaning": meaning,
        "requests": a.requests,
        "distinct_trace_ids": int(metric_sum(delta, "propwatch_distinct_trace_ids_total")),
        "traces_finalized": int(metric_sum(delta, "propwatch_traces_finalized_total")),
        "capacity_evictions": int(metric_sum(delta, "propwatch_trace_evictions_total", reason="capacity")),
        "services": per_service,
        "sample_trace_id": trace_ids[0],
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
    phases = [p for p in all_phases if p != "tail-sampling"]
    # Bulky fields go to their own files.
    for p in all_phases:
        data["phases"][p] = {k: v for k, v in results[p].items() if k not in ("span_dump",)}
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
        "`consumer` = Kafka extract). `gateway` is the entry point: its roots are trace starts, never orphans.",
        "",
        "| phase | service | spans | orphan rate | " + " | ".join(f"orphans: {k}" for k in kinds)
        + " | root spans | broken parents | unpaired outbound |",
        "|---|---|---:|---:|" + "---:|" * len(kinds) + "---:|---:|---:|",
    ]
    for p in phases:
        for s in SERVICES:
            r = results[p]["services"][s]
            by_kind = " | ".join(str(r["orphan_spans_by_kind"].get(k, 0)) for k in kinds)
            lines.append(f"| {p} | {s} | {r['spans']} | {pct(r['orphan_rate'])} | {by_kind} | "
                         f"{r['root_spans']} | {r['broken_parent_spans']} | {r['unpaired_outbound_spans']} |")
    lines += ["", "Distinct trace ids per phase (one per request when every boundary holds):", "",
              "| phase | fixes | requests | distinct trace ids | gate (`propwatch check`) |",
              "|---|---|---:|---:|---|"]
    for p in phases:
        r = results[p]
        verdict = "pass" if r["gate"]["exit_code"] == 0 else f"FAIL (exit {r['gate']['exit_code']})"
        lines.append(f"| {p} | {','.join(r['fixes']) or '(none)'} | {r['requests']} | "
                     f"{r['distinct_trace_ids']} | {verdict} |")
    (out / "orphan_rates.md").write_text("\n".join(lines) + "\n")

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


def update_propagation_doc(table: Path) -> None:
    """docs/propagation.md quotes the measured table between markers; keep it
    equal to the run that just wrote docs/results/."""
    lines = table.read_text().splitlines()
    body = "\n".join(lines[next(i for i, l in enumerate(lines) if l.startswith("Measured by")):])
    doc = PROPAGATION_DOC.read_text()
    new = re.sub(r"<!-- BEGIN RESULTS -->.*<!-- END RESULTS -->",
                 lambda _: f"<!-- BEGIN RESULTS -->\n{body}\n<!-- END RESULTS -->", doc, flags=re.S)
    if new != doc:
        PROPAGATION_DOC.write_text(new)
        log(f"updated the measured table in {PROPAGATION_DOC.relative_to(ROOT)}")


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
