// Span builders shared by the engine tests: small, readable ids and records
// whose hex forms are easy to match in assertions.
//   T(5) -> trace ab000000000000000000000000000005
//   S(3) -> span  0000000000000003
#pragma once

#include <cstdint>
#include <string_view>

#include "propwatch/ids.h"
#include "propwatch/span_record.h"

namespace propwatch::test_spans {

inline TraceId T(int n) {
  TraceId id;
  id.bytes[0] = 0xab;
  id.bytes[14] = static_cast<uint8_t>(n >> 8);
  id.bytes[15] = static_cast<uint8_t>(n);
  return id;
}

inline SpanId S(int n) {
  SpanId id;
  id.bytes[6] = static_cast<uint8_t>(n >> 8);
  id.bytes[7] = static_cast<uint8_t>(n);
  return id;
}

// Span `span` of `trace`, child of span `parent` (0: a root).
inline SpanRecord Span(TraceId trace, int span, int parent, std::string_view service,
                       SpanKind kind = SpanKind::kServer) {
  SpanRecord r;
  r.trace_id = trace;
  r.span_id = S(span);
  if (parent != 0) r.parent_span_id = S(parent);
  r.service_name = service;
  r.kind = kind;
  return r;
}

}  // namespace propwatch::test_spans
