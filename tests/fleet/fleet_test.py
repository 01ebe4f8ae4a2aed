"""Fleet proof: N taps behind the Collector's load_balancing exporter (routing
by trace id, static resolver) sum to one tap fed the same spans, exactly, and
rollouts (restart, scale-out, scale-in) raise no false broken parent.

One real collector (the project's build) receives every span from the
OpenTelemetry Python SDK and runs two pipelines:

    SDK ──▶ otlp ─┬─ traces/fleet:  load_balancing (traceID, static) ─▶ taps 1..N
                  └─ traces/single: otlp_grpc ─▶ the single tap

Part 1, exact sums: the integration scenario (tests/integration/) repeated
until it has >= 2,000 traces (orphans of every kind, broken parents, linked
roots, late spans, invalid and ignored traceparents). For every counter series
of the engine the sum over the fleet equals the single tap; every trace id is
held by exactly one fleet tap (trace API).

Part 2, rollouts: continuous connected traffic (every span has its parent,
every outbound span its child), so any broken parent or unpaired outbound
span in the fleet is false. Each rollout runs in its own segment, first with
the rollout guard off (--rebalance-window=0: what users would see without
it), then on. The single tap sees the same spans and must stay at zero: it
proves the collector's reloads lost nothing.

Usage: fleet_test.py --propwatch BIN --otelcol BIN --out DIR [--taps 3]
Exit 0 when every check holds; results in DIR/fleet.json and DIR/fleet.md.
"""
from __future__ import annotations

import argparse
import contextvars
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "python"))

from opentelemetry.sdk.trace import SpanProcessor  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

import harness  # noqa: E402
import scenario  # noqa: E402
from harness import Metrics, Tap, ids_hex  # noqa: E402

IDLE = "2s"            # --trace-idle-timeout of every tap
GUARD_WINDOW = "5s"    # --rebalance-window when the guard is on

# Counter families of the engine: each is a sum over spans or traces, so the
# fleet must add up to the single tap exactly.
SUMMED = [
    "propwatch_spans_total", "propwatch_root_spans_total", "propwatch_orphan_spans_total",
    "propwatch_linked_root_spans_total", "propwatch_broken_parent_spans_total",
    "propwatch_unpaired_outbound_spans_total", "propwatch_late_spans_total",
    "propwatch_duplicate_spans_total", "propwatch_extraction_failures_total",
    "propwatch_traceparent_valid_total", "propwatch_invalid_traceparent_total",
    "propwatch_invalid_span_contexts_total", "propwatch_distinct_trace_ids_total",
    "propwatch_traces_finalized_total", "propwatch_trace_evictions_total",
    "propwatch_spans_untracked_total", "propwatch_traces_unjudged_total",
    "propwatch_service_overflow_spans_total", "propwatch_destination_overflow_spans_total",
    "propwatch_receiver_spans_received_total", "propwatch_receiver_spans_rejected_total",
]
# Not compared, per-process by nature: the load balancer re-batches spans per
# tap (propwatch_receiver_requests/bytes/http_*/request_duration/inflight);
# each tap has its own trace store (propwatch_trace_store_*), process
# (process_*), rebalance events (propwatch_rebalances_total) and window
# gauges (propwatch_window_*).


def log(msg: str) -> None:
    print(f"[fleet {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def counters(m: Metrics) -> Dict[str, float]:
    return {k: v for k, v in m.items() if any(k == f or k.startswith(f + "{") for f in SUMMED)}


def add_into(total: Dict[str, float], part: Dict[str, float], sign: float = 1.0) -> None:
    for k, v in part.items():
        total[k] = total.get(k, 0.0) + sign * v


def family_sum(series: Dict[str, float], family: str) -> float:
    return sum(v for k, v in series.items() if k == family or k.startswith(family + "{"))


# --- processes --------------------------------------------------------------------

class FleetTap:
    """A tap on fixed ports (so it can restart in place) reading --config."""

    def __init__(self, a, work: str, name: str, guard: bool):
        self.a, self.work, self.name, self.guard = a, work, name, guard
        self.grpc_port, self.admin_port = free_port(), free_port()
        self.config = os.path.join(work, f"{name}.conf")
        self.tap: Optional[Tap] = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def write_config(self, members: List[str]) -> None:
        with open(self.config, "w") as f:
            f.write(f"fleet-members = {','.join(members)}\n")

    def start(self) -> "FleetTap":
        self.tap = Tap(self.a.propwatch, self.work,
                       f"--config={self.config}",
                       f"--otlp-grpc-address=127.0.0.1:{self.grpc_port}",
                       "--otlp-http-address=off",
                       f"--admin-address=127.0.0.1:{self.admin_port}",
                       "--entry-services=gateway", f"--trace-idle-timeout={IDLE}",
                       "--late-span-retention=300s", "--trace-store-max-traces=50000",
                       f"--rebalance-window={GUARD_WINDOW if self.guard else '0'}",
                       name=self.name).start()
        return self

    def metrics(self) -> Metrics:
        return self.tap.metrics()

    def sighup(self) -> None:
        os.kill(self.tap.pid, signal.SIGHUP)

    def stop(self) -> None:
        if self.tap and self.tap.alive():
            self.tap.stop()


class Collector:
    def __init__(self, a, work: str):
        self.a, self.work = a, work
        self.port = free_port()
        self.config = os.path.join(work, "collector.json")
        self.log_path = os.path.join(work, "collector.log")
        self.proc: Optional[subprocess.Popen] = None

    def write_config(self, fleet: List[str], single: str) -> None:
        # JSON is YAML: the collector reads it as is. Queues block rather than
        # drop (a dropped span is a false broken parent) and retry for long.
        retry = {"enabled": True, "initial_interval": "100ms", "max_interval": "1s",
                 "max_elapsed_time": "120s"}
        queue_ = {"enabled": True, "queue_size": 10000, "block_on_overflow": True}
        config = {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{self.port}"}}}},
            "processors": {"batch": {"timeout": "100ms", "send_batch_size": 256}},
            "exporters": {
                "load_balancing": {
                    "routing_key": "traceID",
                    "protocol": {"otlp": {"tls": {"insecure": True}, "timeout": "5s",
                                          "retry_on_failure": retry, "sending_queue": queue_}},
                    "resolver": {"static": {"hostnames": fleet}},
                },
                "otlp_grpc/single": {"endpoint": single, "tls": {"insecure": True},
                                     "retry_on_failure": retry, "sending_queue": queue_},
            },
            "service": {
                "telemetry": {"logs": {"level": "info"}, "metrics": {"level": "none"}},
                "pipelines": {
                    "traces/fleet": {"receivers": ["otlp"], "processors": ["batch"],
                                     "exporters": ["load_balancing"]},
                    "traces/single": {"receivers": ["otlp"], "processors": ["batch"],
                                      "exporters": ["otlp_grpc/single"]},
                },
            },
        }
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            json.dump(config, f, indent=1)
        os.replace(tmp, self.config)

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.a.otelcol, f"--config={self.config}"],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        self.wait_ready(start_offset=0)

    def log_text(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, start_offset: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"collector exited {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if "Everything is ready" in self.log_text()[start_offset:]:
                return
            time.sleep(0.1)
        raise AssertionError(f"collector not ready in {timeout}s:\n{self.log_text()[-3000:]}")

    def reload(self) -> None:
        """SIGHUP: the collector re-reads its config and restarts its pipelines."""
        offset = len(self.log_text())
        self.proc.send_signal(signal.SIGHUP)
        self.wait_ready(start_offset=offset)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Endpoint:
    """What scenario.make_exporter needs of a "tap": the collector's port."""

    def __init__(self, port: int):
        self.grpc_port = port
        self.http_port = 0


class SpanCounter(SpanProcessor):
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    def on_end(self, span) -> None:
        with self.lock:
            self.count += 1


# --- waiting ------------------------------------------------------------------------

def wait_settled(taps: List[FleetTap], single: FleetTap, expected_spans: int,
                 what: str, fleet_too: bool = True, timeout: float = 90) -> None:
    """Until the single tap (and, with fleet_too, the fleet) counted
    `expected_spans` spans in all, and no trace is live anywhere (all
    finalized)."""
    deadline = time.monotonic() + timeout
    while True:
        ms = single.metrics()
        mf = [t.metrics() for t in taps]
        got_single = family_sum(ms, "propwatch_spans_total")
        got_fleet = sum(family_sum(m, "propwatch_spans_total") for m in mf)
        live = sum(m.get0("propwatch_traces_tracked", state="live") for m in [ms] + mf)
        if (got_single >= expected_spans and (not fleet_too or got_fleet >= expected_spans)
                and live == 0):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not settled after {timeout}s: single {got_single:.0f}, "
                                 f"fleet {got_fleet:.0f} of {expected_spans} spans, {live:.0f} live traces")
        time.sleep(0.25)


def start_all(fleet: List[FleetTap], single: FleetTap, collector: Collector) -> List[str]:
    """Starts the taps, then the collector routing to them; returns the fleet's
    member list. Waits out the guard's start window, so that traffic sent
    afterwards is judged by every tap."""
    members = [t.endpoint for t in fleet]
    for t in fleet:
        t.write_config(members)
        t.start()
    single.write_config([])
    single.start()
    collector.write_config(members, single.endpoint)
    collector.start()
    time.sleep(float(GUARD_WINDOW.rstrip("s")) + 0.5)
    return members


# --- part 1: exact sums ---------------------------------------------------------------

class FleetScenario(scenario.Scenario):
    """The integration scenario, remembering every trace id and counting spans."""

    def __init__(self, endpoint):
        super().__init__(endpoint, "grpc")
        self.all_trace_ids = set()
        self.counter = SpanCounter()
        for name in ("gateway", "worker", "consumer"):
            self.providers[name].add_span_processor(self.counter)

    def _note(self, letter, span):
        super()._note(letter, span)
        self.all_trace_ids.add(ids_hex(span.get_span_context())[0])


def part_exact_sums(a, work: str, results: dict) -> None:
    log(f"part 1: {a.taps} taps behind load_balancing vs 1 tap, same spans")
    fleet = [FleetTap(a, work, f"sum-tap{i}", guard=True) for i in range(1, a.taps + 1)]
    single = FleetTap(a, work, "sum-single", guard=True)
    collector = Collector(a, work)
    try:
        start_all(fleet, single, collector)
        s = FleetScenario(Endpoint(collector.port))
        late_children = []
        rounds = 0
        while len(s.all_trace_ids) < a.traces:
            late_children.append(s.run_until_late())
            rounds += 1
        log(f"sent {rounds} rounds of the scenario: {len(s.all_trace_ids)} traces")
        # Every H trace must be finalized before its child arrives (late).
        time.sleep(float(IDLE.rstrip("s")) + 2.0)
        wait_settled(fleet, single, s.counter.count, "before the late spans")
        for child in late_children:
            child.end()
        s.flush()
        s.shutdown()
        expected = s.counter.count
        wait_settled(fleet, single, expected, "after the late spans")

        single_series = counters(single.metrics())
        fleet_series: Dict[str, float] = {}
        per_tap = []
        for t in fleet:
            c = counters(t.metrics())
            per_tap.append(family_sum(c, "propwatch_distinct_trace_ids_total"))
            add_into(fleet_series, c)
        keys = sorted(set(single_series) | set(fleet_series))
        mismatches = [(k, fleet_series.get(k, 0.0), single_series.get(k, 0.0)) for k in keys
                      if fleet_series.get(k, 0.0) != single_series.get(k, 0.0)]
        nonzero = [k for k in keys if single_series.get(k, 0.0) != 0]

        # Ownership: every trace id on exactly one fleet tap.
        owners: Dict[int, int] = {}
        shared, missing = [], []
        for tid in sorted(s.all_trace_ids):
            held = [i for i, t in enumerate(fleet) if t.tap.trace(tid).status == 200]
            owners[len(held)] = owners.get(len(held), 0) + 1
            if len(held) > 1:
                shared.append(tid)
            elif not held:
                missing.append(tid)
        fam = {f: family_sum(single_series, f) for f in SUMMED}
        results["exact_sums"] = {
            "taps": a.taps, "traces": len(s.all_trace_ids), "spans": expected, "rounds": rounds,
            "series_compared": len(keys), "series_nonzero": len(nonzero),
            "mismatches": mismatches, "traces_per_tap": per_tap,
            "trace_ids_on_two_or_more_taps": len(shared), "trace_ids_on_no_tap": len(missing),
            "single_totals": fam,
        }
        log(f"compared {len(keys)} counter series ({len(nonzero)} non-zero): "
            f"{len(mismatches)} differ; traces per tap {per_tap}; "
            f"trace ids on >1 tap: {len(shared)}, on none: {len(missing)}")
        for k, f_v, s_v in mismatches[:20]:
            log(f"  MISMATCH {k}: fleet {f_v} single {s_v}")
    finally:
        collector.stop()
        for t in fleet + [single]:
            t.stop()


# --- part 2: rollouts ---------------------------------------------------------------

class ConnectedTraffic:
    """Traces that are whole when every span arrives: gateway SERVER (root,
    entry point) ─▶ CLIENT ─▶ worker SERVER ─▶ PRODUCER ─▶ consumer CONSUMER
    (from a queue, later). Each lasts about a second and a half, so traces are
    always in flight when a rollout happens."""

    SPANS_PER_TRACE = 5

    def __init__(self, port: int, rate: float):
        ep = Endpoint(port)
        self.providers = {n: scenario.make_provider(n, scenario.make_exporter("grpc", ep, False))
                          for n in ("gateway", "worker", "consumer")}
        self.t = {n: p.get_tracer("propwatch.fleet") for n, p in self.providers.items()}
        self.counter = SpanCounter()
        for p in self.providers.values():
            p.add_span_processor(self.counter)
        self.rate = rate
        self.pool = ThreadPoolExecutor(max_workers=int(rate * 3) + 8)
        self.messages: "queue.Queue" = queue.Queue()
        self.stop_flag = threading.Event()
        self.started = 0
        self.errors: List[BaseException] = []

    def _request(self) -> None:
        try:
            g, w = self.t["gateway"], self.t["worker"]
            with g.start_as_current_span("GET /order", kind=SpanKind.SERVER):
                time.sleep(0.3)
                with g.start_as_current_span("POST worker", kind=SpanKind.CLIENT,
                                             attributes={"peer.service": "worker"}):
                    headers: Dict[str, str] = {}
                    scenario.PROPAGATOR.inject(headers)

                    def handle():
                        ctx = scenario.PROPAGATOR.extract(headers)
                        with w.start_as_current_span("POST /work", context=ctx,
                                                     kind=SpanKind.SERVER):
                            time.sleep(0.4)
                            with w.start_as_current_span(
                                    "publish orders", kind=SpanKind.PRODUCER,
                                    attributes={"messaging.destination.name": "orders"}):
                                msg: Dict[str, str] = {}
                                scenario.PROPAGATOR.inject(msg)
                                self.messages.put((time.monotonic() + 0.3, msg))
                    contextvars.Context().run(handle)
                time.sleep(0.5)
        except BaseException as e:  # noqa: BLE001 (reported by run())
            self.errors.append(e)

    def _consume(self) -> None:
        c = self.t["consumer"]
        while not (self.stop_flag.is_set() and self.messages.empty()):
            try:
                due, msg = self.messages.get(timeout=0.1)
            except queue.Empty:
                continue
            time.sleep(max(0.0, due - time.monotonic()))

            def process():
                ctx = scenario.PROPAGATOR.extract(msg)
                with c.start_as_current_span("process orders", context=ctx, kind=SpanKind.CONSUMER,
                                             attributes={"messaging.destination.name": "orders"}):
                    time.sleep(0.01)
            contextvars.Context().run(process)

    def run_for(self, seconds: float, events: Dict[float, callable]) -> None:
        """Sends traces at `rate` for `seconds`; calls each event at its offset."""
        self.stop_flag.clear()
        consumer = threading.Thread(target=self._consume, daemon=True)
        consumer.start()
        start = time.monotonic()
        pending = sorted(events.items())
        futures = []
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n / self.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            futures.append(self.pool.submit(contextvars.Context().run, self._request))
            n += 1
            while pending and time.monotonic() - start >= pending[0][0]:
                _, fn = pending.pop(0)
                threading.Thread(target=fn, daemon=True).start()
        for f in futures:
            f.result(timeout=60)
        self.stop_flag.set()
        consumer.join(timeout=60)
        for name, p in self.providers.items():
            assert p.force_flush(timeout_millis=30000), f"{name}: force_flush timed out"
        self.started += n
        if self.errors:
            raise self.errors[0]

    def shutdown(self):
        self.pool.shutdown(wait=True)
        for p in self.providers.values():
            p.shutdown()


def part_rollouts(a, work: str, guard: bool) -> dict:
    mode = "guarded" if guard else "unguarded"
    log(f"part 2 ({mode}): restart, scale-out {a.taps}->{a.taps + 1}, scale-in back")
    fleet = [FleetTap(a, work, f"{mode}-tap{i}", guard) for i in range(1, a.taps + 1)]
    extra = FleetTap(a, work, f"{mode}-tap{a.taps + 1}", guard)
    single = FleetTap(a, work, f"{mode}-single", guard)
    collector = Collector(a, work)
    out: dict = {}
    traffic = None
    try:
        members = start_all(fleet, single, collector)
        traffic = ConnectedTraffic(collector.port, a.rate)

        def segment(name: str, taps: List[FleetTap], events: Dict[float, callable],
                    gone: Dict[str, Dict[str, float]], settle_taps: List[FleetTap]):
            """Runs traffic with `events`; returns the fleet's and the single
            tap's counter increases. `gone` holds the last scrape of processes
            that stopped during the segment (their counters left with them)."""
            before_fleet: Dict[str, float] = {}
            for t in taps:
                add_into(before_fleet, counters(t.metrics()))
            before_single = counters(single.metrics())
            sent_before = traffic.counter.count
            traffic.run_for(a.segment_seconds, events)
            sent = traffic.counter.count - sent_before
            # The fleet may have lost the spans a stopped tap held: settle on
            # the single tap and on "no live traces" everywhere.
            wait_settled(settle_taps, single,
                         int(family_sum(before_single, "propwatch_spans_total")) + sent, name,
                         fleet_too=False)
            after_fleet: Dict[str, float] = {}
            for t in settle_taps:
                add_into(after_fleet, counters(t.metrics()))
            for last in gone.values():
                add_into(after_fleet, last)
            d_fleet = dict(after_fleet)
            add_into(d_fleet, before_fleet, -1)
            d_single = counters(single.metrics())
            add_into(d_single, before_single, -1)
            res = {
                "spans_sent": sent,
                "traces_sent": sent // ConnectedTraffic.SPANS_PER_TRACE,
                "fleet_spans_counted": family_sum(d_fleet, "propwatch_spans_total"),
                "fleet_broken_parents": family_sum(d_fleet, "propwatch_broken_parent_spans_total"),
                "fleet_unpaired_outbound": family_sum(d_fleet, "propwatch_unpaired_outbound_spans_total"),
                "fleet_orphans": family_sum(d_fleet, "propwatch_orphan_spans_total"),
                "fleet_traces_finalized": family_sum(d_fleet, "propwatch_traces_finalized_total"),
                "fleet_unjudged": {r: d_fleet.get(
                    harness.series_key("propwatch_traces_unjudged_total", {"reason": r}), 0.0)
                    for r in ("started_before_tap", "rebalance")},
                "single_spans_counted": family_sum(d_single, "propwatch_spans_total"),
                "single_broken_parents": family_sum(d_single, "propwatch_broken_parent_spans_total"),
                "single_unpaired_outbound": family_sum(d_single, "propwatch_unpaired_outbound_spans_total"),
            }
            log(f"{mode} {name}: {json.dumps(res)}")
            return res

        at = a.segment_seconds / 2

        # Restart: tap 2 stops (SIGTERM) and comes back on the same ports.
        victim = fleet[1]
        gone: Dict[str, Dict[str, float]] = {}

        def restart():
            gone["victim"] = counters(victim.metrics())
            victim.stop()
            victim.start()
        out["restart"] = segment("restart", fleet, {at: restart}, gone, fleet)
        # The new process's counters start at zero: the segment's "after" is
        # its last scrape before the stop plus the new process's totals, and
        # the scrape-to-stop gap loses what arrived in it (spans only).

        # Scale-out: the new tap starts, the old ones are told (SIGHUP after
        # the config changes), then the collector switches (SIGHUP reload).
        members4 = members + [extra.endpoint]

        def scale_out():
            extra.write_config(members4)
            extra.start()
            for t in fleet:
                t.write_config(members4)
                t.sighup()
            collector.write_config(members4, single.endpoint)
            collector.reload()
        out["scale_out"] = segment("scale-out", fleet, {at: scale_out}, {}, fleet + [extra])

        # Scale-in: the taps are told, the collector switches back, then the
        # removed tap stops once its queue has drained.
        gone_in: Dict[str, Dict[str, float]] = {}

        def scale_in():
            for t in fleet + [extra]:
                t.write_config(members)
                t.sighup()
            collector.write_config(members, single.endpoint)
            collector.reload()
            time.sleep(3)
            gone_in["extra"] = counters(extra.metrics())
            extra.stop()
        out["scale_in"] = segment("scale-in", fleet + [extra], {at: scale_in}, gone_in, fleet)
    finally:
        if traffic:
            traffic.shutdown()
        collector.stop()
        for t in fleet + [extra, single]:
            t.stop()
    return out


def write_markdown(path: str, r: dict, a) -> None:
    e = r["exact_sums"]
    lines = [
        "# Fleet: taps behind the collector's load balancer",
        "",
        "Generated by `tests/fleet/run.sh` (a stage of `scripts/test.sh`); do not edit.",
        f"This run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        "`tests/fleet/run.sh build/exporter/tap/propwatch`.",
        "",
        f"## Exact sums: {e['taps']} taps vs 1 tap, same spans",
        "",
        f"- {e['traces']} traces, {e['spans']} spans ({e['rounds']} rounds of the integration scenario)",
        f"- traces per fleet tap: {', '.join(str(int(x)) for x in e['traces_per_tap'])}",
        f"- counter series compared: {e['series_compared']} ({e['series_nonzero']} non-zero); "
        f"differing: **{len(e['mismatches'])}**",
        f"- trace ids held by two or more taps: **{e['trace_ids_on_two_or_more_taps']}**; by none: "
        f"{e['trace_ids_on_no_tap']}",
        "",
        "| family (single tap, all series) | total |",
        "|---|---|",
    ]
    for f, v in e["single_totals"].items():
        if v:
            lines.append(f"| `{f}` | {int(v)} |")
    lines += [
        "",
        "## Rollouts under continuous connected traffic",
        "",
        "Every trace is whole when all its spans arrive, so every broken parent and",
        "unpaired outbound span in the fleet is false. `single` is the tap fed the",
        "same spans through the second pipeline.",
        "",
        f"Each rollout is a segment of {a.segment_seconds:g} s of traffic at {a.rate:g} traces/s",
        "(gateway SERVER ─▶ CLIENT ─▶ worker SERVER ─▶ PRODUCER ─▶ consumer CONSUMER, about",
        f"1.5 s per trace) with the rollout half way; taps run with `--trace-idle-timeout={IDLE}`",
        f"and, guard on, `--rebalance-window={GUARD_WINDOW}` (guard off: `0`).",
        "",
        "- restart: tap 2 gets SIGTERM and starts again on the same ports.",
        f"- scale-out: tap {a.taps + 1} starts; taps 1-{a.taps} get the new `fleet-members` "
        "(SIGHUP); the collector gets the new static list (SIGHUP reload).",
        f"- scale-in: the {a.taps} remaining taps and the leaving one get the old list (SIGHUP); "
        "the collector switches back; 3 s later the leaving tap stops.",
        "",
        "Unjudged traces are the guard's price: their real broken parents, if any, go",
        "unseen (a few seconds of traffic per rollout; see docs/deploy.md).",
        "",
        "| guard | rollout | traces sent | fleet broken parents | fleet unpaired outbound | "
        "unjudged (started before tap / rebalance) | single broken / unpaired |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in ("unguarded", "guarded"):
        for name, seg in r[mode].items():
            u = seg["fleet_unjudged"]
            lines.append(
                f"| {'off' if mode == 'unguarded' else 'on'} | {name.replace('_', '-')} | "
                f"{seg['traces_sent']} | {int(seg['fleet_broken_parents'])} | "
                f"{int(seg['fleet_unpaired_outbound'])} | "
                f"{int(u['started_before_tap'])} / {int(u['rebalance'])} | "
                f"{int(seg['single_broken_parents'])} / {int(seg['single_unpaired_outbound'])} |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--propwatch", required=True)
    ap.add_argument("--otelcol", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--taps", type=int, default=3)
    ap.add_argument("--traces", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=60.0, help="rollout traffic, traces per second")
    ap.add_argument("--segment-seconds", type=float, default=8.0)
    ap.add_argument("--skip-unguarded", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(a.out, "work")
    os.makedirs(work, exist_ok=True)

    results: dict = {}
    failures: List[str] = []
    part_exact_sums(a, work, results)
    e = results["exact_sums"]
    if e["mismatches"]:
        failures.append(f"{len(e['mismatches'])} counter series differ between the fleet and the single tap")
    if e["trace_ids_on_two_or_more_taps"] or e["trace_ids_on_no_tap"]:
        failures.append("a trace id is on two taps or on none")
    for f in ("propwatch_orphan_spans_total", "propwatch_broken_parent_spans_total",
              "propwatch_linked_root_spans_total", "propwatch_late_spans_total",
              "propwatch_invalid_traceparent_total", "propwatch_extraction_failures_total",
              "propwatch_unpaired_outbound_spans_total"):
        if not e["single_totals"][f]:
            failures.append(f"the scenario produced no {f}: the sums prove nothing about it")

    if not a.skip_unguarded:
        results["unguarded"] = part_rollouts(a, work, guard=False)
        # Each rollout must split traces, or its guarded result proves nothing.
        for name, seg in results["unguarded"].items():
            if seg["fleet_broken_parents"] + seg["fleet_unpaired_outbound"] == 0:
                failures.append(f"unguarded {name}: no false verdict, so the traffic did not "
                                "split a trace and the guarded run proves nothing about it")
    results["guarded"] = part_rollouts(a, work, guard=True)
    for name, seg in results["guarded"].items():
        if seg["fleet_broken_parents"] != 0:
            failures.append(f"guarded {name}: {seg['fleet_broken_parents']:.0f} false broken parents")
        if seg["fleet_unpaired_outbound"] != 0:
            failures.append(f"guarded {name}: {seg['fleet_unpaired_outbound']:.0f} false unpaired "
                            "outbound spans")
        # Positive controls: the guard acted, and did not simply stop judging.
        unjudged = sum(seg["fleet_unjudged"].values())
        if unjudged == 0:
            failures.append(f"guarded {name}: no trace left unjudged: the guard never acted")
        if seg["fleet_traces_finalized"] - unjudged <= 0:
            failures.append(f"guarded {name}: every trace left unjudged: the guard judged nothing")
        if name != "restart" and seg["fleet_spans_counted"] != seg["spans_sent"]:
            failures.append(f"guarded {name}: fleet counted {seg['fleet_spans_counted']:.0f} "
                            f"of {seg['spans_sent']} spans")
    for mode in [m for m in ("unguarded", "guarded") if m in results]:
        for name, seg in results[mode].items():
            if seg["single_spans_counted"] != seg["spans_sent"] or seg["single_broken_parents"] \
                    or seg["single_unpaired_outbound"]:
                failures.append(f"{mode} {name}: the single tap lost spans or saw broken traces "
                                f"({json.dumps(seg)})")

    with open(os.path.join(a.out, "fleet.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    if "unguarded" in results:
        write_markdown(os.path.join(a.out, "fleet.md"), results, a)
    for msg in failures:
        log(f"FAIL: {msg}")
    log("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
