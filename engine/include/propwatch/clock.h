// Clock: the engine's only source of time.
//
// The engine never reads the system clock directly: every window, idle
// timeout and retention is measured on an injected Clock, so tests drive time
// with ManualClock and never sleep. Times are the tap's receive clock, never
// span timestamps (producer clocks skew).
//
// Thread-safety: implementations must be thread-safe; Now() is called
// concurrently from ingest and collect paths. Now() must be monotonic
// (non-decreasing); the engine clamps a clock that steps backwards.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace propwatch {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall time from absl::Now(). Thread-safe.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance that lives forever.
  static SystemClock* Default() {
    static SystemClock* const clock = new SystemClock();
    return clock;
  }
};

// A clock that only moves when told to. For tests and simulations.
// Thread-safe: Now() may race with Advance()/Set().
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365))
      : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override {
    return absl::FromUnixNanos(nanos_.load(std::memory_order_acquire));
  }
  void Advance(absl::Duration d) {
    nanos_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
  }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t), std::memory_order_release); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace propwatch
