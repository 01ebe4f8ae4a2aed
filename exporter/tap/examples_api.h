// GET /api/v1/examples: the engine's finding examples as JSON, so a runbook
// or a page can link straight to a trace that shows the problem
// (docs/trace-api.md). Stateless helpers; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "propwatch/finding.h"

namespace propwatch::tap {

// GET /api/v1/examples answers at most this many examples unless `limit=`
// asks for more, up to kMaxExampleLimit.
inline constexpr size_t kDefaultExampleLimit = 1000;
inline constexpr size_t kMaxExampleLimit = 100000;

// The value of `name` in a URL query ("a=1&b=x%20y"), percent-decoded ('+'
// is a space); nullopt when absent, or badly encoded (then *malformed is set
// when given). O(query).
std::optional<std::string> QueryParam(std::string_view query, std::string_view name,
                                      bool* malformed = nullptr);

// The finding called `name` (FindingName), or nullopt.
std::optional<Finding> ParseFinding(std::string_view name);

// {"examples":[{"service", "finding", "spanKind", "traceId", "spanId",
// "seenUnixNano", "ageSeconds", "trace"}, ...]} in the given order; ages are
// measured from `now`. A broken_edge example also has "callerService",
// "callerTraceId", "callerSpanId" and "callerTrace" (the caller's trace
// path); the ids and the path are "" when the caller is unknown. Other
// findings have none of the four. O(examples).
std::string RenderExamplesJson(const std::vector<FindingExample>& examples, Timestamp now);

}  // namespace propwatch::tap
