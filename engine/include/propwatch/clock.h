// Clock: the engine's only source of time.
//
// The engine never reads the system clock directly: every window, idle
// timeout and retention is measured on an injected Clock, so tests drive time
// with ManualClock and never sleep. Times are the tap's receive clock, never
// span timestamps (producer clocks skew).
//
// Time types are std::chrono (nanosecond ticks), so embedders need no
// particular abseil build: Duration for spans of time, Timestamp for instants
// on the Unix epoch.
//
// Cost: Now() is called a few times per Ingest batch and per Collect, so an
// implementation should be cheap (the provided ones are O(1), no locks).
//
// Thread-safety: implementations must be thread-safe; Now() is called
// concurrently from ingest and collect paths. Now() should be monotonic
// (non-decreasing); the engine clamps a clock that steps backwards.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "propwatch/export.h"

namespace propwatch {

using Duration = std::chrono::nanoseconds;
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

class PROPWATCH_EXPORT Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

// Wall time from std::chrono::system_clock. Thread-safe.
class PROPWATCH_EXPORT SystemClock final : public Clock {
 public:
  Timestamp Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
  // A process-wide instance that lives forever.
  static const SystemClock* Default() {
    static const SystemClock* const clock = new SystemClock();
    return clock;
  }
};

// A clock that only moves when told to. For tests, simulations and replays.
// Thread-safe: Now() may race with Advance()/Set().
class PROPWATCH_EXPORT ManualClock final : public Clock {
 public:
  // Starts one year after the Unix epoch unless told otherwise.
  explicit ManualClock(Timestamp start = Timestamp(std::chrono::hours(24 * 365)))
      : nanos_(start.time_since_epoch().count()) {}
  Timestamp Now() const override {
    return Timestamp(Duration(nanos_.load(std::memory_order_acquire)));
  }
  void Advance(Duration d) { nanos_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void Set(Timestamp t) { nanos_.store(t.time_since_epoch().count(), std::memory_order_release); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace propwatch
