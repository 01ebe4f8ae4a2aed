#include "propwatch/finding.h"

namespace propwatch {

std::string_view FindingName(Finding finding) {
  switch (finding) {
    case Finding::kOrphan: return "orphan";
    case Finding::kBrokenParent: return "broken_parent";
    case Finding::kUnpairedOutbound: return "unpaired_outbound";
    case Finding::kExtractionFailure: return "extraction_failure";
    case Finding::kInvalidTraceparent: return "invalid_traceparent";
    case Finding::kBrokenEdge: return "broken_edge";
    case Finding::kCount: break;
  }
  return "unknown";
}

}  // namespace propwatch
