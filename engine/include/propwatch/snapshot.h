// Snapshot: what Engine::Collect() returns, a consistent-enough copy of every
// per-service counter and the engine's own health, owned by the caller.
//
// Every definition is in docs/semantics.md. Counters (`total`) are monotonic
// for the engine's lifetime; `window` holds the same quantities over the
// sliding window (last `window_covered` of receive-clock time).
//
// Value types, thread-compatible. A Snapshot holds O(services + destinations
// with unpaired spans) memory; Snapshot::Find is O(log services).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "propwatch/clock.h"
#include "propwatch/export.h"
#include "propwatch/span_record.h"
#include "propwatch/trace_context.h"

namespace propwatch {

// Per-service quantities. All counts are spans unless the name says otherwise.
struct PROPWATCH_EXPORT ServiceCounters {
  uint64_t spans = 0;             // accepted spans (duplicates excluded)
  uint64_t root_spans = 0;        // trace starts: spans with no parent
  // Orphans by the span kind that names the lost boundary.
  std::array<uint64_t, kNumSpanKinds> orphan_spans_by_kind{};
  uint64_t linked_roots = 0;      // roots with >= 1 link (not orphans)
  uint64_t broken_parents = 0;    // parent unresolved at finalization
  uint64_t unpaired_outbound = 0; // CLIENT/PRODUCER with no child at finalization
  uint64_t late_spans = 0;        // arrived for an already finalized trace
  uint64_t duplicate_spans = 0;   // same (trace id, span id) seen again
  uint64_t extraction_failures = 0;  // valid captured traceparent, yet a root
  uint64_t traceparents_valid = 0;   // captured/observed headers that parsed
  std::array<uint64_t, kNumTraceparentErrors> invalid_traceparents_by_reason{};
  std::array<uint64_t, kNumSpanContextErrors> invalid_span_contexts_by_reason{};

  uint64_t orphan_spans() const;
  uint64_t invalid_traceparents() const;
  uint64_t invalid_span_contexts() const;

  ServiceCounters& operator+=(const ServiceCounters& other);
  ServiceCounters& operator-=(const ServiceCounters& other);
  friend bool operator==(const ServiceCounters&, const ServiceCounters&) = default;
};

struct DestinationCount {
  std::string destination;
  uint64_t unpaired_outbound = 0;
};

struct PROPWATCH_EXPORT ServiceSnapshot {
  std::string service;
  bool entry_point = false;
  ServiceCounters total;
  ServiceCounters window;
  // Unpaired outbound spans per destination (monotonic), largest first.
  std::vector<DestinationCount> unpaired_by_destination;

  // Window ratios; 0 when the window saw no spans of this service.
  double OrphanRate() const;
  double BrokenParentRate() const;
};

// The engine's own health: sizes of every bound and what each pushed out.
struct EngineStats {
  // Gauges.
  uint64_t live_traces = 0;
  uint64_t finalized_traces_retained = 0;
  uint64_t services = 0;      // distinct services tracked (overflow included)
  uint64_t destinations = 0;  // distinct destinations tracked
  uint64_t tracked_bytes = 0; // memory held by trace storage (pools)
  // Counters.
  uint64_t distinct_trace_ids = 0;     // traces first seen (monotonic)
  uint64_t distinct_trace_ids_window = 0;
  uint64_t traces_finalized = 0;
  uint64_t traces_evicted_capacity = 0;     // live traces pushed out by max_traces
  uint64_t finalized_traces_displaced = 0;  // retained traces pushed out by max_traces
  uint64_t spans_untracked_trace_cap = 0;   // spans beyond max_spans_per_trace
  // Traces finalized without broken-parent / unpaired verdicts, by why
  // (docs/semantics.md): more spans than max_spans_per_trace, part of the
  // trace evicted earlier, started before the engine, or live in a
  // rebalance window (the last two only with EngineOptions::rebalance_window).
  uint64_t traces_unjudged_truncated = 0;
  uint64_t traces_unjudged_evicted = 0;
  uint64_t traces_unjudged_started_before_start = 0;
  uint64_t traces_unjudged_rebalance = 0;
  uint64_t rebalances = 0;  // windows opened by Engine::BeginRebalance()
  uint64_t spans_overflow_service = 0;      // spans counted under kOverflowService
  uint64_t outbound_overflow_destination = 0;  // outbound spans under the overflow destination
  // Finding examples (EngineOptions::max_example_series): series held
  // (gauge), and findings not kept because max_example_series was reached
  // (counter).
  uint64_t example_series = 0;
  uint64_t example_series_overflow = 0;
  // Broken-edge attribution (EngineOptions::edge_*). Gauges: orphans
  // awaiting their decision, unpaired outbound spans held as candidates,
  // (caller, callee, boundary) series held. Counters: orphans and candidates
  // pushed out by max_edge_candidates (an evicted orphan is counted on no
  // edge), edges not counted because max_edge_series was reached.
  uint64_t edge_orphans_pending = 0;
  uint64_t edge_outbound_candidates = 0;
  uint64_t edge_series = 0;
  uint64_t edge_orphans_evicted = 0;
  uint64_t edge_outbound_evicted = 0;
  uint64_t edge_series_overflow = 0;
};

// Which kind of hop a broken edge is (docs/semantics.md "Broken edge"): an
// orphan SERVER span was reached over HTTP/RPC, an orphan CONSUMER span by a
// message. Lowercase label values "http", "messaging".
enum class EdgeBoundary : uint8_t { kHttp = 0, kMessaging = 1 };
inline constexpr int kNumEdgeBoundaries = 2;
PROPWATCH_EXPORT std::string_view EdgeBoundaryName(EdgeBoundary boundary);

// The caller of an orphan that no outbound span could be paired with (an
// uninstrumented caller, or one whose spans lack destination attributes).
inline constexpr std::string_view kUnknownCaller = "unknown";

// Orphans attributed to one (caller, callee, boundary): each decided orphan
// SERVER/CONSUMER root counts on exactly one edge.
struct BrokenEdgeCount {
  std::string caller_service;  // kUnknownCaller when nothing was paired
  std::string callee_service;  // the orphan's service
  EdgeBoundary boundary = EdgeBoundary::kHttp;
  uint64_t total = 0;   // monotonic
  uint64_t window = 0;  // over Snapshot::window_covered
};

struct PROPWATCH_EXPORT Snapshot {
  Timestamp time;            // the engine clock's now when collected
  Duration window_length{};  // configured
  Duration window_covered{}; // actually covered (shorter right after start)
  std::vector<ServiceSnapshot> services;  // sorted by service name
  // Sorted by window count, then total (both descending), then callee,
  // caller, boundary.
  std::vector<BrokenEdgeCount> broken_edges;
  EngineStats stats;

  // nullptr when the service is unknown.
  const ServiceSnapshot* Find(std::string_view service) const;
};

}  // namespace propwatch
