// The trace API's bearer token: read from a file (the tap's
// --admin-bearer-token-file, the CLI's --bearer-token-file) and compared in
// constant time. Thread-safe, no state.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace propwatch::tap {

// The file's content without surrounding whitespace. InvalidArgument, naming
// `flag` and the path, when it cannot be read or holds no token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path, std::string_view flag);

// Equality whose time does not depend on where the strings differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace propwatch::tap
