"""Process-level bad input against the real binary: every case gets its exact
HTTP status / gRPC code, moves exactly the counters it should, keeps the good
spans of the same request, and leaves the process up with bounded memory."""
from __future__ import annotations

import json
import socket
import time

import grpc
import pytest
from google.rpc import status_pb2

import otlp_raw as raw
from harness import Metrics, delta

MiB = 1 << 20
LIMIT = 16 * MiB  # propwatch's default --max-request-bytes

# RSS bounds for the decompression cases. The tap inflates at most
# --max-request-bytes (16 MiB) before answering 413 / RESOURCE_EXHAUSTED. While
# inflating it holds the output string (up to 1.5x its size while it grows by
# doubling) plus the wire body (and, for gRPC, a flat copy of it). Freed
# buffers return to the allocator's per-thread arenas rather than the OS, so
# RSS may keep up to about 2x the limit per thread that handled a bomb.
# - one bomb: < 64 MiB = 4x the limit (inflating it would cost 256 MiB / 1 GiB);
# - 16 bombs (4.5 GiB if inflated): < 192 MiB = 12x the limit, i.e. growth is
#   bounded by the limit and the few handler threads, not by the bomb count
#   (seen here: about +35 MiB per thread, about +110 MiB plateau).
BOMB_RSS_BOUND_KIB = 64 * 1024
BOMBS_RSS_BOUND_KIB = 192 * 1024


@pytest.fixture(scope="module")
def bombs():
    return {"http": raw.gzip_zeros(256 * MiB),           # one member, 256 MiB of zeros
            "grpc": raw.gzip_zeros(MiB) * 1024}           # 1024 members, 1 GiB of zeros


PB = "application/x-protobuf"


@pytest.fixture(scope="module")
def tap(module_taps):
    return module_taps("--trace-idle-timeout=2s", name="bad-input")


@pytest.fixture(scope="module")
def grpc_client(tap):
    c = raw.GrpcClient(tap.grpc_port)
    yield c
    c.close()


def _status(body: bytes) -> status_pb2.Status:
    st = status_pb2.Status()
    st.ParseFromString(body)
    return st


def _assert_up(tap):
    assert tap.alive(), f"propwatch exited {tap.proc.returncode}:\n{tap.stderr()}"
    assert tap.healthy(), "/healthz did not answer 200"


def _req(wire: str, result: str):
    return ("propwatch_receiver_requests_total", {"transport": wire, "result": result})


def _assert_only(before: Metrics, after: Metrics, expected: dict):
    """Every propwatch_receiver_requests_total series moved by exactly `expected`
    ({(transport, result): n}, others 0)."""
    for key in after.family("propwatch_receiver_requests_total"):
        d = after[key] - before.get(key, 0)
        want = 0
        for (t, r), n in expected.items():
            if key == f"propwatch_receiver_requests_total{{result={r},transport={t}}}":
                want = n
        assert d == want, f"{key} moved by {d}, want {want}"


# --- OTLP/HTTP -----------------------------------------------------------------

def test_http_truncated_protobuf(tap):
    good = raw.request_bytes(raw.resource_spans("trunc-http", [raw.span(), raw.span(), raw.span()]))
    before = tap.metrics()
    r = tap.post_traces(good[: len(good) - 7])
    assert r.status == 400, r
    assert r.headers["content-type"] == PB
    assert _status(r.body).code == 3  # INVALID_ARGUMENT
    after = tap.metrics()
    _assert_only(before, after, {("http", "invalid"): 1})
    assert after.get0("propwatch_spans_total", service_name="trunc-http") == 0
    assert delta(after, before, "propwatch_receiver_spans_received_total", transport="http") == 0
    _assert_up(tap)


def test_http_truncated_json(tap):
    body = raw.json_request("trunc-json", [raw.json_span("1" * 32, "2" * 16)])
    before = tap.metrics()
    r = tap.post_traces(body[:-3], content_type="application/json")
    assert r.status == 400, r
    assert r.headers["content-type"] == "application/json"
    assert r.json()["code"] == 3
    _assert_only(before, tap.metrics(), {("http", "invalid"): 1})
    _assert_up(tap)


@pytest.mark.parametrize("case", ["garbage-after-header", "truncated-stream", "not-gzip-at-all"])
def test_http_corrupt_gzip(tap, case):
    body = raw.request_bytes(raw.resource_spans("gz-corrupt", [raw.span()]))
    gz = raw.gzip_bytes(body)
    data = {"garbage-after-header": gz[:10] + b"\xff" * 64,
            "truncated-stream": gz[: len(gz) // 2],
            "not-gzip-at-all": body}[case]
    before = tap.metrics()
    r = tap.post_traces(data, headers={"Content-Encoding": "gzip"})
    assert r.status == 400, r
    assert _status(r.body).code == 3
    after = tap.metrics()
    _assert_only(before, after, {("http", "invalid"): 1})
    assert after.get0("propwatch_spans_total", service_name="gz-corrupt") == 0
    _assert_up(tap)


def test_http_gzip_ok_and_multi_member(tap):
    """Control: a well-formed gzip body (two gzip members, RFC 1952) is accepted."""
    a = raw.request_bytes(raw.resource_spans("gz-ok", [raw.span()]))
    b = raw.request_bytes(raw.resource_spans("gz-ok", [raw.span()]))
    before = tap.metrics()
    # Protobuf messages concatenate: two members inflate to one request of 2 spans.
    r = tap.post_traces(raw.gzip_bytes(a) + raw.gzip_bytes(b), headers={"Content-Encoding": "gzip"})
    assert r.status == 200, r
    assert r.body == b""  # full success: empty ExportTraceServiceResponse
    after = tap.metrics()
    _assert_only(before, after, {("http", "ok"): 1})
    assert after.v("propwatch_spans_total", service_name="gz-ok") == 2


def test_http_gzip_bomb(tap, bombs):
    bomb = bombs["http"]
    assert len(bomb) < MiB
    before = tap.metrics()
    rss0 = tap.rss_kib()
    r = tap.post_traces(bomb, headers={"Content-Encoding": "gzip"})
    rss1 = tap.rss_kib()
    assert r.status == 413, r
    assert _status(r.body).code == 8  # RESOURCE_EXHAUSTED
    after = tap.metrics()
    _assert_only(before, after, {("http", "too_large"): 1})
    assert rss1 - rss0 < BOMB_RSS_BOUND_KIB, f"VmRSS grew {rss1 - rss0} KiB on a gzip bomb"
    _assert_up(tap)


@pytest.mark.parametrize("content_type,encoding", [
    ("text/plain", None), ("", None), ("application/protobuf-but-not", None),
    (PB, "br"), (PB, "deflate")])
def test_http_unsupported_media_type(tap, content_type, encoding):
    body = raw.request_bytes(raw.resource_spans("wrong-type", [raw.span()]))
    before = tap.metrics()
    headers = {"Content-Encoding": encoding} if encoding else {}
    r = tap.post_traces(body, content_type=content_type, headers=headers)
    assert r.status == 415, r
    after = tap.metrics()
    _assert_only(before, after, {("http", "unsupported_media_type"): 1})
    assert after.get0("propwatch_spans_total", service_name="wrong-type") == 0
    _assert_up(tap)


def test_http_content_type_parameters_and_case(tap):
    """Control: media types are case-insensitive and may carry parameters."""
    body = raw.request_bytes(raw.resource_spans("ct-params", [raw.span()]))
    r = tap.post_traces(body, content_type="Application/X-Protobuf; charset=binary")
    assert r.status == 200, r


def test_http_oversized_body_by_content_length(tap):
    """A Content-Length over the limit is refused before the body is read."""
    before = tap.metrics()
    with socket.create_connection(("127.0.0.1", tap.http_port), timeout=10) as s:
        s.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\n"
                  f"Content-Length: {LIMIT + 1}\r\n\r\n".encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    _assert_only(before, tap.metrics(), {("http", "too_large"): 1})
    _assert_up(tap)


def test_http_oversized_body_sent(tap):
    """A real 17 MiB body (one resource with one huge attribute) -> 413."""
    sp = raw.span(attributes=[raw.KeyValue(key="blob", value=raw.AnyValue(string_value="x" * (17 * MiB)))])
    body = raw.request_bytes(raw.resource_spans("oversized", [sp]))
    assert len(body) > LIMIT
    before = tap.metrics()
    try:
        r = tap.post_traces(body)
        status = r.status
    except (BrokenPipeError, ConnectionResetError):
        status = None  # the server may close before the whole body is written
    after = tap.metrics()
    _assert_only(before, after, {("http", "too_large"): 1})
    assert status in (413, None), status
    assert after.get0("propwatch_spans_total", service_name="oversized") == 0
    _assert_up(tap)


def test_http_wrong_method_and_path(tap):
    before = tap.metrics()
    r = tap.post_traces(b"", method="GET")
    assert r.status == 405, r
    assert r.headers.get("allow") == "POST"
    r = tap.post_traces(b"", path="/v1/metrics")
    assert r.status == 404, r
    _assert_only(before, tap.metrics(), {("http", "method_not_allowed"): 1, ("http", "not_found"): 1})
    _assert_up(tap)


def _raw_http(tap, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", tap.http_port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_http_malformed_request_and_huge_headers(tap):
    """Below the OTLP layer: garbage -> 400, a 64 KiB header -> 431; both close
    the connection and count as protocol errors, not as OTLP requests."""
    before = tap.metrics()
    resp = _raw_http(tap, b"THIS IS NOT HTTP\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400"), resp[:200]
    resp = _raw_http(tap, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536
                     + b"\r\nContent-Length: 0\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 431"), resp[:200]
    after = tap.metrics()
    assert delta(after, before, "propwatch_receiver_http_connection_errors_total", kind="protocol") == 2
    _assert_only(before, after, {})
    _assert_up(tap)


BAD_IDS = [  # (reason, trace id, span id, parent)
    ("trace_id_zero", bytes(16), None, b""),
    ("span_id_zero", None, bytes(8), b""),
    ("trace_id_length", b"\x01" * 15, None, b""),
    ("span_id_length", None, b"\x01" * 9, b""),
    ("parent_span_id_length", None, None, b"\x01" * 7),
]


def _bad_id_request(service: str):
    good1, good2 = raw.span("good-1"), raw.span("good-2", kind=raw.Span.SPAN_KIND_INTERNAL)
    bad = [raw.span(f"bad-{reason}", trace_id=t, span_id=s, parent=p) for reason, t, s, p in BAD_IDS]
    return raw.request_bytes(raw.resource_spans(service, [good1] + bad + [good2])), good1, good2


def _check_bad_ids(tap, before, after, service, wire, good_spans):
    for reason, *_ in BAD_IDS:
        assert delta(after, before, "propwatch_invalid_span_contexts_total",
                     service_name=service, reason=reason) == 1, reason
    assert after.v("propwatch_spans_total", service_name=service) == 2
    assert delta(after, before, "propwatch_receiver_spans_rejected_total", transport=wire) == len(BAD_IDS)
    assert delta(after, before, "propwatch_receiver_spans_received_total", transport=wire) == 2
    _assert_only(before, after, {(wire, "partial"): 1})
    for sp in good_spans:  # the good spans of the same request are kept
        t = tap.trace(sp.trace_id.hex())
        assert t.status == 200, t
        assert t.json()["spans"][0]["name"] == sp.name
    _assert_up(tap)


def test_http_invalid_ids_keep_good_spans(tap):
    body, g1, g2 = _bad_id_request("badids-http")
    before = tap.metrics()
    r = tap.post_traces(body)
    assert r.status == 200, r
    resp = raw.parse_export_response(r.body)
    assert resp.partial_success.rejected_spans == len(BAD_IDS)
    assert "trace_id_zero (1)" in resp.partial_success.error_message
    _check_bad_ids(tap, before, tap.metrics(), "badids-http", "http", [g1, g2])


def test_http_json_invalid_ids_keep_good_spans(tap):
    good = raw.json_span("ab" * 16, "cd" * 8, name="good-json")
    spans = [
        raw.json_span("0" * 32, "12" * 8),                   # trace_id_zero
        raw.json_span("ab" * 16, "0" * 16),                  # span_id_zero
        raw.json_span("zz" * 16, "12" * 8),                  # non-hex: trace_id_length
        raw.json_span("ab" * 16, "123"),                     # odd length: span_id_length
        raw.json_span("ab" * 16, "34" * 8, parent="56" * 7),  # parent_span_id_length
        good,
    ]
    before = tap.metrics()
    r = tap.post_traces(raw.json_request("badids-json", spans), content_type="application/json")
    assert r.status == 200, r
    assert r.json()["partialSuccess"]["rejectedSpans"] == "5"
    after = tap.metrics()
    for reason, *_ in BAD_IDS:
        assert delta(after, before, "propwatch_invalid_span_contexts_total",
                     service_name="badids-json", reason=reason) == 1, reason
    assert after.v("propwatch_spans_total", service_name="badids-json") == 1
    _assert_only(before, after, {("http", "partial"): 1})
    assert tap.trace("ab" * 16).json()["spans"][0]["name"] == "good-json"
    _assert_up(tap)


def test_http_all_spans_invalid_without_service(tap):
    """All-zero ids in a resource without service.name: unknown_service, 200 partial."""
    body = raw.request_bytes(raw.resource_spans(None, [raw.span(trace_id=bytes(16), span_id=bytes(8))]))
    before = tap.metrics()
    r = tap.post_traces(body)
    assert r.status == 200
    assert raw.parse_export_response(r.body).partial_success.rejected_spans == 1
    after = tap.metrics()
    assert delta(after, before, "propwatch_invalid_span_contexts_total",
                 service_name="unknown_service", reason="trace_id_zero") == 1
    _assert_only(before, after, {("http", "partial"): 1})


def test_http_deeply_nested_anyvalue_protobuf(tap):
    """100,000 nested AnyValues in a skipped attribute: decoded without recursion,
    both spans kept."""
    deep = raw.deep_anyvalue_bytes(100_000)
    s1, s2 = raw.span("deep-1"), raw.span("deep-2")
    body = raw.request_from_span_bytes("deep-pb", [raw.span_with_raw_attribute_bytes(s1, "deep", deep),
                                                   s2.SerializeToString()])
    before = tap.metrics()
    r = tap.post_traces(body)
    assert r.status == 200, r
    after = tap.metrics()
    _assert_only(before, after, {("http", "ok"): 1})
    assert after.v("propwatch_spans_total", service_name="deep-pb") == 2
    # The captured-traceparent attribute, nested deep, is not a string: ignored.
    assert tap.trace(s1.trace_id.hex()).status == 200
    _assert_up(tap)


def test_http_deeply_nested_anyvalue_json(tap):
    """OTLP/JSON nesting is capped at 64 levels (documented): a 100,000-deep
    value is refused as a whole with 400; a 10-deep one is fine."""
    deep = json.loads('{"key":"deep","value":' + raw.deep_json_anyvalue(10) + "}")
    ok = raw.json_request("deep-json", [raw.json_span("ef" * 16, "01" * 8, attributes=[deep])])
    r = tap.post_traces(ok, content_type="application/json")
    assert r.status == 200, r

    text = ('{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":'
            '{"stringValue":"deep-json-100k"}}]},"scopeSpans":[{"spans":[{"traceId":"' + "ef" * 16
            + '","spanId":"' + "02" * 8 + '","name":"x","attributes":[{"key":"deep","value":'
            + raw.deep_json_anyvalue(100_000) + "}]}]}]}]}")
    before = tap.metrics()
    r = tap.post_traces(text.encode(), content_type="application/json")
    assert r.status == 400, r
    assert "depth" in r.json()["message"]
    after = tap.metrics()
    _assert_only(before, after, {("http", "invalid"): 1})
    assert after.get0("propwatch_spans_total", service_name="deep-json-100k") == 0
    _assert_up(tap)


# --- OTLP/gRPC -----------------------------------------------------------------

def test_grpc_truncated_protobuf(tap, grpc_client):
    good = raw.request_bytes(raw.resource_spans("trunc-grpc", [raw.span(), raw.span()]))
    before = tap.metrics()
    code, details, _ = grpc_client.call(good[:-5])
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    after = tap.metrics()
    _assert_only(before, after, {("grpc", "invalid"): 1})
    assert after.get0("propwatch_spans_total", service_name="trunc-grpc") == 0
    _assert_up(tap)


def test_grpc_corrupt_gzip(tap, grpc_client):
    body = raw.request_bytes(raw.resource_spans("gz-grpc", [raw.span()]))
    gz = raw.gzip_bytes(body)
    before = tap.metrics()
    code, details, _ = grpc_client.call(gz[:10] + b"\xff" * 32)  # gzip magic, then garbage
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    code, details, _ = grpc_client.call(gz[: len(gz) // 2])
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    _assert_only(before, tap.metrics(), {("grpc", "invalid"): 2})
    _assert_up(tap)


def test_grpc_gzip_per_message_compression(tap, grpc_client):
    """Control: gRPC's own gzip message compression (what SDKs send) is accepted."""
    body = raw.request_bytes(raw.resource_spans("gz-grpc-ok", [raw.span(), raw.span()]))
    before = tap.metrics()
    code, details, _ = grpc_client.call(body, compression=grpc.Compression.Gzip)
    assert code == grpc.StatusCode.OK, (code, details)
    after = tap.metrics()
    _assert_only(before, after, {("grpc", "ok"): 1})
    assert after.v("propwatch_spans_total", service_name="gz-grpc-ok") == 2


def test_grpc_gzip_bomb(tap, grpc_client, bombs):
    bomb = bombs["grpc"]
    before = tap.metrics()
    rss0 = tap.rss_kib()
    code, details, _ = grpc_client.call(bomb)
    rss1 = tap.rss_kib()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    _assert_only(before, tap.metrics(), {("grpc", "too_large"): 1})
    assert rss1 - rss0 < BOMB_RSS_BOUND_KIB, f"VmRSS grew {rss1 - rss0} KiB on a gzip bomb"
    _assert_up(tap)


def test_gzip_bombs_repeated_memory_bounded(taps, bombs):
    """16 bombs on a fresh tap (8 per transport): counted, refused, and RSS
    growth bounded independently of how many bombs arrive."""
    tap = taps(name="bombs")
    client = raw.GrpcClient(tap.grpc_port)
    rss0 = tap.rss_kib()
    growth = []
    try:
        for _ in range(8):
            assert tap.post_traces(bombs["http"], headers={"Content-Encoding": "gzip"}).status == 413
            assert client.call(bombs["grpc"])[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
            growth.append(tap.rss_kib() - rss0)
    finally:
        client.close()
    m = tap.metrics()
    assert m.v("propwatch_receiver_requests_total", transport="http", result="too_large") == 8
    assert m.v("propwatch_receiver_requests_total", transport="grpc", result="too_large") == 8
    print(f"VmRSS growth (KiB) after each pair of bombs: {growth}")
    assert max(growth) < BOMBS_RSS_BOUND_KIB, f"VmRSS growth per round (KiB): {growth}"
    _assert_up(tap)


def _oversized_grpc_body(service: str) -> bytes:
    sp = raw.span(attributes=[raw.KeyValue(key="blob", value=raw.AnyValue(string_value="x" * (17 * MiB)))])
    body = raw.request_bytes(raw.resource_spans(service, [sp]))
    assert len(body) > LIMIT
    return body


def test_grpc_oversized_message(tap, grpc_client):
    body = _oversized_grpc_body("oversized-grpc")
    before = tap.metrics()
    code, details, _ = grpc_client.call(body)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, (code, details)
    after = tap.metrics()
    assert after.get0("propwatch_spans_total", service_name="oversized-grpc") == 0
    assert delta(after, before, "propwatch_receiver_spans_received_total", transport="grpc") == 0
    # The in-flight slot is given back.
    tap.wait_for("no gRPC request in flight",
                 lambda m: m.v("propwatch_receiver_inflight_requests", transport="grpc") == 0, timeout=5)
    _assert_up(tap)


def test_grpc_oversized_message_counted_every_time(tap, grpc_client):
    """Each of 20 oversized gRPC requests moves result=too_large by exactly one."""
    body = _oversized_grpc_body("oversized-grpc-repeat")
    n = 20
    before = tap.metrics()
    codes = [grpc_client.call(body)[0] for _ in range(n)]
    assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED] * n, codes
    key = "propwatch_receiver_requests_total{result=too_large,transport=grpc}"
    # Poll (bounded): a counter that is merely late would catch up here.
    try:
        tap.wait_for(f"{key} to move by {n}", lambda m: m[key] - before[key] >= n, timeout=3,
                     show=["propwatch_receiver_requests_total"])
    finally:
        after = tap.metrics()
        print(f"{n} oversized gRPC requests answered RESOURCE_EXHAUSTED; "
              f"{key} moved by {after[key] - before[key]:.0f}")
    _assert_only(before, after, {("grpc", "too_large"): n})


def test_grpc_unknown_method(tap, grpc_client):
    before = tap.metrics()
    code, _, _ = grpc_client.call(b"", method="/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
    assert code == grpc.StatusCode.UNIMPLEMENTED
    _assert_only(before, tap.metrics(), {("grpc", "not_found"): 1})


def test_grpc_invalid_ids_keep_good_spans(tap, grpc_client):
    body, g1, g2 = _bad_id_request("badids-grpc")
    before = tap.metrics()
    code, details, resp = grpc_client.call(body)
    assert code == grpc.StatusCode.OK, (code, details)
    r = raw.parse_export_response(resp)
    assert r.partial_success.rejected_spans == len(BAD_IDS)
    _check_bad_ids(tap, before, tap.metrics(), "badids-grpc", "grpc", [g1, g2])


def test_grpc_deeply_nested_anyvalue(tap, grpc_client):
    deep = raw.deep_anyvalue_bytes(100_000)
    s1 = raw.span("deep-grpc")
    body = raw.request_from_span_bytes("deep-grpc", [raw.span_with_raw_attribute_bytes(s1, "deep", deep)])
    code, details, _ = grpc_client.call(body)
    assert code == grpc.StatusCode.OK, (code, details)
    assert tap.metrics().v("propwatch_spans_total", service_name="deep-grpc") == 1
    _assert_up(tap)


TID = "0af7651916cd43dd8448eb211c80319c"
PID = "b7ad6b7169203331"
INVALID_TRACEPARENTS = {  # one defect each (docs/semantics.md "Traceparent validation")
    "empty": "",
    "length": f"00-{TID}-{PID}-01-",
    "version": f"0g-{TID}-{PID}-01",
    "version_ff": f"ff-{TID}-{PID}-01",
    "delimiter": f"00_{TID}-{PID}-01",
    "trace_id_format": f"00-{TID.upper()}-{PID}-01",
    "trace_id_zero": f"00-{'0' * 32}-{PID}-01",
    "parent_id_format": f"00-{TID}-{PID.upper()}-01",
    "parent_id_zero": f"00-{TID}-{'0' * 16}-01",
    "flags_format": f"00-{TID}-{PID}-0g",
}
VALID_TRACEPARENTS = [
    f" \t00-{TID}-{PID}-01\t ",        # surrounding spaces and tabs are ignored
    f"00-{TID}-{PID}-ff",              # unknown flag bits are accepted
    f"cc-{TID}-{PID}-01",              # a higher version, exactly 55 characters
    f"01-{TID}-{PID}-01-future-field",  # a higher version with later fields
]


def _captured(values):
    return [raw.KeyValue(key="http.request.header.traceparent", value=raw.AnyValue(
        array_value=raw.ArrayValue(values=[raw.AnyValue(string_value=v) for v in values])))]


def test_captured_traceparent_reasons_and_extraction_failures(taps):
    """Every reason of invalid_traceparent, the valid edge cases, and which
    roots are extraction failures / orphans / linked roots."""
    tap = taps("--entry-services=edge", name="traceparent")
    invalid_root = raw.span("invalid", attributes=_captured(INVALID_TRACEPARENTS.values()))
    valid_root = raw.span("valid", attributes=_captured(VALID_TRACEPARENTS))
    child = raw.span("child", parent=raw.rand_span_id(), attributes=_captured(VALID_TRACEPARENTS[:1]))
    plain = raw.KeyValue(key="http.request.header.traceparent",
                         value=raw.AnyValue(string_value=VALID_TRACEPARENTS[1]))  # a plain string
    single = raw.span("single", attributes=[plain])
    edge = raw.span("edge-root", attributes=_captured(VALID_TRACEPARENTS[:1]))
    edge.links.append(raw.Span.Link(trace_id=raw.rand_trace_id(), span_id=raw.rand_span_id()))
    linked = raw.span("linked", kind=raw.Span.SPAN_KIND_CONSUMER)
    linked.links.append(raw.Span.Link(trace_id=raw.rand_trace_id(), span_id=raw.rand_span_id()))
    body = raw.request_bytes(raw.resource_spans("tp", [invalid_root, valid_root, child, single, linked]),
                             raw.resource_spans("edge", [edge]))
    r = tap.post_traces(body)
    assert r.status == 200 and r.body == b"", r
    m = tap.metrics()
    assert m.nonzero("propwatch_invalid_traceparent_total") == {
        f"propwatch_invalid_traceparent_total{{reason={reason},service_name=tp}}": 1
        for reason in INVALID_TRACEPARENTS}
    assert m.nonzero("propwatch_traceparent_valid_total") == {
        "propwatch_traceparent_valid_total{service_name=tp}": len(VALID_TRACEPARENTS) + 1 + 1,
        "propwatch_traceparent_valid_total{service_name=edge}": 1}
    # Roots carrying >= 1 valid captured header: valid_root and single (tp), edge-root (edge).
    assert m.nonzero("propwatch_extraction_failures_total") == {
        "propwatch_extraction_failures_total{service_name=tp}": 2,
        "propwatch_extraction_failures_total{service_name=edge}": 1}
    # Orphans: the roots of tp without links (invalid, valid, single); never edge's.
    assert m.nonzero("propwatch_orphan_spans_total") == {
        "propwatch_orphan_spans_total{service_name=tp,span_kind=server}": 3}
    # The linked root of tp counts; edge's root with a link is a trace start only.
    assert m.nonzero("propwatch_linked_root_spans_total") == {
        "propwatch_linked_root_spans_total{service_name=tp}": 1}
    assert m.v("propwatch_root_spans_total", service_name="tp") == 4
    assert m.v("propwatch_root_spans_total", service_name="edge") == 1


def test_duplicate_spans_counted_once(tap):
    """A retried request (same spans again) and a span repeated inside one
    request: only duplicates move, no other span counter."""
    sp = raw.span("dup", kind=raw.Span.SPAN_KIND_SERVER)
    body = raw.request_bytes(raw.resource_spans("dups", [sp, sp]))
    r = tap.post_traces(body)
    assert r.status == 200, r
    m1 = tap.metrics()
    assert m1.v("propwatch_spans_total", service_name="dups") == 1
    assert m1.v("propwatch_duplicate_spans_total", service_name="dups") == 1
    assert m1.v("propwatch_root_spans_total", service_name="dups") == 1
    assert m1.v("propwatch_orphan_spans_total", service_name="dups", span_kind="server") == 1
    code, details, _ = raw.GrpcClient(tap.grpc_port).call(body)  # the retry, over gRPC
    assert code == grpc.StatusCode.OK, (code, details)
    m2 = tap.metrics()
    assert m2.v("propwatch_spans_total", service_name="dups") == 1
    assert m2.v("propwatch_duplicate_spans_total", service_name="dups") == 3
    assert m2.v("propwatch_root_spans_total", service_name="dups") == 1
    assert m2.v("propwatch_orphan_spans_total", service_name="dups", span_kind="server") == 1


def test_http_overloaded_503(taps):
    """--max-inflight-requests=1: while one request is in flight (head sent,
    body pending) the next gets 503 + Retry-After, counted as overloaded."""
    tap = taps("--max-inflight-requests=1", name="overload")
    body = raw.request_bytes(raw.resource_spans("overload", [raw.span()]))
    before = tap.metrics()
    with socket.create_connection(("127.0.0.1", tap.http_port), timeout=10) as s:
        s.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
        tap.wait_for("one OTLP/HTTP request in flight",
                     lambda m: m.v("propwatch_receiver_inflight_requests", transport="http") == 1,
                     timeout=10)
        r = tap.post_traces(body)
        assert r.status == 503, r
        assert r.headers.get("retry-after") == "1", r.headers
        assert _status(r.body).code == 14  # UNAVAILABLE
        s.sendall(body[5:])
        resp = s.recv(65536)
        assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    after = tap.wait_for("nothing in flight",
                         lambda m: m.v("propwatch_receiver_inflight_requests", transport="http") == 0)
    _assert_only(before, after, {("http", "overloaded"): 1, ("http", "ok"): 1})
    assert after.v("propwatch_spans_total", service_name="overload") == 1


# --- cardinality ---------------------------------------------------------------

def test_100k_distinct_service_names(taps):
    """100,000 services, one span each, default --max-services=2000: the first
    2000 names get their own label, the other 98,000 spans land in
    __overflow__; the scrape stays bounded; memory stays bounded."""
    tap = taps("--trace-idle-timeout=2s", name="cardinality")
    n, per_request, cap = 100_000, 10_000, 2000
    grpc_client = raw.GrpcClient(tap.grpc_port)
    rss0 = tap.rss_kib()
    try:
        for start in range(0, n, per_request):
            body = raw.request_bytes(*[raw.resource_spans(f"svc-{i:06d}", [raw.span()])
                                       for i in range(start, start + per_request)])
            if (start // per_request) % 2 == 0:
                r = tap.post_traces(body)
                assert r.status == 200 and r.body == b"", r
            else:
                code, details, _ = grpc_client.call(body)
                assert code == grpc.StatusCode.OK, (code, details)
    finally:
        grpc_client.close()
    t0 = time.monotonic()
    m = tap.metrics()
    scrape_s = time.monotonic() - t0
    rss1 = tap.rss_kib()
    assert m.v("propwatch_service_overflow_spans_total") == n - cap
    assert m.v("propwatch_services_tracked") == cap
    assert m.v("propwatch_spans_total", service_name="__overflow__") == n - cap
    services = m.label_values("propwatch_spans_total", "service_name")
    assert len(services) == cap + 1
    assert sum(m.family("propwatch_spans_total").values()) == n
    assert m.v("propwatch_distinct_trace_ids_total") == n
    assert m.v("propwatch_receiver_requests_total", transport="http", result="ok") == 5
    assert m.v("propwatch_receiver_requests_total", transport="grpc", result="ok") == 5
    # The first 2000 names in arrival order are the tracked ones.
    assert "svc-001999" in services and "svc-002000" not in services
    # Every per-service family is bounded by max_services (+1 for __overflow__).
    assert len(m.family("propwatch_orphan_spans_total")) <= (cap + 1) * 6
    # Bound: 100k live traces of 1 span each (engine_tracked_bytes reports the
    # trace table), 10k traces in the trace-API store, 2001 services x ~35
    # series, and the transient 10k-span decode buffers: < 256 MiB, i.e.
    # under ~2.6 KiB per span received. Unbounded label growth (100k services
    # x 35 series) would cost far more.
    grew = rss1 - rss0
    assert grew < 256 * 1024, f"VmRSS grew {grew} KiB for 100k services"
    assert scrape_s < 10, f"/metrics took {scrape_s:.1f}s"
    assert tap.healthy()
    print(f"100k services: VmRSS {rss0} -> {rss1} KiB (+{grew}), scrape {scrape_s:.2f}s, "
          f"engine_tracked_bytes {m.v('propwatch_engine_tracked_bytes'):.0f}")
