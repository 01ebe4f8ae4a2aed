#!/usr/bin/env python3
"""Memory per live trace: the propwatch tap at 1M live 10-span traces, and
the Collector's tail sampling holding traces, for comparison (issue 13 item 4).

The tap runs with --max-traces=TRACES and a 1 h idle timeout, so every trace
sent stays live until the cap. bench/otlp_load sends 500-span requests (50
whole traces, fresh ids each send) at --rate for long enough to send
--overfill times the cap. Every second the script samples the tap's RSS
(/proc VmRSS), its live traces and the engine's own account
(propwatch_engine_tracked_bytes). It reports:
  - RSS per live trace when live traces first reach the cap: (RSS - RSS of
    the idle tap) / live traces;
  - the engine's account per live trace at the same moment;
  - RSS at the end (the cap held while more traces came: must stay flat);
and repeats with the trace store off (--trace-store-max-traces=0) to give
the store's share. Then, unless --sampler-traces=0, the Collector with
tail_sampling (decision_wait 1 h, num_traces above what is sent) receives
--sampler-traces traces and its RSS per held trace is reported the same way.

  bench/peer/memory.py                     # 1M traces, then the sampler at 100k
  bench/peer/memory.py --traces=100000 --sampler-traces=0 --rate=200000

Builds nothing (see run.py for the binaries it uses).
"""
import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (COLLECTOR_CONFIG, ROOT, collector_path, free_port,  # noqa: E402
                 metric_sum, scrape, wait_until)

SPANS_PER_TRACE = 10
BATCH_SPANS = 500  # whole traces only: 50 per request

# The Collector's config of run.py with tail sampling in the pipeline.
TAIL_SAMPLING = """\
processors:
  tail_sampling:
    decision_wait: 3600s
    num_traces: {num_traces}
    policies:
      - name: keep-all
        type: always_sample
"""
TAIL_SAMPLING_PIPELINE = """\
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [debug]
"""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def settle_rss(pid: int, seconds: float = 3.0) -> float:
    """RSS of an idle process once it stops moving (the last of `seconds`)."""
    time.sleep(seconds)
    return rss_mib(pid)


SENT = re.compile(r"rep 1 load: .*OK calls \d+ \((\d+) spans")


def spans_sent(log_path: Path) -> int:
    """Spans otlp_load sent in OK calls (warm-up included), from its log."""
    found = SENT.findall(log_path.read_text(errors="replace"))
    if not found:
        raise RuntimeError(f"no load line in {log_path}")
    return int(found[-1])


def send(args, target: str, traces: int, log, rate: int) -> subprocess.Popen:
    seconds = traces * SPANS_PER_TRACE / rate
    cmd = [args.otlp_load, f"--target={target}", f"--batch-spans={BATCH_SPANS}",
           f"--rate={rate}", f"--seconds={seconds:.3f}", "--warmup=0.001",
           "--repetitions=1", "--baseline-seconds=0.001", f"--concurrency={args.concurrency}"]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def run_tap(args, workdir: Path, store: bool) -> dict:
    grpc, admin = free_port(), free_port()
    log = open(workdir / f"tap-store{int(store)}.log", "wb")
    cmd = [args.propwatch, f"--otlp-grpc-address=127.0.0.1:{grpc}", "--otlp-http-address=off",
           f"--admin-address=127.0.0.1:{admin}", f"--max-traces={args.traces}",
           "--trace-idle-timeout=1h", "--entry-services=gateway"]
    if not store:
        cmd.append("--trace-store-max-traces=0")
    tap = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{admin}/metrics"
        wait_until(lambda: tap.poll() is None and scrape(f"http://127.0.0.1:{admin}/readyz"),
                   "the tap to be ready")
        idle = settle_rss(tap.pid)
        load = send(args, f"127.0.0.1:{grpc}", args.traces * args.overfill, log, args.rate)
        at_cap = None
        samples = []
        while True:
            done = load.poll() is not None
            text = scrape(url)
            live = metric_sum(text, "propwatch_traces_tracked", state="live")
            tracked = metric_sum(text, "propwatch_engine_tracked_bytes")
            rss = rss_mib(tap.pid)
            samples.append((live, rss, tracked))
            if at_cap is None and live >= args.traces:
                at_cap = (live, rss, tracked)
            if done:
                break
            time.sleep(1.0)
        if load.returncode != 0:
            raise RuntimeError(f"otlp_load failed (exit {load.returncode}); see {log.name}")
        log.flush()
        traces_sent = spans_sent(Path(log.name)) // SPANS_PER_TRACE
        if at_cap is None:
            raise RuntimeError(f"live traces never reached {args.traces}: last {samples[-1][0]:.0f}")
        end = samples[-1]
        live, rss, tracked = at_cap
        # RSS after the cap was reached: flat means at most a small drift.
        after = [s[1] for s in samples if s[0] >= args.traces]
        return {"idle_mib": idle, "live": live, "rss_mib": rss,
                "rss_b_per_trace": (rss - idle) * 2**20 / live,
                "engine_b_per_trace": tracked / live,
                "end_rss_mib": end[1], "max_rss_after_cap_mib": max(after),
                "traces_sent": traces_sent}
    finally:
        tap.terminate()
        tap.wait(timeout=30)


def run_sampler(args, workdir: Path) -> dict:
    grpc, metrics = free_port(), free_port()
    config = workdir / "sampler.yaml"
    config.write_text(COLLECTOR_CONFIG.format(
        grpc=grpc, metrics=metrics, http="",
        components=TAIL_SAMPLING.format(num_traces=args.sampler_traces * 4),
        pipelines=TAIL_SAMPLING_PIPELINE))
    log = open(workdir / "sampler.log", "wb")
    proc = subprocess.Popen([args.otelcol, f"--config={config}"], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is None and scrape(f"http://127.0.0.1:{metrics}/metrics"),
                   "the Collector to be ready")
        idle = settle_rss(proc.pid)
        load = send(args, f"127.0.0.1:{grpc}", args.sampler_traces, log, args.sampler_rate)
        if load.wait() != 0:
            raise RuntimeError(f"otlp_load failed against the sampler; see {log.name}")
        log.flush()
        # The sampler updates its gauge on its decision tick: settle first.
        rss = settle_rss(proc.pid, 3.0)
        text = scrape(f"http://127.0.0.1:{metrics}/metrics")
        on_memory = metric_sum(text, "otelcol_processor_tail_sampling_sampling_traces_on_memory")
        accepted = (metric_sum(text, "otelcol_receiver_accepted_spans") +
                    metric_sum(text, "otelcol_receiver_accepted_spans_total"))
        sent = spans_sent(Path(log.name))
        if accepted != sent:
            raise RuntimeError(f"the sampler accepted {accepted:.0f} spans of {sent} sent")
        # Nothing is decided within decision_wait and num_traces has room for
        # all: every trace sent (whole traces only) is held.
        held = sent // SPANS_PER_TRACE
        return {"idle_mib": idle, "held": held, "on_memory_gauge": on_memory, "rss_mib": rss,
                "rss_b_per_trace": (rss - idle) * 2**20 / held}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    intro, rest = __doc__.split("\n\n", 1)
    ap = argparse.ArgumentParser(description=intro, epilog=rest,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--propwatch", default=str(ROOT / "build/exporter/tap/propwatch"))
    ap.add_argument("--otlp-load", default=str(ROOT / "build/bench/otlp_load"))
    ap.add_argument("--otelcol", help="collector binary (default: the cached demo collector)")
    ap.add_argument("--traces", type=int, default=1_000_000,
                    help="live traces (the tap's cap); 0: skip the tap")
    ap.add_argument("--overfill", type=int, default=2,
                    help="traces sent, as a multiple of --traces (RSS must stay flat)")
    ap.add_argument("--sampler-traces", type=int, default=100_000,
                    help="traces held by the Collector's tail sampling (0: skip)")
    ap.add_argument("--rate", type=int, default=500_000, help="offered spans/s to the tap")
    ap.add_argument("--sampler-rate", type=int, default=200_000,
                    help="offered spans/s to the Collector (slower; the traces it got are counted)")
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    if args.sampler_traces and not args.otelcol:
        args.otelcol = collector_path()
    with tempfile.TemporaryDirectory(prefix="propwatch-memory.") as tmp:
        workdir = Path(tmp)
        rows = []
        for store in ((True, False) if args.traces else ()):
            r = run_tap(args, workdir, store)
            rows.append((store, r))
            print(f"tap, trace store {'default' if store else 'off'}: idle {r['idle_mib']:.1f} MiB,"
                  f" at {r['live']:.0f} live traces {r['rss_mib']:.1f} MiB ="
                  f" {r['rss_b_per_trace']:.0f} B/trace RSS, engine account"
                  f" {r['engine_b_per_trace']:.0f} B/trace; after {r['traces_sent']} traces sent"
                  f" {r['end_rss_mib']:.1f} MiB (max after the cap {r['max_rss_after_cap_mib']:.1f})",
                  flush=True)
        if rows:
            (_, on), (_, off) = rows
            print(f"trace store share: {on['rss_mib'] - on['idle_mib'] - (off['rss_mib'] - off['idle_mib']):.1f}"
                  f" MiB = {on['rss_b_per_trace'] - off['rss_b_per_trace']:.0f} B per live trace")
        if args.sampler_traces:
            s = run_sampler(args, workdir)
            print(f"Collector tail_sampling: idle {s['idle_mib']:.1f} MiB, holding {s['held']:.0f}"
                  f" traces (its traces_on_memory gauge: {s['on_memory_gauge']:.0f})"
                  f" {s['rss_mib']:.1f} MiB = {s['rss_b_per_trace']:.0f} B/trace RSS", flush=True)
        print()
        print("| process | live traces | RSS MiB (idle) | RSS B per live trace | engine's account B |")
        print("|---|---|---|---|---|")
        for store, r in rows:
            print(f"| tap, trace store {'default (10k traces)' if store else 'off'} | {r['live']:.0f} |"
                  f" {r['rss_mib']:.1f} ({r['idle_mib']:.1f}) | {r['rss_b_per_trace']:.0f} |"
                  f" {r['engine_b_per_trace']:.0f} |")
        if args.sampler_traces:
            print(f"| Collector tail_sampling | {s['held']:.0f} | {s['rss_mib']:.1f} ({s['idle_mib']:.1f})"
                  f" | {s['rss_b_per_trace']:.0f} | |")
        flat = all(r["max_rss_after_cap_mib"] <= r["rss_mib"] * 1.05 for _, r in rows)
        if rows:
            print(f"\nRSS flat at the cap (within 5 % while {args.overfill}x the cap was sent):"
                  f" {'yes' if flat else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
