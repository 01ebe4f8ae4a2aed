// Glob matching for entry-point service patterns: `*` matches any run of
// characters (including none), `?` exactly one; everything else literally.
// Pure function, thread-safe, O(pattern x text) worst case, no allocation.
#pragma once

#include <string_view>

namespace propwatch::detail {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace propwatch::detail
