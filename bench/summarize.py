#!/usr/bin/env python3
"""Summarizes a Google Benchmark JSON file (--benchmark_out) as a Markdown table.

For every benchmark: the number of repetitions, the median and the min..max
over repetitions of items_per_second (as millions of spans/s), the median CPU
and real time per iteration, and the median of every user counter. Only the
per-repetition entries are used (aggregates are recomputed), so the spread is
the real min..max, not a standard deviation.

Usage: bench/summarize.py engine_bench.json
"""
import json
import statistics
import sys
from collections import OrderedDict

SKIP = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
        "repetitions", "repetition_index", "threads", "iterations", "real_time",
        "cpu_time", "time_unit", "items_per_second", "bytes_per_second", "aggregate_name",
        "aggregate_unit", "error_occurred", "error_message"}


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.4g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.6g}k"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.4g}"


def main(path):
    with open(path) as f:
        data = json.load(f)
    runs = OrderedDict()
    errors = []
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        if b.get("error_occurred"):
            errors.append(f"{b['name']}: {b.get('error_message')}")
            continue
        runs.setdefault(b["run_name"], []).append(b)

    # Registration order, whatever order the repetitions ran in.
    runs = OrderedDict(sorted(runs.items(), key=lambda kv: (
        kv[1][0].get("family_index", 0), kv[1][0].get("per_family_instance_index", 0))))
    ctx = data.get("context", {})
    print(f"<!-- {ctx.get('date')} host={ctx.get('host_name')} "
          f"cpus={ctx.get('num_cpus')} mhz={ctx.get('mhz_per_cpu')} -->")
    print("| benchmark | reps | Mspans/s median | min..max | CPU time/iter | real time/iter "
          "| counters (median) |")
    print("|---|---|---|---|---|---|---|")
    for name, reps in runs.items():
        ips = [r["items_per_second"] for r in reps if "items_per_second" in r]
        unit = reps[0].get("time_unit", "ns")
        cpu = statistics.median(r["cpu_time"] for r in reps)
        real = statistics.median(r["real_time"] for r in reps)
        counters = []
        for key in reps[0]:
            if key in SKIP or not isinstance(reps[0][key], (int, float)):
                continue
            values = [r[key] for r in reps]
            med = statistics.median(values)
            spread = ("" if min(values) == max(values)
                      else f" ({fmt(min(values))}..{fmt(max(values))})")
            counters.append(f"{key}={fmt(med)}{spread}")
        if ips:
            med = f"{statistics.median(ips) / 1e6:.2f}"
            spread = f"{min(ips) / 1e6:.2f}..{max(ips) / 1e6:.2f}"
        else:
            med, spread = "-", "-"
        print(f"| {name} | {len(reps)} | {med} | {spread} | {cpu:.4g} {unit} | {real:.4g} {unit} | "
              f"{', '.join(counters)} |")
    for e in errors:
        print(f"\nERROR {e}")


if __name__ == "__main__":
    main(sys.argv[1])
