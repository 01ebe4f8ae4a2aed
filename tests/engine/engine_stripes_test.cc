// Lock stripes and the max_traces cap (EngineOptions::shards, max_traces):
// the stripe count is a power of two, every byte of the trace id picks the
// stripe, and the traces tracked over all stripes never exceed max_traces and
// reach it once every stripe has seen enough traces. Exact numbers only.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "propwatch/engine.h"

namespace propwatch {
namespace {

std::unique_ptr<Engine> MakeEngine(uint32_t shards, uint32_t max_traces, ManualClock* clock) {
  EngineOptions options;
  options.shards = shards;
  options.max_traces = max_traces;
  options.clock = clock;
  std::unique_ptr<Engine> engine;
  const Status status = Engine::Create(options, &engine);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return engine;
}

// One orphan SERVER root per trace: it stays live (the clock never moves).
void IngestTraces(Engine& engine, const std::vector<TraceId>& ids) {
  std::vector<SpanRecord> batch;
  for (const TraceId& id : ids) {
    SpanRecord r;
    r.trace_id = id;
    r.span_id.bytes[7] = 1;
    r.service_name = "svc";
    r.kind = SpanKind::kServer;
    batch.push_back(r);
    if (batch.size() == 256) {
      engine.Ingest(batch);
      batch.clear();
    }
  }
  engine.Ingest(batch);
}

uint64_t Tracked(Engine& engine) {
  const EngineStats s = engine.Collect().stats;
  return s.live_traces + s.finalized_traces_retained;
}

std::vector<TraceId> RandomIds(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<TraceId> ids(n);
  for (TraceId& id : ids) {
    for (auto& b : id.bytes) b = static_cast<uint8_t>(rng());
  }
  return ids;
}

// Families of ids built to defeat a weak stripe hash. Each id is distinct.
enum class Family { kOnlyBytes5To7And13To15, kHalvesEqual, kOnlyLastTwoBytes, kOnlyFirstTwoBytes };

std::vector<TraceId> AdversarialIds(Family family, size_t n) {
  std::vector<TraceId> ids(n);
  for (size_t i = 0; i < n; ++i) {
    TraceId& id = ids[i];
    id.bytes.fill(0x5a);
    const auto lo = static_cast<uint8_t>(i), mid = static_cast<uint8_t>(i >> 8),
               hi = static_cast<uint8_t>(i >> 16);
    switch (family) {
      case Family::kOnlyBytes5To7And13To15:
        id.bytes[5] = lo;
        id.bytes[6] = mid;
        id.bytes[13] = hi;
        id.bytes[7] = id.bytes[14] = id.bytes[15] = 0;
        break;
      case Family::kHalvesEqual:
        for (int half = 0; half < 2; ++half) {
          id.bytes[8 * half + 0] = lo;
          id.bytes[8 * half + 3] = mid;
        }
        break;
      case Family::kOnlyLastTwoBytes:
        id.bytes[14] = mid;
        id.bytes[15] = lo;
        break;
      case Family::kOnlyFirstTwoBytes:
        id.bytes[0] = mid;
        id.bytes[1] = lo;
        break;
    }
  }
  return ids;
}

TEST(EngineStripesTest, StripeCountMustBeZeroOrAPowerOfTwo) {
  for (uint32_t ok : {0u, 1u, 2u, 4u, 8u, 1024u}) {
    EngineOptions o;
    o.shards = ok;
    EXPECT_TRUE(o.Validate().ok()) << ok;
  }
  for (uint32_t bad : {3u, 5u, 6u, 1000u, 2048u}) {
    EngineOptions o;
    o.shards = bad;
    const Status status = o.Validate();
    EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("shards"), std::string::npos) << status.message();
    std::unique_ptr<Engine> engine;
    EXPECT_FALSE(Engine::Create(o, &engine).ok()) << bad;
    EXPECT_EQ(engine, nullptr);
  }
  EngineOptions five;
  five.shards = 5;
  EXPECT_EQ(five.Validate().message(),
            "engine option shards: must be 0 (automatic) or a power of two (1, 2, 4, ... 1024); "
            "got 5, nearest allowed 4 or 8");
}

// The cap holds over all stripes together, for every stripe count and cap,
// and the whole cap is usable: once each stripe has seen enough traces the
// engine tracks exactly max_traces.
TEST(EngineStripesTest, TrackedTracesNeverExceedMaxTracesAndFillIt) {
  for (uint32_t shards : {0u, 1u, 4u}) {
    for (uint32_t cap : {1u, 10u, 1000u}) {
      ManualClock clock;
      std::unique_ptr<Engine> engine = MakeEngine(shards, cap, &clock);
      ASSERT_NE(engine, nullptr);
      const std::vector<TraceId> ids = RandomIds(20 * cap + 200, shards * 7919 + cap);
      // Fed in slices so the bound is checked on the way up, not only at the end.
      for (size_t begin = 0; begin < ids.size(); begin += cap) {
        const size_t end = std::min(ids.size(), begin + cap);
        IngestTraces(*engine, {ids.begin() + begin, ids.begin() + end});
        ASSERT_LE(Tracked(*engine), cap) << "shards=" << shards << " cap=" << cap;
      }
      EXPECT_EQ(Tracked(*engine), cap) << "shards=" << shards << " cap=" << cap;
      const EngineStats s = engine->Collect().stats;
      EXPECT_EQ(s.traces_evicted_capacity, ids.size() - cap);
      EXPECT_EQ(s.distinct_trace_ids, ids.size());
    }
  }
}

// Every byte of the trace id moves the stripe choice: ids that differ only in
// bytes the old hash ignored, or whose halves are equal, spread over all
// stripes. 600 ids over 4 stripes of 250 each: a fair spread evicts nothing
// (a stripe would need 100 ids above its mean of 150); ids piled into one
// stripe would evict 350.
TEST(EngineStripesTest, AdversarialIdsSpreadOverEveryStripe) {
  for (Family family : {Family::kOnlyBytes5To7And13To15, Family::kHalvesEqual,
                        Family::kOnlyLastTwoBytes, Family::kOnlyFirstTwoBytes}) {
    ManualClock clock;
    std::unique_ptr<Engine> engine = MakeEngine(4, 1000, &clock);
    IngestTraces(*engine, AdversarialIds(family, 600));
    const EngineStats s = engine->Collect().stats;
    EXPECT_EQ(s.traces_evicted_capacity, 0u) << static_cast<int>(family);
    EXPECT_EQ(s.live_traces, 600u) << static_cast<int>(family);

    // And the full cap is reachable with ids of the same family.
    ManualClock clock2;
    std::unique_ptr<Engine> full = MakeEngine(4, 1000, &clock2);
    IngestTraces(*full, AdversarialIds(family, 20'000));
    EXPECT_EQ(Tracked(*full), 1000u) << static_cast<int>(family);
  }
}

// Fewer traces than stripes: the engine uses fewer stripes rather than give
// a stripe a share of zero (which could hold nothing).
TEST(EngineStripesTest, CapBelowStripeCountStillHoldsTheCap) {
  ManualClock clock;
  std::unique_ptr<Engine> engine = MakeEngine(1024, 3, &clock);
  ASSERT_NE(engine, nullptr);
  IngestTraces(*engine, RandomIds(100, 42));
  EXPECT_EQ(Tracked(*engine), 3u);
  EXPECT_EQ(engine->Collect().stats.traces_evicted_capacity, 97u);
}

}  // namespace
}  // namespace propwatch
