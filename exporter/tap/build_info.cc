#include "exporter/tap/build_info.h"

#include "propwatch/version.h"

#ifndef PROPWATCH_REVISION
#define PROPWATCH_REVISION "unknown"
#endif

namespace propwatch::tap {

std::string_view BuildVersion() { return PROPWATCH_VERSION_STRING; }
std::string_view BuildRevision() { return PROPWATCH_REVISION; }
std::string VersionLine() {
  return "propwatch " + std::string(BuildVersion()) + " (revision " +
         std::string(BuildRevision()) + ")";
}

}  // namespace propwatch::tap
