// A trace id as people type it (CLI arguments, the trace API's URL): 32 hex
// digits in either case, not all zero. (W3C headers are stricter: lowercase
// only, ParseTraceparent.) Pure function, O(1).
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "propwatch/ids.h"

namespace propwatch::tap {

inline std::optional<TraceId> ParseTraceIdArg(std::string_view hex) {
  std::string lower(hex);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::optional<TraceId> id = TraceId::FromLowerHex(lower);
  if (!id || id->IsZero()) return std::nullopt;
  return id;
}

}  // namespace propwatch::tap
