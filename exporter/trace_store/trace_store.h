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
// id). Cost: OnSpans O(spans x spans already stored for the trace) for the
// duplicate check (a few compares for usual traces) plus a copy of each
// span's name into its trace's text buffer. Once the store is full, a new
// trace reuses the oldest trace's slot and buffers, so the steady state
// allocates nothing per span (a slot whose buffers grew beyond a small bound
// is given back instead of kept). Get O(spans of the trace), allocating the
// returned copy.
//
// Memory: about 56 B per stored span plus its name and service bytes (a
// service is stored once per run of spans of one service in a trace).
#pragma once

#include <cstdint>
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

  // A span as stored: strings are (offset, size) in its trace's `text`.
  struct CompactSpan {
    SpanId span_id;
    SpanId parent_span_id;
    uint64_t start_unix_nano = 0;
    uint64_t end_unix_nano = 0;
    uint32_t service_offset = 0;
    uint32_t service_size = 0;
    uint32_t name_offset = 0;
    uint32_t name_size = 0;
    uint32_t link_count = 0;
    SpanKind kind = SpanKind::kUnspecified;
    StatusCode status = StatusCode::kUnset;
  };
  // One trace's storage; slots are reused oldest first.
  struct Slot {
    TraceId trace_id;
    std::vector<CompactSpan> spans;  // arrival order
    std::string text;                // service and name bytes of `spans`
    bool truncated = false;
  };
  struct Stripe {
    mutable absl::Mutex mu;
    absl::flat_hash_map<TraceId, uint32_t> index ABSL_GUARDED_BY(mu);  // trace -> slot
    // Slots in creation order as a ring: `next` is the oldest once full.
    std::vector<Slot> slots ABSL_GUARDED_BY(mu);
    uint32_t next ABSL_GUARDED_BY(mu) = 0;
    uint64_t evicted_capacity ABSL_GUARDED_BY(mu) = 0;
    uint64_t dropped_span_cap ABSL_GUARDED_BY(mu) = 0;
  };
  static size_t StripeIndex(const TraceId& id);
  Stripe& StripeFor(const TraceId& id) const;
  // The slot for a new trace: a fresh one until the stripe is full, then the
  // oldest trace's, evicted.
  Slot& NewSlot(Stripe& stripe, const TraceId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(stripe.mu);
  void Append(Stripe& stripe, Slot& slot, const SpanRecord& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(stripe.mu);

  const Options options_;
  const uint32_t max_per_stripe_;
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace propwatch::tap
