#!/usr/bin/env python3
"""Writes alerts/propwatch_rules.yml with every runbook_url made absolute.

The rules file in the repository links each alert to its runbook section
relative to the repository root (alerts/runbook.md#<alert>), which is what a
repository browser resolves. Notifications need an absolute link: give the one
base where your copy of this repository is browsed, and every runbook_url
becomes BASE/alerts/runbook.md#<alert>. Nothing else in the file changes.

  alerts/render_rules.py --runbook-base https://git.example/propwatch/blob/main \\
      > /etc/prometheus/rules/propwatch_rules.yml

Exit status 2, with the reason on stderr, when the base is not an absolute
http(s) URL, or when a runbook_url in the input is not of the relative form or
names a section runbook.md does not have (so a rendered file never links to
nothing).
"""
import argparse
import re
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELATIVE = re.compile(r"^(\s*runbook_url:\s*)alerts/runbook\.md#([a-z0-9-]+)\s*$")


def runbook_anchors(runbook: str) -> set[str]:
    # Sections are "## AlertName"; a renderer's anchor is the lower-cased name.
    return {m.lower() for m in re.findall(r"^## (\w+)\s*$", runbook, re.M)}


def render(rules: str, base: str, anchors: set[str]) -> str:
    out, count = [], 0
    for number, line in enumerate(rules.splitlines(keepends=True), 1):
        if "runbook_url:" not in line or line.lstrip().startswith("#"):
            out.append(line)
            continue
        m = RELATIVE.match(line.rstrip("\n"))
        if not m:
            raise ValueError(f"line {number}: runbook_url is not 'alerts/runbook.md#<alert>': {line.strip()}")
        if m.group(2) not in anchors:
            raise ValueError(f"line {number}: runbook.md has no section for #{m.group(2)}")
        out.append(f"{m.group(1)}{base}/alerts/runbook.md#{m.group(2)}\n")
        count += 1
    if count == 0:
        raise ValueError("no runbook_url found")
    return "".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runbook-base", required=True,
                    help="absolute http(s) URL where the repository's files are browsed")
    ap.add_argument("--rules", default=str(ROOT / "alerts/propwatch_rules.yml"))
    ap.add_argument("--runbook", default=str(ROOT / "alerts/runbook.md"))
    a = ap.parse_args()
    base = a.runbook_base.rstrip("/")
    parsed = urllib.parse.urlparse(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in base):
        print(f"render_rules: --runbook-base must be an absolute http(s) URL, got {a.runbook_base!r}",
              file=sys.stderr)
        return 2
    try:
        text = render(Path(a.rules).read_text(), base, runbook_anchors(Path(a.runbook).read_text()))
    except (OSError, ValueError) as e:
        print(f"render_rules: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
