// OtlpHttpHandler: the OTLP/HTTP trace endpoint (POST /v1/traces) on an
// HttpServer.
//
// Contract (OTLP spec, "OTLP/HTTP Request/Response/Throttling"):
//   - Content-Type application/x-protobuf or application/json (parameters
//     such as charset ignored; case-insensitive); anything else: 415.
//   - Only POST: anything else is 405 with `Allow: POST`.
//   - Content-Encoding gzip or identity/absent; others: 415 (RFC 9110 15.5.16:
//     unsupported content coding). Decompression is bounded (HttpServer).
//   - Success: 200 with an ExportTraceServiceResponse in the request's
//     encoding: empty message / `{}` when every span was accepted
//     (partial_success unset); partial_success {rejected_spans,
//     error_message} when some spans had an invalid span context (JSON:
//     {"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}}, int64 as
//     a string). Clients must not retry a partial success.
//   - Every 4xx/5xx body is a google.rpc.Status (binary protobuf, or JSON
//     when the request was application/json) carrying the message:
//     400 undecodable body or corrupt gzip (not retryable), 413 body over
//     max_body_bytes before or after decompression (not retryable), 503 +
//     Retry-After (and a RetryInfo detail) when more than
//     max_inflight_requests requests are in flight (retryable: 429, 502, 503,
//     504 are OTLP's retryable codes).
//   - Counts method_not_allowed and unsupported_media_type (Content-Type)
//     into stats->http; the pipeline and the server count the rest.
//
// Thread-safety: Handle and Error are thread-safe (the handler holds no
// mutable state besides what IngestPipeline and the atomics guard).
//
// Cost: the pipeline's decode + ingest plus a response of a few bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "exporter/receiver/http_server.h"
#include "exporter/receiver/ingest_pipeline.h"
#include "exporter/receiver/receiver_stats.h"

namespace propwatch::receiver {

class OtlpHttpHandler {
 public:
  struct Options {
    std::string path = "/v1/traces";
    // Request body limit, compressed and decompressed (OTLP recommends 20 MiB).
    size_t max_body_bytes = size_t{20} << 20;
    // Requests in flight at once (head received .. response ready).
    uint32_t max_inflight_requests = 64;
    // Retry-After (and RetryInfo) on 503.
    absl::Duration retry_after = absl::Seconds(1);
  };

  // `pipeline` and `stats` (nullable) must outlive the handler.
  OtlpHttpHandler(IngestPipeline& pipeline, ReceiverStats* stats, const Options& options);
  OtlpHttpHandler(const OtlpHttpHandler&) = delete;
  OtlpHttpHandler& operator=(const OtlpHttpHandler&) = delete;

  // Registers options.path on `server` (before server.Start()). The handler
  // must outlive the server's serving (until HttpServer::Stop returns).
  absl::Status Register(HttpServer& server);

  // The route handler.
  HttpResponse Handle(const HttpRequest& request);

  // A google.rpc.Status error response in the request's encoding; also the
  // route's error responder for errors the server generates.
  HttpResponse Error(const HttpRequest& request, int status, std::string_view message) const;

 private:
  IngestPipeline& pipeline_;
  TransportStats* const stats_;
  const Options options_;
};

}  // namespace propwatch::receiver
