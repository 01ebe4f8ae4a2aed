// Which build this binary is: the release version (the engine's, one number
// for the project: docs/versioning.md) and the source revision it was built
// from. Served as `propwatch --version` and propwatch_build_info. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace propwatch::tap {

std::string_view BuildVersion();
// The git commit built (12 hex digits, "-dirty" with uncommitted changes),
// or what -DPROPWATCH_REVISION said (packages built from a tarball), or
// "unknown".
std::string_view BuildRevision();
// "propwatch 0.2.0 (revision 6094a81c3f0e)".
std::string VersionLine();

}  // namespace propwatch::tap
