// ReceiverStats: the tap's own ingest health (not propagation health), for the
// Prometheus exporter to publish.
//
// Contract: plain counters, monotonic for the lifetime of the struct (except
// the `inflight_*` / `connections_active` gauges). Every field says who
// updates it. The rule is "whoever decides the outcome counts it":
//   - IngestPipeline counts requests whose body reached the decoder (ok /
//     partial / invalid) and their spans;
//   - the transports (GrpcReceiver, HttpServer for routes registered with
//     stats, OtlpHttpHandler) count bytes, latency and every other outcome
//     they answer themselves (too large, overloaded, wrong media type, ...).
// So each request is counted exactly once in `requests`.
//
// Thread-safety: every field is an atomic; writers use relaxed increments
// (the histogram uses release/acquire, see LatencyHistogram). A reader sees
// each counter individually up to date, not a cross-field snapshot.
//
// Cost: an increment is one uncontended-ish atomic add; the histogram costs
// at most kNumBuckets + 2 adds per observation. No allocation, no locks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace propwatch::receiver {

// The `transport` label: how a request reached the tap.
enum class Transport : uint8_t { kGrpc = 0, kHttp = 1 };
inline constexpr int kNumTransports = 2;
std::string_view TransportName(Transport transport);  // "grpc", "http"

// The `result` label of a request. Values are stable array indices.
enum class RequestResult : uint8_t {
  kOk = 0,                // fully accepted
  kPartial,               // accepted, some spans rejected (invalid span context)
  kInvalid,               // undecodable body / corrupt compression (400, INVALID_ARGUMENT)
  kTooLarge,              // body over the limit, before or after decompression (413,
                          // RESOURCE_EXHAUSTED). gRPC: also any message gRPC refused
                          // before the handler saw it (in practice the size limit).
  kUnsupportedMediaType,  // Content-Type or Content-Encoding not supported (415)
  kMethodNotAllowed,      // not POST on an OTLP path (405)
  kOverloaded,            // in-flight limit hit (503 + Retry-After, UNAVAILABLE + RetryInfo)
  kNotFound,              // unknown HTTP path / unknown gRPC method (404, UNIMPLEMENTED)
  kInternal,              // a handler threw or failed unexpectedly (500, INTERNAL)
  kUpstreamUnavailable,   // in-line mode: ingested, but the upstream refused or timed out
                          // (503 + Retry-After, UNAVAILABLE + RetryInfo)
  kCount,                 // not a result: the number of results
};
inline constexpr int kNumRequestResults = static_cast<int>(RequestResult::kCount);
// Lowercase label value: "ok", "partial", "invalid", "too_large",
// "unsupported_media_type", "method_not_allowed", "overloaded", "not_found",
// "internal".
std::string_view RequestResultName(RequestResult result);

// Fixed-bucket histogram of request handling time, Prometheus style.
//
// Writers (Observe) update the +Inf count first, then the buckets from the
// largest bound down to the smallest that matches, with release increments;
// Read() loads them in the opposite order with acquire loads. A concurrent
// read is therefore always cumulative-monotonic
// (bucket[0] <= ... <= bucket[N-1] <= count), which histogram_quantile needs.
struct LatencyHistogram {
  static constexpr size_t kNumBuckets = 13;
  // Upper bounds (`le`), seconds.
  static constexpr std::array<double, kNumBuckets> kBucketBoundsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  // The same bounds in nanoseconds, compared against observations.
  static constexpr std::array<uint64_t, kNumBuckets> kBucketBoundsNanos = {
      500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,
      25'000'000,  50'000'000,  100'000'000,   250'000'000,   500'000'000,
      1'000'000'000, 2'500'000'000, 5'000'000'000};

  // cumulative[i]: observations <= kBucketBounds[i] (cumulative, as exported).
  std::array<std::atomic<uint64_t>, kNumBuckets> cumulative{};
  // All observations (the +Inf bucket and _count).
  std::atomic<uint64_t> count{0};
  // Sum of all observations in nanoseconds (_sum = sum_nanos / 1e9).
  std::atomic<uint64_t> sum_nanos{0};

  void Observe(uint64_t nanos);

  struct Values {
    std::array<uint64_t, kNumBuckets> cumulative{};
    uint64_t count = 0;
    uint64_t sum_nanos = 0;
  };
  // A monotonic read (see above).
  Values Read() const;
};

// Per-transport request accounting.
struct TransportStats {
  // Requests by result, indexed by RequestResult. Exactly one increment per
  // request that got a response (see the file comment for who counts).
  std::array<std::atomic<uint64_t>, kNumRequestResults> requests{};
  // Spans decoded with a valid span context and handed to the engine
  // (IngestPipeline).
  std::atomic<uint64_t> spans_received{0};
  // Spans rejected for an invalid span context (IngestPipeline); each is also
  // counted by the engine under its service and reason.
  std::atomic<uint64_t> spans_rejected{0};
  // Request body bytes as received: HTTP before Content-Encoding decoding,
  // gRPC the message before gzip decompression (gRPC framing not included).
  std::atomic<uint64_t> bytes_received{0};
  // Request body bytes after decompression (what the decoder saw, or would
  // have seen).
  std::atomic<uint64_t> bytes_decompressed{0};
  // Gauge: requests being handled now (from the request's arrival - headers
  // for HTTP, call start for gRPC - until its response is handed back).
  std::atomic<int64_t> inflight_requests{0};
  // Handling time: from the complete request body being available to the
  // response being handed to the transport (decompression, decoding and
  // engine ingest; not the client's upload time). Every counted request.
  LatencyHistogram request_duration;

  void Count(RequestResult result) {
    requests[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Requests(RequestResult result) const {
    return requests[static_cast<size_t>(result)].load(std::memory_order_relaxed);
  }
};

// HTTP connection-level health (HttpServer).
struct HttpConnectionStats {
  std::atomic<uint64_t> connections_accepted{0};
  // Gauge: open connections.
  std::atomic<int64_t> connections_active{0};
  // Connections closed because a read or write did not complete within its
  // timeout (slow or idle clients; an idle keep-alive connection closed by
  // its idle timeout is counted too).
  std::atomic<uint64_t> timeouts{0};
  // Requests rejected before routing: malformed HTTP (400) or headers over
  // the limit (431). The connection is closed after the response.
  std::atomic<uint64_t> protocol_errors{0};
  // Unexpected failures caught at the connection boundary (exceptions from
  // Beast/Asio or handlers, I/O errors other than timeouts and resets).
  std::atomic<uint64_t> connection_errors{0};
  // TLS handshakes that failed: plaintext sent to a TLS listener, a client
  // that rejects the certificate, or (mutual TLS) no or an untrusted client
  // certificate. The connection is closed.
  std::atomic<uint64_t> tls_errors{0};
};

struct ReceiverStats {
  TransportStats grpc;
  TransportStats http;
  HttpConnectionStats http_connections;

  TransportStats& For(Transport transport) {
    return transport == Transport::kGrpc ? grpc : http;
  }
  const TransportStats& For(Transport transport) const {
    return transport == Transport::kGrpc ? grpc : http;
  }
};

}  // namespace propwatch::receiver
