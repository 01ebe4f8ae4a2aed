#include "exporter/trace_store/trace_store.h"

#include <algorithm>

namespace propwatch::tap {

TraceStore::TraceStore(const Options& options)
    : options_(options),
      max_per_stripe_(options.max_traces == 0
                          ? 0
                          : std::max<uint32_t>(1, (options.max_traces + kStripes - 1) / kStripes)),
      stripes_(std::make_unique<Stripe[]>(kStripes)) {}

TraceStore::Stripe& TraceStore::StripeFor(const TraceId& id) const {
  return stripes_[(id.High64() ^ id.Low64()) % kStripes];
}

void TraceStore::OnSpans(std::span<const SpanRecord> spans) {
  if (max_per_stripe_ == 0) return;
  for (const SpanRecord& r : spans) {
    Stripe& stripe = StripeFor(r.trace_id);
    absl::MutexLock lock(&stripe.mu);
    auto it = stripe.traces.find(r.trace_id);
    if (it == stripe.traces.end()) {
      while (stripe.traces.size() >= max_per_stripe_ && !stripe.order.empty()) {
        stripe.traces.erase(stripe.order.front());
        stripe.order.pop_front();
        ++stripe.evicted_capacity;
      }
      it = stripe.traces.emplace(r.trace_id, StoredTrace{r.trace_id, {}, false}).first;
      stripe.order.push_back(r.trace_id);
    }
    StoredTrace& trace = it->second;
    const bool duplicate = std::any_of(trace.spans.begin(), trace.spans.end(),
                                       [&](const StoredSpan& s) { return s.span_id == r.span_id; });
    if (duplicate) continue;
    if (trace.spans.size() >= options_.max_spans_per_trace) {
      trace.truncated = true;
      ++stripe.dropped_span_cap;
      continue;
    }
    StoredSpan& s = trace.spans.emplace_back();
    s.span_id = r.span_id;
    s.parent_span_id = r.parent_span_id;
    s.service = r.service_name.empty() ? std::string(kUnknownService) : std::string(r.service_name);
    s.name = std::string(r.name);
    s.kind = r.kind;
    s.status = r.status;
    s.start_unix_nano = r.start_unix_nano;
    s.end_unix_nano = r.end_unix_nano;
    s.link_count = static_cast<uint32_t>(r.links.size());
  }
}

std::optional<StoredTrace> TraceStore::Get(const TraceId& id) const {
  Stripe& stripe = StripeFor(id);
  absl::MutexLock lock(&stripe.mu);
  auto it = stripe.traces.find(id);
  if (it == stripe.traces.end()) return std::nullopt;
  return it->second;
}

std::vector<StoredTraceSummary> TraceStore::List() const {
  std::vector<StoredTraceSummary> out;
  for (size_t i = 0; i < kStripes; ++i) {
    absl::MutexLock lock(&stripes_[i].mu);
    for (const auto& [id, trace] : stripes_[i].traces) {
      out.push_back({id, static_cast<uint32_t>(trace.spans.size()), trace.truncated});
    }
  }
  std::sort(out.begin(), out.end(), [](const StoredTraceSummary& a, const StoredTraceSummary& b) {
    return a.trace_id.bytes < b.trace_id.bytes;  // byte order = hex order
  });
  return out;
}

TraceStoreStats TraceStore::Stats() const {
  TraceStoreStats stats;
  for (size_t i = 0; i < kStripes; ++i) {
    absl::MutexLock lock(&stripes_[i].mu);
    stats.traces += stripes_[i].traces.size();
    stats.evicted_capacity += stripes_[i].evicted_capacity;
    stats.dropped_span_cap += stripes_[i].dropped_span_cap;
  }
  return stats;
}

}  // namespace propwatch::tap
