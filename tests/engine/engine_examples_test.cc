// Finding examples (docs/semantics.md "Examples"): for each service, finding
// and span kind the engine keeps the trace ids of the last K occurrences.
// Each case checks the example set exactly: what is kept, what is not (entry
// points, linked roots, duplicates, resolved parents, unjudged traces), the
// order, the bound per series and the bound on series.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "propwatch/engine.h"
#include "test_spans.h"

namespace propwatch {
namespace {

using std::chrono::seconds;

using test_spans::S;
using test_spans::Span;
using test_spans::T;

// One example as a comparable string: "service finding kind trace span @s".
std::string Show(const FindingExample& x, Timestamp start) {
  return x.service + " " + std::string(FindingName(x.finding)) + " " +
         std::string(SpanKindName(x.span_kind)) + " " + x.trace_id.ToHex().substr(28) + " " +
         x.span_id.ToHex().substr(12) + " @" +
         std::to_string(std::chrono::duration_cast<seconds>(x.seen - start).count());
}

class ExamplesTest : public ::testing::Test {
 protected:
  ExamplesTest() {
    options_.entry_point_services = {"gateway"};
    options_.trace_idle_timeout = seconds(30);
    options_.late_span_retention = seconds(60);
    options_.window_length = seconds(60);
    options_.window_resolution = seconds(10);
    options_.examples_per_finding = 3;
    options_.shards = 1;
    // Broken-edge examples have their own tests (engine_edges_test.cc).
    options_.edge_attribution = false;
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

  void Ingest(std::vector<SpanRecord> spans) { engine().Ingest(spans); }

  std::vector<std::string> Examples(std::string_view service = {}) {
    std::vector<std::string> out;
    for (const FindingExample& x : engine().RecentExamples({.service = service}))
      out.push_back(Show(x, start_));
    return out;
  }

  EngineOptions options_;
  ManualClock clock_{Timestamp(seconds(1'700'000'000))};
  Timestamp start_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(ExamplesTest, OrphansKeepTheLastKPerKindNewestFirst) {
  engine();
  for (int i = 1; i <= 5; ++i) {
    Ingest({Span(T(i), 1, 0, "worker", SpanKind::kServer)});
    clock_.Advance(seconds(1));
  }
  Ingest({Span(T(9), 1, 0, "worker", SpanKind::kConsumer)});
  EXPECT_EQ(Examples(), (std::vector<std::string>{
                            "worker orphan server 0005 0001 @4",
                            "worker orphan server 0004 0001 @3",
                            "worker orphan server 0003 0001 @2",
                            "worker orphan consumer 0009 0001 @5",
                        }));
}

TEST_F(ExamplesTest, EntryPointRootsLinkedRootsAndDuplicatesAreNotExamples) {
  SpanLink link{T(50), S(1)};
  SpanRecord linked = Span(T(2), 1, 0, "worker", SpanKind::kConsumer);
  linked.links = std::span<const SpanLink>(&link, 1);
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer), linked,
          Span(T(3), 1, 0, "worker", SpanKind::kServer)});
  Ingest({Span(T(3), 1, 0, "worker", SpanKind::kServer)});  // a retried export
  EXPECT_EQ(Examples(), (std::vector<std::string>{"worker orphan server 0003 0001 @0"}));
  EXPECT_EQ(engine().Collect().Find("worker")->total.duplicate_spans, 1u);
}

TEST_F(ExamplesTest, BrokenParentExampleNamesTheMissingParentAtFinalization) {
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer),
          Span(T(1), 3, 2, "worker", SpanKind::kInternal)});  // parent 2 never comes
  // Child before parent: resolved, never an example.
  Ingest({Span(T(2), 3, 2, "worker", SpanKind::kInternal)});
  clock_.Advance(seconds(5));
  Ingest({Span(T(2), 2, 1, "worker", SpanKind::kInternal),
          Span(T(2), 1, 0, "gateway", SpanKind::kServer)});
  EXPECT_TRUE(Examples().empty()) << "nothing is broken before finalization";
  clock_.Advance(seconds(30));
  EXPECT_EQ(Examples(), (std::vector<std::string>{"worker broken_parent unspecified 0001 0002 @35"}));
}

TEST_F(ExamplesTest, UnpairedOutboundExampleIsTheCallWithNoChild) {
  SpanRecord client = Span(T(1), 2, 1, "gateway", SpanKind::kClient);
  client.destination = "worker";
  SpanRecord paired = Span(T(2), 2, 1, "gateway", SpanKind::kClient);
  paired.destination = "worker";
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer), client,
          Span(T(2), 1, 0, "gateway", SpanKind::kServer), paired,
          Span(T(2), 3, 2, "worker", SpanKind::kServer)});
  clock_.Advance(seconds(30));
  EXPECT_EQ(Examples(), (std::vector<std::string>{"gateway unpaired_outbound client 0001 0002 @30"}));
}

TEST_F(ExamplesTest, ExtractionFailureAndInvalidTraceparent) {
  const std::string_view valid[] = {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
  const std::string_view invalid[] = {"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"};
  SpanRecord ignored = Span(T(1), 1, 0, "worker", SpanKind::kServer);
  ignored.captured_traceparents = valid;
  SpanRecord honoured = Span(T(2), 2, 1, "worker", SpanKind::kServer);
  honoured.captured_traceparents = valid;
  SpanRecord garbled = Span(T(3), 2, 1, "worker", SpanKind::kServer);
  garbled.captured_traceparents = invalid;
  Ingest({Span(T(2), 1, 0, "gateway", SpanKind::kServer), honoured,
          Span(T(3), 1, 0, "gateway", SpanKind::kServer), garbled, ignored});
  EXPECT_EQ(Examples("worker"), (std::vector<std::string>{
                                    "worker orphan server 0001 0001 @0",
                                    "worker extraction_failure unspecified 0001 0001 @0",
                                    "worker invalid_traceparent unspecified 0003 0002 @0",
                                }));
  EXPECT_TRUE(Examples("gateway").empty());
  EXPECT_TRUE(Examples("nobody").empty());
}

TEST_F(ExamplesTest, UnjudgedTracesGiveNoVerdictExamples) {
  options_.max_spans_per_trace = 1;
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer),
          Span(T(1), 3, 2, "worker", SpanKind::kInternal)});  // truncated
  clock_.Advance(seconds(30));
  EXPECT_TRUE(Examples().empty());
  EXPECT_EQ(engine().Collect().stats.traces_unjudged_truncated, 1u);
}

TEST_F(ExamplesTest, NewestAcrossStripesIsExact) {
  options_.shards = 8;
  options_.examples_per_finding = 4;
  engine();
  for (int i = 1; i <= 200; ++i) {
    Ingest({Span(T(i), 1, 0, "worker", SpanKind::kServer)});
    clock_.Advance(seconds(1));
  }
  EXPECT_EQ(Examples(), (std::vector<std::string>{
                            "worker orphan server 00c8 0001 @199",
                            "worker orphan server 00c7 0001 @198",
                            "worker orphan server 00c6 0001 @197",
                            "worker orphan server 00c5 0001 @196",
                        }));
}

TEST_F(ExamplesTest, SeriesBoundIsCountedNotExceeded) {
  options_.max_example_series = 2;
  Ingest({Span(T(1), 1, 0, "a", SpanKind::kServer), Span(T(2), 1, 0, "b", SpanKind::kServer),
          Span(T(3), 1, 0, "c", SpanKind::kServer), Span(T(4), 1, 0, "c", SpanKind::kServer),
          Span(T(5), 1, 0, "a", SpanKind::kServer)});
  // One receive time for all: the trace id orders them.
  EXPECT_EQ(Examples(), (std::vector<std::string>{
                            "a orphan server 0001 0001 @0",
                            "a orphan server 0005 0001 @0",
                            "b orphan server 0002 0001 @0",
                        }));
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.example_series, 2u);
  EXPECT_EQ(snap.stats.example_series_overflow, 2u);
  EXPECT_EQ(snap.Find("c")->total.orphan_spans(), 2u) << "counting never depends on examples";
}

TEST_F(ExamplesTest, SeriesBoundIsEngineWideWhateverTheStripes) {
  options_.shards = 8;
  options_.max_example_series = 4;
  // Four busy series, their traces spread over every stripe.
  const char* services[] = {"a", "b", "c", "d"};
  for (int i = 1; i <= 400; ++i) Ingest({Span(T(i), 1, 0, services[i % 4], SpanKind::kServer)});
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.example_series, 4u);
  EXPECT_EQ(snap.stats.example_series_overflow, 0u);
  EXPECT_EQ(Examples().size(), 12u);  // 4 series x 3
  Ingest({Span(T(401), 1, 0, "e", SpanKind::kServer), Span(T(402), 1, 0, "e", SpanKind::kServer)});
  snap = engine().Collect();
  EXPECT_EQ(snap.stats.example_series, 4u);
  EXPECT_EQ(snap.stats.example_series_overflow, 2u);
  EXPECT_TRUE(Examples("e").empty());
}

TEST_F(ExamplesTest, ChildrenOfOneMissingParentAreOneExample) {
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer),
          Span(T(1), 3, 2, "worker", SpanKind::kInternal),
          Span(T(1), 4, 2, "worker", SpanKind::kInternal),
          Span(T(1), 5, 2, "worker", SpanKind::kInternal)});  // parent 2 never comes
  clock_.Advance(seconds(30));
  EXPECT_EQ(Examples(), (std::vector<std::string>{"worker broken_parent unspecified 0001 0002 @30"}));
  EXPECT_EQ(engine().Collect().Find("worker")->total.broken_parents, 3u);
}

TEST_F(ExamplesTest, ServicesPastTheCapShareTheOverflowSeries) {
  options_.max_services = 1;  // "a" is tracked; "b" and a service that calls
  options_.examples_per_finding = 2;  // itself "__overflow__" share the bucket
  engine();
  for (int i = 1; i <= 6; ++i) {
    const char* service = i % 3 == 0 ? "b" : (i % 3 == 1 ? "a" : "__overflow__");
    Ingest({Span(T(i), 1, 0, service, SpanKind::kServer)});
    clock_.Advance(seconds(1));
  }
  EXPECT_EQ(Examples(), (std::vector<std::string>{
                            "__overflow__ orphan server 0006 0001 @5",
                            "__overflow__ orphan server 0005 0001 @4",
                            "a orphan server 0004 0001 @3",
                            "a orphan server 0001 0001 @0",
                        }));
}

TEST_F(ExamplesTest, QueryNarrowsByFindingAndLimit) {
  Ingest({Span(T(1), 1, 0, "worker", SpanKind::kServer), Span(T(2), 1, 0, "worker", SpanKind::kServer),
          Span(T(3), 3, 2, "worker", SpanKind::kInternal)});
  clock_.Advance(seconds(30));
  EXPECT_EQ(engine().RecentExamples({.finding = Finding::kBrokenParent}).size(), 1u);
  EXPECT_EQ(engine().RecentExamples({.finding = Finding::kOrphan}).size(), 2u);
  EXPECT_EQ(engine().RecentExamples({.limit = 2}).size(), 2u);
  EXPECT_EQ(engine().RecentExamples().size(), 3u);
}

TEST_F(ExamplesTest, ZeroPerFindingTurnsExamplesOff) {
  options_.examples_per_finding = 0;
  Ingest({Span(T(1), 1, 0, "worker", SpanKind::kServer)});
  EXPECT_TRUE(Examples().empty());
  EXPECT_EQ(engine().Collect().stats.example_series, 0u);
}

TEST(ExampleOptionsTest, BoundsAreValidated) {
  EngineOptions o;
  o.examples_per_finding = 65;
  EXPECT_FALSE(o.Validate().ok());
  o.examples_per_finding = 64;
  EXPECT_TRUE(o.Validate().ok());
  o.max_example_series = 0;
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_EQ(FindingName(Finding::kBrokenParent), "broken_parent");
}

}  // namespace
}  // namespace propwatch
