#include "exporter/receiver/receiver_stats.h"

namespace propwatch::receiver {

std::string_view TransportName(Transport transport) {
  switch (transport) {
    case Transport::kGrpc: return "grpc";
    case Transport::kHttp: return "http";
  }
  return "unknown";
}

std::string_view RequestResultName(RequestResult result) {
  switch (result) {
    case RequestResult::kOk: return "ok";
    case RequestResult::kPartial: return "partial";
    case RequestResult::kInvalid: return "invalid";
    case RequestResult::kTooLarge: return "too_large";
    case RequestResult::kUnsupportedMediaType: return "unsupported_media_type";
    case RequestResult::kMethodNotAllowed: return "method_not_allowed";
    case RequestResult::kOverloaded: return "overloaded";
    case RequestResult::kNotFound: return "not_found";
    case RequestResult::kInternal: return "internal";
    case RequestResult::kUpstreamUnavailable: return "upstream_unavailable";
    case RequestResult::kCount: break;
  }
  return "unknown";
}

void LatencyHistogram::Observe(uint64_t nanos) {
  size_t first = 0;
  while (first < kNumBuckets && nanos > kBucketBoundsNanos[first]) ++first;
  // Largest bound first; Read() goes the other way (see the header).
  count.fetch_add(1, std::memory_order_release);
  for (size_t i = kNumBuckets; i-- > first;) {
    cumulative[i].fetch_add(1, std::memory_order_release);
  }
  sum_nanos.fetch_add(nanos, std::memory_order_relaxed);
}

LatencyHistogram::Values LatencyHistogram::Read() const {
  Values v;
  for (size_t i = 0; i < kNumBuckets; ++i) {
    v.cumulative[i] = cumulative[i].load(std::memory_order_acquire);
  }
  v.count = count.load(std::memory_order_acquire);
  v.sum_nanos = sum_nanos.load(std::memory_order_relaxed);
  return v;
}

}  // namespace propwatch::receiver
