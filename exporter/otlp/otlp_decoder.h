// OTLP trace request decoding: ExportTraceServiceRequest bytes (binary
// protobuf, or OTLP/JSON) -> propwatch::SpanRecord values for Engine::Ingest.
//
// Contract:
//   - Only the fields the engine needs are read; everything else is skipped
//     by wire type and length (protobuf) or as a whole value (JSON), so
//     unknown fields are ignored and skipped content is not validated.
//   - Per span: ids are checked with propwatch::CheckSpanContext. A span with
//     an invalid context is not emitted; it is counted in rejected() with its
//     service name and reason, and the other spans of the request are kept.
//   - A link whose ids are malformed (wrong length, all zero, bad hex) is
//     dropped; the span is kept.
//   - service_name: the first string-valued resource attribute
//     `service.name`; left empty when absent (the engine maps empty to
//     kUnknownService). destination: the first non-empty string value of
//     `peer.service`, else `server.address`, else
//     `messaging.destination.name`, wherever they are in the attribute list.
//     peer_service, server_address, messaging_destination: the first
//     non-empty string value of each of those attributes; server_port: the
//     last integer value of `server.port` if in 1..65535, else 0 (a value of
//     another type, or out of range, is ignored; the request is not failed).
//     captured_traceparents: every string of the span attribute
//     `http.request.header.traceparent` (a string, or an array of strings;
//     non-string elements are ignored).
//   - Malformed input (bad wire data / invalid JSON / a known JSON field of
//     the wrong type) fails the whole request with InvalidArgument and leaves
//     `out` empty: no partial output.
//   - Protobuf string fields are passed through as bytes (no UTF-8 check);
//     JSON strings are validated UTF-8.
//   - OTLP/JSON follows the OTLP spec (hex ids, case-insensitive; enums as
//     integers; 64-bit integers as strings or numbers; lowerCamelCase keys)
//     and is lenient where proto3 JSON parsers are: enum names
//     ("SPAN_KIND_SERVER") and original snake_case keys are accepted too,
//     and `null` means "field absent". Nesting deeper than 64 is rejected.
//
// Lifetime: the SpanRecords and RejectedSpans borrow from `body` (protobuf
// strings, and JSON strings without escapes) and from `*out` (links,
// traceparent lists, unescaped JSON strings). Both must outlive their use;
// the next decode into, or Clear() of, `out` invalidates them.
//
// Thread-safety: the decode functions are thread-safe for distinct `out`
// objects; DecodedTraces is thread-compatible.
//
// Cost: O(body size), no recursion beyond fixed message depth (JSON skipping
// recurses at most 64 levels). DecodedTraces keeps its buffers' capacity, so
// decoding similar requests repeatedly into one object allocates nothing per
// span once warmed up. Memory use is proportional to the body size (at most
// about 5x for a body of minimal spans, plus 1x for JSON with escapes), so
// bound the body size upstream (OTLP receivers cap requests at 4-20 MiB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "propwatch/span_record.h"

namespace propwatch::otlp {

namespace internal {
class TracesBuilder;
}  // namespace internal

// Spans with an invalid span context. Consecutive rejections from the same
// resource with the same reason are merged into one entry with a count, so a
// flood of malformed spans costs little memory.
struct RejectedSpan {
  std::string_view service_name;  // empty when the resource had none
  propwatch::SpanContextError error = propwatch::SpanContextError::kTraceIdLength;
  uint32_t count = 0;
};

// Reusable output of a decode. Clear() (and every decode, which starts with
// it) keeps the capacity of the internal buffers.
class DecodedTraces {
 public:
  DecodedTraces();
  ~DecodedTraces();
  DecodedTraces(const DecodedTraces&) = delete;
  DecodedTraces& operator=(const DecodedTraces&) = delete;
  DecodedTraces(DecodedTraces&&) noexcept;
  DecodedTraces& operator=(DecodedTraces&&) noexcept;

  // Valid spans, in request order.
  std::span<const propwatch::SpanRecord> spans() const { return spans_; }
  // Rejected spans, in request order (merged as described above).
  std::span<const RejectedSpan> rejected() const { return rejected_; }
  // Total number of rejected spans (sum of rejected()[i].count).
  uint64_t rejected_span_count() const { return rejected_span_count_; }

  void Clear();

  // Bytes currently reserved by the internal buffers; a caller that keeps
  // one DecodedTraces per thread can drop (reassign) it after an outsized
  // request to give the memory back.
  size_t CapacityBytes() const;

 private:
  friend class internal::TracesBuilder;

  // Where a span's links and traceparents live while decoding; the vectors
  // may still reallocate, so SpanRecord's spans are set only at the end.
  struct Extents {
    uint32_t link_begin;
    uint32_t link_count;
    uint32_t traceparent_begin;
    uint32_t traceparent_count;
  };

  std::vector<propwatch::SpanRecord> spans_;
  std::vector<Extents> extents_;
  std::vector<RejectedSpan> rejected_;
  std::vector<propwatch::SpanLink> links_;
  std::vector<std::string_view> traceparents_;
  uint64_t rejected_span_count_ = 0;
  // JSON unescaping target. Sized to the body up front (unescaping never
  // grows a string), so it never moves while views into it exist.
  std::unique_ptr<char[]> unescaped_;
  size_t unescaped_capacity_ = 0;
  size_t unescaped_used_ = 0;
};

// Decodes a binary protobuf ExportTraceServiceRequest (the OTLP/gRPC message
// and the OTLP/HTTP application/x-protobuf body).
absl::Status DecodeTraceRequestProto(std::string_view body, DecodedTraces* out);

// Decodes an OTLP/JSON ExportTraceServiceRequest (OTLP/HTTP
// application/json body).
absl::Status DecodeTraceRequestJson(std::string_view body, DecodedTraces* out);

}  // namespace propwatch::otlp
