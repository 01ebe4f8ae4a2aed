#!/usr/bin/env python3
"""Asserts, through a running Prometheus's HTTP API, that propwatch's rules and
dashboard work on real data (called by prometheus_e2e.sh; stdlib only).

  1. The rule file is loaded: every `record:` and `alert:` of the file is in
     /api/v1/rules, with health ok.
  2. Every recording rule returns data (/api/v1/query on its name).
  3. Every dashboard query (panels and variables) returns data, with the
     dashboard's variables substituted as Grafana would ("All" = .+).
  4. The orphan alert's expression (as Prometheus loaded it, without `for`)
     returns the broken internal service and neither the entry point nor the
     healthy internal service; the alert is pending or firing for it alone.
  5. The scenario's faults are visible in the expected series, and the
     broken edge gateway -> worker is named in the orphan alert.

Waits (bounded by --timeout) until the scenario's data has reached every
series, then checks once and prints one line per assertion.
"""
import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Grafana's $__rate_interval is max($__interval + scrape interval,
# 4 x scrape interval); with the e2e's 1 s scrape, 20 s is a safe stand-in.
VARIABLES = {
    "$__rate_interval": "20s",
    # The dashboard's time range (Broken edges table): the run so far.
    "$__range": "5m",
    "${datasource}": "",
    "$job": ".+",
    "$instance": ".+",
    "$service": ".+",
}


class Prom:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, **params):
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{q}", timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr):
        data = self.get("/api/v1/query", query=expr)
        return data["result"]


def substitute(expr):
    for k, v in VARIABLES.items():
        expr = expr.replace(k, v)
    return expr


def dashboard_queries(path):
    """(where, expr) for every panel target and every query variable."""
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((f'panel "{p["title"]}" {t["refId"]}', t["expr"]))

    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", q, re.S)
        if not m:
            raise SystemExit(f"variable {v['name']}: cannot check query {q!r}")
        # label_values(selector, label): the selector must return series
        # that carry the label.
        out.append((f'variable "{v["name"]}"', f'count by ({m.group(2)}) ({m.group(1)})'))
    return dash["uid"], out


def rule_names(path):
    text = open(path).read()
    return (re.findall(r"^\s*- record:\s*(\S+)", text, re.M),
            re.findall(r"^\s*- alert:\s*(\S+)", text, re.M))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--broken", default="worker")
    ap.add_argument("--entry", default="gateway")
    ap.add_argument("--healthy", default="billing")
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    prom = Prom(args.prometheus)
    records, alerts = rule_names(args.rules)
    uid, dash_queries = dashboard_queries(args.dashboard)
    b, e, h = args.broken, args.entry, args.healthy

    # Conditions that show the scenario's data has reached every series
    # (broken parents and late spans need trace finalization, seconds later).
    ready_exprs = [
        f'service_name:propwatch_orphan_spans:ratio_rate5m{{service_name="{b}"}} > 0.05',
        f'service_name:propwatch_broken_parent_spans:rate5m{{service_name="{b}"}} > 0',
        f'service_name:propwatch_invalid_traceparent:rate5m{{service_name="{b}"}} > 0',
        f'sum by (service_name) (rate(propwatch_extraction_failures_total{{service_name="{b}"}}[1m])) > 0',
        f'sum by (service_name) (rate(propwatch_late_spans_total{{service_name="{e}"}}[1m])) > 0',
        f'service_name:propwatch_spans:rate5m{{service_name="{h}"}} > 0',
        ':propwatch_distinct_trace_ids_per_request:ratio_rate5m > 1',
        # Edges are decided 2 x --trace-idle-timeout after the orphan arrived.
        ('caller_service_callee_service_boundary:propwatch_broken_edges:rate5m'
         f'{{caller_service="{e}",callee_service="{b}",boundary="http"}} > 0'),
        'ALERTS{alertname="PropwatchOrphanRatioHigh"}',
    ]
    deadline = time.monotonic() + args.timeout
    start = time.monotonic()
    while True:
        missing = [x for x in ready_exprs if not prom.query(x)]
        if not missing:
            break
        if time.monotonic() > deadline:
            print(f"e2e: FAIL: after {args.timeout:.0f}s still no data for:")
            for x in missing:
                print(f"  {x}")
            return 1
        time.sleep(1)
    print(f"e2e: scenario data in every series after {time.monotonic() - start:.0f}s")

    passed, failed = 0, 0

    def check(ok, what):
        nonlocal passed, failed
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if ok:
            passed += 1
        else:
            failed += 1

    # 1. The rule file as Prometheus loaded it.
    loaded = {}
    for g in prom.get("/api/v1/rules")["groups"]:
        for r in g["rules"]:
            loaded[r["name"]] = r
    for name in records + alerts:
        r = loaded.get(name)
        check(r is not None and r.get("health") == "ok",
              f"rule loaded, health ok: {name}" + ("" if r is None else f" ({r.get('health')})"))

    # 2. Every recording rule returns data.
    for name in records:
        res = prom.query(name)
        check(bool(res), f"recording rule has data: {name} ({len(res)} series)")

    # 3. Every dashboard query returns data.
    for where, expr in dash_queries:
        res = prom.query(substitute(expr))
        check(bool(res), f"dashboard {uid} {where} has data ({len(res)} series)")

    # 4. The orphan alert: expression true for the broken service only.
    rule = loaded.get("PropwatchOrphanRatioHigh", {})
    expr = rule.get("query", "")
    res = prom.query(expr) if expr else []
    services = sorted(s["metric"].get("service_name", "") for s in res)
    check(b in services, f"orphan alert expression is true for {b}: {services}")
    check(e not in services, f"orphan alert expression is false for entry point {e}")
    check(h not in services, f"orphan alert expression is false for healthy {h}")
    active = sorted((a["labels"].get("service_name", ""), a["state"])
                    for a in rule.get("alerts", []))
    check([s for s, _ in active] == [b], f"PropwatchOrphanRatioHigh active for {b} only: {active}")
    # Without the entry-point guard the entry point would still be absent:
    # this tap counts no orphans for it (--entry-services).
    ratio = {s["metric"]["service_name"]: float(s["value"][1])
             for s in prom.query("service_name:propwatch_orphan_spans:ratio_rate5m")}
    check(ratio.get(e) == 0.0, f"orphan ratio of entry point {e} is 0: {ratio.get(e)}")
    check(ratio.get(h) == 0.0, f"orphan ratio of healthy {h} is 0: {ratio.get(h)}")
    check(ratio.get(b, 0) > 0.05, f"orphan ratio of {b} above 5%: {ratio.get(b)}")

    # 5. The scenario's faults where they belong.
    kinds = {s["metric"]["span_kind"]: float(s["value"][1]) for s in prom.query(
        f'service_name_span_kind:propwatch_orphan_spans:ratio_rate5m{{service_name="{b}"}} > 0')}
    check(set(kinds) == {"server", "internal"},
          f"{b} orphans at the server (dropped header) and internal (thread pool) boundaries: {sorted(kinds)}")
    reasons = sorted(s["metric"]["reason"] for s in prom.query(
        f'service_name_reason:propwatch_invalid_traceparent:rate5m{{service_name="{b}"}} > 0'))
    check(reasons == ["trace_id_format"], f"{b} invalid traceparent reasons: {reasons}")
    res = prom.query(f'service_name:propwatch_broken_parent_spans:ratio_rate5m{{service_name="{b}"}} > 0')
    check(bool(res), f"{b} has broken parents (uninstrumented proxy)")
    edges = sorted((s["metric"]["caller_service"], s["metric"]["callee_service"], s["metric"]["boundary"])
                   for s in prom.query("caller_service_callee_service_boundary:propwatch_broken_edges:rate5m > 0"))
    check((e, b, "http") in edges, f"broken edge {e} -> {b} (http), its CLIENT spans lost the header: {edges}")
    check(all(callee == b for _, callee, _ in edges), f"broken edges only into {b}: {edges}")
    descriptions = [a["annotations"].get("description", "") for a in rule.get("alerts", [])]
    check(any(f"Top broken edge: {e} → {b} (http, " in d for d in descriptions),
          f"PropwatchOrphanRatioHigh names the broken edge {e} → {b}: {descriptions}")
    res = prom.query("up{job=\"propwatch\"} == 1")
    check(len(res) == 1, "the tap is up (job propwatch)")

    print(f"e2e: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
