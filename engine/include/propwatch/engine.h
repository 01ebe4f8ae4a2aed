// Engine: the propagation-health engine.
//
// Feed it spans (Ingest) or raw W3C `traceparent` headers (ObserveTraceparent)
// and read per-service counters and sliding-window values (Collect). The
// definitions it implements are fixed in docs/semantics.md:
//   - per span, on arrival: root / orphan (by kind) / linked root / trace
//     start, duplicates, late spans, captured-traceparent validity and
//     extraction failures;
//   - per trace, when it is finalized after `trace_idle_timeout` without new
//     spans: broken parents and unpaired outbound spans. Arrival order within
//     a trace does not matter;
//   - across traces, `edge_decision_delay` after an orphan SERVER/CONSUMER
//     root arrived: the broken edge, i.e. the caller whose unpaired
//     CLIENT/PRODUCER span sent it (Snapshot::broken_edges).
//
// Thread-safety: thread-safe. Ingest, ObserveTraceparent, Advance and Collect
// may be called from any number of threads at once. Traces are sharded by
// trace id over independent lock stripes, so concurrent ingest rarely
// contends; Collect merges shards under each shard's lock in turn.
//
// Cost: Ingest is O(spans) with O(spans already in the trace) work per span,
// bounded by max_spans_per_trace. No heap allocation per span in the steady
// state: trace entries and span cells come from per-shard pools that are
// reused. Advance is O(traces that became idle or expired + orphans due, x
// log). Collect is O(shards x services + broken edges).
//
// Memory: bounded by EngineOptions (max_traces, max_spans_per_trace,
// max_services, max_destinations, window length / resolution,
// max_edge_candidates, max_edge_series, max_example_series).
//
// engine/ has no I/O and no dependency on gRPC, protobuf or prometheus-cpp.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "propwatch/engine_options.h"
#include "propwatch/export.h"
#include "propwatch/finding.h"
#include "propwatch/snapshot.h"
#include "propwatch/span_record.h"
#include "propwatch/status.h"
#include "propwatch/trace_context.h"

namespace propwatch {

namespace detail {
class EngineImpl;
}  // namespace detail

struct IngestResult {
  uint64_t accepted = 0;  // spans counted (duplicates included: they are accepted and counted as such)
  uint64_t rejected = 0;  // spans with an invalid span context (zero trace or span id)
};

class PROPWATCH_EXPORT Engine {
 public:
  // The only way to make an engine: validates `options` and, when they are
  // valid, stores a new engine in `*engine` and returns OK. Otherwise returns
  // InvalidArgument naming the first bad option and leaves `*engine` alone.
  // The clock (options.clock, default the system clock) must outlive the
  // engine. REQUIRES: engine != nullptr.
  static Status Create(const EngineOptions& options, std::unique_ptr<Engine>* engine);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Ingests a batch. Spans with an all-zero trace id or span id are rejected
  // and counted as invalid span contexts; every other span is accepted.
  // Borrowed views inside `spans` need to live only for this call.
  IngestResult Ingest(std::span<const SpanRecord> spans);

  // Counts `count` spans the caller could not even turn into SpanRecords
  // because their span context is structurally invalid (see CheckSpanContext).
  void RecordInvalidSpanContext(std::string_view service_name, SpanContextError error,
                                uint64_t count = 1);

  // Validates one raw `traceparent` header value received by `service_name`
  // and counts it (valid, or invalid by reason). Returns the parse result.
  TraceparentParse ObserveTraceparent(std::string_view service_name, std::string_view header);

  // Finalizes traces idle for trace_idle_timeout, forgets finalized traces
  // older than late_span_retention, and rolls the sliding windows, all up to
  // the clock's now. Call it periodically (e.g. every second); Collect and
  // Ingest also finalize lazily, so results do not depend on how often.
  void Advance();

  // Opens a rebalance window (EngineOptions::rebalance_window) now: traces
  // live at this moment, and traces whose first span arrives before the
  // window closes, get no broken-parent or unpaired verdicts. Call it when the
  // set of engines behind the load balancer changes. No effect when
  // rebalance_window is zero. O(live traces).
  void BeginRebalance();

  // Advance(), then a snapshot of every service and of the engine's health.
  Snapshot Collect();

  // The kept finding examples (EngineOptions::examples_per_finding): for
  // each series (service, finding, span kind) its most recent occurrences,
  // at most examples_per_finding, newest first. Sorted by service, finding,
  // span kind, then time (newest first) and trace id. `query` narrows it
  // (ExampleQuery). O(examples kept x log).
  std::vector<FindingExample> RecentExamples(const ExampleQuery& query = {});

  // The options it was created with (options().clock is the clock in use).
  const EngineOptions& options() const;

 private:
  explicit Engine(std::unique_ptr<detail::EngineImpl> impl);
  std::unique_ptr<detail::EngineImpl> impl_;
};

}  // namespace propwatch
