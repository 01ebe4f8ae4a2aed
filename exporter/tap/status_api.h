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
//  "extractionFailures", "lateSpans"}], "brokenEdges": [{"caller",
//  "callee", "boundary", "window", "total"}], "engine": {"liveTraces",
//  "servicesTracked", "traceEvictionsTotal", "distinctTraceIdsPerSecond",
//  "edgeOrphansPending", "edgeOutboundCandidates", "edgeSeries",
//  "edgeOrphansEvictedTotal", "edgeOutboundEvictedTotal",
//  "edgeSeriesOverflowTotal"}}: window counts (the last `windowSeconds`)
// and rates per second of them; "time" is the engine clock in Unix ns.
// "brokenEdges" are Snapshot::broken_edges in their order (window count,
// then total, descending; "caller" is "unknown" when no outbound span was
// paired, "boundary" "http" or "messaging"); "*Total" are counters since
// start, the other engine figures gauges. O(services + edge series).
std::string RenderStatusJson(const Snapshot& snapshot);

// The status page, compiled into the binary: the HTML document
// (exporter/tap/status_page.html, served as /) and its script
// (status_page.js, served as /status.js). Nothing else is loaded.
std::string_view StatusPageHtml();
std::string_view StatusPageScript();

// The Content-Security-Policy both are served with: scripts only from this
// listener (no inline script), requests only to it, no images (so no
// favicon request either), no frames.
inline constexpr std::string_view kStatusPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace propwatch::tap
