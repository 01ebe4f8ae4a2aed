// EngineOptions: every knob and bound of the engine, with its default.
//
// Each bound has a gauge of its current size and a counter of what it pushed
// out (see docs/engine.md "Bounds"). Validate() before constructing an Engine;
// the constructor REQUIRES valid options. Value type, thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace propwatch {

struct EngineOptions {
  // Services where traces legitimately start (gateway, browser, cron). Each
  // entry is an exact name or a glob: `*` matches any run of characters, `?`
  // one character. Their root spans are trace starts, never orphans.
  std::vector<std::string> entry_point_services;

  // A trace is finalized (broken parents and unpaired outbound spans decided)
  // after this long without a new span, on the tap's receive clock.
  absl::Duration trace_idle_timeout = absl::Seconds(30);

  // How long a finalized trace is remembered so that a late span is recognised
  // as late (and matched to its parent) instead of starting a new trace.
  absl::Duration late_span_retention = absl::Seconds(60);

  // Cap on tracked traces, live plus finalized-and-retained. When full, the
  // oldest finalized trace is dropped first, else the least recently active
  // live trace is evicted (counted, never reported as broken).
  uint32_t max_traces = 500'000;

  // Spans tracked per trace; further spans are counted but not tracked, and the
  // trace is marked truncated (no broken-parent verdict for it).
  uint32_t max_spans_per_trace = 1'000;

  // Distinct `service.name` values tracked; further services share the
  // overflow bucket kOverflowService. At most 65,000.
  uint32_t max_services = 2'000;

  // Distinct outbound destinations (peer.service / server.address /
  // messaging.destination.name) tracked; further ones share kOverflowService.
  uint32_t max_destinations = 2'000;

  // Sliding windows: values cover the last `window_length`, advanced in steps
  // of `window_resolution` (window_length must be a multiple of it).
  absl::Duration window_length = absl::Minutes(5);
  absl::Duration window_resolution = absl::Seconds(10);

  // Lock stripes for the trace table. 0 means "pick from hardware concurrency"
  // (a power of two, at least 4). Traces never span shards.
  uint32_t shards = 0;

  // OK, or InvalidArgument naming the first bad field and why.
  absl::Status Validate() const;
};

// Label value that collects services (or destinations) past their cap.
inline constexpr std::string_view kOverflowService = "__overflow__";

}  // namespace propwatch
