// W3C Trace Context (https://www.w3.org/TR/trace-context/) header validation:
// `traceparent` and `tracestate`, following the spec's parsing rules exactly.
//
// traceparent = version "-" trace-id "-" parent-id "-" trace-flags
//   - version: 2 lowercase hex digits; "ff" is forbidden.
//   - version 00: exactly 55 characters; trace-id 32 lowercase hex not all
//     zero; parent-id 16 lowercase hex not all zero; trace-flags 2 lowercase hex.
//   - a higher (future) version: at least 55 characters; the version-00 fields
//     are parsed from the front, and after trace-flags the value must end or
//     continue with "-" (further fields are not interpreted).
// tracestate: at most 32 list-members, key and value grammar, no duplicate
// keys. A bad tracestate never invalidates a good traceparent: the two are
// validated independently and callers must keep them apart.
//
// Pure functions: thread-safe, no allocation, O(length of the input).
#pragma once

#include <cstdint>
#include <string_view>

#include "propwatch/export.h"
#include "propwatch/ids.h"

namespace propwatch {

// Why a traceparent value is rejected. A bounded set: these are the `reason`
// label values of propwatch_invalid_traceparent_total (see
// TraceparentErrorName).
enum class TraceparentError : uint8_t {
  kEmpty = 0,        // empty (after trimming optional whitespace)
  kLength,           // version 00 not exactly 55 chars; any version < 55 chars
  kVersion,          // version not 2 lowercase hex digits
  kVersionFf,        // version "ff" (forbidden)
  kDelimiter,        // a field is not followed by "-" where required
  kTraceIdFormat,    // trace-id not 32 lowercase hex digits
  kTraceIdZero,      // trace-id all zero
  kParentIdFormat,   // parent-id not 16 lowercase hex digits
  kParentIdZero,     // parent-id all zero
  kFlagsFormat,      // trace-flags not 2 lowercase hex digits
  kCount,            // not a reason: the number of reasons
};
inline constexpr int kNumTraceparentErrors = static_cast<int>(TraceparentError::kCount);

// Stable snake_case label value, e.g. "trace_id_zero".
PROPWATCH_EXPORT std::string_view TraceparentErrorName(TraceparentError error);

struct Traceparent {
  uint8_t version = 0;
  TraceId trace_id;
  SpanId parent_id;
  uint8_t flags = 0;
  bool sampled() const { return (flags & 0x01) != 0; }
};

struct TraceparentParse {
  bool ok = false;
  TraceparentError error = TraceparentError::kEmpty;  // meaningful iff !ok
  Traceparent value;                                  // meaningful iff ok
};

// Parses one `traceparent` header value. Leading and trailing optional
// whitespace (SP / HTAB, RFC 9110 OWS) is ignored, as an HTTP field value
// would have it stripped.
PROPWATCH_EXPORT TraceparentParse ParseTraceparent(std::string_view header);

// Why a tracestate value is rejected.
enum class TracestateError : uint8_t {
  kTooManyMembers = 0,  // more than 32 list-members
  kKeyFormat,           // key violates simple-key / multi-tenant-key grammar
  kValueFormat,         // value violates the value grammar
  kMissingEquals,       // list-member without "="
  kDuplicateKey,        // the same key twice
  kCount,
};
inline constexpr int kNumTracestateErrors = static_cast<int>(TracestateError::kCount);

PROPWATCH_EXPORT std::string_view TracestateErrorName(TracestateError error);

struct TracestateParse {
  bool ok = false;
  TracestateError error = TracestateError::kTooManyMembers;  // meaningful iff !ok
  int members = 0;  // list-members found (empty members are not counted)
};

// Validates one `tracestate` header value (a comma-separated list; empty
// list-members and OWS around members are allowed by the spec).
PROPWATCH_EXPORT TracestateParse ParseTracestate(std::string_view header);

}  // namespace propwatch
