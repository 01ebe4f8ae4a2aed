"""Runs the real propwatch binary on ephemeral loopback ports and talks to it.

Tap: start/stop the process, parse its "listening:" line, scrape /metrics
into a dict, poll with a deadline, raw HTTP, /proc VmRSS.
parse_prometheus: a tiny Prometheus text-format parser.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "scripts", "lib"))
from promtext import parse_samples  # noqa: E402 (the shared parser, found via the path above)

# Every test talks to 127.0.0.1 only.
LOOPBACK = "127.0.0.1"

_LISTEN_RE = re.compile(
    r"listening: otlp-grpc=\S+ \(port (\d+)\), otlp-http=\S+ \(port (\d+)\), "
    r"admin=\S+ \(port (\d+)\)")


# --- Prometheus text format -----------------------------------------------------

def series_key(name: str, labels: Dict[str, str]) -> str:
    """Canonical key: name{a=x,b=y} with labels sorted by name; bare name if none."""
    if not labels:
        return name
    return name + "{" + ",".join(f"{k}={labels[k]}" for k in sorted(labels)) + "}"


def parse_prometheus(text: str) -> Dict[str, float]:
    """Prometheus text exposition -> {series_key: value}. Raises on a malformed line."""
    return {series_key(name, labels): value for name, labels, value in parse_samples(text)}


class Metrics(dict):
    """A parsed scrape: {series_key: value} plus helpers."""

    def v(self, name: str, **labels: str) -> float:
        key = series_key(name, labels)
        if key not in self:
            raise KeyError(f"series {key} not exported")
        return self[key]

    def get0(self, name: str, **labels: str) -> float:
        return self.get(series_key(name, labels), 0.0)

    def family(self, name: str) -> Dict[str, float]:
        """All series of one metric name (exactly that name, not _bucket etc.)."""
        return {k: v for k, v in self.items() if k == name or k.startswith(name + "{")}

    def nonzero(self, name: str) -> Dict[str, float]:
        return {k: v for k, v in self.family(name).items() if v != 0}

    def label_values(self, name: str, label: str) -> set:
        vals = set()
        for k in self.family(name):
            m = re.search(r"[{,]" + label + r"=([^,}]*)", k)
            if m:
                vals.add(m.group(1))
        return vals


def delta(after: Metrics, before: Metrics, name: str, **labels: str) -> float:
    return after.get0(name, **labels) - before.get0(name, **labels)


# --- raw HTTP -------------------------------------------------------------------

class Response:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def http_request(port: int, method: str, path: str, body: bytes = b"",
                 headers: Optional[Dict[str, str]] = None, timeout: float = 30.0) -> Response:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body if body or method == "POST" else None,
                     headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


# --- the tap process ------------------------------------------------------------

class TapError(AssertionError):
    pass


class Tap:
    """One propwatch process on ephemeral loopback ports."""

    def __init__(self, binary: str, workdir: str, *flags: str, name: str = "tap"):
        self.binary = binary
        self.flags = list(flags)
        self.name = name
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.stderr_path = os.path.join(workdir, f"propwatch-{safe}-{id(self):x}.stderr")
        self.proc: Optional[subprocess.Popen] = None
        self.grpc_port = self.http_port = self.admin_port = 0
        self.returncode: Optional[int] = None
        self.stopped = False  # stop() was called: an exit after it is not a crash

    # lifecycle
    def start(self, timeout: float = 15.0) -> "Tap":
        args = [self.binary,
                f"--otlp-grpc-address={LOOPBACK}:0",
                f"--otlp-http-address={LOOPBACK}:0",
                f"--admin-address={LOOPBACK}:0",
                "--advance-interval=100ms",
                # Each test starts its tap before sending, so no trace can be split
                # with a previous process: judge from the first span on.
                "--rebalance-window=0",
                *self.flags]
        self._stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _LISTEN_RE.search(self.stderr())
            if m:
                self.grpc_port, self.http_port, self.admin_port = map(int, m.groups())
                return self
            if self.proc.poll() is not None:
                raise TapError(f"propwatch exited with {self.proc.returncode} before listening:\n"
                               f"{self.stderr()}")
            time.sleep(0.02)
        raise TapError(f"propwatch printed no 'listening:' line within {timeout}s:\n{self.stderr()}")

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> Optional[int]:
        """Signals the process and waits; SIGKILL after `timeout`. Returns the exit code."""
        if self.proc is None:
            return None
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        self._stderr_file.close()
        return self.returncode

    # admin API
    def get(self, path: str, timeout: float = 30.0) -> Response:
        return http_request(self.admin_port, "GET", path, timeout=timeout)

    def metrics(self) -> Metrics:
        r = self.get("/metrics")
        if r.status != 200:
            raise TapError(f"/metrics answered {r.status}: {r.body[:500]!r}")
        return Metrics(parse_prometheus(r.body.decode()))

    def healthy(self) -> bool:
        try:
            return self.alive() and self.get("/healthz", timeout=5).status == 200
        except OSError:
            return False

    def wait_for(self, what: str, pred: Callable[[Metrics], bool], timeout: float = 20.0,
                 show: Iterable[str] = ()) -> Metrics:
        """Polls /metrics until pred(metrics) holds; bounded by `timeout`."""
        deadline = time.monotonic() + timeout
        last: Optional[Metrics] = None
        while True:
            if not self.alive():
                raise TapError(f"propwatch died (exit {self.proc.returncode}) while waiting for "
                               f"{what}:\n{self.stderr()}")
            last = self.metrics()
            if pred(last):
                return last
            if time.monotonic() >= deadline:
                shown = {k: v for k, v in last.items() if any(k.startswith(s) for s in show)}
                raise TapError(f"timed out after {timeout}s waiting for {what}; last values: "
                               f"{json.dumps(shown, indent=1, sort_keys=True)}")
            time.sleep(0.1)

    def trace(self, trace_id_hex: str, text: bool = False) -> Response:
        return self.get(f"/api/v1/traces/{trace_id_hex}" + ("?format=text" if text else ""))

    # OTLP/HTTP
    def post_traces(self, body: bytes, content_type: str = "application/x-protobuf",
                    headers: Optional[Dict[str, str]] = None, path: str = "/v1/traces",
                    method: str = "POST") -> Response:
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        return http_request(self.http_port, method, path, body=body, headers=h)

    # memory
    def proc_status_kib(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise TapError(f"no {field} in /proc/PID/status")

    def rss_kib(self) -> int:
        """Resident memory now (VmRSS)."""
        return self.proc_status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        """Peak resident memory since start (VmHWM)."""
        return self.proc_status_kib("VmHWM")


def ids_hex(span_context) -> Tuple[str, str]:
    """(trace id, span id) of an OpenTelemetry SpanContext as lowercase hex."""
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
