#!/usr/bin/env python3
"""Peer benchmark: the propwatch tap against the OpenTelemetry Collector on
identical OTLP load (gRPC, HTTP or HTTP+gzip), interleaved, the load
generator in its own process.

Systems (each a fresh server process per measurement, on 127.0.0.1):
  propwatch         the tap with its defaults (+ --entry-services=gateway)
  otelcol-graph     Collector: otlp -> span_metrics + service_graph connectors
                    -> debug (the Collector's own way to derive service health)
  otelcol-floor     Collector: otlp -> debug (what receiving alone costs it)

Each repetition runs every system once, in a rotated order, with
bench/otlp_load --target (same requests, same --rate, same concurrency, same
--protocol). Per run it reports throughput, the server's CPU per span and
cores (from /proc/PID/stat over otlp_load's load phases, warm-up included,
divided by every span it answered OK), the calls' latency, the server's peak
RSS, and the CPU other processes took. Correctness: every system must have
counted exactly the spans otlp_load sent in OK calls, on the transport used
(propwatch: propwatch_receiver_spans_received_total{transport=grpc|http};
the Collector: otelcol_receiver_accepted_spans{receiver="otlp",
transport=grpc|http}, none refused); otherwise the run fails (exit 1).

  bench/peer/run.py                       # 3 repetitions x 10 s per system, OTLP/gRPC
  bench/peer/run.py --protocol=http-gzip  # the same over OTLP/HTTP with gzip bodies
  bench/peer/run.py --server-cpus=0 --load-cpus=1   # server and load on a core each
  bench/peer/run.py --cores-sweep         # propwatch on 1 vs 2 cores, ratio 2/1
  bench/peer/run.py --smoke               # CI: 1 x 1 s per system + one http-gzip round

--protocol grpc|http|http-gzip (default grpc): passed to otlp_load. For http
and http-gzip, propwatch gets --otlp-http-address=127.0.0.1:PORT and the
Collector an `http` protocol on its otlp receiver, and otlp_load POSTs to
http://127.0.0.1:PORT/v1/traces (http-gzip: bodies compressed before the
run, Content-Encoding: gzip; both servers inflate gzip).

--server-cpus LIST / --load-cpus LIST (taskset -c syntax, e.g. 0 or 0,1):
start the server, resp. otlp_load, under taskset -c LIST. Default: unpinned.

--cores-sweep: propwatch only, interleaved repetitions of (server on cpu 0,
load on cpu 1) and (server on cpus 0,1, load on cpus 0,1) -- on a 2-core
machine the load generator cannot be kept off the server's cores in the
second case, so it competes with the server there -- and the throughput ratio
2-core / 1-core from the medians (and per repetition). Needs 2 CPUs.

Builds nothing: pass binaries, or it uses build/ and the cached collector
(demo/collector/build.sh builds it once per manifest).
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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


# {http}: an OTLP/HTTP protocol or ""; {components}: further top-level
# sections (connectors, processors) or ""; {pipelines}: the pipelines.
COLLECTOR_CONFIG = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
        max_recv_msg_size_mib: 64
{http}exporters:
  debug:
    verbosity: basic
{components}service:
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
# OTLP/HTTP next to gRPC (--protocol http, http-gzip); gzip is accepted by
# default. Its body limit (20 MiB by default) is far above otlp_load's.
HTTP_PROTOCOL = """\
      http:
        endpoint: 127.0.0.1:{http}
"""


def transport(protocol: str) -> str:
    """The `transport` label both servers count a protocol's spans under."""
    return "grpc" if protocol == "grpc" else "http"


def parse_cpus(text: str) -> set[int]:
    """A taskset -c list ("0", "0,1", "0-3") as a set of CPU numbers."""
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus] + cmd if cpus else cmd


class Server:
    """One server process with its OTLP ports and a way to count spans."""

    def __init__(self, name: str, args: argparse.Namespace, workdir: Path, protocol: str,
                 cpus: str | None):
        self.name, self.args, self.workdir, self.protocol = name, args, workdir, protocol
        self.grpc, self.http, self.metrics = free_port(), free_port(), free_port()
        self.log = open(workdir / f"{name}.log", "ab")
        use_http = protocol != "grpc"
        if name == "propwatch":
            http = f"127.0.0.1:{self.http}" if use_http else "off"
            cmd = [args.propwatch, f"--otlp-grpc-address=127.0.0.1:{self.grpc}",
                   f"--otlp-http-address={http}", f"--admin-address=127.0.0.1:{self.metrics}",
                   "--entry-services=gateway"]
        else:
            config = COLLECTOR_CONFIG.format(
                grpc=self.grpc, metrics=self.metrics,
                http=HTTP_PROTOCOL.format(http=self.http) if use_http else "",
                components=GRAPH_CONNECTORS if name == "otelcol-graph" else "",
                pipelines=GRAPH_PIPELINES if name == "otelcol-graph" else FLOOR_PIPELINES)
            path = workdir / f"{name}.yaml"
            path.write_text(config)
            cmd = [args.otelcol, f"--config={path}"]
        # taskset execs the server: the PID is the server's.
        self.proc = subprocess.Popen(pinned(cmd, cpus), stdout=self.log, stderr=self.log)
        url = (f"http://127.0.0.1:{self.metrics}/readyz" if name == "propwatch"
               else f"http://127.0.0.1:{self.metrics}/metrics")
        wait_until(lambda: self.proc.poll() is None and scrape(url) is not None,
                   f"{name} to be ready")
        if use_http:  # the Collector may serve metrics before every receiver listens
            wait_until(lambda: socket.create_connection(("127.0.0.1", self.http), 1).close()
                       is None, f"{name}'s OTLP/HTTP listener")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc if self.protocol == 'grpc' else self.http}"

    def spans_counted(self) -> tuple[float, float]:
        """(spans accepted, spans refused) on the protocol's transport, by the
        server's own count."""
        text = scrape(f"http://127.0.0.1:{self.metrics}/metrics")
        t = transport(self.protocol)
        if self.name == "propwatch":
            return (metric_sum(text, "propwatch_receiver_spans_received_total", transport=t),
                    metric_sum(text, "propwatch_receiver_spans_rejected_total", transport=t))
        # v0.158 exports these counters without the _total suffix; later
        # versions may add it.
        count = lambda base: (metric_sum(text, base, receiver="otlp", transport=t) +
                              metric_sum(text, base + "_total", receiver="otlp", transport=t))
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


BASELINE_LINE = {"decode": re.compile(r"rep 1 decode-only: ([\d.]+) M spans/s"),
                 "engine": re.compile(r"rep 1 engine-only: ([\d.]+) M spans/s")}


# http-gzip: otlp_load sends each compressed body once; running out of them
# ends its timed window early (throughput is over the shorter window).
CUT = re.compile(r"timed window cut to ([\d.]+) s")


def measure(name: str, args: argparse.Namespace, workdir: Path, protocol: str,
            server_cpus: str | None, load_cpus: str | None, seconds: float, warmup: float) -> dict:
    server = Server(name, args, workdir, protocol, server_cpus)
    # The tap's limit, issue 13: its server CPU per span against otlp_load's
    # same-run single-thread decode-only + engine-only baselines (run before
    # the load, while the server idles; too short to mean anything for the
    # Collector, whose code they are not).
    baseline = args.baseline_seconds if name == "propwatch" else 0.001
    try:
        cmd = [args.otlp_load, f"--target={server.target}", f"--protocol={protocol}",
               f"--seconds={seconds}", f"--warmup={warmup}", "--repetitions=1",
               f"--baseline-seconds={baseline}", f"--concurrency={args.concurrency}",
               f"--rate={args.rate}"]
        if protocol == "http-gzip" and args.gzip_bodies:
            cmd.append(f"--gzip-bodies={args.gzip_bodies}")
        with tempfile.TemporaryFile("w+") as err:
            load = subprocess.Popen(pinned(cmd, load_cpus), stdout=subprocess.PIPE, stderr=err,
                                    text=True)
            # The server's CPU and wall time count from otlp_load's
            # "engine-only" line: after its set-up (request encoding, gzip
            # bodies) and baselines, before its warm-up and timed window.
            head = []
            for line in load.stdout:
                head.append(line)
                if line.startswith("rep 1 engine-only:"):
                    break
            cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
            # The rest through the same buffered reader (communicate() would
            # read the pipe directly and lose what the reader holds).
            timer = threading.Timer(seconds + warmup + 120, load.kill)
            timer.start()
            try:
                rest = load.stdout.read()
                load.wait()
            finally:
                timer.cancel()
            cpu1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
            err.seek(0)
            stdout, stderr = "".join(head) + rest, err.read()
        m = LOAD_LINE.search(stdout)
        if load.returncode != 0 or not m:
            raise RuntimeError(f"{name}: otlp_load failed (exit {load.returncode}):\n"
                               f"{stdout[-2000:]}{stderr[-2000:]}")
        sent = int(m.group(8))
        decode = BASELINE_LINE["decode"].search(stdout)
        engine = BASELINE_LINE["engine"].search(stdout)
        cut = CUT.search(stdout)
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
            # otlp_load's "other processes" are the server and everything
            # else; what is left is CPU neither side took (another job on the
            # machine). Approximate: the server's window includes the warm-up.
            "third_party_cores": max(0.0, float(m.group(6)) - (cpu1 - cpu0) / (t1 - t0)),
            "decode_ns": 1e3 / float(decode.group(1)) if decode else float("nan"),
            "engine_ns": 1e3 / float(engine.group(1)) if engine else float("nan"),
            "window_s": float(cut.group(1)) if cut else seconds,
            "window_cut": bool(cut),
        }
    finally:
        server.stop()


def report(label: str, r: dict) -> bool:
    """Prints one run's line; True when its counts match."""
    ok = r["counted"] == r["sent"] and r["refused"] == 0
    cut = (f"; timed window {r['window_s']:.1f} s (the gzip bodies ran out; --gzip-bodies "
           f"makes more)" if r["window_cut"] else "")
    print(f"{label}: {r['spans_per_s'] / 1e6:.3f} M spans/s, "
          f"server {r['server_cores']:.2f} cores, {r['cpu_s_per_m_spans']:.2f} CPU-s "
          f"per M spans, p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms, peak RSS "
          f"{r['peak_rss_mib']:.0f} MiB, load generator {r['client_cores']:.2f} cores, "
          f"other processes ~{r['third_party_cores']:.2f} cores; sent {r['sent']}, counted "
          f"{r['counted']:.0f}, refused {r['refused']:.0f}: {'ok' if ok else 'MISMATCH'}{cut}",
          flush=True)
    return ok


def warn_if_busy(runs: list[dict]):
    busiest = max((r["third_party_cores"] for r in runs), default=0.0)
    if busiest > 0.1:
        print(f"note: processes other than the server and otlp_load took up to {busiest:.2f} "
              f"cores during a run: the machine was not idle, and the figures are below what the "
              f"systems do on an idle one.")


def print_logs(workdir: Path):
    for log in sorted(workdir.glob("*.log")):
        print(f"--- {log.name} (last lines)\n" + "\n".join(
            log.read_text(errors="replace").splitlines()[-15:]))


def cores_sweep(args: argparse.Namespace, workdir: Path) -> int:
    """propwatch on 1 core vs 2 cores, interleaved; prints the ratio."""
    setups = [("1 core", "0", "1"), ("2 cores", "0,1", "0,1")]
    results: dict[str, list[dict]] = {label: [] for label, _, _ in setups}
    failures = 0
    print(f"cores sweep, propwatch over {args.protocol}: server on cpu 0 with the load on cpu 1, "
          f"vs server on cpus 0,1 with the load on the same cpus 0,1. This machine has "
          f"{os.cpu_count()} CPUs: with 2, the load generator cannot be kept apart from a "
          f"2-core server, so the 2-core figure includes that competition.", flush=True)
    for rep in range(args.repetitions):
        order = setups if rep % 2 == 0 else setups[::-1]
        for label, server_cpus, load_cpus in order:
            r = measure("propwatch", args, workdir, args.protocol, server_cpus, load_cpus,
                        args.seconds, args.warmup)
            results[label].append(r)
            failures += not report(f"rep {rep + 1} propwatch, {label} (server cpus {server_cpus}, "
                                   f"load cpus {load_cpus})", r)
    if failures:
        print_logs(workdir)
    med = lambda label, key: statistics.median(r[key] for r in results[label])
    print(f"\n| propwatch over {args.protocol} ({args.repetitions} interleaved repetitions, "
          f"medians) | server cpus | load cpus | M spans/s | server cores | server CPU-s per M "
          f"spans | p50 ms | p99 ms | load generator cores | other processes cores |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, server_cpus, load_cpus in setups:
        print(f"| {label} | {server_cpus} | {load_cpus} | {med(label, 'spans_per_s') / 1e6:.3f} | "
              f"{med(label, 'server_cores'):.2f} | {med(label, 'cpu_s_per_m_spans'):.2f} | "
              f"{med(label, 'p50_ms'):.2f} | {med(label, 'p99_ms'):.2f} | "
              f"{med(label, 'client_cores'):.2f} | {med(label, 'third_party_cores'):.2f} |")
    one, two = results["1 core"], results["2 cores"]
    per_rep = ", ".join(f"{b['spans_per_s'] / a['spans_per_s']:.2f}" for a, b in zip(one, two))
    print(f"\nthroughput 2 cores / 1 core: "
          f"{med('2 cores', 'spans_per_s') / med('1 core', 'spans_per_s'):.2f} x "
          f"(medians; per repetition: {per_rep})")
    if (os.cpu_count() or 0) <= 2:
        print("note: with 2 CPUs the 2-core runs share both cores with the load generator "
              "(see its cores above); this is a lower bound of what a second core gives the tap, "
              "not its scaling on a machine with cores to spare.")
    warn_if_busy(one + two)
    print(f"\nchecks: {'all passed' if not failures else f'{failures} FAILED'}")
    return 1 if failures else 0


def collector_path() -> str:
    out = subprocess.run([str(ROOT / "demo/collector/build.sh")], capture_output=True, text=True,
                         check=True).stdout
    return out.strip().split("=", 1)[1]


def main() -> int:
    intro, rest = __doc__.split("\n\n", 1)
    ap = argparse.ArgumentParser(description=intro,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=rest)
    ap.add_argument("--propwatch", default=str(ROOT / "build/exporter/tap/propwatch"))
    ap.add_argument("--otelcol", help="collector binary (default: the cached demo collector)")
    ap.add_argument("--otlp-load", default=str(ROOT / "build/bench/otlp_load"))
    ap.add_argument("--systems", default="propwatch,otelcol-graph,otelcol-floor")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--baseline-seconds", type=float, default=2.0,
                    help="otlp_load's decode-only and engine-only baselines before each "
                         "propwatch run (the CPU limit the tap is compared with)")
    ap.add_argument("--rate", type=float, default=0,
                    help="offered spans/s (0: as fast as each system answers)")
    ap.add_argument("--protocol", choices=("grpc", "http", "http-gzip"), default="grpc",
                    help="OTLP transport otlp_load uses (default grpc)")
    ap.add_argument("--gzip-bodies", type=int, default=0,
                    help="http-gzip: otlp_load --gzip-bodies (distinct compressed bodies, each "
                         "sent once; 0: otlp_load's automatic size, for 1 M spans/s)")
    ap.add_argument("--server-cpus", metavar="LIST",
                    help="run the server under taskset -c LIST (e.g. 0 or 0,1)")
    ap.add_argument("--load-cpus", metavar="LIST",
                    help="run otlp_load under taskset -c LIST")
    ap.add_argument("--cores-sweep", action="store_true",
                    help="propwatch only: server on cpu 0 + load on cpu 1 vs server and load on "
                         "cpus 0,1, interleaved; prints the throughput ratio 2-core / 1-core")
    ap.add_argument("--smoke", action="store_true",
                    help="1 repetition of 1 s per system, then one http-gzip round for "
                         "propwatch and otelcol-floor: the correctness checks only")
    args = ap.parse_args()
    if args.smoke:
        args.repetitions, args.seconds, args.warmup, args.baseline_seconds = 1, 1, 0.5, 0.2
    systems = args.systems.split(",")
    unknown = set(systems) - {"propwatch", "otelcol-graph", "otelcol-floor"}
    if unknown:
        ap.error(f"unknown systems: {', '.join(sorted(unknown))}")
    if args.cores_sweep:
        systems = ["propwatch"]
        if args.server_cpus or args.load_cpus:
            ap.error("--cores-sweep sets the CPUs itself")
    available = os.sched_getaffinity(0)
    for flag, cpus in (("--server-cpus", args.server_cpus), ("--load-cpus", args.load_cpus),
                       ("--cores-sweep", "0,1" if args.cores_sweep else None)):
        if not cpus:
            continue
        try:
            wanted = parse_cpus(cpus)
        except ValueError:
            ap.error(f"{flag}: not a CPU list: {cpus}")
        if not wanted <= available:
            ap.error(f"{flag}: CPUs {sorted(wanted - available)} are not available "
                     f"(this process may use {sorted(available)})")
        if not shutil.which("taskset"):
            ap.error(f"{flag} needs taskset (util-linux)")
    if any(s.startswith("otelcol") for s in systems) and not args.otelcol:
        args.otelcol = collector_path()
    for path in (args.propwatch, args.otlp_load) + ((args.otelcol,) if args.otelcol else ()):
        if not os.access(path, os.X_OK):
            ap.error(f"not an executable: {path}")

    with tempfile.TemporaryDirectory(prefix="propwatch-peer-") as tmp:
        if args.cores_sweep:
            return cores_sweep(args, Path(tmp))
        results: dict[str, list[dict]] = {s: [] for s in systems}
        failures = 0
        pins = "".join(f", {what} on cpus {cpus}" for what, cpus in
                       (("server", args.server_cpus), ("load", args.load_cpus)) if cpus)
        print(f"protocol {args.protocol}{pins}", flush=True)
        for rep in range(args.repetitions):
            order = systems[rep % len(systems):] + systems[:rep % len(systems)]
            for name in order:
                r = measure(name, args, Path(tmp), args.protocol, args.server_cpus,
                            args.load_cpus, args.seconds, args.warmup)
                results[name].append(r)
                failures += not report(f"rep {rep + 1} {name}", r)
        # CI also checks the count over OTLP/HTTP with gzip bodies: one short
        # round for the tap and the Collector's floor, outside the table.
        if args.smoke and args.protocol != "http-gzip":
            for name in (s for s in systems if s in ("propwatch", "otelcol-floor")):
                r = measure(name, args, Path(tmp), "http-gzip", args.server_cpus,
                            args.load_cpus, 1, 0.5)
                failures += not report(f"smoke {name} over http-gzip", r)
        if failures:
            print_logs(Path(tmp))

    med = lambda name, key: statistics.median(r[key] for r in results[name])
    print(f"\n| system over {args.protocol} ({args.repetitions} interleaved repetitions, medians) "
          f"| M spans/s | server cores | server CPU-s per M spans | p50 ms | p99 ms | "
          f"peak RSS MiB | load generator cores | other processes cores |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in systems:
        print(f"| {name} | {med(name, 'spans_per_s') / 1e6:.3f} | {med(name, 'server_cores'):.2f} | "
              f"{med(name, 'cpu_s_per_m_spans'):.2f} | {med(name, 'p50_ms'):.2f} | "
              f"{med(name, 'p99_ms'):.2f} | {med(name, 'peak_rss_mib'):.0f} | "
              f"{med(name, 'client_cores'):.2f} | {med(name, 'third_party_cores'):.2f} |")
    if "propwatch" in systems:
        cpu_ns = med("propwatch", "cpu_s_per_m_spans") * 1e3
        decode_ns, engine_ns = med("propwatch", "decode_ns"), med("propwatch", "engine_ns")
        print(f"\npropwatch server CPU per span {cpu_ns:.0f} ns = "
              f"{cpu_ns / (decode_ns + engine_ns):.2f} x (decode-only {decode_ns:.0f} ns + "
              f"engine-only {engine_ns:.0f} ns, otlp_load's single-thread baselines of the same "
              f"runs; issue 13's goal: <= 2 x)")
        for peer in (s for s in systems if s != "propwatch"):
            print(f"\npropwatch / {peer}: throughput "
                  f"{med('propwatch', 'spans_per_s') / med(peer, 'spans_per_s'):.1f} x, "
                  f"CPU per span {med(peer, 'cpu_s_per_m_spans') / med('propwatch', 'cpu_s_per_m_spans'):.1f} x less")
    print()
    warn_if_busy([r for runs in results.values() for r in runs])
    print(f"checks: {'all passed' if not failures else f'{failures} FAILED'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
