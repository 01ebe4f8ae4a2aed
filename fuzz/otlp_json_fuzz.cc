// libFuzzer target for the OTLP/JSON decoder and the JSON reader under it.
//
// Checks, besides memory safety: failure leaves no output; a decodable body
// is well-formed JSON to the reader on its own; every emitted span has a
// valid context; rejected counts add up; decoding is repeatable into the
// reused output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "exporter/otlp/json_reader.h"
#include "exporter/otlp/otlp_decoder.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* decoded = new propwatch::otlp::DecodedTraces();  // reused, as in production
  std::string_view body(reinterpret_cast<const char*>(data), size);

  propwatch::otlp::JsonReader reader(body);
  const bool well_formed = reader.SkipValue() && reader.ExpectEnd();
  Check(well_formed == reader.ok());

  absl::Status status = propwatch::otlp::DecodeTraceRequestJson(body, decoded);
  if (!status.ok()) {
    Check(status.code() == absl::StatusCode::kInvalidArgument);
    Check(decoded->spans().empty() && decoded->rejected().empty());
    return 0;
  }
  Check(well_formed);
  uint64_t rejected = 0;
  for (const auto& r : decoded->rejected()) {
    Check(r.count > 0);
    rejected += r.count;
  }
  Check(rejected == decoded->rejected_span_count());
  for (const propwatch::SpanRecord& span : decoded->spans()) {
    Check(!span.trace_id.IsZero() && !span.span_id.IsZero());
    for (const propwatch::SpanLink& link : span.links) {
      Check(!link.trace_id.IsZero() && !link.span_id.IsZero());
    }
  }

  const size_t spans = decoded->spans().size();
  Check(propwatch::otlp::DecodeTraceRequestJson(body, decoded).ok());
  Check(decoded->spans().size() == spans);
  return 0;
}
