// Translates an engine Snapshot into the propwatch_* families of
// metric_defs.h: per-service counters, sliding-window gauges, service info and
// the engine's own health. Pure function of the snapshot; thread-safe.
// Cost: O(services x (kinds + reasons + destinations) + broken edges).
#pragma once

#include "exporter/metrics/family_builder.h"
#include "propwatch/snapshot.h"

namespace propwatch::metrics {

void AppendEngineMetrics(const Snapshot& snapshot, FamilyBuilder* out);

}  // namespace propwatch::metrics
