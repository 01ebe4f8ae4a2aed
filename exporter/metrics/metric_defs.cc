#include "exporter/metrics/metric_defs.h"

#include <array>

namespace propwatch::metrics {
namespace {

using enum MetricType;

constexpr std::array<MetricDef, static_cast<size_t>(MetricId::kCount)> kMetrics = {{
    {MetricId::kSpans, "propwatch_spans_total", kCounter, "service_name",
     "Spans accepted, by service.",
     "Spans with a valid span context, duplicates excluded. Denominator of every per-service "
     "ratio."},
    {MetricId::kRootSpans, "propwatch_root_spans_total", kCounter, "service_name",
     "Root spans (trace starts), by service.",
     "Spans whose parent span id is empty or all zero: each one starts a trace id. Includes "
     "entry-point roots, orphans and linked roots. `rate()` of it is trace starts per second."},
    {MetricId::kOrphanSpans, "propwatch_orphan_spans_total", kCounter, "service_name,span_kind",
     "Orphan spans: roots of non-entry-point services without links.",
     "Root spans of a service that is not an entry point and that carry no span links. "
     "`span_kind` names the boundary that lost context: `server` = inbound RPC/HTTP, "
     "`consumer` = messaging extract, `internal`/`client`/`producer` = in-process hand-off."},
    {MetricId::kLinkedRootSpans, "propwatch_linked_root_spans_total", kCounter, "service_name",
     "Root spans with at least one link (not orphans).",
     "Root spans of a non-entry-point service with >= 1 span link: async follow-ups, batch "
     "fan-in, split workflows. Counted instead of orphans."},
    {MetricId::kBrokenParentSpans, "propwatch_broken_parent_spans_total", kCounter,
     "service_name", "Spans whose parent never arrived by trace finalization.",
     "Non-root spans whose parent span id matches no span of the same trace when the trace is "
     "finalized (trace_idle_timeout without new spans). Counted on the child's service. Never "
     "counted for traces evicted for capacity or truncated by the per-trace span cap."},
    {MetricId::kUnpairedOutboundSpans, "propwatch_unpaired_outbound_spans_total", kCounter,
     "service_name,destination", "CLIENT/PRODUCER spans with no child at finalization.",
     "CLIENT or PRODUCER spans that no span of their trace names as parent when the trace is "
     "finalized. `destination` = peer.service, else server.address, else "
     "messaging.destination.name, else `unknown` (capped by max_destinations, overflow "
     "`__overflow__`). Calls into uninstrumented systems are unpaired by nature; watch for "
     "change."},
    {MetricId::kLateSpans, "propwatch_late_spans_total", kCounter, "service_name",
     "Spans that arrived after their trace was finalized.",
     "Spans for a trace already finalized and still retained (late_span_retention). A late "
     "span whose parent was in the finalized trace is never a broken parent."},
    {MetricId::kDuplicateSpans, "propwatch_duplicate_spans_total", kCounter, "service_name",
     "Spans seen again with the same (trace id, span id).",
     "A span whose (trace id, span id) is already tracked: retries and double exports. Not "
     "counted in propwatch_spans_total or any other span counter."},
    {MetricId::kExtractionFailures, "propwatch_extraction_failures_total", kCounter,
     "service_name", "Root spans that carried a valid captured traceparent.",
     "Root spans with at least one valid captured `http.request.header.traceparent`: the "
     "header arrived and the server ignored it."},
    {MetricId::kTraceparentValid, "propwatch_traceparent_valid_total", kCounter, "service_name",
     "Captured or observed traceparent values that are valid.",
     "Valid W3C traceparent values, from the captured span attribute or the embedding API."},
    {MetricId::kInvalidTraceparent, "propwatch_invalid_traceparent_total", kCounter,
     "service_name,reason", "Traceparent values the W3C spec says to reject, by reason.",
     "Invalid W3C traceparent values from `http.request.header.traceparent` (each element of "
     "an array) or the embedding API. reason: empty, length, version, version_ff, delimiter, "
     "trace_id_format, trace_id_zero, parent_id_format, parent_id_zero, flags_format."},
    {MetricId::kInvalidSpanContexts, "propwatch_invalid_span_contexts_total", kCounter,
     "service_name,reason", "Spans rejected for a structurally invalid span context.",
     "OTLP spans whose trace id is not 16 bytes or all zero, span id not 8 bytes or all zero, "
     "or parent span id neither empty nor 8 bytes. reason: trace_id_length, trace_id_zero, "
     "span_id_length, span_id_zero, parent_span_id_length. The rest of the request is kept."},
    {MetricId::kBrokenEdges, "propwatch_broken_edges_total", kCounter,
     "caller_service,callee_service,boundary",
     "Orphan SERVER/CONSUMER roots, by the caller whose outbound span sent them.",
     "Each orphan SERVER (boundary=http) or CONSUMER (boundary=messaging) root is paired, "
     "edge_decision_delay after it arrived, with the unpaired CLIENT/PRODUCER span of another "
     "trace that sent its request or message (destination and time rules in "
     "docs/semantics.md \"Broken edge\"); caller_service=\"unknown\" when there was none (an "
     "uninstrumented caller, or one whose spans lack destination attributes). Bounded by "
     "--max-edge-series."},
    {MetricId::kWindowOrphanRatio, "propwatch_window_orphan_span_ratio", kGauge, "service_name",
     "Orphan spans / spans over the sliding window.",
     "Engine's own sliding-window view: orphan spans / spans of the service over "
     "propwatch_window_seconds; 0 with no spans. For single-instance use; alert on the "
     "counters."},
    {MetricId::kWindowBrokenParentRatio, "propwatch_window_broken_parent_ratio", kGauge,
     "service_name", "Broken-parent spans / spans over the sliding window.",
     "Broken-parent verdicts reached in the window / spans of the service received in the "
     "window; 0 with no spans."},
    {MetricId::kWindowSpansPerSecond, "propwatch_window_spans_per_second", kGauge, "service_name",
     "Spans per second over the sliding window.", "Spans in the window / window seconds."},
    {MetricId::kWindowTraceStartsPerSecond, "propwatch_window_trace_starts_per_second", kGauge,
     "service_name", "Root spans (trace starts) per second over the sliding window.",
     "Root spans in the window / window seconds. A rise with flat span rate means fresh trace "
     "ids are being minted: propagation lost."},
    {MetricId::kServiceInfo, "propwatch_service_info", kGauge, "service_name,entry_point",
     "1 for every tracked service; entry_point says whether traces may start there.",
     "Always 1. `entry_point=\"true\"` for services matching --entry-services; join on it to "
     "exclude entry points from orphan alerts."},
    {MetricId::kWindowSeconds, "propwatch_window_seconds", kGauge, "",
     "Receive-clock time the sliding-window gauges cover.",
     "Between window_length and window_length + window_resolution once the tap has run that "
     "long; less right after start."},
    {MetricId::kDistinctTraceIds, "propwatch_distinct_trace_ids_total", kCounter, "",
     "Trace ids seen for the first time.",
     "Trace ids not currently tracked when their first span arrived (a trace forgotten after "
     "late_span_retention counts again)."},
    {MetricId::kWindowDistinctTraceIdsPerSecond, "propwatch_window_distinct_trace_ids_per_second",
     kGauge, "", "Distinct new trace ids per second over the sliding window.",
     "propwatch_distinct_trace_ids_total increase over the window / window seconds."},
    {MetricId::kTracesTracked, "propwatch_traces_tracked", kGauge, "state",
     "Traces held in memory, by state (live, finalized).",
     "live: waiting for trace_idle_timeout; finalized: retained for late-span matching. "
     "Their sum is bounded by max_traces."},
    {MetricId::kTracesFinalized, "propwatch_traces_finalized_total", kCounter, "",
     "Trace finalizations (a trace re-opened by a late span counts again).",
     "Each time a trace reached trace_idle_timeout and was judged."},
    {MetricId::kTraceEvictions, "propwatch_trace_evictions_total", kCounter, "reason",
     "Traces pushed out of memory early, by reason.",
     "reason=capacity: a live trace evicted by max_traces before finalization (never judged); "
     "reason=finalized_displaced: a retained finalized trace dropped to make room."},
    {MetricId::kSpansUntracked, "propwatch_spans_untracked_total", kCounter, "reason",
     "Spans counted but not tracked in their trace.",
     "reason=trace_span_cap: spans beyond max_spans_per_trace; the trace gets no broken-parent "
     "verdicts."},
    {MetricId::kTracesUnjudged, "propwatch_traces_unjudged_total", kCounter, "reason",
     "Traces finalized without broken-parent or unpaired verdicts, by reason.",
     "reason=truncated: more spans than max_spans_per_trace; evicted: part of the trace was "
     "evicted by max_traces earlier; started_before_tap: a span started before the tap did "
     "(plus --max-clock-skew), so an earlier part may have gone to a previous process or another "
     "tap; rebalance: live when a rebalance window opened (tap start, a --fleet-members or "
     "--fleet-dns change) "
     "or first seen while one was open. Their spans still count in every per-span series. "
     "See docs/semantics.md \"Rollouts\"."},
    {MetricId::kRebalances, "propwatch_rebalances_total", kCounter, "",
     "Rebalance windows opened because the fleet changed (--fleet-members on SIGHUP, or the "
     "addresses of --fleet-dns).",
     "The window opened at start is not counted; process_start_time_seconds marks that one."},
    {MetricId::kServicesTracked, "propwatch_services_tracked", kGauge, "",
     "Distinct service.name values tracked.", "Bounded by max_services."},
    {MetricId::kServiceOverflowSpans, "propwatch_service_overflow_spans_total", kCounter, "",
     "Spans of services past max_services.",
     "Counted under service_name=\"__overflow__\"."},
    {MetricId::kDestinationsTracked, "propwatch_destinations_tracked", kGauge, "",
     "Distinct outbound destinations tracked.", "Bounded by max_destinations."},
    {MetricId::kDestinationOverflowSpans, "propwatch_destination_overflow_spans_total", kCounter,
     "", "Outbound spans whose destination was past max_destinations.",
     "Counted under destination=\"__overflow__\"."},
    {MetricId::kExampleSeries, "propwatch_example_series", kGauge, "",
     "Finding-example series held (service, finding, span kind; summed over lock stripes).",
     "Bounded by --max-example-series; each keeps the trace ids of the last "
     "--examples-per-finding findings, served by GET /api/v1/examples."},
    {MetricId::kExampleSeriesOverflow, "propwatch_example_series_overflow_total", kCounter, "",
     "Findings whose example was not kept because --max-example-series was full.",
     "Counting is unaffected: every finding still counts in its own series."},
    {MetricId::kEdgeOrphansPending, "propwatch_edge_orphans_pending", kGauge, "",
     "Orphan SERVER/CONSUMER roots awaiting their broken-edge decision.",
     "Each is decided edge_decision_delay after it arrived. Bounded by --max-edge-candidates."},
    {MetricId::kEdgeOutboundCandidates, "propwatch_edge_outbound_candidates", kGauge, "",
     "Unpaired CLIENT/PRODUCER spans held as broken-edge candidates.",
     "Held 2 x edge_decision_delay after their trace was finalized (PRODUCER: plus "
     "--edge-messaging-max-lag). Bounded by --max-edge-candidates."},
    {MetricId::kEdgeSeries, "propwatch_edge_series", kGauge, "",
     "Distinct (caller, callee, boundary) broken-edge series.", "Bounded by --max-edge-series."},
    {MetricId::kEdgeOrphansEvicted, "propwatch_edge_orphans_evicted_total", kCounter, "",
     "Orphans pushed out of the pending set by --max-edge-candidates before their decision.",
     "Such an orphan counts in propwatch_orphan_spans_total but on no broken edge."},
    {MetricId::kEdgeOutboundEvicted, "propwatch_edge_outbound_evicted_total", kCounter, "",
     "Candidate outbound spans pushed out by --max-edge-candidates before they expired.",
     "An orphan this candidate sent may be counted with caller_service=\"unknown\"."},
    {MetricId::kEdgeSeriesOverflow, "propwatch_edge_series_overflow_total", kCounter, "",
     "Broken edges not counted because --max-edge-series was full.",
     "Orphan counting is unaffected."},
    {MetricId::kEngineTrackedBytes, "propwatch_engine_tracked_bytes", kGauge, "",
     "Bytes reserved by the engine's trace storage pools.",
     "Trace entries, span cells, hash tables and eviction memory; pools are reused, not "
     "returned to the OS."},
    {MetricId::kReceiverRequests, "propwatch_receiver_requests_total", kCounter,
     "transport,result", "OTLP export requests, by transport and result.",
     "transport: grpc, http. result: ok, partial (some spans rejected), invalid (undecodable, "
     "400/INVALID_ARGUMENT), too_large (413/RESOURCE_EXHAUSTED), unsupported_media_type (415), "
     "method_not_allowed (405), overloaded (503/UNAVAILABLE with retry hint), not_found "
     "(404/UNIMPLEMENTED), internal (500/INTERNAL), upstream_unavailable (in-line mode: "
     "ingested, but --forward-to failed; 503/UNAVAILABLE so the sender retries). Exactly one "
     "per answered request."},
    {MetricId::kReceiverSpansReceived, "propwatch_receiver_spans_received_total", kCounter,
     "transport", "Spans decoded from OTLP requests and handed to the engine.",
     "Spans with a valid span context."},
    {MetricId::kReceiverSpansRejected, "propwatch_receiver_spans_rejected_total", kCounter,
     "transport", "Spans rejected through OTLP partial success.",
     "Spans with an invalid span context, reported to the client as rejected_spans; also "
     "counted in propwatch_invalid_span_contexts_total by service and reason."},
    {MetricId::kReceiverBytes, "propwatch_receiver_bytes_total", kCounter, "transport,stage",
     "Request body bytes received.",
     "stage=wire: as received (possibly gzip); stage=decoded: after decompression."},
    {MetricId::kReceiverRequestDuration, "propwatch_receiver_request_duration_seconds",
     kHistogram, "transport", "Time to decompress, decode and ingest one export request.",
     "From the complete body being available to the response being handed back, seconds."},
    {MetricId::kReceiverInflightRequests, "propwatch_receiver_inflight_requests", kGauge,
     "transport", "Export requests being handled now.",
     "Bounded by --max-inflight-requests; past it requests are answered as overloaded."},
    {MetricId::kReceiverHttpConnections, "propwatch_receiver_http_connections", kGauge, "",
     "Open HTTP connections (OTLP/HTTP and admin listeners).", "Gauge."},
    {MetricId::kReceiverHttpConnectionsAccepted,
     "propwatch_receiver_http_connections_accepted_total", kCounter, "",
     "HTTP connections accepted.", "OTLP/HTTP and admin listeners."},
    {MetricId::kReceiverHttpConnectionErrors, "propwatch_receiver_http_connection_errors_total",
     kCounter, "kind", "HTTP connections or requests that failed below the OTLP layer.",
     "kind=timeout: read/write/idle timeout closed a connection; kind=protocol: malformed HTTP "
     "(400) or oversized headers (431); kind=connection: unexpected I/O or handler failure; "
     "kind=tls: failed TLS handshake (plaintext to a TLS listener, no or an untrusted client "
     "certificate under mutual TLS)."},
    {MetricId::kTraceStoreTraces, "propwatch_trace_store_traces", kGauge, "",
     "Recent traces held for the trace API.", "Bounded by --trace-store-max-traces."},
    {MetricId::kTraceStoreEvictions, "propwatch_trace_store_evictions_total", kCounter, "reason",
     "Traces or spans dropped by the trace API store.",
     "reason=capacity: oldest trace dropped at --trace-store-max-traces; reason=span_cap: span "
     "beyond --trace-store-max-spans-per-trace not stored."},
    {MetricId::kFleetMembers, "propwatch_fleet_members", kGauge, "",
     "Taps behind the load balancer, as this tap knows them (--fleet-members or --fleet-dns).",
     "0 when not configured. A dashboard can mark scale-out and scale-in with its changes."},
    {MetricId::kBuildInfo, "propwatch_build_info", kGauge, "version,revision",
     "Always 1; the labels say which build is running.",
     "version: the release (docs/versioning.md); revision: the source commit it was built "
     "from (`unknown` when built outside a git checkout)."},
    {MetricId::kProcessCpuSeconds, "process_cpu_seconds_total", kCounter, "",
     "User and system CPU time spent, seconds.", "From /proc/self/stat (utime + stime)."},
    {MetricId::kProcessResidentMemoryBytes, "process_resident_memory_bytes", kGauge, "",
     "Resident memory, bytes.", "From /proc/self/stat (rss pages x page size)."},
    {MetricId::kProcessVirtualMemoryBytes, "process_virtual_memory_bytes", kGauge, "",
     "Virtual memory, bytes.", "From /proc/self/stat (vsize)."},
    {MetricId::kProcessOpenFds, "process_open_fds", kGauge, "", "Open file descriptors.",
     "Entries of /proc/self/fd."},
    {MetricId::kProcessMaxFds, "process_max_fds", kGauge, "",
     "Maximum number of open file descriptors.", "The soft RLIMIT_NOFILE."},
    {MetricId::kProcessStartTimeSeconds, "process_start_time_seconds", kGauge, "",
     "Start time of the process since the Unix epoch, seconds.",
     "Boot time (/proc/stat btime) + starttime (/proc/self/stat); where /proc/stat is hidden "
     "(systemd ProcSubset=pid), the time the binary initialized. A change marks a restart: "
     "dashboards can annotate rollouts with `changes(process_start_time_seconds[5m])`."},
}};

constexpr bool IdsInOrder() {
  for (size_t i = 0; i < kMetrics.size(); ++i) {
    if (static_cast<size_t>(kMetrics[i].id) != i) return false;
  }
  return true;
}
static_assert(IdsInOrder(), "kMetrics must list metrics in MetricId order");

std::string_view TypeName(MetricType t) {
  switch (t) {
    case kCounter: return "counter";
    case kGauge: return "gauge";
    case kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

std::span<const MetricDef> AllMetrics() { return kMetrics; }
const MetricDef& Def(MetricId id) { return kMetrics[static_cast<size_t>(id)]; }

std::string RenderMetricsMarkdown() {
  std::string out = "| metric | type | labels | definition |\n|---|---|---|---|\n";
  for (const MetricDef& m : kMetrics) {
    out.append("| `").append(m.name).append("` | ").append(TypeName(m.type)).append(" | ");
    out.append(m.labels.empty() ? "" : "`").append(m.labels).append(m.labels.empty() ? "" : "`");
    out.append(" | ").append(m.definition).append(" |\n");
  }
  return out;
}

}  // namespace propwatch::metrics
