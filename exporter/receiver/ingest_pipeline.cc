#include "exporter/receiver/ingest_pipeline.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "exporter/otlp/otlp_decoder.h"

namespace propwatch::receiver {
namespace {

// "2 spans rejected: trace_id_length (1), span_id_zero (1)". Reasons in enum
// order so the message is stable for equal inputs.
std::string RejectionMessage(const std::array<uint64_t, kNumSpanContextErrors>& by_reason,
                             uint64_t engine_rejected, uint64_t total) {
  std::string message =
      absl::StrCat(total, total == 1 ? " span rejected: " : " spans rejected: ");
  bool first = true;
  auto append = [&](std::string_view reason, uint64_t n) {
    absl::StrAppend(&message, first ? "" : ", ", absl::string_view(reason.data(), reason.size()),
                    " (", n, ")");
    first = false;
  };
  for (int i = 0; i < kNumSpanContextErrors; ++i) {
    if (by_reason[i] != 0) {
      append(SpanContextErrorName(static_cast<SpanContextError>(i)), by_reason[i]);
    }
  }
  // The decoder already rejects zero ids, so this is a safety net only.
  if (engine_rejected != 0) append("invalid_span_context", engine_rejected);
  return message;
}

}  // namespace

Transport TransportOf(Protocol protocol) {
  return protocol == Protocol::kGrpc ? Transport::kGrpc : Transport::kHttp;
}

IngestPipeline::IngestPipeline(Engine& engine, ReceiverStats* stats, SpanObserver* observer)
    : IngestPipeline(engine, stats, observer, Options()) {}

IngestPipeline::IngestPipeline(Engine& engine, ReceiverStats* stats, SpanObserver* observer,
                               const Options& options)
    : engine_(engine), stats_(stats), observer_(observer), options_(options) {}

IngestPipeline::Result IngestPipeline::Ingest(Protocol protocol, std::string_view body) {
  // One decode target per thread: reused across requests so the steady state
  // allocates nothing per span, and never shared, so no locking.
  thread_local otlp::DecodedTraces decoded;

  TransportStats* const stats = stats_ != nullptr ? &stats_->For(TransportOf(protocol)) : nullptr;
  const absl::Status status = protocol == Protocol::kHttpJson
                                  ? otlp::DecodeTraceRequestJson(body, &decoded)
                                  : otlp::DecodeTraceRequestProto(body, &decoded);
  Result result;
  if (!status.ok()) {
    result.kind = Result::Kind::kInvalid;
    result.message = std::string(status.message());
    if (stats != nullptr) stats->Count(RequestResult::kInvalid);
  } else {
    std::array<uint64_t, kNumSpanContextErrors> by_reason{};
    for (const otlp::RejectedSpan& rejected : decoded.rejected()) {
      engine_.RecordInvalidSpanContext(rejected.service_name, rejected.error, rejected.count);
      by_reason[static_cast<int>(rejected.error)] += rejected.count;
    }
    const std::span<const SpanRecord> spans = decoded.spans();
    uint64_t engine_rejected = 0;
    if (!spans.empty()) {
      engine_rejected = engine_.Ingest(spans).rejected;
      if (observer_ != nullptr) observer_->OnSpans(spans);
    }
    result.accepted_spans = spans.size() - engine_rejected;
    result.rejected_spans = decoded.rejected_span_count() + engine_rejected;
    if (result.rejected_spans != 0) {
      result.kind = Result::Kind::kPartial;
      result.message = RejectionMessage(by_reason, engine_rejected, result.rejected_spans);
    }
    if (options_.forwarder != nullptr && protocol != Protocol::kHttpJson) {
      if (absl::Status forwarded = options_.forwarder->Forward(body); !forwarded.ok()) {
        result.kind = Result::Kind::kUpstreamUnavailable;
        result.message = std::string(forwarded.message());
      }
    }
    if (stats != nullptr) {
      stats->Count(result.kind == Result::Kind::kOk        ? RequestResult::kOk
                   : result.kind == Result::Kind::kPartial ? RequestResult::kPartial
                                                           : RequestResult::kUpstreamUnavailable);
      stats->spans_received.fetch_add(result.accepted_spans, std::memory_order_relaxed);
      stats->spans_rejected.fetch_add(result.rejected_spans, std::memory_order_relaxed);
    }
  }
  // The records borrow from `body`; drop them now rather than leave dangling
  // views behind, and give back memory an outsized request made us keep.
  if (decoded.CapacityBytes() > options_.max_retained_decode_bytes) {
    decoded = otlp::DecodedTraces();
  } else {
    decoded.Clear();
  }
  return result;
}

}  // namespace propwatch::receiver
