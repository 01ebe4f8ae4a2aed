// IngestPipeline: transport-agnostic OTLP trace ingest. One call per export
// request: decode the body, hand valid spans to the engine and the optional
// SpanObserver, count rejected span contexts, update ReceiverStats, and say
// how to answer the client.
//
// Contract:
//   - kOk: every span had a valid span context (an empty request is kOk).
//   - kPartial: the body decoded but some spans had an invalid span context;
//     they were counted with Engine::RecordInvalidSpanContext (once per span)
//     and the rest were ingested. `message` summarises the reasons, e.g.
//     "2 spans rejected: trace_id_length (1), span_id_zero (1)".
//   - kInvalid: the body did not decode; nothing was ingested and `message`
//     is the decoder's error.
//   - Counts into stats->For(transport): requests[ok|partial|invalid],
//     spans_received, spans_rejected. Nothing else (bytes, latency and other
//     results belong to the transport).
//
// Ownership: holds references only; `engine`, `stats` and `observer` must
// outlive the pipeline.
//
// Thread-safety: Ingest is thread-safe and may run on any number of threads
// at once. Each thread decodes into its own reusable buffers (thread_local),
// so Ingest must not be re-entered from SpanObserver::OnSpans.
//
// Cost: O(body size) decode + Engine::Ingest + OnSpans. No allocation per
// span once a thread's buffers are warm; a thread's buffers are released
// after a request that grew them beyond Options::max_retained_decode_bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "exporter/receiver/forwarder.h"
#include "exporter/receiver/receiver_stats.h"
#include "exporter/receiver/span_observer.h"
#include "propwatch/engine.h"

namespace propwatch::receiver {

// Wire protocol of a request body.
enum class Protocol : uint8_t {
  kGrpc,          // OTLP/gRPC: binary protobuf message
  kHttpProtobuf,  // OTLP/HTTP application/x-protobuf
  kHttpJson,      // OTLP/HTTP application/json
};
Transport TransportOf(Protocol protocol);

class IngestPipeline {
 public:
  struct Options {
    // A thread's decode buffers are dropped (memory returned) after a request
    // that left them larger than this.
    size_t max_retained_decode_bytes = size_t{16} << 20;
    // In-line mode: after ingesting, forward the request (protobuf only) to
    // this upstream. Not owned; must outlive the pipeline. Null: off.
    Forwarder* forwarder = nullptr;
  };

  struct Result {
    // kUpstreamUnavailable: decoded and ingested, but in-line forwarding
    // failed; answer with a retryable status so no data is lost downstream.
    enum class Kind : uint8_t { kOk, kPartial, kInvalid, kUpstreamUnavailable };
    Kind kind = Kind::kOk;
    // Spans with a valid context, handed to the engine.
    uint64_t accepted_spans = 0;
    // Spans rejected for an invalid span context (kPartial only).
    uint64_t rejected_spans = 0;
    // Empty for kOk; the rejection summary for kPartial; the decode error for
    // kInvalid.
    std::string message;

    bool ok() const { return kind == Kind::kOk; }
  };

  // `stats` and `observer` may be null.
  explicit IngestPipeline(Engine& engine, ReceiverStats* stats = nullptr,
                          SpanObserver* observer = nullptr);
  IngestPipeline(Engine& engine, ReceiverStats* stats, SpanObserver* observer,
                 const Options& options);
  IngestPipeline(const IngestPipeline&) = delete;
  IngestPipeline& operator=(const IngestPipeline&) = delete;

  // `body` is the complete, already decompressed ExportTraceServiceRequest
  // (binary protobuf for kGrpc / kHttpProtobuf, OTLP/JSON for kHttpJson).
  Result Ingest(Protocol protocol, std::string_view body);

  // True in in-line mode: then only protobuf bodies can be accepted (they
  // are forwarded as they are); transports refuse OTLP/JSON up front.
  bool forwards() const { return options_.forwarder != nullptr; }

 private:
  Engine& engine_;
  ReceiverStats* const stats_;
  SpanObserver* const observer_;
  const Options options_;
};

}  // namespace propwatch::receiver
