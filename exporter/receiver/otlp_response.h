// Hand-written encoders for the few small messages the OTLP receivers send
// back, in binary protobuf and in proto3 JSON (OTLP/JSON rules):
//   - opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse
//     { 1: ExportTracePartialSuccess partial_success
//         { 1: int64 rejected_spans; 2: string error_message } }
//   - google.rpc.Status { 1: int32 code; 2: string message; 3: repeated Any details }
//     with an optional google.rpc.RetryInfo { 1: Duration retry_delay } detail.
// Writing them by hand keeps generated message classes off the hot path.
//
// Contract: output is a valid serialization of the message. Messages are
// coerced to valid UTF-8 (invalid bytes become U+FFFD) since proto3 `string`
// fields must be UTF-8 and strict clients refuse anything else.
//
// Thread-safety: pure functions. Cost: O(message length), one allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

#include "exporter/text/text.h"

namespace propwatch::receiver {

// gRPC status codes used in google.rpc.Status.code (grpc/status.h numbering).
inline constexpr int32_t kRpcInvalidArgument = 3;
inline constexpr int32_t kRpcResourceExhausted = 8;
inline constexpr int32_t kRpcUnimplemented = 12;
inline constexpr int32_t kRpcInternal = 13;
inline constexpr int32_t kRpcUnavailable = 14;

inline constexpr std::string_view kRetryInfoTypeUrl = "type.googleapis.com/google.rpc.RetryInfo";

// ExportTraceServiceResponse. partial_success is set iff rejected_spans != 0
// or error_message is non-empty (the OTLP spec requires it unset on full
// success, so full success is the empty message).
std::string EncodeExportTraceResponseProto(int64_t rejected_spans, std::string_view error_message);
// The same in OTLP/JSON: `{}` on full success, else
// {"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}} (int64 as a
// decimal string, default values omitted, per the proto3 JSON mapping).
std::string EncodeExportTraceResponseJson(int64_t rejected_spans, std::string_view error_message);

// google.rpc.Status, with a RetryInfo detail when `retry_delay` is given.
std::string EncodeStatusProto(int32_t code, std::string_view message,
                              std::optional<absl::Duration> retry_delay = std::nullopt);
// {"code":3,"message":"...","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo",
// "retryDelay":"1s"}]}
std::string EncodeStatusJson(int32_t code, std::string_view message,
                             std::optional<absl::Duration> retry_delay = std::nullopt);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD.
using text::ToValidUtf8;

}  // namespace propwatch::receiver
