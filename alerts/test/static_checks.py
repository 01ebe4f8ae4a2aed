#!/usr/bin/env python3
"""House rules for alerts/ and grafana/ that promtool and dashboard-linter do
not check (CONVENTIONS.md "Operations files"). Needs PyYAML.

  alerts   Propwatch* CamelCase names; severity critical|warning|info; a static
           summary, a templated description, runbook_url =
           alerts/runbook.md#<name in lower case>, and that runbook section
           with its four parts; a `for:`.
  tests    every alert has, in one test group, an evaluation with no alert
           and one a single evaluation_interval later with the alert firing,
           asserting every label and every annotation of the rule.
  records  level:metric:operations names.
  metrics  every propwatch_* name in the rules and the dashboard is in
           docs/metrics.md.
  grafana  stable uid, datasource variable used by every panel, a unit on
           every panel, counters (_total) only as range vectors (inside
           rate()/increase()), provisioning files well formed.
"""
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alerts/propwatch_rules.yml"
TESTS = ROOT / "alerts/test/rules_test.yml"
RUNBOOK = ROOT / "alerts/runbook.md"
DASHBOARD = ROOT / "grafana/dashboards/propwatch.json"
PROVISIONING = ROOT / "grafana/provisioning"
METRICS_DOC = ROOT / "docs/metrics.md"
DASHBOARD_UID = "propwatch-propagation"
RUNBOOK_PARTS = ["Meaning", "First query", "Usual causes", "Fix"]

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"  FAIL {what}")


def duration(s):
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", str(s))
    h, mi, se = (int(x or 0) for x in m.groups())
    return h * 3600 + mi * 60 + se


def main():
    rules = yaml.safe_load(RULES.read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    records = [r for g in rules["groups"] for r in g["rules"] if "record" in r]
    runbook = RUNBOOK.read_text()
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", runbook, re.M | re.S))

    # --- alerts and runbook -----------------------------------------------------
    for a in alerts:
        n = a["alert"]
        check(re.fullmatch(r"Propwatch(?:[A-Z][a-z0-9]*)+", n), f"{n}: CamelCase with the Propwatch prefix")
        check(a.get("labels", {}).get("severity") in ("critical", "warning", "info"),
              f"{n}: severity critical|warning|info")
        ann = a.get("annotations", {})
        check(set(ann) == {"summary", "description", "runbook_url"}, f"{n}: annotations summary, description, runbook_url")
        check("{{" not in ann.get("summary", "{{"), f"{n}: summary is a static sentence")
        check("{{" in ann.get("description", ""), f"{n}: description is templated")
        check(ann.get("runbook_url") == f"alerts/runbook.md#{n.lower()}", f"{n}: runbook_url points at its section")
        check("for" in a, f"{n}: has a for: duration")
        body = sections.get(n)
        check(body is not None, f"{n}: runbook.md has a section '## {n}'")
        for part in RUNBOOK_PARTS:
            check(body is not None and f"**{part}" in body, f"{n}: runbook section has '{part}'")
    for s in sections:
        check(s in {a["alert"] for a in alerts}, f"runbook section {s} names an alert of the rule file")

    # --- promtool tests at each for: boundary --------------------------------------
    tests = yaml.safe_load(TESTS.read_text())
    step = duration(tests.get("evaluation_interval", "1m"))
    for a in alerts:
        n = a["alert"]
        found = False
        for group in tests["tests"]:
            cases = {}
            for c in group.get("alert_rule_test", []):
                if c["alertname"] == n:
                    cases[duration(c["eval_time"])] = c.get("exp_alerts") or []
            for t, exp in cases.items():
                if not exp or cases.get(t - step, None) != []:
                    continue
                full = all(
                    set(e.get("exp_labels", {})) >= set(a.get("labels", {}))
                    and set(e.get("exp_annotations", {})) == set(a.get("annotations", {}))
                    for e in exp)
                if full:
                    found = True
        check(found, f"{n}: a test silent one evaluation before firing, asserting every label and annotation")

    # --- recording rule names --------------------------------------------------------
    for r in records:
        check(re.fullmatch(r"[a-z_]*:[a-z_]+:[a-z0-9_]+", r["record"]), f"{r['record']}: level:metric:operations")

    # --- metric names exist in docs/metrics.md ---------------------------------------
    documented = set(re.findall(r"^\| `(propwatch_\w+)` \|", METRICS_DOC.read_text(), re.M))
    hist = {m + sfx for m in documented for sfx in ("_bucket", "_sum", "_count")}
    exprs = [r["expr"] for r in records + alerts]
    dash = json.loads(DASHBOARD.read_text())
    panels = []

    def walk(ps):
        for p in ps:
            panels.append(p)
            walk(p.get("panels", []))

    walk(dash["panels"])
    exprs += [t["expr"] for p in panels for t in p.get("targets", []) if t.get("expr")]
    templ = dash["templating"]["list"]
    exprs += [v["query"]["query"] for v in templ if v["type"] == "query"]
    used = set()
    for e in exprs:
        # Metric names only: not recording rule names (level:metric:ops).
        used |= {m for m in re.findall(r"(?<![\w:])(propwatch_\w+)", e)}
    for m in sorted(used):
        check(m in documented or m in hist, f"metric {m} is in docs/metrics.md")
    check(len(documented) > 20, f"docs/metrics.md lists the metrics ({len(documented)})")

    # --- dashboard ---------------------------------------------------------------------
    check(dash.get("uid") == DASHBOARD_UID, f"dashboard uid is {DASHBOARD_UID}")
    check(any(v["type"] == "datasource" and v["name"] == "datasource" for v in templ), "datasource variable")
    check(any(v["name"] == "service" for v in templ), "service variable")
    for p in panels:
        if p["type"] == "row":
            continue
        t = p["title"]
        check(p.get("fieldConfig", {}).get("defaults", {}).get("unit"), f"panel '{t}': has a unit")
        check(p.get("datasource", {}).get("uid") == "${datasource}", f"panel '{t}': uses ${{datasource}}")
        for tg in p.get("targets", []):
            check(tg.get("datasource", {}).get("uid") == "${datasource}", f"panel '{t}' {tg['refId']}: uses ${{datasource}}")
            for m in re.finditer(r"\w+_total\b(\{[^}]*\})?", tg.get("expr", "")):
                after = tg["expr"][m.end():m.end() + 1]
                check(after == "[", f"panel '{t}': counter {m.group(0)} only as a range vector in rate()/increase()")

    # --- provisioning --------------------------------------------------------------------
    ds = yaml.safe_load((PROVISIONING / "datasources/propwatch-prometheus.yaml").read_text())
    check(ds.get("apiVersion") == 1 and ds["datasources"][0]["type"] == "prometheus", "datasource provisioning")
    db = yaml.safe_load((PROVISIONING / "dashboards/propwatch.yaml").read_text())
    prov = db["providers"][0]
    check(db.get("apiVersion") == 1 and prov["type"] == "file" and prov["options"]["path"], "dashboard provisioning")

    print(f"static: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
