// The one list of every metric the tap exports: name, type, labels, help and
// exact definition. The Prometheus collector builds families from it, and
// docs/metrics.md is generated from it (`propwatch --print-metrics-doc`; a
// test fails when the two differ), so code and docs cannot drift.
//
// Constant data; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace propwatch::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

enum class MetricId {
  // Per service: counters.
  kSpans,
  kRootSpans,
  kOrphanSpans,
  kLinkedRootSpans,
  kBrokenParentSpans,
  kUnpairedOutboundSpans,
  kLateSpans,
  kDuplicateSpans,
  kExtractionFailures,
  kTraceparentValid,
  kInvalidTraceparent,
  kInvalidSpanContexts,
  kBrokenEdges,
  // Per service: sliding-window gauges.
  kWindowOrphanRatio,
  kWindowBrokenParentRatio,
  kWindowSpansPerSecond,
  kWindowTraceStartsPerSecond,
  kServiceInfo,
  // Engine health.
  kWindowSeconds,
  kDistinctTraceIds,
  kWindowDistinctTraceIdsPerSecond,
  kTracesTracked,
  kTracesFinalized,
  kTraceEvictions,
  kSpansUntracked,
  kTracesUnjudged,
  kRebalances,
  kServicesTracked,
  kServiceOverflowSpans,
  kDestinationsTracked,
  kDestinationOverflowSpans,
  kExampleSeries,
  kExampleSeriesOverflow,
  kEdgeOrphansPending,
  kEdgeOutboundCandidates,
  kEdgeSeries,
  kEdgeOrphansEvicted,
  kEdgeOutboundEvicted,
  kEdgeSeriesOverflow,
  kEngineTrackedBytes,
  // Receiver health.
  kReceiverRequests,
  kReceiverSpansReceived,
  kReceiverSpansRejected,
  kReceiverBytes,
  kReceiverRequestDuration,
  kReceiverInflightRequests,
  kReceiverHttpConnections,
  kReceiverHttpConnectionsAccepted,
  kReceiverHttpConnectionErrors,
  // Trace store (trace API).
  kTraceStoreTraces,
  kTraceStoreEvictions,
  // The process.
  kFleetMembers,
  kBuildInfo,
  kProcessCpuSeconds,
  kProcessResidentMemoryBytes,
  kProcessVirtualMemoryBytes,
  kProcessOpenFds,
  kProcessMaxFds,
  kProcessStartTimeSeconds,
  kCount,
};

struct MetricDef {
  MetricId id;
  std::string_view name;
  MetricType type;
  std::string_view labels;      // comma-separated label names, empty if none
  std::string_view help;        // the HELP line
  std::string_view definition;  // exact meaning, for docs/metrics.md
};

// All metrics, in MetricId order.
std::span<const MetricDef> AllMetrics();
const MetricDef& Def(MetricId id);

// The Markdown table of docs/metrics.md (between its generated markers).
std::string RenderMetricsMarkdown();

}  // namespace propwatch::metrics
