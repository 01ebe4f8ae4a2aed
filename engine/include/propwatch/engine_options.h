// EngineOptions: every knob and bound of the engine, with its default.
//
// Each bound has a gauge of its current size and a counter of what it pushed
// out (see docs/engine.md "Bounds"). Engine::Create validates them (Validate)
// and refuses an invalid set with an InvalidArgument status naming the field.
// Value type, thread-compatible; the clock it points to is borrowed.
// Validate() is O(entry_point_services).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "propwatch/clock.h"
#include "propwatch/export.h"
#include "propwatch/status.h"

namespace propwatch {

struct PROPWATCH_EXPORT EngineOptions {
  // Services where traces legitimately start (gateway, browser, cron). Each
  // entry is an exact name or a glob: `*` matches any run of characters, `?`
  // one character. Their root spans are trace starts, never orphans.
  std::vector<std::string> entry_point_services;

  // A trace is finalized (broken parents and unpaired outbound spans decided)
  // after this long without a new span, on the tap's receive clock.
  Duration trace_idle_timeout = std::chrono::seconds(30);

  // How long a finalized trace is remembered so that a late span is recognised
  // as late (and matched to its parent) instead of starting a new trace.
  Duration late_span_retention = std::chrono::seconds(60);

  // Cap on tracked traces, live plus finalized-and-retained, over all stripes
  // together (the total never exceeds it). Each stripe owns an exact share;
  // when a stripe's share is full, its oldest finalized trace is dropped
  // first, else its least recently active live trace is evicted (counted,
  // never reported as broken).
  // At most 100,000,000.
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
  Duration window_length = std::chrono::minutes(5);
  Duration window_resolution = std::chrono::seconds(10);

  // Lock stripes for the trace table: 0 means "pick from hardware
  // concurrency" (2 x cores rounded up to a power of two, at least 4);
  // otherwise a power of two up to 1024 (others are rejected, because a
  // stripe is picked by the top bits of a hash). Traces never span stripes.
  // The stripes in use are min(shards, largest power of two <= max_traces),
  // so every stripe's share of max_traces is at least one trace.
  uint32_t shards = 0;

  // Fleet rollouts (docs/semantics.md "Rollouts"). Behind a trace-id load
  // balancer, a trace in flight while the set of engines changes (one
  // restarts, one is added or removed) is split between two of them, and each
  // would see a false broken parent or unpaired outbound span. So an engine
  // does not judge a trace it may have seen only in part:
  //   - one with a span that started (span timestamp) before the engine was
  //     created plus max_clock_skew ("started_before_start");
  //   - one that is live when a rebalance window opens, or whose first span
  //     arrives while one is open ("rebalance"). A window of this length opens
  //     when the engine is created and on every Engine::BeginRebalance().
  // Such traces are counted (EngineStats::traces_unjudged_*) and their spans
  // still count in every per-span counter. Zero (the default) turns both
  // rules off: right for an engine that sees every span of its traces.
  Duration rebalance_window = Duration::zero();
  // How far a producer's clock may run ahead of this one; widens the
  // started-before-start rule. Ignored while rebalance_window is zero.
  Duration max_clock_skew = std::chrono::seconds(2);

  // Finding examples (docs/semantics.md "Examples"): for each series
  // (service, finding, span kind) the trace ids of the last
  // `examples_per_finding` occurrences (0 turns examples off; at most 64).
  // `max_example_series` bounds the series held by the whole engine; a
  // finding of a new series past it is not kept
  // (EngineStats::example_series_overflow). Memory: at most
  // max_example_series x (examples_per_finding x 32 + ~40) bytes.
  uint32_t examples_per_finding = 5;
  uint32_t max_example_series = 16'384;
  // Broken-edge attribution (docs/semantics.md "Broken edge"): each orphan
  // SERVER/CONSUMER root is paired with the unpaired CLIENT/PRODUCER span
  // that sent its request or message, or counted with caller "unknown".
  // false: no edge is counted and no candidate is held.
  bool edge_attribution = true;
  // How far the caller's and the callee's clocks may disagree (span
  // timestamps) and still pair. At most 1 h.
  Duration edge_clock_skew = std::chrono::seconds(1);
  // The longest a message may wait between its PRODUCER span's start and its
  // CONSUMER span's start and still pair. At most 24 h.
  Duration edge_messaging_max_lag = std::chrono::minutes(5);
  // An orphan is decided this long after it arrived (receive clock), so that
  // the outbound span that sent it can arrive and its trace be finalized.
  // Zero means 2 x trace_idle_timeout; otherwise at least trace_idle_timeout.
  Duration edge_decision_delay = Duration::zero();
  // Orphans awaiting a decision, and unpaired outbound spans held as
  // candidates: at most this many of each (oldest pushed out first, counted).
  // Memory: about 200 bytes per entry. At most 10,000,000.
  uint32_t max_edge_candidates = 100'000;
  // Distinct (caller, callee, boundary) series; an edge of a new series past
  // it is counted in EngineStats::edge_series_overflow only.
  uint32_t max_edge_series = 10'000;
  // Where time comes from; nullptr means SystemClock::Default(). Borrowed:
  // it must outlive the engine. Tests and replays pass a ManualClock.
  const Clock* clock = nullptr;

  // OK, or InvalidArgument naming the first bad field and why.
  Status Validate() const;
};

// Label value that collects services (or destinations) past their cap.
inline constexpr std::string_view kOverflowService = "__overflow__";

}  // namespace propwatch
