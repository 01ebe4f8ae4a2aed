"""Raw OTLP requests the SDKs never produce (zero ids, odd lengths, deep
AnyValues), built with the opentelemetry-proto classes, as OTLP/JSON, or as
hand-written protobuf bytes; and a raw OTLP/gRPC Export call."""
from __future__ import annotations

import gzip
import json
import os
import zlib
from typing import Iterable, List, Optional, Sequence

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def rand_trace_id() -> bytes:
    return os.urandom(15) + b"\x01"  # never all zero


def rand_span_id() -> bytes:
    return os.urandom(7) + b"\x01"


def span(name: str = "op", trace_id: Optional[bytes] = None, span_id: Optional[bytes] = None,
         parent: bytes = b"", kind: int = Span.SPAN_KIND_SERVER,
         attributes: Sequence[KeyValue] = ()) -> Span:
    s = Span(name=name, trace_id=rand_trace_id() if trace_id is None else trace_id,
             span_id=rand_span_id() if span_id is None else span_id, parent_span_id=parent, kind=kind,
             start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_000_001_000_000)
    s.attributes.extend(attributes)
    return s


def resource_spans(service: Optional[str], spans: Iterable[Span]) -> ResourceSpans:
    rs = ResourceSpans()
    if service is not None:
        rs.resource.CopyFrom(Resource(attributes=[KeyValue(key="service.name",
                                                           value=AnyValue(string_value=service))]))
    ss = ScopeSpans()
    ss.spans.extend(spans)
    rs.scope_spans.append(ss)
    return rs


def request(*rs: ResourceSpans) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    req.resource_spans.extend(rs)
    return req


def request_bytes(*rs: ResourceSpans) -> bytes:
    return request(*rs).SerializeToString()


# --- hand-written protobuf (for shapes the Python runtime refuses) --------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def deep_anyvalue_bytes(depth: int) -> bytes:
    """AnyValue{array_value{values[AnyValue{array_value{...}}]}} `depth` levels deep,
    innermost a string: built from the inside out, so no recursion anywhere."""
    v = _ld(1, b"bottom")  # AnyValue.string_value
    for _ in range(depth):
        array = _ld(1, v)  # ArrayValue.values
        v = _ld(5, array)  # AnyValue.array_value
    return v


def span_with_raw_attribute_bytes(sp: Span, key: str, anyvalue: bytes) -> bytes:
    """The serialized span plus one KeyValue{key, value=<raw AnyValue bytes>}."""
    kv = _ld(1, key.encode()) + _ld(2, anyvalue)
    return sp.SerializeToString() + _ld(9, kv)  # Span.attributes = 9


def request_from_span_bytes(service: str, spans_bytes: Sequence[bytes]) -> bytes:
    res = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value=service))])
    scope = b"".join(_ld(2, sb) for sb in spans_bytes)  # ScopeSpans.spans = 2
    rs = _ld(1, res.SerializeToString()) + _ld(2, scope)  # ResourceSpans.resource=1, scope_spans=2
    return _ld(1, rs)  # ExportTraceServiceRequest.resource_spans = 1


# --- OTLP/JSON -----------------------------------------------------------------

def json_span(trace_id: str, span_id: str, parent: str = "", name: str = "op", kind: int = 2,
              attributes: Optional[list] = None) -> dict:
    d = {"traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000001000000"}
    if parent:
        d["parentSpanId"] = parent
    if attributes:
        d["attributes"] = attributes
    return d


def json_request(service: str, spans: List[dict]) -> bytes:
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "raw"}, "spans": spans}]}]}).encode()


def deep_json_anyvalue(depth: int) -> str:
    """{"arrayValue":{"values":[ ... ]}} nested `depth` times, as text."""
    return '{"arrayValue":{"values":[' * depth + '{"stringValue":"bottom"}' + "]}}" * depth


# --- gzip ----------------------------------------------------------------------

def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)


def gzip_zeros(total: int, chunk: int = 1 << 20) -> bytes:
    """One gzip member inflating to `total` zero bytes (a bomb: ~1000:1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    z = bytes(chunk)
    parts = [c.compress(z) for _ in range(total // chunk)]
    parts.append(c.flush())
    return b"".join(parts)


# --- OTLP/gRPC -----------------------------------------------------------------

class GrpcClient:
    """Raw Export calls: bytes in, (status code, details, response bytes) out."""

    def __init__(self, port: int):
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[("grpc.max_send_message_length", -1), ("grpc.enable_http_proxy", 0)])
        self.export = self.channel.unary_unary(EXPORT_METHOD)

    def call(self, body: bytes, method: Optional[str] = None, compression=None, timeout: float = 30):
        fn = self.channel.unary_unary(method) if method else self.export
        try:
            resp = fn(body, timeout=timeout, compression=compression)
            return grpc.StatusCode.OK, "", resp
        except grpc.RpcError as e:
            return e.code(), e.details(), b""

    def close(self):
        self.channel.close()


def parse_export_response(data: bytes) -> ExportTraceServiceResponse:
    r = ExportTraceServiceResponse()
    r.ParseFromString(data)
    return r
