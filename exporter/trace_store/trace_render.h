// Renders a StoredTrace as the assembled span tree, in JSON (the trace API)
// and as indented text (span dumps, the `propwatch trace` CLI).
//
// Tree rules: a span's children are the spans naming it as parent, ordered by
// start time then span id. Roots are spans with no parent and spans whose
// parent is not in the trace (shown with "parentResolved": false). Spans only
// reachable through a parent cycle are listed as extra roots so none is lost.
// Pure functions; thread-safe; O(n log n) in the trace's spans; iterative
// (no recursion on adversarial depth).
#pragma once

#include <string>

#include "exporter/trace_store/trace_store.h"

namespace propwatch::tap {

// {"traceId":..., "spanCount":N, "roots":K, "unresolvedParents":K,
//  "truncated":bool, "durationMs":first span start to last span end,
//  "services":[...], "spans":[{"spanId","parentSpanId","service","name",
//  "kind","status","startTimeUnixNano":"<decimal>","durationMs","links",
//  "parentResolved","depth"}...]} with spans in depth-first tree order.
std::string RenderTraceJson(const StoredTrace& trace);

// One line per span, indented by depth:
//   trace 0af7... spans=4 roots=1 unresolved_parents=0
//   - gateway "GET /checkout" server ok 12.300ms span=... parent=-
std::string RenderTraceText(const StoredTrace& trace);

}  // namespace propwatch::tap
