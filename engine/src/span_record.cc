#include "propwatch/span_record.h"

namespace propwatch {

std::string_view SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kUnspecified: return "unspecified";
    case SpanKind::kInternal: return "internal";
    case SpanKind::kServer: return "server";
    case SpanKind::kClient: return "client";
    case SpanKind::kProducer: return "producer";
    case SpanKind::kConsumer: return "consumer";
  }
  return "unspecified";
}

SpanKind SpanKindFromInt(int64_t value) {
  if (value < 0 || value >= kNumSpanKinds) return SpanKind::kUnspecified;
  return static_cast<SpanKind>(value);
}

std::string_view SpanContextErrorName(SpanContextError error) {
  switch (error) {
    case SpanContextError::kTraceIdLength: return "trace_id_length";
    case SpanContextError::kTraceIdZero: return "trace_id_zero";
    case SpanContextError::kSpanIdLength: return "span_id_length";
    case SpanContextError::kSpanIdZero: return "span_id_zero";
    case SpanContextError::kParentSpanIdLength: return "parent_span_id_length";
    case SpanContextError::kCount: break;
  }
  return "unknown";
}

SpanContextCheck CheckSpanContext(std::string_view trace_id, std::string_view span_id,
                                  std::string_view parent_span_id) {
  SpanContextCheck check;
  auto fail = [&check](SpanContextError e) {
    check.ok = false;
    check.error = e;
    return check;
  };
  auto tid = TraceId::FromBytes(trace_id);
  if (!tid) return fail(SpanContextError::kTraceIdLength);
  if (tid->IsZero()) return fail(SpanContextError::kTraceIdZero);
  auto sid = SpanId::FromBytes(span_id);
  if (!sid) return fail(SpanContextError::kSpanIdLength);
  if (sid->IsZero()) return fail(SpanContextError::kSpanIdZero);
  SpanId parent;
  if (!parent_span_id.empty()) {
    auto pid = SpanId::FromBytes(parent_span_id);
    if (!pid) return fail(SpanContextError::kParentSpanIdLength);
    parent = *pid;
  }
  check.ok = true;
  check.trace_id = *tid;
  check.span_id = *sid;
  check.parent_span_id = parent;
  return check;
}

}  // namespace propwatch
