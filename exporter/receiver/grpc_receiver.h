// GrpcReceiver: the OTLP/gRPC trace endpoint,
// /opentelemetry.proto.collector.trace.v1.TraceService/Export.
//
// Contract (OTLP spec, "OTLP/gRPC Response" and "Throttling"):
//   - The request arrives as raw bytes through gRPC's generic callback API
//     and goes straight to IngestPipeline (no generated-message parsing).
//   - OK with an empty ExportTraceServiceResponse when every span was
//     accepted (partial_success unset); OK with partial_success
//     {rejected_spans, error_message} when some spans had an invalid span
//     context (clients must not retry those).
//   - INVALID_ARGUMENT (not retryable) with the decoder's message when the
//     body does not decode.
//   - RESOURCE_EXHAUSTED without RetryInfo (not retryable) when the message
//     exceeds max_recv_message_bytes, as received (gRPC enforces it before
//     the handler; the handler checks again) or after gzip decompression.
//   - UNAVAILABLE (retryable) with a google.rpc.RetryInfo{retry_delay} detail
//     in grpc-status-details-bin when more than max_inflight_requests calls
//     are being handled, so clients back off.
//   - UNIMPLEMENTED for every other method.
//   - grpc-encoding gzip works; the handler inflates it itself, streaming and
//     stopping at max_recv_message_bytes, because gRPC 1.51 would inflate a
//     gzip bomb completely before checking its size. grpc-encoding deflate is
//     refused (UNIMPLEMENTED from gRPC; OTLP requires only gzip).
//
// Thread-safety: Start, port and Shutdown are for one controlling thread.
// Calls are handled concurrently on gRPC's callback threads.
//
// Cost: per call, one copy of the message when gRPC hands it over in several
// slices and one inflated copy when gzipped (both into reused per-thread
// buffers), the pipeline's decode + ingest, and a response of a few bytes.
// Handling runs on gRPC's callback threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "exporter/receiver/ingest_pipeline.h"
#include "exporter/receiver/receiver_stats.h"
#include "exporter/receiver/tls.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace propwatch::receiver {

inline constexpr std::string_view kOtlpTraceExportMethod =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

class GrpcReceiver {
 public:
  struct Options {
    // host:port; port 0 picks a free port (see port()).
    std::string listen_address = "127.0.0.1:4417";
    // Largest accepted request message, both as received and after gzip
    // decompression.
    size_t max_recv_message_bytes = size_t{16} << 20;
    // Calls handled at once; more are answered UNAVAILABLE + RetryInfo.
    uint32_t max_inflight_requests = 64;
    // retry_delay sent in RetryInfo when overloaded.
    absl::Duration retry_delay = absl::Seconds(1);
    // TLS when tls.cert_file is set, mutual TLS with tls.client_ca_file. The
    // files are checked at Start (a bad file is an InvalidArgument there) and
    // then watched: gRPC re-reads them when they change, every
    // tls_refresh_seconds, without a restart.
    TlsFiles tls;
    unsigned tls_refresh_seconds = 10;

    absl::Status Validate() const;
  };

  // `pipeline` and `stats` (nullable) must outlive the receiver.
  GrpcReceiver(IngestPipeline& pipeline, ReceiverStats* stats, const Options& options);
  // Shuts down immediately (in-flight calls cancelled) if still running.
  ~GrpcReceiver();
  GrpcReceiver(const GrpcReceiver&) = delete;
  GrpcReceiver& operator=(const GrpcReceiver&) = delete;

  // Binds and starts serving. InvalidArgument for bad options; Unavailable
  // naming the address when it cannot be bound; FailedPrecondition if
  // already started. Call at most once.
  absl::Status Start();

  // The bound port; 0 before a successful Start().
  int port() const { return port_; }

  // Stops accepting calls, lets in-flight calls finish until `deadline`, then
  // cancels the rest; returns when every call is done. Idempotent.
  void Shutdown(absl::Time deadline);

 private:
  class Service;  // the grpc::CallbackGenericService, in the .cc

  const Options options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace propwatch::receiver
