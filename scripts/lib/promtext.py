"""Prometheus text exposition format, parsed strictly (standard library only).

Shared by the integration-test harness (tests/integration/python) and the
demo driver (demo/run_demo.py): a malformed line or a repeated series raises
instead of being skipped, so a scrape is never silently partial.
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')

Sample = Tuple[str, Dict[str, str], float]


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), m.group(0)), v)


def parse_samples(text: str) -> List[Sample]:
    """Every sample line as (name, labels, value). Raises ValueError on a
    malformed line or a series that appears twice."""
    out: List[Sample] = []
    seen = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise ValueError(f"metrics line {lineno} malformed: {line!r}")
        name, label_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels: Dict[str, str] = {}
        pos = 0
        while pos < len(label_text):
            lm = _LABEL_RE.match(label_text, pos)
            if not lm:
                raise ValueError(f"metrics line {lineno}: bad labels: {line!r}")
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError(f"metrics line {lineno}: duplicate series {line!r}")
        seen.add(key)
        out.append((name, labels, float(value)))  # float() accepts +Inf, -Inf, NaN
    return out
