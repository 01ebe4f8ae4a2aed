#include "exporter/receiver/otlp_response.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "exporter/text/text.h"

namespace propwatch::receiver {
namespace {

// Protobuf wire types.
constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendTag(std::string* out, uint32_t field, uint32_t wire_type) {
  AppendVarint(out, (uint64_t{field} << 3) | wire_type);
}

void AppendBytesField(std::string* out, uint32_t field, std::string_view bytes) {
  AppendTag(out, field, kLengthDelimited);
  AppendVarint(out, bytes.size());
  out->append(bytes);
}

// proto3: zero scalars are not written. Negative int32/int64 are 10-byte
// two's complement varints.
void AppendIntField(std::string* out, uint32_t field, int64_t value) {
  if (value == 0) return;
  AppendTag(out, field, kVarint);
  AppendVarint(out, static_cast<uint64_t>(value));
}

using text::AppendJsonString;

// google.protobuf.Duration JSON form: seconds with 0, 3, 6 or 9 fractional
// digits and an "s" suffix, e.g. "1s", "0.500s".
std::string DurationJson(absl::Duration d) {
  const int64_t nanos_total = absl::ToInt64Nanoseconds(d);
  const int64_t seconds = nanos_total / 1'000'000'000;
  int64_t nanos = nanos_total % 1'000'000'000;
  std::string out = nanos_total < 0 && seconds == 0 ? "-" : "";
  absl::StrAppend(&out, seconds);
  if (nanos != 0) {
    if (nanos < 0) nanos = -nanos;
    char buf[16];
    if (nanos % 1'000'000 == 0) {
      std::snprintf(buf, sizeof(buf), ".%03lld", static_cast<long long>(nanos / 1'000'000));
    } else if (nanos % 1'000 == 0) {
      std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(nanos / 1'000));
    } else {
      std::snprintf(buf, sizeof(buf), ".%09lld", static_cast<long long>(nanos));
    }
    out.append(buf);
  }
  out.push_back('s');
  return out;
}

}  // namespace


std::string EncodeExportTraceResponseProto(int64_t rejected_spans,
                                           std::string_view error_message) {
  std::string out;
  if (rejected_spans == 0 && error_message.empty()) return out;
  std::string partial;
  AppendIntField(&partial, 1, rejected_spans);
  if (!error_message.empty()) AppendBytesField(&partial, 2, ToValidUtf8(error_message));
  // An empty sub-message still marks partial_success as present.
  AppendBytesField(&out, 1, partial);
  return out;
}

std::string EncodeExportTraceResponseJson(int64_t rejected_spans,
                                          std::string_view error_message) {
  if (rejected_spans == 0 && error_message.empty()) return "{}";
  std::string out = "{\"partialSuccess\":{";
  bool comma = false;
  if (rejected_spans != 0) {
    absl::StrAppend(&out, "\"rejectedSpans\":\"", rejected_spans, "\"");
    comma = true;
  }
  if (!error_message.empty()) {
    out.append(comma ? ",\"errorMessage\":" : "\"errorMessage\":");
    AppendJsonString(&out, error_message);
  }
  out.append("}}");
  return out;
}

std::string EncodeStatusProto(int32_t code, std::string_view message,
                              std::optional<absl::Duration> retry_delay) {
  std::string out;
  AppendIntField(&out, 1, code);
  if (!message.empty()) AppendBytesField(&out, 2, ToValidUtf8(message));
  if (retry_delay.has_value()) {
    const int64_t nanos_total = absl::ToInt64Nanoseconds(*retry_delay);
    std::string duration;  // google.protobuf.Duration {1: seconds, 2: nanos}
    AppendIntField(&duration, 1, nanos_total / 1'000'000'000);
    AppendIntField(&duration, 2, nanos_total % 1'000'000'000);
    std::string retry_info;  // google.rpc.RetryInfo {1: retry_delay}
    AppendBytesField(&retry_info, 1, duration);
    std::string any;  // google.protobuf.Any {1: type_url, 2: value}
    AppendBytesField(&any, 1, kRetryInfoTypeUrl);
    AppendBytesField(&any, 2, retry_info);
    AppendBytesField(&out, 3, any);
  }
  return out;
}

std::string EncodeStatusJson(int32_t code, std::string_view message,
                             std::optional<absl::Duration> retry_delay) {
  std::string out = "{";
  bool comma = false;
  if (code != 0) {
    absl::StrAppend(&out, "\"code\":", code);
    comma = true;
  }
  if (!message.empty()) {
    out.append(comma ? ",\"message\":" : "\"message\":");
    AppendJsonString(&out, message);
    comma = true;
  }
  if (retry_delay.has_value()) {
    absl::StrAppend(&out, comma ? "," : "", "\"details\":[{\"@type\":\"",
                    absl::string_view(kRetryInfoTypeUrl.data(), kRetryInfoTypeUrl.size()),
                    "\",\"retryDelay\":\"", DurationJson(*retry_delay), "\"}]");
  }
  out.push_back('}');
  return out;
}

}  // namespace propwatch::receiver
