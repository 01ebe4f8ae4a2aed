#include "propwatch/version.h"

namespace propwatch {

VersionInfo Version() {
  return {PROPWATCH_VERSION_MAJOR, PROPWATCH_VERSION_MINOR, PROPWATCH_VERSION_PATCH};
}

const char* VersionString() { return PROPWATCH_VERSION_STRING; }

}  // namespace propwatch
