#include "exporter/metrics/engine_metrics.h"

#include <string>

namespace propwatch::metrics {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

double PerSecond(uint64_t count, Duration covered) {
  const double seconds = Seconds(covered);
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

void AppendEngineMetrics(const Snapshot& snap, FamilyBuilder* out) {
  using M = MetricId;
  for (const ServiceSnapshot& s : snap.services) {
    const std::string_view svc = s.service;
    const ServiceCounters& t = s.total;
    out->Add(M::kSpans, {svc}, t.spans);
    out->Add(M::kRootSpans, {svc}, t.root_spans);
    for (int k = 0; k < kNumSpanKinds; ++k) {
      // Every kind is exported (zeros too) so rate() sees the series from the
      // start instead of missing the first increment.
      out->Add(M::kOrphanSpans, {svc, SpanKindName(static_cast<SpanKind>(k))},
               t.orphan_spans_by_kind[k]);
    }
    out->Add(M::kLinkedRootSpans, {svc}, t.linked_roots);
    out->Add(M::kBrokenParentSpans, {svc}, t.broken_parents);
    for (const DestinationCount& d : s.unpaired_by_destination) {
      out->Add(M::kUnpairedOutboundSpans, {svc, d.destination}, d.unpaired_outbound);
    }
    out->Add(M::kLateSpans, {svc}, t.late_spans);
    out->Add(M::kDuplicateSpans, {svc}, t.duplicate_spans);
    out->Add(M::kExtractionFailures, {svc}, t.extraction_failures);
    out->Add(M::kTraceparentValid, {svc}, t.traceparents_valid);
    for (int r = 0; r < kNumTraceparentErrors; ++r) {
      out->Add(M::kInvalidTraceparent, {svc, TraceparentErrorName(static_cast<TraceparentError>(r))},
               t.invalid_traceparents_by_reason[r]);
    }
    for (int r = 0; r < kNumSpanContextErrors; ++r) {
      out->Add(M::kInvalidSpanContexts,
               {svc, SpanContextErrorName(static_cast<SpanContextError>(r))},
               t.invalid_span_contexts_by_reason[r]);
    }
    const ServiceCounters& w = s.window;
    out->Add(M::kWindowOrphanRatio, {svc}, Ratio(w.orphan_spans(), w.spans));
    out->Add(M::kWindowBrokenParentRatio, {svc}, Ratio(w.broken_parents, w.spans));
    out->Add(M::kWindowSpansPerSecond, {svc}, PerSecond(w.spans, snap.window_covered));
    out->Add(M::kWindowTraceStartsPerSecond, {svc}, PerSecond(w.root_spans, snap.window_covered));
    out->Add(M::kServiceInfo, {svc, s.entry_point ? "true" : "false"}, 1);
  }
  for (const BrokenEdgeCount& edge : snap.broken_edges) {
    out->Add(M::kBrokenEdges,
             {edge.caller_service, edge.callee_service, EdgeBoundaryName(edge.boundary)},
             edge.total);
  }
  const EngineStats& e = snap.stats;
  out->Add(M::kWindowSeconds, {}, Seconds(snap.window_covered));
  out->Add(M::kDistinctTraceIds, {}, e.distinct_trace_ids);
  out->Add(M::kWindowDistinctTraceIdsPerSecond, {},
           PerSecond(e.distinct_trace_ids_window, snap.window_covered));
  out->Add(M::kTracesTracked, {"live"}, e.live_traces);
  out->Add(M::kTracesTracked, {"finalized"}, e.finalized_traces_retained);
  out->Add(M::kTracesFinalized, {}, e.traces_finalized);
  out->Add(M::kTraceEvictions, {"capacity"}, e.traces_evicted_capacity);
  out->Add(M::kTraceEvictions, {"finalized_displaced"}, e.finalized_traces_displaced);
  out->Add(M::kSpansUntracked, {"trace_span_cap"}, e.spans_untracked_trace_cap);
  out->Add(M::kTracesUnjudged, {"truncated"}, e.traces_unjudged_truncated);
  out->Add(M::kTracesUnjudged, {"evicted"}, e.traces_unjudged_evicted);
  out->Add(M::kTracesUnjudged, {"started_before_tap"}, e.traces_unjudged_started_before_start);
  out->Add(M::kTracesUnjudged, {"rebalance"}, e.traces_unjudged_rebalance);
  out->Add(M::kRebalances, {}, e.rebalances);
  out->Add(M::kServicesTracked, {}, e.services);
  out->Add(M::kServiceOverflowSpans, {}, e.spans_overflow_service);
  out->Add(M::kDestinationsTracked, {}, e.destinations);
  out->Add(M::kDestinationOverflowSpans, {}, e.outbound_overflow_destination);
  out->Add(M::kExampleSeries, {}, e.example_series);
  out->Add(M::kExampleSeriesOverflow, {}, e.example_series_overflow);
  out->Add(M::kEdgeOrphansPending, {}, e.edge_orphans_pending);
  out->Add(M::kEdgeOutboundCandidates, {}, e.edge_outbound_candidates);
  out->Add(M::kEdgeSeries, {}, e.edge_series);
  out->Add(M::kEdgeOrphansEvicted, {}, e.edge_orphans_evicted);
  out->Add(M::kEdgeOutboundEvicted, {}, e.edge_outbound_evicted);
  out->Add(M::kEdgeSeriesOverflow, {}, e.edge_series_overflow);
  out->Add(M::kEngineTrackedBytes, {}, e.tracked_bytes);
}

}  // namespace propwatch::metrics
