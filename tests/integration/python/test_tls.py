"""TLS and mutual TLS on every listener, with the real OpenTelemetry SDK.

A CA, server and client certificates are made here with the openssl CLI.
Checked: the SDK exports over TLS (gRPC and HTTP/protobuf) and every span is
counted; plaintext to a TLS port is refused and counted; under mutual TLS a
client without a certificate (or with one from another CA) is refused and
one with a good certificate is served; the admin listener serves /metrics
over TLS; the trace API's bearer token; certificates re-read on SIGHUP.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import time

import grpc
import pytest

LOOPBACK = "127.0.0.1"


def _openssl(*args: str, cwd: str):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _issue(d: str, name: str, ca: str, cn: str, server: bool):
    """A key and a certificate for `cn` signed by CA `ca` (files in d)."""
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        if server:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        else:
            f.write("extendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", f"{name}.crt",
             cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                 "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN=propwatch test {ca}", cwd=d)
    _issue(d, "server", "ca", "propwatch-tap", server=True)
    _issue(d, "server2", "ca", "propwatch-tap-renewed", server=True)
    _issue(d, "client", "ca", "collector", server=False)
    _issue(d, "rogue-client", "rogue-ca", "intruder", server=False)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    return p


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _https(port: int, path: str, ca: str, cert=None, key=None, headers=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    conn = http.client.HTTPSConnection(LOOPBACK, port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(), conn.sock.getpeercert()
    finally:
        conn.close()


def _metric(text: bytes, line_start: str) -> float:
    for line in text.decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return 0.0


def _tls_tap(taps, pki, mtls: bool, extra=()):
    flags = [f"--otlp-tls-cert-file={pki('server.crt')}", f"--otlp-tls-key-file={pki('server.key')}",
             f"--admin-tls-cert-file={pki('server.crt')}", f"--admin-tls-key-file={pki('server.key')}",
             "--entry-services=gateway", *extra]
    if mtls:
        flags += [f"--otlp-tls-client-ca-file={pki('ca.crt')}",
                  f"--admin-tls-client-ca-file={pki('ca.crt')}"]
    # The harness polls /healthz over plain HTTP only after start; start() itself
    # just waits for the "listening:" line, which works for TLS too.
    return taps(*flags, name="tls-mtls" if mtls else "tls")


def _spans(tap, pki, client_cert: bool) -> float:
    status, body, _ = _https(tap.admin_port, "/metrics", pki("ca.crt"),
                             *( (pki("client.crt"), pki("client.key")) if client_cert else ()))
    assert status == 200, body[:300]
    return _metric(body, 'propwatch_spans_total{service_name="gateway"}')


def _export(endpoint_kind: str, tap, pki, n: int, client=None) -> bool:
    """n root spans of service gateway through the real SDK; True when flushed OK."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

    if endpoint_kind == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        creds = grpc.ssl_channel_credentials(
            root_certificates=_read(pki("ca.crt")),
            private_key=_read(pki(client + ".key")) if client else None,
            certificate_chain=_read(pki(client + ".crt")) if client else None)
        exporter = OTLPSpanExporter(endpoint=f"localhost:{tap.grpc_port}", credentials=creds,
                                    timeout=5)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        kwargs = dict(endpoint=f"https://localhost:{tap.http_port}/v1/traces",
                      certificate_file=pki("ca.crt"), timeout=5)
        if client:
            kwargs.update(client_certificate_file=pki(client + ".crt"),
                          client_key_file=pki(client + ".key"))
        exporter = OTLPSpanExporter(**kwargs)

    results = []

    class Recording(SimpleSpanProcessor):
        def on_end(self, span):
            results.append(self.span_exporter.export((span,)))

    provider = TracerProvider(resource=Resource.create({"service.name": "gateway"}))
    provider.add_span_processor(Recording(exporter))
    tracer = provider.get_tracer("tls-test")
    for i in range(n):
        with tracer.start_as_current_span(f"GET /tls/{i}"):
            pass
    provider.shutdown()
    return bool(results) and all(r == SpanExportResult.SUCCESS for r in results)


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_sdk_exports_over_tls_and_every_span_counts(taps, pki, transport):
    tap = _tls_tap(taps, pki, mtls=False)
    assert _export(transport, tap, pki, 7)
    deadline = time.monotonic() + 10
    while _spans(tap, pki, client_cert=False) != 7:
        assert time.monotonic() < deadline, "spans not counted"
        time.sleep(0.1)


def test_plaintext_to_tls_ports_is_refused_and_counted(taps, pki):
    tap = _tls_tap(taps, pki, mtls=False, extra=("--log-format=json",))
    # Plain HTTP to the HTTPS OTLP port: no HTTP answer, a counted TLS error.
    with socket.create_connection((LOOPBACK, tap.http_port), timeout=5) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(5)
        try:
            reply = s.recv(1024)
        except (ConnectionResetError, socket.timeout):
            reply = b""
        assert not reply.startswith(b"HTTP/"), reply
    # Plaintext gRPC to the TLS gRPC port fails.
    channel = grpc.insecure_channel(f"{LOOPBACK}:{tap.grpc_port}")
    with pytest.raises(grpc.FutureTimeoutError):
        grpc.channel_ready_future(channel).result(timeout=3)
    channel.close()
    # Plain HTTP to the HTTPS admin port.
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        c = http.client.HTTPConnection(LOOPBACK, tap.admin_port, timeout=5)
        c.request("GET", "/metrics")
        c.getresponse().read()
    status, body, _ = _https(tap.admin_port, "/metrics", pki("ca.crt"))
    assert status == 200
    errors = _metric(body, 'propwatch_receiver_http_connection_errors_total{kind="tls"}')
    assert errors >= 2, body.decode()[-2000:]
    assert _metric(body, 'propwatch_spans_total{service_name="gateway"}') == 0
    # gRPC's own complaints (the failed handshake) come through the tap's
    # log: every stderr line is one JSON object.
    import json
    lines = [line for line in tap.stderr().splitlines() if line]
    assert lines and all(json.loads(line)["level"] for line in lines), tap.stderr()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_mutual_tls_refuses_clients_without_a_trusted_certificate(taps, pki, transport):
    tap = _tls_tap(taps, pki, mtls=True)
    assert not _export(transport, tap, pki, 3, client=None)
    assert not _export(transport, tap, pki, 3, client="rogue-client")
    assert _export(transport, tap, pki, 5, client="client")
    # Admin under mutual TLS: no certificate, no metrics.
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _https(tap.admin_port, "/metrics", pki("ca.crt"))
    deadline = time.monotonic() + 10
    while _spans(tap, pki, client_cert=True) != 5:
        assert time.monotonic() < deadline, "spans not counted"
        time.sleep(0.1)


def test_trace_api_bearer_token(taps, pki, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    tap = taps(f"--admin-bearer-token-file={token}", name="token")
    r = tap.get("/api/v1/traces/0af7651916cd43dd8448eb211c80319c")
    assert r.status == 401 and r.headers.get("www-authenticate", "").startswith("Bearer"), r
    from harness import http_request
    wrong = http_request(tap.admin_port, "GET", "/api/v1/traces/0af7651916cd43dd8448eb211c80319c",
                         headers={"Authorization": "Bearer s3cret-tokeX"})
    assert wrong.status == 401
    right = http_request(tap.admin_port, "GET", "/api/v1/traces/0af7651916cd43dd8448eb211c80319c",
                         headers={"Authorization": "Bearer s3cret-token"})
    assert right.status == 404, right  # authorized; the trace just is not there
    assert tap.get("/metrics").status == 200  # /metrics needs no token
    # A new token on disk, then SIGHUP: the old one stops working.
    token.write_text("rotated\n")
    tap.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "SIGHUP: TLS certificates and bearer token reloaded" not in tap.stderr():
        assert time.monotonic() < deadline, tap.stderr()
        time.sleep(0.05)
    old = http_request(tap.admin_port, "GET", "/api/v1/traces/0af7651916cd43dd8448eb211c80319c",
                       headers={"Authorization": "Bearer s3cret-token"})
    assert old.status == 401
    new = http_request(tap.admin_port, "GET", "/api/v1/traces/0af7651916cd43dd8448eb211c80319c",
                       headers={"Authorization": "Bearer rotated"})
    assert new.status == 404


def test_certificates_reload_on_sighup_without_a_restart(taps, pki, tmp_path):
    cert, key = tmp_path / "tap.crt", tmp_path / "tap.key"
    cert.write_bytes(_read(pki("server.crt")))
    key.write_bytes(_read(pki("server.key")))
    tap = taps(f"--admin-tls-cert-file={cert}", f"--admin-tls-key-file={key}", name="reload")
    _, _, peer = _https(tap.admin_port, "/healthz", pki("ca.crt"))
    assert dict(x[0] for x in peer["subject"])["commonName"] == "propwatch-tap"
    pid = tap.pid
    cert.write_bytes(_read(pki("server2.crt")))
    key.write_bytes(_read(pki("server2.key")))
    tap.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while True:
        _, _, peer = _https(tap.admin_port, "/healthz", pki("ca.crt"))
        if dict(x[0] for x in peer["subject"])["commonName"] == "propwatch-tap-renewed":
            break
        assert time.monotonic() < deadline, tap.stderr()
        time.sleep(0.05)
    assert tap.alive() and tap.pid == pid
    # A broken file on reload keeps the working certificate and says so.
    key.write_text("not a key\n")
    tap.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "SIGHUP: reload failed, keeping the previous ones" not in tap.stderr():
        assert time.monotonic() < deadline, tap.stderr()
        time.sleep(0.05)
    status, _, peer = _https(tap.admin_port, "/healthz", pki("ca.crt"))
    assert status == 200
    assert dict(x[0] for x in peer["subject"])["commonName"] == "propwatch-tap-renewed"


def test_bad_tls_settings_are_clear_errors(propwatch_bin, pki):
    for args, needle in (
        ([f"--otlp-tls-cert-file={pki('server.crt')}"], "--otlp-tls-key-file: required"),
        ([f"--admin-tls-client-ca-file={pki('ca.crt')}"], "mutual TLS needs --admin-tls-cert-file"),
        ([f"--otlp-tls-cert-file={pki('server.crt')}", f"--otlp-tls-key-file={pki('client.key')}"],
         "key values mismatch"),
        ([f"--admin-tls-cert-file=/nonexistent.crt", f"--admin-tls-key-file={pki('server.key')}"],
         "cannot read '/nonexistent.crt': No such file or directory"),
    ):
        p = subprocess.run([propwatch_bin, "--admin-address=127.0.0.1:0",
                            "--otlp-grpc-address=127.0.0.1:0", "--otlp-http-address=127.0.0.1:0",
                            *args], capture_output=True, text=True, timeout=15)
        assert p.returncode != 0 and needle in p.stderr, (args, p.returncode, p.stderr)


def test_cli_reaches_a_tls_admin_listener_with_certificate_and_token(taps, pki, tmp_path,
                                                                     propwatch_bin):
    token = tmp_path / "token"
    token.write_text("cli-token\n")
    tap = _tls_tap(taps, pki, mtls=True, extra=(f"--admin-bearer-token-file={token}",))
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    base = [propwatch_bin, "trace", trace_id, f"--admin-address=127.0.0.1:{tap.admin_port}",
            f"--admin-ca-file={pki('ca.crt')}"]
    cert = [f"--admin-cert-file={pki('client.crt')}", f"--admin-key-file={pki('client.key')}"]

    def run(*extra):
        return subprocess.run([*base, *extra], capture_output=True, text=True, timeout=20)

    p = run(*cert, f"--bearer-token-file={token}")  # TLS, client certificate, token: authorized
    assert p.returncode == 1 and "HTTP 404" in p.stderr, p
    p = run(*cert)  # no token
    assert p.returncode == 1 and "HTTP 401" in p.stderr, p
    p = run()  # no client certificate: the handshake is refused
    assert p.returncode == 1 and "GET https://127.0.0.1" in p.stderr and "HTTP" not in p.stderr, p
    # propwatch check reads /metrics (no token needed) over mutual TLS.
    p = subprocess.run([propwatch_bin, "check", f"--trace-id={trace_id}",
                        f"--admin-address=127.0.0.1:{tap.admin_port}",
                        f"--admin-ca-file={pki('ca.crt')}", *cert,
                        f"--bearer-token-file={token}"],
                       capture_output=True, text=True, timeout=20)
    # The trace is unknown, so the gate fails on it (exit 1), but it got
    # answers: the FAIL names the trace API's 404, not a connection error.
    assert p.returncode == 1, p
    assert "404" in p.stdout and "Unavailable" not in p.stdout + p.stderr, p


def _grpc_peer_cn(port: int, ca: str) -> str:
    """The CN of the certificate the gRPC listener presents (a TLS handshake with ALPN h2)."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["h2"])
    with socket.create_connection((LOOPBACK, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]


def test_grpc_listener_takes_renewed_certificates_and_never_a_broken_pair(taps, pki, tmp_path):
    cert, key = tmp_path / "otlp.crt", tmp_path / "otlp.key"
    cert.write_bytes(_read(pki("server.crt")))
    key.write_bytes(_read(pki("server.key")))
    tap = taps(f"--otlp-tls-cert-file={cert}", f"--otlp-tls-key-file={key}",
               "--entry-services=gateway", name="grpc-reload")
    assert _grpc_peer_cn(tap.grpc_port, pki("ca.crt")) == "propwatch-tap"
    cert.write_bytes(_read(pki("server2.crt")))
    key.write_bytes(_read(pki("server2.key")))
    tap.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while _grpc_peer_cn(tap.grpc_port, pki("ca.crt")) != "propwatch-tap-renewed":
        assert time.monotonic() < deadline, tap.stderr()
        time.sleep(0.1)
    # A key that does not match the certificate reaches the disk (a rotation
    # half done): gRPC keeps serving the last good pair, on SIGHUP and after
    # its own file-change check.
    key.write_bytes(_read(pki("client.key")))
    tap.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "SIGHUP: reload failed, keeping the previous ones" not in tap.stderr():
        assert time.monotonic() < deadline, tap.stderr()
        time.sleep(0.05)
    time.sleep(2.5)  # past gRPC's 1 s refresh of the files it watches
    assert _grpc_peer_cn(tap.grpc_port, pki("ca.crt")) == "propwatch-tap-renewed"
    assert _export("grpc", tap, pki, 2)
