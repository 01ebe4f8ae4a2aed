#!/usr/bin/env python3
"""Tests alerts/render_rules.py (run by alerts/run_checks.sh): every alert's
runbook_url becomes BASE/alerts/runbook.md#<alert>, nothing else changes, and
bad input is refused with exit 2. Prints the rendered file's path for
promtool to check."""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "alerts/render_rules.py"
RULES = ROOT / "alerts/propwatch_rules.yml"
BASE = "https://git.example/propwatch/blob/main"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def main() -> int:
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("PASS " if ok else "FAIL ") + what)
        failures += not ok

    source = RULES.read_text()
    alerts = re.findall(r"^\s*- alert: (\w+)", source, re.M)
    r = run("--runbook-base", BASE + "/")
    check(r.returncode == 0, f"renders (stderr: {r.stderr.strip()})")
    urls = re.findall(r"^\s*runbook_url: (\S+)$", r.stdout, re.M)
    check(urls == [f"{BASE}/alerts/runbook.md#{a.lower()}" for a in alerts],
          f"each of the {len(alerts)} alerts links BASE/alerts/runbook.md#<alert> (trailing / dropped)")
    strip = lambda text: [l for l in text.splitlines() if "runbook_url: " not in l or l.lstrip().startswith("#")]
    check(strip(r.stdout) == strip(source), "every other line is unchanged")
    out = Path(tempfile.mkdtemp()) / "propwatch_rules.yml"
    out.write_text(r.stdout)

    for bad in ("wiki/propwatch", "ftp://x/y", "https://", "https://x y"):
        r = run("--runbook-base", bad)
        check(r.returncode == 2 and "absolute http(s) URL" in r.stderr and r.stdout == "",
              f"base {bad!r} refused with exit 2 and no output")
    with tempfile.TemporaryDirectory() as d:
        broken = Path(d) / "rules.yml"
        broken.write_text(source.replace("runbook.md#propwatchorphanratiohigh", "runbook.md#nosuchsection", 1))
        r = run("--runbook-base", BASE, "--rules", str(broken))
        check(r.returncode == 2 and "no section for #nosuchsection" in r.stderr,
              "a runbook_url naming a missing section is refused")
        broken.write_text(source.replace("runbook_url: alerts/", "runbook_url: /abs/", 1))
        r = run("--runbook-base", BASE, "--rules", str(broken))
        check(r.returncode == 2 and "is not 'alerts/runbook.md#<alert>'" in r.stderr,
              "a runbook_url not in the relative form is refused")
    print(f"rendered: {out}")
    print(f"render_rules: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
