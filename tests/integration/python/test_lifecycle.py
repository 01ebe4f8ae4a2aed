"""Process lifecycle: SIGTERM drains a request in flight and exits 0; /readyz
says ready before and draining during the drain, while /healthz stays up."""
from __future__ import annotations

import signal
import socket
import time

import otlp_raw as raw


def _read_response(s: socket.socket, timeout: float = 15.0) -> bytes:
    s.settimeout(timeout)
    data = b""
    while True:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if len(data) >= head_end + 4 + length:
                return data
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def _wait_stderr(tap, needle: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while needle not in tap.stderr():
        assert time.monotonic() < deadline, f"no {needle!r} in stderr:\n{tap.stderr()}"
        time.sleep(0.02)


def _wait_refused(port: int, timeout: float = 10.0):
    """Until the listener is closed (connect refused): the server is stopping."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        assert time.monotonic() < deadline, f"port {port} still accepts {timeout}s after SIGTERM"
        time.sleep(0.01)


def test_sigterm_completes_inflight_request_and_exits_0(taps):
    tap = taps(name="sigterm")
    sp = raw.span("inflight")
    body = raw.request_bytes(raw.resource_spans("lifecycle", [sp]))
    half = len(body) // 2
    ready = tap.get("/readyz")
    assert (ready.status, ready.body) == (200, b"ready\n"), ready
    before = tap.metrics()["propwatch_receiver_http_connections_accepted_total"]
    with socket.create_connection(("127.0.0.1", tap.http_port), timeout=10) as s:
        s.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
                  .encode() + body[:half])
        # The server has the head (and half the body) before the signal: wait
        # until it has accepted the connection.
        tap.wait_for("the connection to be accepted",
                     lambda m: m["propwatch_receiver_http_connections_accepted_total"] >= before + 2,
                     timeout=10)
        time.sleep(0.2)  # let the io thread read the head (not an assertion)
        tap.proc.send_signal(signal.SIGTERM)
        _wait_stderr(tap, "SIGTERM: draining")
        # The OTLP/HTTP listener closes when its Stop() begins: the request is
        # then in flight during the drain.
        _wait_refused(tap.http_port)
        assert tap.alive(), "propwatch exited with a request in flight"
        # The admin listener stops last: during the drain it says so.
        draining = tap.get("/readyz")
        assert (draining.status, draining.body) == (503, b"draining\n"), draining
        assert tap.get("/healthz").status == 200
        s.sendall(body[half:])
        resp = _read_response(s)
    assert resp.startswith(b"HTTP/1.1 200"), resp[:300]
    head = resp.split(b"\r\n\r\n", 1)[0].lower()
    assert b"connection: close" in head, head
    code = tap.stop(timeout=15)
    assert code == 0, f"exit code {code}:\n{tap.stderr()}"
    assert " info stopped\n" in tap.stderr()


def test_sigint_idle_exits_0(taps):
    tap = taps(name="sigint")
    assert tap.healthy()
    assert tap.stop(sig=signal.SIGINT, timeout=15) == 0, tap.stderr()
    assert "SIGINT: draining" in tap.stderr()


def test_bad_flag_exits_2(propwatch_bin, tmp_path):
    import subprocess
    p = subprocess.run([propwatch_bin, "--no-such-flag=1", "--admin-address=127.0.0.1:0"],
                       capture_output=True, timeout=10)
    assert p.returncode == 2, p
    assert b"no-such-flag" in p.stderr


def test_help_and_version_on_every_command(propwatch_bin):
    import subprocess
    for args, first in ([["--help"], "Usage:"], [["check", "--help"], "Usage: propwatch check"],
                        [["trace", "--help"], "Usage: propwatch trace"],
                        [["--entry-services=a", "-h"], "Usage:"]):
        p = subprocess.run([propwatch_bin, *args], capture_output=True, timeout=10, text=True)
        assert p.returncode == 0 and p.stdout.startswith(first), (args, p)
    p = subprocess.run([propwatch_bin, "--version"], capture_output=True, timeout=10, text=True)
    assert p.returncode == 0 and p.stdout.startswith("propwatch ") and "(revision " in p.stdout, p
    # The same unknown-flag error on every command, exit 2.
    for args in (["--bogus=1"], ["check", "--bogus=1"], ["trace", "--bogus=1"]):
        p = subprocess.run([propwatch_bin, *args], capture_output=True, timeout=10, text=True)
        assert p.returncode == 2 and "unknown flag '--bogus'" in p.stderr, (args, p)
