#!/usr/bin/env python3
"""Peer benchmark: the propwatch tap against the OpenTelemetry Collector on
identical OTLP/gRPC load, interleaved, the load generator in its own process.

Systems (each a fresh server process per measurement, on 127.0.0.1):
  propwatch         the tap with its defaults (+ --entry-services=gateway)
  otelcol-graph     Collector: otlp -> span_metrics + service_graph connectors
                    -> debug (the Collector's own way to derive service health)
  otelcol-floor     Collector: otlp -> debug (what receiving alone costs it)

Each repetition runs every system once, in a rotated order, with
bench/otlp_load --target (same requests, same --rate, same concurrency). Per
run it reports throughput, the server's CPU per span and cores (from
/proc/PID/stat over the whole otlp_load run, warm-up included, divided by
every span it answered OK), the calls' latency, the server's peak RSS, and
the CPU other processes took. Correctness: every system must have counted
exactly the spans otlp_load sent in OK calls (propwatch: its receiver
counter; the Collector: otelcol_receiver_accepted_spans, none refused);
otherwise the run fails (exit 1).

  bench/peer/run.py                    # 3 repetitions x 10 s per system
  bench/peer/run.py --smoke            # CI: 1 x 1 s per system, checks only

Builds nothing: pass binaries, or it uses build/ and the cached collector
(demo/collector/build.sh builds it once per manifest).
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
from promtext import parse_samples  # noqa: E402 (the shared parser, found via the path above)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(value for n, ls, value in parse_samples(text)
               if n == name and all(ls.get(k) == v for k, v in labels.items()))


def wait_until(check, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


COLLECTOR_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
        max_recv_msg_size_mib: 64
exporters:
  debug:
    verbosity: basic
{connectors}service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {metrics}
  pipelines:
{pipelines}"""

GRAPH_CONNECTORS = """\
connectors:
  spanmetrics: {}
  servicegraph: {}
"""
GRAPH_PIPELINES = """\
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    metrics:
      receivers: [spanmetrics, servicegraph]
      exporters: [debug]
"""
FLOOR_PIPELINES = """\
    traces:
      receivers: [otlp]
      exporters: [debug]
"""


class Server:
    """One server process with its OTLP/gRPC port and a way to count spans."""

    def __init__(self, name: str, args: argparse.Namespace, workdir: Path):
        self.name, self.args, self.workdir = name, args, workdir
        self.grpc, self.metrics = free_port(), free_port()
        self.log = open(workdir / f"{name}.log", "ab")
        if name == "propwatch":
            cmd = [args.propwatch, f"--otlp-grpc-address=127.0.0.1:{self.grpc}",
                   "--otlp-http-address=off", f"--admin-address=127.0.0.1:{self.metrics}",
                   "--entry-services=gateway"]
        else:
            config = COLLECTOR_CONFIG.format(
                grpc=self.grpc, metrics=self.metrics,
                connectors=GRAPH_CONNECTORS if name == "otelcol-graph" else "",
                pipelines=GRAPH_PIPELINES if name == "otelcol-graph" else FLOOR_PIPELINES)
            path = workdir / f"{name}.yaml"
            path.write_text(config)
            cmd = [args.otelcol, f"--config={path}"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        url = (f"http://127.0.0.1:{self.metrics}/readyz" if name == "propwatch"
               else f"http://127.0.0.1:{self.metrics}/metrics")
        wait_until(lambda: self.proc.poll() is None and scrape(url) is not None,
                   f"{name} to be ready")

    def spans_counted(self) -> tuple[float, float]:
        """(spans accepted, spans refused) by the server's own count."""
        text = scrape(f"http://127.0.0.1:{self.metrics}/metrics")
        if self.name == "propwatch":
            return (metric_sum(text, "propwatch_receiver_spans_received_total"),
                    metric_sum(text, "propwatch_receiver_spans_rejected_total"))
        # v0.158 exports these counters without the _total suffix; later
        # versions may add it.
        count = lambda base: (metric_sum(text, base, receiver="otlp") +
                              metric_sum(text, base + "_total", receiver="otlp"))
        return count("otelcol_receiver_accepted_spans"), count("otelcol_receiver_refused_spans")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


LOAD_LINE = re.compile(
    r"rep 1 load: ([\d.]+) M spans/s, (\d+) calls/s, latency p50 ([\d.]+) ms p99 ([\d.]+) ms, "
    r"process ([\d.]+) cores, other processes ([\d.]+) cores; OK calls (\d+) \((\d+) spans")


def measure(name: str, args: argparse.Namespace, workdir: Path) -> dict:
    server = Server(name, args, workdir)
    try:
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        load = subprocess.run(
            [args.otlp_load, f"--target=127.0.0.1:{server.grpc}", f"--seconds={args.seconds}",
             f"--warmup={args.warmup}", "--repetitions=1", "--baseline-seconds=0.001",
             f"--concurrency={args.concurrency}", f"--rate={args.rate}"],
            capture_output=True, text=True, timeout=args.seconds + args.warmup + 120)
        cpu1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
        m = LOAD_LINE.search(load.stdout)
        if load.returncode != 0 or not m:
            raise RuntimeError(f"{name}: otlp_load failed (exit {load.returncode}):\n"
                               f"{load.stdout[-2000:]}{load.stderr[-2000:]}")
        sent = int(m.group(8))
        # The server may still be counting the last answered calls' spans.
        counted, refused = server.spans_counted()
        deadline = time.monotonic() + 10
        while counted < sent and time.monotonic() < deadline:
            time.sleep(0.2)
            counted, refused = server.spans_counted()
        return {
            "system": name, "spans_per_s": float(m.group(1)) * 1e6, "p50_ms": float(m.group(3)),
            "p99_ms": float(m.group(4)), "client_cores": float(m.group(5)),
            "others_cores": float(m.group(6)), "sent": sent, "counted": counted,
            "refused": refused, "server_cpu_s": cpu1 - cpu0,
            "server_cores": (cpu1 - cpu0) / (t1 - t0),
            "cpu_s_per_m_spans": (cpu1 - cpu0) / sent * 1e6 if sent else float("nan"),
            "peak_rss_mib": peak_rss_mib(server.proc.pid),
        }
    finally:
        server.stop()


def collector_path() -> str:
    out = subprocess.run([str(ROOT / "demo/collector/build.sh")], capture_output=True, text=True,
                         check=True).stdout
    return out.strip().split("=", 1)[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("--propwatch", default=str(ROOT / "build/exporter/tap/propwatch"))
    ap.add_argument("--otelcol", help="collector binary (default: the cached demo collector)")
    ap.add_argument("--otlp-load", default=str(ROOT / "build/bench/otlp_load"))
    ap.add_argument("--systems", default="propwatch,otelcol-graph,otelcol-floor")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rate", type=float, default=0,
                    help="offered spans/s (0: as fast as each system answers)")
    ap.add_argument("--smoke", action="store_true",
                    help="1 repetition of 1 s per system: the correctness checks only")
    args = ap.parse_args()
    if args.smoke:
        args.repetitions, args.seconds, args.warmup = 1, 1, 0.5
    systems = args.systems.split(",")
    unknown = set(systems) - {"propwatch", "otelcol-graph", "otelcol-floor"}
    if unknown:
        ap.error(f"unknown systems: {', '.join(sorted(unknown))}")
    if any(s.startswith("otelcol") for s in systems) and not args.otelcol:
        args.otelcol = collector_path()
    for path in (args.propwatch, args.otlp_load) + ((args.otelcol,) if args.otelcol else ()):
        if not os.access(path, os.X_OK):
            ap.error(f"not an executable: {path}")

    results: dict[str, list[dict]] = {s: [] for s in systems}
    failures = 0
    with tempfile.TemporaryDirectory(prefix="propwatch-peer-") as tmp:
        for rep in range(args.repetitions):
            order = systems[rep % len(systems):] + systems[:rep % len(systems)]
            for name in order:
                r = measure(name, args, Path(tmp))
                results[name].append(r)
                ok = r["counted"] == r["sent"] and r["refused"] == 0
                failures += not ok
                print(f"rep {rep + 1} {name}: {r['spans_per_s'] / 1e6:.3f} M spans/s, "
                      f"server {r['server_cores']:.2f} cores, {r['cpu_s_per_m_spans']:.2f} CPU-s "
                      f"per M spans, p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms, peak RSS "
                      f"{r['peak_rss_mib']:.0f} MiB, load generator {r['client_cores']:.2f} cores; "
                      f"sent {r['sent']}, counted {r['counted']:.0f}, refused {r['refused']:.0f}: "
                      f"{'ok' if ok else 'MISMATCH'}", flush=True)
        if failures:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"--- {log.name} (last lines)\n" + "\n".join(
                    log.read_text(errors="replace").splitlines()[-15:]))

    med = lambda name, key: statistics.median(r[key] for r in results[name])
    print(f"\n| system ({args.repetitions} interleaved repetitions, medians) | M spans/s | "
          f"server cores | server CPU-s per M spans | p50 ms | p99 ms | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for name in systems:
        print(f"| {name} | {med(name, 'spans_per_s') / 1e6:.3f} | {med(name, 'server_cores'):.2f} | "
              f"{med(name, 'cpu_s_per_m_spans'):.2f} | {med(name, 'p50_ms'):.2f} | "
              f"{med(name, 'p99_ms'):.2f} | {med(name, 'peak_rss_mib'):.0f} |")
    if "propwatch" in systems:
        for peer in (s for s in systems if s != "propwatch"):
            print(f"\npropwatch / {peer}: throughput "
                  f"{med('propwatch', 'spans_per_s') / med(peer, 'spans_per_s'):.1f} x, "
                  f"CPU per span {med(peer, 'cpu_s_per_m_spans') / med('propwatch', 'cpu_s_per_m_spans'):.1f} x less")
    print(f"\nchecks: {'all passed' if not failures else f'{failures} FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
