// Findings and their examples: for each service and each kind of finding,
// the engine remembers the trace ids of the most recent occurrences, so an
// on-call can open a trace that shows the problem instead of searching for
// one (docs/semantics.md "Examples").
//
// Value types, thread-compatible. FindingName is O(1) and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "propwatch/clock.h"
#include "propwatch/export.h"
#include "propwatch/ids.h"
#include "propwatch/span_record.h"

namespace propwatch {

// What an example shows. Each is counted by a ServiceCounters field; an
// example is kept whenever that counter is incremented (invalid
// traceparents: once per span, however many of its headers were invalid).
enum class Finding : uint8_t {
  kOrphan = 0,          // an orphan root span (per span kind: span_kind)
  kBrokenParent,        // a span whose parent never arrived (span_id: the missing parent)
  kUnpairedOutbound,    // a CLIENT/PRODUCER span with no child (per span kind)
  kExtractionFailure,   // a root span that carried a valid captured traceparent
  kInvalidTraceparent,  // a span that captured an invalid traceparent header
  kBrokenEdge,          // an orphan SERVER/CONSUMER root, decided (caller_* say by whom)
  kCount,               // not a finding: the number of findings
};
inline constexpr int kNumFindings = static_cast<int>(Finding::kCount);

// Lowercase label value: "orphan", "broken_parent", "unpaired_outbound",
// "extraction_failure", "invalid_traceparent", "broken_edge".
PROPWATCH_EXPORT std::string_view FindingName(Finding finding);

struct FindingExample {
  std::string service;
  Finding finding = Finding::kOrphan;
  // The span's kind for orphans and unpaired outbound spans; kUnspecified
  // for the other findings (their series are not split by kind).
  SpanKind span_kind = SpanKind::kUnspecified;
  TraceId trace_id;
  // The span concerned; for kBrokenParent the parent span id that no span of
  // the trace has.
  SpanId span_id;
  // Receive clock: when the span arrived (orphan, extraction failure,
  // invalid traceparent), when the trace was finalized (broken parent,
  // unpaired outbound) or when the edge was decided (broken edge).
  Timestamp seen;
  // kBrokenEdge only: the caller (kUnknownCaller when nothing was paired),
  // and the outbound span paired with the orphan (zero when unknown).
  // `service` is the callee and `span_kind` the orphan's kind.
  std::string caller_service;
  TraceId caller_trace_id;
  SpanId caller_span_id;
};

// Which examples Engine::RecentExamples returns.
struct ExampleQuery {
  std::string_view service = {};   // exact name; empty: every service
  std::optional<Finding> finding = {};  // empty: every finding
  size_t limit = SIZE_MAX;         // at most this many, the first in the sort order
};

}  // namespace propwatch
