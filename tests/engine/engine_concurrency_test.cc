// Four threads ingest while a fifth collects and advances: run under
// ThreadSanitizer in CI (build with -DPROPWATCH_SANITIZE=thread). The final
// totals must be exact whatever the interleaving.
#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "propwatch/engine.h"

namespace propwatch {
namespace {

TEST(EngineConcurrencyTest, ParallelIngestWithConcurrentCollectGivesExactTotals) {
  ManualClock clock;
  EngineOptions options;
  options.entry_point_services = {"gateway"};
  options.shards = 4;
  options.clock = &clock;
  std::unique_ptr<Engine> engine_ptr;
  ASSERT_TRUE(Engine::Create(options, &engine_ptr).ok());
  Engine& engine = *engine_ptr;

  constexpr int kThreads = 4;
  constexpr int kBatches = 500;
  constexpr int kTracesPerBatch = 50;
  std::atomic<bool> done{false};

  std::thread collector([&] {
    while (!done.load()) {
      Snapshot snap = engine.Collect();
      // Totals only grow; a torn read would show up as nonsense here.
      if (const ServiceSnapshot* w = snap.Find("worker")) {
        EXPECT_LE(w->total.orphan_spans(), w->total.spans);
      }
      clock.Advance(std::chrono::milliseconds(100));
      engine.Advance();
    }
  });

  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::vector<SpanRecord> batch;
      for (int b = 0; b < kBatches; ++b) {
        batch.clear();
        for (int i = 0; i < kTracesPerBatch; ++i) {
          TraceId trace;
          trace.bytes[0] = static_cast<uint8_t>(t + 1);
          trace.bytes[1] = static_cast<uint8_t>(b);
          trace.bytes[2] = static_cast<uint8_t>(b >> 8);
          trace.bytes[3] = static_cast<uint8_t>(i);
          SpanRecord child;
          child.trace_id = trace;
          child.span_id.bytes[7] = 2;
          child.parent_span_id.bytes[7] = 1;
          child.service_name = "worker";
          child.kind = SpanKind::kServer;
          SpanRecord root = child;
          root.span_id.bytes[7] = 1;
          root.parent_span_id = SpanId{};
          // Every 10th trace loses context: the worker span becomes a root.
          if (i % 10 == 0) child.parent_span_id = SpanId{};
          root.service_name = "gateway";
          batch.push_back(child);  // children first, as SDKs export them
          batch.push_back(root);
        }
        engine.Ingest(batch);
      }
    });
  }
  for (auto& w : writers) w.join();
  done.store(true);
  collector.join();

  clock.Advance(std::chrono::seconds(31));
  Snapshot snap = engine.Collect();
  constexpr uint64_t kTraces = uint64_t{kThreads} * kBatches * kTracesPerBatch;
  const ServiceSnapshot* worker = snap.Find("worker");
  const ServiceSnapshot* gateway = snap.Find("gateway");
  ASSERT_NE(worker, nullptr);
  ASSERT_NE(gateway, nullptr);
  EXPECT_EQ(worker->total.spans, kTraces);
  EXPECT_EQ(worker->total.orphan_spans(), kTraces / 10);
  EXPECT_EQ(worker->total.broken_parents, 0u);
  EXPECT_EQ(gateway->total.spans, kTraces);
  EXPECT_EQ(gateway->total.orphan_spans(), 0u);
  EXPECT_EQ(snap.stats.distinct_trace_ids, kTraces);
  EXPECT_EQ(snap.stats.traces_finalized, kTraces);
  EXPECT_EQ(snap.stats.live_traces, 0u);
}

}  // namespace
}  // namespace propwatch
