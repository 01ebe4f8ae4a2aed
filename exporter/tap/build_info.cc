#include "exporter/tap/build_info.h"

#include "exporter/tap/revision.h"  // generated at build time
#include "propwatch/version.h"

namespace propwatch::tap {

std::string_view BuildVersion() { return PROPWATCH_VERSION_STRING; }
std::string_view BuildRevision() { return PROPWATCH_REVISION; }
std::string VersionLine() {
  return "propwatch " + std::string(BuildVersion()) + " (revision " +
         std::string(BuildRevision()) + ")";
}

}  // namespace propwatch::tap
