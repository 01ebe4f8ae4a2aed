// WindowRing: sliding windows over monotonic counters.
//
// The ring keeps the cumulative totals observed at each step boundary
// (engine start + k * resolution) for the last `steps` + 1 boundaries. The
// window value at `now` is total(now) - total(baseline boundary), where the
// baseline is the boundary `steps` steps before the current one (or the
// engine's start). The window therefore covers between window_length and
// window_length + resolution of receive-clock time, and reports exactly how
// much (so rates divide by the covered time, never a guess).
//
// Thread-compatible; the engine guards it with its own mutex.
// Memory: (steps + 1) x (services x sizeof(ServiceCounters) + edges x ~17 B).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "propwatch/snapshot.h"

namespace propwatch::detail {

class WindowRing {
 public:
  struct Sample {
    int64_t boundary = 0;  // k: the sample stands for time start + k * resolution
    std::vector<ServiceCounters> services;
    uint64_t distinct_trace_ids = 0;
    absl::flat_hash_map<uint64_t, uint64_t> edges;  // broken edges by EdgeMatcher::EdgeKey
  };

  WindowRing(int64_t start_ns, int64_t resolution_ns, int64_t steps);

  // The boundary index that `now_ns` falls after.
  int64_t BoundaryAt(int64_t now_ns) const;
  // True when BoundaryAt(now) has no sample yet.
  bool NeedsSample(int64_t now_ns) const;
  // Records the cumulative totals as of now for every boundary up to
  // BoundaryAt(now_ns) that has none. REQUIRES: the caller records on the
  // first call after each boundary, before counting anything newer; then the
  // totals now equal the totals at each of those boundaries.
  void Record(int64_t now_ns, const std::vector<ServiceCounters>& services,
              uint64_t distinct_trace_ids,
              const absl::flat_hash_map<uint64_t, uint64_t>& edges = {});
  // The sample to subtract for the window ending at now_ns, and the time it
  // stands for.
  const Sample& Baseline(int64_t now_ns, int64_t* baseline_time_ns) const;

 private:
  const int64_t start_ns_;
  const int64_t resolution_ns_;
  const int64_t steps_;
  std::deque<Sample> samples_;  // oldest first; front() is the baseline candidate
};

}  // namespace propwatch::detail
