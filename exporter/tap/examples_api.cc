#include "exporter/tap/examples_api.h"

#include <chrono>
#include <cstdio>

#include "exporter/text/text.h"

namespace propwatch::tap {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> QueryParam(std::string_view query, std::string_view name,
                                      bool* malformed) {
  if (malformed) *malformed = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value && malformed) *malformed = true;
    return value;
  }
  return std::nullopt;
}

std::optional<Finding> ParseFinding(std::string_view name) {
  for (int f = 0; f < kNumFindings; ++f) {
    if (FindingName(static_cast<Finding>(f)) == name) return static_cast<Finding>(f);
  }
  return std::nullopt;
}

std::string RenderExamplesJson(const std::vector<FindingExample>& examples, Timestamp now) {
  std::string body = "{\"examples\":[";
  for (size_t i = 0; i < examples.size(); ++i) {
    const FindingExample& x = examples[i];
    const std::string trace_id = x.trace_id.ToHex();
    const double age = std::chrono::duration<double>(now - x.seen).count();
    char age_text[32];
    std::snprintf(age_text, sizeof(age_text), "%.3f", age < 0 ? 0.0 : age);
    if (i) body += ',';
    body += "\n{\"service\":";
    text::AppendJsonString(&body, x.service);
    body += ",\"finding\":\"";
    body += FindingName(x.finding);
    body += "\",\"spanKind\":\"";
    body += SpanKindName(x.span_kind);
    body += "\",\"traceId\":\"" + trace_id + "\",\"spanId\":\"" + x.span_id.ToHex() +
            "\",\"seenUnixNano\":" + std::to_string(x.seen.time_since_epoch().count()) +
            ",\"ageSeconds\":" + age_text + ",\"trace\":\"/api/v1/traces/" + trace_id + "\"";
    if (x.finding == Finding::kBrokenEdge) {
      // The caller side of the edge: the paired CLIENT/PRODUCER span, in
      // another trace; empty ids and no link when the caller is unknown.
      const bool paired = !x.caller_trace_id.IsZero();
      const std::string caller_trace = paired ? x.caller_trace_id.ToHex() : std::string();
      body += ",\"callerService\":";
      text::AppendJsonString(&body, x.caller_service);
      body += ",\"callerTraceId\":\"" + caller_trace + "\",\"callerSpanId\":\"" +
              (paired && !x.caller_span_id.IsZero() ? x.caller_span_id.ToHex() : std::string()) +
              "\",\"callerTrace\":\"" +
              (paired ? "/api/v1/traces/" + caller_trace : std::string()) + "\"";
    }
    body += '}';
  }
  body += "]}\n";
  return body;
}

}  // namespace propwatch::tap
