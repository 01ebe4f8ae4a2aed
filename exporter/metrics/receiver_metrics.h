// Translates the receivers' own health (ReceiverStats) and the trace API
// store's stats into propwatch_receiver_* / propwatch_trace_store_* families.
// Reads atomics; thread-safe. O(transports x results).
#pragma once

#include "exporter/metrics/family_builder.h"
#include "exporter/receiver/receiver_stats.h"
#include "exporter/trace_store/trace_store.h"

namespace propwatch::metrics {

void AppendReceiverMetrics(const receiver::ReceiverStats& stats, FamilyBuilder* out);
void AppendTraceStoreMetrics(const tap::TraceStoreStats& stats, FamilyBuilder* out);

}  // namespace propwatch::metrics
