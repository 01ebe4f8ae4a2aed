#include "exporter/metrics/receiver_metrics.h"

#include <vector>

namespace propwatch::metrics {

void AppendReceiverMetrics(const receiver::ReceiverStats& stats, FamilyBuilder* out) {
  using M = MetricId;
  using receiver::LatencyHistogram;
  const std::vector<double> bounds(LatencyHistogram::kBucketBoundsSeconds.begin(),
                                   LatencyHistogram::kBucketBoundsSeconds.end());
  for (int t = 0; t < receiver::kNumTransports; ++t) {
    const auto transport = static_cast<receiver::Transport>(t);
    const std::string_view name = receiver::TransportName(transport);
    const receiver::TransportStats& s = stats.For(transport);
    for (int r = 0; r < receiver::kNumRequestResults; ++r) {
      const auto result = static_cast<receiver::RequestResult>(r);
      out->Add(M::kReceiverRequests, {name, receiver::RequestResultName(result)},
               s.Requests(result));
    }
    out->Add(M::kReceiverSpansReceived, {name}, s.spans_received.load());
    out->Add(M::kReceiverSpansRejected, {name}, s.spans_rejected.load());
    out->Add(M::kReceiverBytes, {name, "wire"}, s.bytes_received.load());
    out->Add(M::kReceiverBytes, {name, "decoded"}, s.bytes_decompressed.load());
    const LatencyHistogram::Values h = s.request_duration.Read();
    std::vector<uint64_t> cumulative(h.cumulative.begin(), h.cumulative.end());
    cumulative.push_back(h.count);
    out->AddHistogram(M::kReceiverRequestDuration, {name}, bounds, cumulative,
                      static_cast<double>(h.sum_nanos) / 1e9);
    out->Add(M::kReceiverInflightRequests, {name}, s.inflight_requests.load());
  }
  const receiver::HttpConnectionStats& c = stats.http_connections;
  out->Add(M::kReceiverHttpConnections, {}, c.connections_active.load());
  out->Add(M::kReceiverHttpConnectionsAccepted, {}, c.connections_accepted.load());
  out->Add(M::kReceiverHttpConnectionErrors, {"timeout"}, c.timeouts.load());
  out->Add(M::kReceiverHttpConnectionErrors, {"protocol"}, c.protocol_errors.load());
  out->Add(M::kReceiverHttpConnectionErrors, {"tls"}, c.tls_errors.load());
  out->Add(M::kReceiverHttpConnectionErrors, {"connection"}, c.connection_errors.load());
}

void AppendTraceStoreMetrics(const tap::TraceStoreStats& stats, FamilyBuilder* out) {
  out->Add(MetricId::kTraceStoreTraces, {}, stats.traces);
  out->Add(MetricId::kTraceStoreEvictions, {"capacity"}, stats.evicted_capacity);
  out->Add(MetricId::kTraceStoreEvictions, {"span_cap"}, stats.dropped_span_cap);
}

}  // namespace propwatch::metrics
