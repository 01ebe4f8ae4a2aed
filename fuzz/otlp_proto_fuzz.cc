// libFuzzer target for the hand-written OTLP protobuf decoder.
//
// Beyond "no crash / no sanitizer report" it checks the decoder's contract:
// failure leaves no output; every emitted span has a valid context; every
// string points into the input; rejected counts add up; and decoding again
// into the reused output gives the same result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "exporter/otlp/otlp_decoder.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

bool Inside(std::string_view body, std::string_view v) {
  return v.empty() || (v.data() >= body.data() && v.data() + v.size() <= body.data() + body.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* decoded = new propwatch::otlp::DecodedTraces();  // reused, as in production
  std::string_view body(reinterpret_cast<const char*>(data), size);

  absl::Status status = propwatch::otlp::DecodeTraceRequestProto(body, decoded);
  if (!status.ok()) {
    Check(status.code() == absl::StatusCode::kInvalidArgument);
    Check(decoded->spans().empty() && decoded->rejected().empty());
    Check(decoded->rejected_span_count() == 0);
    return 0;
  }
  uint64_t rejected = 0;
  for (const auto& r : decoded->rejected()) {
    Check(r.count > 0 && Inside(body, r.service_name));
    rejected += r.count;
  }
  Check(rejected == decoded->rejected_span_count());
  for (const propwatch::SpanRecord& span : decoded->spans()) {
    Check(!span.trace_id.IsZero() && !span.span_id.IsZero());
    Check(Inside(body, span.service_name) && Inside(body, span.name) &&
          Inside(body, span.destination));
    for (std::string_view tp : span.captured_traceparents) Check(Inside(body, tp));
    for (const propwatch::SpanLink& link : span.links) {
      Check(!link.trace_id.IsZero() && !link.span_id.IsZero());
    }
  }

  const size_t spans = decoded->spans().size();
  const uint64_t rejected_total = decoded->rejected_span_count();
  Check(propwatch::otlp::DecodeTraceRequestProto(body, decoded).ok());
  Check(decoded->spans().size() == spans && decoded->rejected_span_count() == rejected_total);
  return 0;
}
