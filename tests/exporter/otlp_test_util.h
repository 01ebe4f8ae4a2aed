// Test helpers for the OTLP decoders: request builders on the generated
// protobuf classes, an OTLP/JSON writer (reflection based, with knobs for the
// encodings a receiver must accept), raw wire-format helpers for payloads
// protobuf's serializer never emits, and a reference decoder written against
// the generated classes that the hand-written decoders are compared with.
#pragma once

#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "exporter/otlp/otlp_decoder.h"
#include "google/protobuf/message.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "propwatch/span_record.h"

namespace propwatch::otlp::test_util {

namespace pb {
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;
}  // namespace pb

// 16 / 8 distinct non-zero bytes derived from `seed`.
std::string TraceIdBytes(uint8_t seed);
std::string SpanIdBytes(uint8_t seed);
std::string Hex(std::string_view bytes);

pb::KeyValue* AddStringAttr(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs,
                            std::string_view key, std::string_view value);
pb::KeyValue* AddIntAttr(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs,
                         std::string_view key, int64_t value);
pb::KeyValue* AddStringArrayAttr(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs,
                                 std::string_view key, const std::vector<std::string>& values);

// Adds a ResourceSpans (with service.name unless empty) holding one
// ScopeSpans; returns the ScopeSpans to add spans to.
pb::ScopeSpans* AddResource(pb::ExportTraceServiceRequest* request, std::string_view service);
// Adds a span with valid ids derived from the seeds (parent 0 = root).
pb::Span* AddSpan(pb::ScopeSpans* scope, uint8_t trace_seed, uint8_t span_seed,
                  uint8_t parent_seed = 0);

struct JsonOptions {
  bool snake_case_keys = false;  // original field names instead of lowerCamelCase
  bool enum_names = false;       // "SPAN_KIND_SERVER" instead of 2
  bool int64_as_numbers = false; // 123 instead of "123"
  bool uppercase_hex = false;    // ids as "ABCD..." instead of "abcd..."
  bool escape_everything = false;  // every character of every string as \uXXXX
  bool whitespace = false;       // spaces and newlines between tokens
};

// Writes `message` in the OTLP/JSON encoding (hex ids, integer enums, 64-bit
// integers as strings), modulated by `options`. Unknown fields are dropped.
std::string ToOtlpJson(const google::protobuf::Message& message, const JsonOptions& options = {});

// Owned, comparable copies of decoder output.
struct OwnedSpan {
  propwatch::TraceId trace_id;
  propwatch::SpanId span_id;
  propwatch::SpanId parent_span_id;
  std::string service_name;
  std::string name;
  propwatch::SpanKind kind = propwatch::SpanKind::kUnspecified;
  propwatch::StatusCode status = propwatch::StatusCode::kUnset;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  std::vector<std::pair<propwatch::TraceId, propwatch::SpanId>> links;
  std::vector<std::string> traceparents;
  std::string destination;
  std::string peer_service, server_address, messaging_destination;
  uint32_t server_port = 0;
  friend bool operator==(const OwnedSpan&, const OwnedSpan&) = default;
};
struct OwnedRejected {
  std::string service_name;
  propwatch::SpanContextError error = propwatch::SpanContextError::kTraceIdLength;
  uint32_t count = 0;
  friend bool operator==(const OwnedRejected&, const OwnedRejected&) = default;
};
struct OwnedResult {
  std::vector<OwnedSpan> spans;
  std::vector<OwnedRejected> rejected;
  uint64_t rejected_span_count = 0;
  friend bool operator==(const OwnedResult&, const OwnedResult&) = default;
};
void PrintTo(const OwnedSpan& span, std::ostream* os);
void PrintTo(const OwnedRejected& rejected, std::ostream* os);
void PrintTo(const OwnedResult& result, std::ostream* os);

OwnedResult Own(const DecodedTraces& decoded);

// The decoding rules of otlp_decoder.h, implemented independently on the
// generated classes (after protobuf's own parse, merge and oneof handling).
OwnedResult ReferenceDecode(const pb::ExportTraceServiceRequest& request);

// A request exercising ids (valid and not), kinds (incl. unknown values),
// statuses, links (good and bad), every attribute shape the decoder looks at
// plus noise, events, scopes, dropped counts and flags. Strings are valid
// UTF-8 with characters that need JSON escaping.
pb::ExportTraceServiceRequest RandomRequest(std::mt19937_64& rng);

// Raw wire-format building blocks.
namespace wire {
std::string Varint(uint64_t value);
std::string Tag(uint32_t field, uint32_t wire_type);
std::string Len(uint32_t field, std::string_view payload);
std::string VarintField(uint32_t field, uint64_t value);
std::string Fixed64Field(uint32_t field, uint64_t value);
std::string Fixed32Field(uint32_t field, uint32_t value);
}  // namespace wire

}  // namespace propwatch::otlp::test_util
