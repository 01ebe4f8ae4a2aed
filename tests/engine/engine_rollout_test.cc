// Rollout rules (docs/semantics.md "Rollouts"): an engine behind a trace-id
// load balancer must not judge a trace it may have seen only in part. Each
// case builds the split a restart, a scale-out or a scale-in produces, and
// checks exact verdict and "unjudged" counts at the boundaries of both rules.
#include <chrono>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "propwatch/engine.h"

namespace propwatch {
namespace {

using std::chrono::seconds;

TraceId T(int n) {
  TraceId id;
  id.bytes[0] = 0xcd;
  id.bytes[15] = static_cast<uint8_t>(n);
  return id;
}

SpanId S(int n) {
  SpanId id;
  id.bytes[7] = static_cast<uint8_t>(n);
  return id;
}

class RolloutTest : public ::testing::Test {
 protected:
  RolloutTest() {
    options_.entry_point_services = {"gateway"};
    options_.trace_idle_timeout = seconds(30);
    options_.late_span_retention = seconds(60);
    options_.window_length = seconds(60);
    options_.window_resolution = seconds(10);
    options_.rebalance_window = seconds(10);
    options_.max_clock_skew = seconds(2);
    options_.shards = 1;
  }

  Engine& engine() {
    if (!engine_) {
      options_.clock = &clock_;
      start_ = clock_.Now();
      const Status status = Engine::Create(options_, &engine_);
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
    return *engine_;
  }

  // Unix nanoseconds `offset` after the engine was created.
  uint64_t At(std::chrono::nanoseconds offset) const {
    return static_cast<uint64_t>((start_ + offset).time_since_epoch().count());
  }

  // A span of `service` starting `offset` after engine creation (span time).
  SpanRecord Span(TraceId trace, int span, int parent, std::string_view service, SpanKind kind,
                  std::chrono::nanoseconds offset) {
    SpanRecord r;
    r.trace_id = trace;
    r.span_id = S(span);
    if (parent != 0) r.parent_span_id = S(parent);
    r.service_name = service;
    r.kind = kind;
    r.start_unix_nano = At(offset);
    r.end_unix_nano = r.start_unix_nano + 1'000'000;
    return r;
  }

  void Ingest(std::vector<SpanRecord> spans) { engine().Ingest(spans); }

  // Lets every live trace go idle and be finalized.
  Snapshot FinalizeAll() {
    clock_.Advance(options_.trace_idle_timeout);
    return engine().Collect();
  }

  static uint64_t Broken(const Snapshot& s, std::string_view service) {
    const ServiceSnapshot* found = s.Find(service);
    return found ? found->total.broken_parents : 0;
  }
  static uint64_t Unpaired(const Snapshot& s, std::string_view service) {
    const ServiceSnapshot* found = s.Find(service);
    return found ? found->total.unpaired_outbound : 0;
  }

  ManualClock clock_;
  EngineOptions options_;
  Timestamp start_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(RolloutTest, OffByDefaultEveryTraceIsJudged) {
  options_ = EngineOptions{};
  options_.shards = 1;
  options_.clock = &clock_;
  EXPECT_EQ(options_.rebalance_window, Duration::zero());
  engine();
  // A child whose parent started long before the engine, arriving at once.
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, -seconds(60))});
  engine().BeginRebalance();  // no effect while the window is zero
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(Broken(s, "worker"), 1u);
  EXPECT_EQ(s.stats.traces_unjudged_started_before_start, 0u);
  EXPECT_EQ(s.stats.traces_unjudged_rebalance, 0u);
  EXPECT_EQ(s.stats.rebalances, 0u);
}

// Restart: the new process sees the second half of traces that were in flight.
TEST_F(RolloutTest, TraceStartedBeforeTheEngineIsNotJudged) {
  engine();
  clock_.Advance(seconds(20));  // the creation window has closed
  // The server span started 30 s ago (span time); its parent went to the
  // previous process. A fresh CLIENT span whose child went there too.
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, -seconds(10)),
          Span(T(1), 3, 2, "worker", SpanKind::kClient, seconds(19))});
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(Broken(s, "worker"), 0u);
  EXPECT_EQ(Unpaired(s, "worker"), 0u);
  EXPECT_EQ(s.stats.traces_unjudged_started_before_start, 1u);
  EXPECT_EQ(s.stats.traces_unjudged_rebalance, 0u);
  // Per-span counters still see both spans.
  EXPECT_EQ(s.Find("worker")->total.spans, 2u);
}

TEST_F(RolloutTest, AnySpanOfTheTraceCanMarkIt) {
  engine();
  clock_.Advance(seconds(20));
  // The child arrives first and started after the engine; the root, which
  // started before it, arrives last (it ends last).
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, seconds(15))});
  clock_.Advance(seconds(5));
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kClient, -seconds(1))});
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(s.stats.traces_unjudged_started_before_start, 1u);
  EXPECT_EQ(Unpaired(s, "gateway"), 0u);
}

TEST_F(RolloutTest, ClockSkewAllowanceIsTheBoundary) {
  engine();
  clock_.Advance(seconds(20));
  const auto skew = options_.max_clock_skew;
  // Started 1 ns before start + skew: not judged. At start + skew: judged.
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, skew - std::chrono::nanoseconds(1)),
          Span(T(2), 2, 1, "worker", SpanKind::kServer, skew)});
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(s.stats.traces_unjudged_started_before_start, 1u);
  EXPECT_EQ(Broken(s, "worker"), 1u);
}

TEST_F(RolloutTest, SpansWithoutTimestampsDoNotMarkTheTrace) {
  engine();
  clock_.Advance(seconds(20));
  SpanRecord child = Span(T(1), 2, 1, "worker", SpanKind::kServer, seconds(0));
  child.start_unix_nano = 0;  // an exporter that leaves it unset
  Ingest({child});
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(Broken(s, "worker"), 1u);
  EXPECT_EQ(s.stats.traces_unjudged_started_before_start, 0u);
}

// Scale-out, new engine: the load balancer moves traces to it a few seconds
// after it starts; those that began in between are split.
TEST_F(RolloutTest, CreationOpensARebalanceWindow) {
  engine();
  clock_.Advance(seconds(5));
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, seconds(4))});  // first span in the window
  clock_.Advance(seconds(5));  // the window [start, start + 10 s) has closed
  Ingest({Span(T(2), 2, 1, "worker", SpanKind::kServer, seconds(9))});
  // A span of the marked trace after the window does not clear the mark.
  Ingest({Span(T(1), 3, 1, "worker", SpanKind::kServer, seconds(9))});
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(s.stats.traces_unjudged_rebalance, 1u);
  EXPECT_EQ(Broken(s, "worker"), 1u);  // T(2) only
}

// Scale-out or scale-in, engine that stays: traces in flight when the set
// changes lose their later spans to another engine (or gain ones whose
// earlier part went elsewhere).
TEST_F(RolloutTest, BeginRebalanceMarksLiveTracesAndNewOnesInTheWindow) {
  engine();
  clock_.Advance(seconds(100));
  // In flight at the change: a child without its parent (yet), and a CLIENT
  // span without its child (yet).
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, seconds(99)),
          Span(T(2), 1, 0, "gateway", SpanKind::kClient, seconds(99))});
  engine().BeginRebalance();
  clock_.Advance(seconds(9));
  Ingest({Span(T(3), 2, 1, "worker", SpanKind::kServer, seconds(108))});  // in the window
  clock_.Advance(seconds(1));
  Ingest({Span(T(4), 2, 1, "worker", SpanKind::kServer, seconds(109)),  // after it
          Span(T(5), 1, 0, "gateway", SpanKind::kClient, seconds(109))});
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(s.stats.rebalances, 1u);
  EXPECT_EQ(s.stats.traces_unjudged_rebalance, 3u);
  EXPECT_EQ(Broken(s, "worker"), 1u);      // T(4)
  EXPECT_EQ(Unpaired(s, "gateway"), 1u);   // T(5)
  EXPECT_EQ(s.stats.traces_finalized, 5u);
}

TEST_F(RolloutTest, TracesFinalizedBeforeTheRebalanceKeepTheirVerdicts) {
  engine();
  clock_.Advance(seconds(100));
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, seconds(99))});
  Snapshot s = FinalizeAll();
  ASSERT_EQ(Broken(s, "worker"), 1u);
  engine().BeginRebalance();
  // A late span of the finalized (retained) trace is judged as usual: the
  // rebalance only marks live traces (a retained one was judged whole).
  Ingest({Span(T(1), 3, 1, "worker", SpanKind::kServer, seconds(130))});
  s = FinalizeAll();
  EXPECT_EQ(Broken(s, "worker"), 2u);
  EXPECT_EQ(s.Find("worker")->total.late_spans, 1u);
  EXPECT_EQ(s.stats.traces_unjudged_rebalance, 0u);  // it was judged once already
}

TEST_F(RolloutTest, AnUnjudgedTraceIsCountedOnceAcrossReFinalization) {
  engine();
  clock_.Advance(seconds(100));
  Ingest({Span(T(1), 2, 1, "worker", SpanKind::kServer, -seconds(1))});
  FinalizeAll();
  Ingest({Span(T(1), 3, 1, "worker", SpanKind::kServer, seconds(131))});  // late
  const Snapshot s = FinalizeAll();
  EXPECT_EQ(s.stats.traces_unjudged_started_before_start, 1u);
  EXPECT_EQ(Broken(s, "worker"), 0u);
}

TEST_F(RolloutTest, TruncatedAndEvictedTracesAreCountedUnderTheirOwnReasons) {
  options_.rebalance_window = Duration::zero();
  options_.max_spans_per_trace = 2;
  options_.max_traces = 1;
  engine();
  // Truncated: three spans, cap two.
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer, seconds(0)),
          Span(T(1), 2, 1, "worker", SpanKind::kServer, seconds(0)),
          Span(T(1), 3, 9, "worker", SpanKind::kServer, seconds(0))});
  Snapshot s = FinalizeAll();
  EXPECT_EQ(s.stats.traces_unjudged_truncated, 1u);
  clock_.Advance(options_.late_span_retention);  // forget T(1)
  // Evicted: T(2) pushed out by T(3), then T(2) comes back without its parent.
  Ingest({Span(T(2), 1, 0, "gateway", SpanKind::kServer, seconds(0))});
  Ingest({Span(T(3), 1, 0, "gateway", SpanKind::kServer, seconds(0))});
  Ingest({Span(T(2), 2, 5, "worker", SpanKind::kServer, seconds(0))});
  s = FinalizeAll();
  EXPECT_EQ(s.stats.traces_evicted_capacity, 2u);
  EXPECT_EQ(s.stats.traces_unjudged_evicted, 1u);
  EXPECT_EQ(Broken(s, "worker"), 0u);
}

TEST(RolloutOptionsTest, BoundsAreValidated) {
  EngineOptions options;
  options.rebalance_window = -seconds(1);
  EXPECT_FALSE(options.Validate().ok());
  options.rebalance_window = std::chrono::hours(25);
  EXPECT_FALSE(options.Validate().ok());
  options.rebalance_window = seconds(30);
  EXPECT_TRUE(options.Validate().ok());
  options.max_clock_skew = std::chrono::hours(2);
  EXPECT_FALSE(options.Validate().ok());
  options.max_clock_skew = -seconds(1);
  EXPECT_FALSE(options.Validate().ok());
}

}  // namespace
}  // namespace propwatch
