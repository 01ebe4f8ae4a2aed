#include "exporter/tap/status_api.h"

#include <chrono>
#include <cstdio>

#include "exporter/text/text.h"

namespace propwatch::tap {
namespace {

std::string Number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

}  // namespace

std::string RenderStatusJson(const Snapshot& snap) {
  const double window = std::chrono::duration<double>(snap.window_covered).count();
  auto per_second = [&](uint64_t n) { return Number(window > 0 ? static_cast<double>(n) / window : 0); };
  std::string body = "{\"time\":" + std::to_string(snap.time.time_since_epoch().count()) +
                     ",\"windowSeconds\":" + Number(window) + ",\"services\":[";
  bool first = true;
  for (const ServiceSnapshot& s : snap.services) {
    const ServiceCounters& w = s.window;
    body += first ? "\n{\"service\":" : ",\n{\"service\":";
    first = false;
    text::AppendJsonString(&body, s.service);
    body += ",\"entryPoint\":";
    body += s.entry_point ? "true" : "false";
    body += ",\"spansPerSecond\":" + per_second(w.spans) +
            ",\"traceStartsPerSecond\":" + per_second(w.root_spans) +
            ",\"spans\":" + std::to_string(w.spans) + ",\"orphans\":" +
            std::to_string(w.orphan_spans()) + ",\"orphanRate\":" + Number(s.OrphanRate()) +
            ",\"orphansByKind\":{";
    bool first_kind = true;
    for (int k = 0; k < kNumSpanKinds; ++k) {
      if (w.orphan_spans_by_kind[k] == 0) continue;
      if (!first_kind) body += ',';
      first_kind = false;
      body += "\"" + std::string(SpanKindName(static_cast<SpanKind>(k))) +
              "\":" + std::to_string(w.orphan_spans_by_kind[k]);
    }
    body += "},\"brokenParents\":" + std::to_string(w.broken_parents) +
            ",\"brokenParentRate\":" + Number(s.BrokenParentRate()) +
            ",\"unpairedOutbound\":" + std::to_string(w.unpaired_outbound) +
            ",\"invalidTraceparents\":" + std::to_string(w.invalid_traceparents()) +
            ",\"extractionFailures\":" + std::to_string(w.extraction_failures) +
            ",\"lateSpans\":" + std::to_string(w.late_spans) + "}";
  }
  // Broken edges in the snapshot's order (window count, then total,
  // descending): one row per (caller, callee, boundary) series held.
  body += "],\n\"brokenEdges\":[";
  first = true;
  for (const BrokenEdgeCount& edge : snap.broken_edges) {
    body += first ? "\n{\"caller\":" : ",\n{\"caller\":";
    first = false;
    text::AppendJsonString(&body, edge.caller_service);
    body += ",\"callee\":";
    text::AppendJsonString(&body, edge.callee_service);
    body += ",\"boundary\":\"";
    body += EdgeBoundaryName(edge.boundary);
    body += "\",\"window\":" + std::to_string(edge.window) +
            ",\"total\":" + std::to_string(edge.total) + "}";
  }
  const EngineStats& e = snap.stats;
  body += "],\n\"engine\":{\"liveTraces\":" + std::to_string(e.live_traces) +
          ",\"servicesTracked\":" + std::to_string(e.services) +
          ",\"traceEvictionsTotal\":" + std::to_string(e.traces_evicted_capacity) +
          ",\"distinctTraceIdsPerSecond\":" + per_second(e.distinct_trace_ids_window) +
          ",\"edgeOrphansPending\":" + std::to_string(e.edge_orphans_pending) +
          ",\"edgeOutboundCandidates\":" + std::to_string(e.edge_outbound_candidates) +
          ",\"edgeSeries\":" + std::to_string(e.edge_series) +
          ",\"edgeOrphansEvictedTotal\":" + std::to_string(e.edge_orphans_evicted) +
          ",\"edgeOutboundEvictedTotal\":" + std::to_string(e.edge_outbound_evicted) +
          ",\"edgeSeriesOverflowTotal\":" + std::to_string(e.edge_series_overflow) + "}}\n";
  return body;
}

}  // namespace propwatch::tap
