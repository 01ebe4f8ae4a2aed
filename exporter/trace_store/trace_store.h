// TraceStore: a bounded store of recent traces for the trace API
// (GET /api/v1/traces/{trace_id}) and span dumps.
//
// Keeps, per trace, the spans' ids, parent, service, name, kind, status and
// duration. Bounds: `max_traces` traces (the oldest-created trace is dropped
// first, counted as reason=capacity) and `max_spans_per_trace` spans per trace
// (further spans counted as reason=span_cap). A duplicate (same span id in the
// trace) is stored once. max_traces == 0 disables the store.
//
// Thread-safe: OnSpans and Get may run concurrently (lock striped by trace
// id). Cost: OnSpans O(spans) plus a copy of each span's strings (this store
// allocates per span; the engine does not); Get O(spans of the trace).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "propwatch/span_record.h"

namespace propwatch::tap {

struct StoredSpan {
  SpanId span_id;
  SpanId parent_span_id;  // zero for a root
  std::string service;
  std::string name;
  SpanKind kind = SpanKind::kUnspecified;
  StatusCode status = StatusCode::kUnset;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  uint32_t link_count = 0;
};

struct StoredTrace {
  TraceId trace_id;
  std::vector<StoredSpan> spans;  // arrival order
  bool truncated = false;         // spans beyond max_spans_per_trace were dropped
};

// One stored trace in a listing (GET /api/v1/traces).
struct StoredTraceSummary {
  TraceId trace_id;
  uint32_t span_count = 0;
  bool truncated = false;
};

struct TraceStoreStats {
  uint64_t traces = 0;
  uint64_t evicted_capacity = 0;
  uint64_t dropped_span_cap = 0;
};

class TraceStore {
 public:
  struct Options {
    uint32_t max_traces = 10'000;
    uint32_t max_spans_per_trace = 1'000;
  };

  explicit TraceStore(const Options& options);

  void OnSpans(std::span<const SpanRecord> spans);
  std::optional<StoredTrace> Get(const TraceId& id) const;
  // Every stored trace's id and span count, sorted by trace id. O(stored
  // traces); locks one stripe at a time (not a snapshot across stripes).
  std::vector<StoredTraceSummary> List() const;
  TraceStoreStats Stats() const;

 private:
  static constexpr size_t kStripes = 16;
  struct Stripe {
    mutable absl::Mutex mu;
    absl::flat_hash_map<TraceId, StoredTrace> traces ABSL_GUARDED_BY(mu);
    std::deque<TraceId> order ABSL_GUARDED_BY(mu);  // creation order, oldest first
    uint64_t evicted_capacity ABSL_GUARDED_BY(mu) = 0;
    uint64_t dropped_span_cap ABSL_GUARDED_BY(mu) = 0;
  };
  Stripe& StripeFor(const TraceId& id) const;

  const Options options_;
  const uint32_t max_per_stripe_;
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace propwatch::tap
