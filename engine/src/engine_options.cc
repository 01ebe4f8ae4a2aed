#include "propwatch/engine_options.h"

#include <bit>
#include <string>

namespace propwatch {

Status EngineOptions::Validate() const {
  auto bad = [](std::string_view field, std::string_view why) {
    std::string message = "engine option ";
    message.append(field).append(": ").append(why);
    return Status::InvalidArgument(std::move(message));
  };
  if (trace_idle_timeout <= Duration::zero()) return bad("trace_idle_timeout", "must be positive");
  if (late_span_retention < Duration::zero())
    return bad("late_span_retention", "must not be negative");
  // Memory is committed up front in proportion (the eviction ring: 2 bytes
  // per trace of cap), so the cap has a ceiling like every other bound.
  if (max_traces == 0 || max_traces > 100'000'000)
    return bad("max_traces", "must be in [1, 100000000]");
  if (max_spans_per_trace == 0 || max_spans_per_trace > 65'535)
    return bad("max_spans_per_trace", "must be in [1, 65535]");
  if (max_services == 0 || max_services > 65'000)
    return bad("max_services", "must be in [1, 65000]");
  if (max_destinations == 0 || max_destinations > 65'000)
    return bad("max_destinations", "must be in [1, 65000]");
  if (window_resolution <= Duration::zero()) return bad("window_resolution", "must be positive");
  if (window_length < window_resolution)
    return bad("window_length", "must be at least window_resolution");
  if (window_length / window_resolution > 10'000)
    return bad("window_length", "more than 10000 window_resolution steps");
  if (window_length % window_resolution != Duration::zero())
    return bad("window_length", "must be a whole multiple of window_resolution");
  if (rebalance_window < Duration::zero() || rebalance_window > std::chrono::hours(24))
    return bad("rebalance_window", "must be in [0, 24h]");
  if (max_clock_skew < Duration::zero() || max_clock_skew > std::chrono::hours(1))
    return bad("max_clock_skew", "must be in [0, 1h]");
  if (examples_per_finding > 64) return bad("examples_per_finding", "must be in [0, 64]");
  if (max_example_series == 0 || max_example_series > 1'000'000)
    return bad("max_example_series", "must be in [1, 1000000]");
  if (edge_clock_skew < Duration::zero() || edge_clock_skew > std::chrono::hours(1))
    return bad("edge_clock_skew", "must be in [0, 1h]");
  if (edge_messaging_max_lag < Duration::zero() || edge_messaging_max_lag > std::chrono::hours(24))
    return bad("edge_messaging_max_lag", "must be in [0, 24h]");
  if (edge_decision_delay != Duration::zero() &&
      (edge_decision_delay < trace_idle_timeout || edge_decision_delay > std::chrono::hours(24)))
    return bad("edge_decision_delay",
               "must be 0 (2 x trace_idle_timeout) or in [trace_idle_timeout, 24h]");
  if (max_edge_candidates == 0 || max_edge_candidates > 10'000'000)
    return bad("max_edge_candidates", "must be in [1, 10000000]");
  if (max_edge_series == 0 || max_edge_series > 1'000'000)
    return bad("max_edge_series", "must be in [1, 1000000]");
  if (shards > 1024) return bad("shards", "must be at most 1024");
  if (shards != 0 && !std::has_single_bit(shards)) {
    return bad("shards", "must be 0 (automatic) or a power of two (1, 2, 4, ... 1024); got " +
                             std::to_string(shards) + ", nearest allowed " +
                             std::to_string(std::bit_floor(shards)) + " or " +
                             std::to_string(std::bit_ceil(shards)));
  }
  for (const std::string& pattern : entry_point_services) {
    if (pattern.empty()) return bad("entry_point_services", "empty pattern");
  }
  return Status::Ok();
}

}  // namespace propwatch
