// GET /api/v1/status and GET / (the status page): what an on-call needs at a
// glance, per service, over the sliding window (docs/status-page.md).
// Stateless helpers; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "propwatch/snapshot.h"

namespace propwatch::tap {

// {"time", "windowSeconds", "services": [{"service", "entryPoint",
//  "spansPerSecond", "traceStartsPerSecond", "spans", "orphans",
//  "orphanRate", "orphansByKind": {kind: n}, "brokenParents",
//  "brokenParentRate", "unpairedOutbound", "invalidTraceparents",
//  "extractionFailures", "lateSpans"}], "engine": {...}}: window counts
// (the last `windowSeconds`) and rates per second of them. O(services).
std::string RenderStatusJson(const Snapshot& snapshot);

// The status page: one self-contained HTML document (no external
// resources), compiled into the binary from exporter/tap/status_page.html.
std::string_view StatusPageHtml();

}  // namespace propwatch::tap
