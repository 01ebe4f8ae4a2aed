#include "window.h"

#include <algorithm>

namespace propwatch::detail {

WindowRing::WindowRing(int64_t start_ns, int64_t resolution_ns, int64_t steps)
    : start_ns_(start_ns), resolution_ns_(resolution_ns), steps_(steps) {
  samples_.push_back(Sample{});  // boundary 0: everything is zero at start
}

int64_t WindowRing::BoundaryAt(int64_t now_ns) const {
  return std::max<int64_t>(0, (now_ns - start_ns_) / resolution_ns_);
}

bool WindowRing::NeedsSample(int64_t now_ns) const {
  return samples_.back().boundary < BoundaryAt(now_ns);
}

void WindowRing::Record(int64_t now_ns, const std::vector<ServiceCounters>& services,
                        uint64_t distinct_trace_ids,
                        const absl::flat_hash_map<uint64_t, uint64_t>& edges) {
  const int64_t current = BoundaryAt(now_ns);
  if (samples_.back().boundary >= current) return;
  // The engine records on the first call after a boundary, before that call
  // counts anything, and every counting call checks first. So the totals now
  // are also the totals at every boundary since the last call: skipped
  // boundaries share them. Only boundaries that can still be a baseline are
  // stored.
  for (int64_t k = std::max(samples_.back().boundary + 1, current - steps_); k <= current; ++k) {
    samples_.push_back(Sample{k, services, distinct_trace_ids, edges});
  }
  while (samples_.size() > 1 && samples_[1].boundary <= current - steps_) samples_.pop_front();
}

const WindowRing::Sample& WindowRing::Baseline(int64_t now_ns, int64_t* baseline_time_ns) const {
  const int64_t wanted = BoundaryAt(now_ns) - steps_;
  // Latest sample at or before the wanted boundary; the front when none is.
  const Sample* best = &samples_.front();
  for (const Sample& s : samples_) {
    if (s.boundary <= wanted) best = &s;
  }
  // Totals do not change between samples, so the baseline stands for the
  // wanted boundary itself whenever a sample at or before it exists.
  const int64_t boundary = best->boundary <= wanted ? std::max<int64_t>(wanted, 0) : best->boundary;
  *baseline_time_ns = start_ns_ + boundary * resolution_ns_;
  return *best;
}

}  // namespace propwatch::detail
