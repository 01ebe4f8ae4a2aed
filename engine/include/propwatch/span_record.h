// SpanRecord: the plain, decoder-independent view of one span that the engine
// ingests. It holds only what the propagation-health definitions need (see
// docs/semantics.md): identity, parent, service, kind, status, times, links,
// the captured `traceparent` request header values and the outbound
// destination.
//
// Ownership: a SpanRecord borrows. Every string_view and span inside it points
// at memory owned by the caller (typically the decoded request buffer) and must
// stay valid only for the duration of the Engine::Ingest call that receives it;
// the engine copies what it keeps. Value type, thread-compatible; copying a
// SpanRecord is O(1) (views only).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "propwatch/export.h"
#include "propwatch/ids.h"

namespace propwatch {

// OTLP Span.SpanKind numbering (opentelemetry/proto/trace/v1/trace.proto).
enum class SpanKind : uint8_t {
  kUnspecified = 0,
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5,
};
inline constexpr int kNumSpanKinds = 6;

// Lowercase label value ("unspecified", "internal", "server", ...).
PROPWATCH_EXPORT std::string_view SpanKindName(SpanKind kind);

// Maps any wire integer onto a SpanKind; out-of-range values become
// kUnspecified, as OTLP receivers treat unknown enum values.
PROPWATCH_EXPORT SpanKind SpanKindFromInt(int64_t value);

// OTLP Status.StatusCode numbering.
enum class StatusCode : uint8_t { kUnset = 0, kOk = 1, kError = 2 };

struct SpanLink {
  TraceId trace_id;
  SpanId span_id;
};

// The resource attribute value used when `service.name` is missing or empty,
// as the OpenTelemetry SDKs do.
inline constexpr std::string_view kUnknownService = "unknown_service";

struct SpanRecord {
  TraceId trace_id;
  SpanId span_id;
  // All-zero means "no parent": the span is a root.
  SpanId parent_span_id;
  // Resource attribute `service.name`; empty means kUnknownService.
  std::string_view service_name;
  // Span name; the engine ignores it (kept for trace dumps by embedders).
  std::string_view name;
  SpanKind kind = SpanKind::kUnspecified;
  StatusCode status = StatusCode::kUnset;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  std::span<const SpanLink> links;
  // Values of the span attribute `http.request.header.traceparent` (a string,
  // or each element of a string array). Empty when the header was not captured.
  std::span<const std::string_view> captured_traceparents;
  // Where a CLIENT/PRODUCER span went: `peer.service`, else `server.address`,
  // else `messaging.destination.name`; empty means unknown. Ignored for other
  // kinds.
  std::string_view destination;
  // The raw destination attributes, for broken-edge attribution
  // (docs/semantics.md "Broken edge"); empty / 0 when absent. On CLIENT and
  // PRODUCER spans they say where the call or message went; on SERVER spans
  // `server.address`/`server.port` say where the request was received, and
  // on CONSUMER spans `messaging.destination.name` where it was read from.
  std::string_view peer_service;           // `peer.service`
  std::string_view server_address;         // `server.address`
  uint32_t server_port = 0;                // `server.port` (1..65535)
  std::string_view messaging_destination;  // `messaging.destination.name`

  bool IsRoot() const { return parent_span_id.IsZero(); }
};

// Why an OTLP span context is structurally invalid. A bounded set: these are
// the `reason` label values of propwatch_invalid_span_contexts_total.
enum class SpanContextError : uint8_t {
  kTraceIdLength = 0,     // trace_id not 16 bytes
  kTraceIdZero,           // trace_id all zero
  kSpanIdLength,          // span_id not 8 bytes
  kSpanIdZero,            // span_id all zero
  kParentSpanIdLength,    // parent_span_id neither empty nor 8 bytes
  kCount,                 // not a reason: the number of reasons
};
inline constexpr int kNumSpanContextErrors = static_cast<int>(SpanContextError::kCount);

PROPWATCH_EXPORT std::string_view SpanContextErrorName(SpanContextError error);

// Result of checking the raw wire bytes of a span context.
struct SpanContextCheck {
  bool ok = false;
  SpanContextError error = SpanContextError::kTraceIdLength;  // valid iff !ok
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id;  // zero when the parent field was empty
};

// Validates the raw bytes of OTLP Span.trace_id, span_id and parent_span_id
// (DESIGN §2 "structurally invalid span context"). An all-zero parent of 8
// bytes is accepted as "root", matching how SDKs encode a missing parent.
// O(1); thread-safe.
PROPWATCH_EXPORT SpanContextCheck CheckSpanContext(std::string_view trace_id, std::string_view span_id,
                                  std::string_view parent_span_id);

}  // namespace propwatch
