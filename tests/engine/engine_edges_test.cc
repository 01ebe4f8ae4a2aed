// Broken edges (docs/semantics.md "Broken edge"): each orphan SERVER/CONSUMER
// root is paired with the unpaired CLIENT/PRODUCER span, in another trace,
// that sent it, or counted with caller "unknown". The cases try to fool the
// pairing: two callers of one service, a caller without destination
// attributes, a retried call, skew exactly at the tolerance, a consumer
// minutes after its producer, traces evicted by the cap, and every arrival
// order of one scenario.
#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "propwatch/engine.h"
#include "test_spans.h"

namespace propwatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

using test_spans::S;
using test_spans::Span;
using test_spans::T;

constexpr uint64_t kEpochNs = 1'700'000'000'000'000'000ull;
uint64_t Ms(int64_t ms) { return kEpochNs + static_cast<uint64_t>(ms) * 1'000'000; }

SpanRecord Timed(SpanRecord r, int64_t start_ms, int64_t end_ms) {
  r.start_unix_nano = Ms(start_ms);
  r.end_unix_nano = Ms(end_ms);
  return r;
}

// An orphan SERVER root of `service`, reached at address:port.
SpanRecord Server(TraceId trace, std::string_view service, int64_t start_ms, int64_t end_ms,
                  std::string_view address = {}, uint32_t port = 0) {
  SpanRecord r = Timed(Span(trace, 1, 0, service, SpanKind::kServer), start_ms, end_ms);
  r.server_address = address;
  r.server_port = port;
  return r;
}

// A CLIENT span (span 2, child of the caller's root span 1).
SpanRecord Client(TraceId trace, std::string_view service, int64_t start_ms, int64_t end_ms,
                  std::string_view address = {}, uint32_t port = 0,
                  std::string_view peer = {}, int span = 2) {
  SpanRecord r = Timed(Span(trace, span, 1, service, SpanKind::kClient), start_ms, end_ms);
  r.server_address = address;
  r.server_port = port;
  r.peer_service = peer;
  r.destination = !peer.empty() ? peer : address;
  return r;
}

SpanRecord Producer(TraceId trace, std::string_view service, int64_t start_ms,
                    std::string_view topic) {
  SpanRecord r = Timed(Span(trace, 2, 1, service, SpanKind::kProducer), start_ms, start_ms + 1);
  r.messaging_destination = topic;
  r.destination = topic;
  return r;
}

SpanRecord Consumer(TraceId trace, std::string_view service, int64_t start_ms,
                    std::string_view topic) {
  SpanRecord r = Timed(Span(trace, 1, 0, service, SpanKind::kConsumer), start_ms, start_ms + 5);
  r.messaging_destination = topic;
  return r;
}

// The caller's own root (an entry point), so its trace is well formed.
SpanRecord Root(TraceId trace, std::string_view service, int64_t start_ms, int64_t end_ms) {
  return Timed(Span(trace, 1, 0, service, SpanKind::kServer), start_ms, end_ms);
}

class EdgesTest : public ::testing::Test {
 protected:
  EdgesTest() {
    options_.entry_point_services = {"gateway", "checkout", "billing", "cron"};
    options_.trace_idle_timeout = seconds(30);  // decisions 60 s after arrival
    options_.late_span_retention = seconds(60);
    options_.window_length = seconds(600);
    options_.window_resolution = seconds(10);
    options_.edge_clock_skew = milliseconds(10);
    options_.shards = 4;
  }

  Engine& engine() {
    if (!engine_) {
      options_.clock = &clock_;
      const Status status = Engine::Create(options_, &engine_);
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
    return *engine_;
  }

  void Ingest(std::vector<SpanRecord> spans) { engine().Ingest(spans); }

  // "caller->callee boundary total", sorted.
  std::vector<std::string> Edges() {
    std::vector<std::string> out;
    for (const BrokenEdgeCount& e : engine().Collect().broken_edges) {
      out.push_back(e.caller_service + "->" + e.callee_service + " " +
                    std::string(EdgeBoundaryName(e.boundary)) + " " + std::to_string(e.total));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Which caller span each orphan was paired with: "orphan trace -> caller
  // trace/span" (last 4 hex digits), sorted.
  std::vector<std::string> Pairs() {
    std::vector<std::string> out;
    ExampleQuery query;
    query.finding = Finding::kBrokenEdge;
    for (const FindingExample& x : engine().RecentExamples(query)) {
      out.push_back(x.trace_id.ToHex().substr(28) + "->" + x.caller_service + ":" +
                    (x.caller_trace_id.IsZero() ? std::string("-")
                                                : x.caller_trace_id.ToHex().substr(28) + "/" +
                                                      x.caller_span_id.ToHex().substr(12)));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Past every finalization and decision.
  void Settle() { clock_.Advance(seconds(200)); }

  EngineOptions options_;
  ManualClock clock_{Timestamp(seconds(1'700'000'000))};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EdgesTest, ClientContainingTheServerAtItsAddressIsTheCaller) {
  options_.examples_per_finding = 5;
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250, "orders.internal", 8080),
          Server(T(2), "orders", 100, 200, "orders.internal", 8080)});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"checkout->orders http 1"}));
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0002->checkout:0001/0002"}));
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find("orders")->total.orphan_spans(), 1u);
  EXPECT_EQ(snap.Find("checkout")->total.unpaired_outbound, 1u);
  EXPECT_EQ(snap.stats.edge_orphans_pending, 0u);
  EXPECT_EQ(snap.stats.edge_outbound_candidates, 0u) << "a paired candidate is used up";
  EXPECT_EQ(snap.stats.edge_series, 1u);
}

TEST_F(EdgesTest, PeerServiceNamesTheCalleeWithoutAnAddress) {
  Ingest({Root(T(1), "checkout", 0, 300),
          Client(T(1), "checkout", 50, 250, {}, 0, /*peer=*/"orders"),
          Server(T(2), "orders", 100, 200)});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"checkout->orders http 1"}));
}

TEST_F(EdgesTest, NoOutboundSpanMeansUnknownCaller) {
  Ingest({Server(T(2), "orders", 100, 200, "orders.internal", 8080)});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->orders http 1"}));
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0002->unknown:-"}));
}

TEST_F(EdgesTest, CallerWithoutDestinationAttributesCannotBeNamed) {
  // The client's span exists and contains the server's, but says nothing of
  // where it went: the orphan stays unattributed rather than guessed.
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250),
          Server(T(2), "orders", 100, 200, "orders.internal", 8080)});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->orders http 1"}));
  EXPECT_EQ(engine().Collect().Find("checkout")->total.unpaired_outbound, 1u);
}

TEST_F(EdgesTest, TwoCallersOfOneServiceEachGetTheirOwnOrphans) {
  // checkout's call contains only the first request, billing's only the
  // second; they overlap in time, so only containment tells them apart.
  Ingest({Root(T(1), "checkout", 0, 600), Client(T(1), "checkout", 0, 500, "orders", 80),
          Root(T(3), "billing", 100, 800), Client(T(3), "billing", 300, 700, "orders", 80),
          Server(T(2), "orders", 10, 200, "orders", 80),
          Server(T(4), "orders", 520, 650, "orders", 80)});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"billing->orders http 1",
                                                "checkout->orders http 1"}));
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0002->checkout:0001/0002",
                                                "0004->billing:0003/0002"}));
}

TEST_F(EdgesTest, RetriedCallPairsEachAttemptWithTheRequestItContains) {
  // Attempt 1 timed out while the server still handled it; attempt 2
  // succeeded. Both orphans pair with the attempt that contains them.
  Ingest({Root(T(1), "checkout", 0, 400), Client(T(1), "checkout", 0, 100, "orders", 80, {}, 2),
          Client(T(1), "checkout", 150, 300, "orders", 80, {}, 3),
          Server(T(2), "orders", 20, 90, "orders", 80), Server(T(4), "orders", 160, 290, "orders", 80)});
  Settle();
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0002->checkout:0001/0002",
                                                "0004->checkout:0001/0003"}));
}

TEST_F(EdgesTest, RetryWhoseFirstAttemptNeverArrivedLeavesItUnpaired) {
  Ingest({Root(T(1), "checkout", 0, 400), Client(T(1), "checkout", 0, 100, "orders", 80, {}, 2),
          Client(T(1), "checkout", 150, 300, "orders", 80, {}, 3),
          Server(T(4), "orders", 160, 290, "orders", 80)});
  Settle();
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0004->checkout:0001/0003"}));
  EXPECT_EQ(engine().Collect().stats.edge_outbound_candidates, 1u) << "attempt 1 waits, unused";
}

TEST_F(EdgesTest, OneClientSpanPairsWithOneOrphanTheNearestInStart) {
  Ingest({Root(T(1), "checkout", 0, 600), Client(T(1), "checkout", 100, 500, "orders", 80),
          Server(T(2), "orders", 300, 400, "orders", 80),
          Server(T(4), "orders", 120, 200, "orders", 80)});
  Settle();
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0002->unknown:-", "0004->checkout:0001/0002"}));
}

TEST_F(EdgesTest, EqualDistancesAreBrokenByTheIdsNotByArrival) {
  // Two orphans start at the same time inside one client span: the lower
  // trace id wins, whichever arrives first.
  for (int order = 0; order < 2; ++order) {
    engine_.reset();
    std::vector<SpanRecord> spans = {Root(T(1), "checkout", 0, 600),
                                     Client(T(1), "checkout", 100, 500, "orders", 80),
                                     Server(T(7), "orders", 150, 200, "orders", 80),
                                     Server(T(5), "orders", 150, 210, "orders", 80)};
    if (order == 1) std::reverse(spans.begin(), spans.end());
    for (const SpanRecord& s : spans) {
      Ingest({s});
      clock_.Advance(seconds(1));
    }
    Settle();
    EXPECT_EQ(Pairs(), (std::vector<std::string>{"0005->checkout:0001/0002", "0007->unknown:-"}))
        << "order " << order;
  }
}

TEST_F(EdgesTest, ClockSkewIsToleratedUpToTheBoundExactly) {
  // Client [100, 200] ms, skew 10 ms: a server span may start at 90 ms and
  // end at 210 ms; a nanosecond more on either side is a different call.
  auto run = [&](int64_t start_ns_delta, int64_t end_ns_delta) {
    engine_.reset();
    SpanRecord server = Server(T(2), "orders", 90, 210, "orders", 80);
    server.start_unix_nano += start_ns_delta;
    server.end_unix_nano += end_ns_delta;
    Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 100, 200, "orders", 80),
            server});
    Settle();
    return Edges();
  };
  const std::vector<std::string> paired = {"checkout->orders http 1"};
  const std::vector<std::string> unknown = {"unknown->orders http 1"};
  EXPECT_EQ(run(0, 0), paired);
  EXPECT_EQ(run(-1, 0), unknown) << "started 1 ns before the tolerance";
  EXPECT_EQ(run(0, 1), unknown) << "ended 1 ns after the tolerance";
}

TEST_F(EdgesTest, PortsMustAgreeWhereBothSpansCarryOne) {
  auto run = [&](uint32_t client_port, uint32_t server_port) {
    engine_.reset();
    Ingest({Root(T(1), "checkout", 0, 300),
            Client(T(1), "checkout", 50, 250, "orders", client_port),
            Server(T(2), "orders", 100, 200, "orders", server_port)});
    Settle();
    return Edges();
  };
  EXPECT_EQ(run(8080, 9090), (std::vector<std::string>{"unknown->orders http 1"}));
  EXPECT_EQ(run(8080, 8080), (std::vector<std::string>{"checkout->orders http 1"}));
  EXPECT_EQ(run(0, 8080), (std::vector<std::string>{"checkout->orders http 1"}));
  EXPECT_EQ(run(8080, 0), (std::vector<std::string>{"checkout->orders http 1"}));
}

TEST_F(EdgesTest, ConsumerMinutesAfterItsProducerStillPairs) {
  options_.edge_messaging_max_lag = minutes(5);
  // The producer's trace is finalized long before the consumer runs.
  Ingest({Root(T(1), "cron", 0, 10), Producer(T(1), "worker", 2, "orders-topic")});
  clock_.Advance(minutes(4));
  Ingest({Consumer(T(2), "consumer", 4 * 60'000, "orders-topic")});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"worker->consumer messaging 1"}));
}

TEST_F(EdgesTest, ConsumerPastTheMaximumLagIsNotPaired) {
  options_.edge_messaging_max_lag = minutes(5);
  Ingest({Root(T(1), "cron", 0, 10), Producer(T(1), "worker", 2, "orders-topic")});
  clock_.Advance(minutes(6));
  Ingest({Consumer(T(2), "consumer", 6 * 60'000, "orders-topic")});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->consumer messaging 1"}));
}

TEST_F(EdgesTest, MessagingPairsByTopicAndNeverWithALaterProducer) {
  // Two topics; on each, the consumer pairs with the latest producer that
  // started before it, not with one that started after it (beyond the skew).
  Ingest({Root(T(1), "cron", 0, 10), Producer(T(1), "worker", 0, "a"),
          Root(T(3), "billing", 0, 10), Producer(T(3), "billing", 50, "b"),
          Root(T(5), "cron", 0, 10), Producer(T(5), "worker", 215, "b"),
          Consumer(T(2), "consumer", 100, "a"), Consumer(T(4), "consumer", 200, "b")});
  Settle();
  EXPECT_EQ(Pairs(), (std::vector<std::string>{"0002->worker:0001/0002",
                                                "0004->billing:0003/0002"}));
}

TEST_F(EdgesTest, ClientWhoseChildArrivesLaterIsNoCandidate) {
  // The client's child (a properly propagated call) arrives after the
  // client: it was never unpaired, so it must not explain another orphan.
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250, "orders", 80)});
  clock_.Advance(seconds(5));
  SpanRecord child = Timed(Span(T(1), 3, 2, "orders", SpanKind::kServer), 60, 240);
  Ingest({child, Server(T(2), "orders", 100, 200, "orders", 80)});
  Settle();
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->orders http 1"}));
}

TEST_F(EdgesTest, EntryPointsAndLinkedRootsAreNoEdges) {
  SpanRecord linked = Server(T(4), "orders", 100, 200, "orders", 80);
  const SpanLink link{T(1), S(2)};
  linked.links = {&link, 1};
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250, "gateway", 80),
          Server(T(2), "gateway", 100, 200, "gateway", 80), linked});
  Settle();
  EXPECT_TRUE(Edges().empty());
}

TEST_F(EdgesTest, CallerTraceEvictedByTheCapLeavesTheOrphanUnknown) {
  // One stripe holding two traces: the caller's live trace is evicted before
  // it was judged, so its client span is never a candidate (no guess from a
  // trace we no longer fully know).
  options_.shards = 1;
  options_.max_traces = 2;
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250, "orders", 80)});
  Ingest({Server(T(2), "orders", 100, 200, "orders", 80)});
  Ingest({Root(T(3), "gateway", 0, 10)});  // evicts T(1)
  Settle();
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.traces_evicted_capacity, 1u);
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->orders http 1"}));
}

TEST_F(EdgesTest, CandidateBoundPushesOutTheOldestAndCountsIt) {
  options_.shards = 1;  // one stripe finalizes least recently active first
  options_.max_edge_candidates = 2;
  Ingest({Server(T(2), "orders", 100, 200, "orders", 80),
          Server(T(3), "orders", 2100, 2200, "orders", 80)});
  for (int i = 0; i < 3; ++i) {
    Ingest({Root(T(10 + i), "checkout", i * 1000, i * 1000 + 300),
            Client(T(10 + i), "checkout", i * 1000 + 50, i * 1000 + 250, "orders", 80)});
  }
  Settle();  // three candidates finalized at once, room for two
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.edge_outbound_evicted, 1u);
  EXPECT_EQ(Edges(), (std::vector<std::string>{"checkout->orders http 1",
                                                "unknown->orders http 1"}))
      << "the first call's candidate was pushed out";
}

TEST_F(EdgesTest, HttpCallToADestinationNoOrphanNamedIsNotHeld) {
  // Unpaired calls to a database: no orphan ever named it, so they cost no
  // candidate memory. A producer is held regardless (its consumer may come
  // minutes later).
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250, "postgres", 5432),
          Root(T(3), "cron", 0, 10), Producer(T(3), "worker", 2, "jobs")});
  clock_.Advance(seconds(31));
  engine().Advance();
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find("checkout")->total.unpaired_outbound, 1u);
  EXPECT_EQ(snap.stats.edge_outbound_candidates, 1u) << "only the producer";
}

TEST_F(EdgesTest, PendingOrphanBoundCountsEvictionsOnNoEdge) {
  options_.max_edge_candidates = 2;
  for (int i = 0; i < 3; ++i) Ingest({Server(T(2 + i), "orders", 100, 200)});
  Settle();
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.edge_orphans_evicted, 1u);
  EXPECT_EQ(snap.Find("orders")->total.orphan_spans(), 3u) << "orphans are still counted";
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->orders http 2"}));
}

TEST_F(EdgesTest, SeriesBoundCountsOverflow) {
  options_.max_edge_series = 1;
  Ingest({Server(T(2), "orders", 100, 200), Consumer(T(3), "consumer", 100, "t")});
  Settle();
  const Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.edge_series, 1u);
  EXPECT_EQ(snap.stats.edge_series_overflow, 1u);
}

TEST_F(EdgesTest, DecisionWaitsForTheDelay) {
  options_.edge_decision_delay = seconds(45);
  Ingest({Server(T(2), "orders", 100, 200)});
  clock_.Advance(seconds(44));
  EXPECT_TRUE(Edges().empty());
  EXPECT_EQ(engine().Collect().stats.edge_orphans_pending, 1u);
  clock_.Advance(seconds(1));
  EXPECT_EQ(Edges(), (std::vector<std::string>{"unknown->orders http 1"}));
}

TEST_F(EdgesTest, WindowCountsOnlyRecentEdges) {
  options_.window_length = seconds(100);
  Ingest({Server(T(2), "orders", 100, 200)});
  clock_.Advance(seconds(61));
  engine().Advance();  // decided at 61 s
  clock_.Advance(seconds(139));
  Ingest({Server(T(3), "orders", 100, 200)});
  clock_.Advance(seconds(70));  // the second is decided at 270 s; the first is out of the window
  const Snapshot snap = engine().Collect();
  ASSERT_EQ(snap.broken_edges.size(), 1u);
  EXPECT_EQ(snap.broken_edges[0].total, 2u);
  EXPECT_EQ(snap.broken_edges[0].window, 1u);
}

TEST_F(EdgesTest, OffCountsNothingAndHoldsNothing) {
  options_.edge_attribution = false;
  Ingest({Root(T(1), "checkout", 0, 300), Client(T(1), "checkout", 50, 250, "orders", 80),
          Server(T(2), "orders", 100, 200, "orders", 80)});
  Settle();
  const Snapshot snap = engine().Collect();
  EXPECT_TRUE(snap.broken_edges.empty());
  EXPECT_EQ(snap.stats.edge_series, 0u);
  EXPECT_EQ(snap.Find("orders")->total.orphan_spans(), 1u);
}

// One scenario, every kind of edge, fed in many arrival orders with the
// receive clock moving between spans: the edges and the exact pairs never
// change.
TEST_F(EdgesTest, ArrivalOrderDoesNotMatter) {
  const std::vector<SpanRecord> scenario = {
      Root(T(1), "checkout", 0, 600), Client(T(1), "checkout", 0, 500, "orders", 80),
      Root(T(3), "billing", 100, 800), Client(T(3), "billing", 300, 700, "orders", 80),
      Server(T(2), "orders", 10, 200, "orders", 80), Server(T(4), "orders", 520, 650, "orders", 80),
      Server(T(6), "orders", 530, 640, "orders", 80),  // billing's call already taken: nearest wins
      Root(T(7), "cron", 0, 10), Producer(T(7), "worker", 5, "jobs"),
      Root(T(9), "cron", 0, 10), Producer(T(9), "worker", 40, "jobs"),
      Consumer(T(8), "consumer", 20, "jobs"), Consumer(T(10), "consumer", 60, "jobs"),
      Consumer(T(11), "consumer", 70, "jobs"),  // one producer short: unknown
      Timed(Span(T(12), 1, 0, "orders", SpanKind::kServer), 0, 0),  // no times at all
  };
  std::vector<std::string> first_edges, first_pairs;
  std::mt19937 rng(12345);
  for (int round = 0; round < 30; ++round) {
    engine_.reset();
    std::vector<SpanRecord> spans = scenario;
    if (round > 0) std::shuffle(spans.begin(), spans.end(), rng);
    // 15 spans at most 1.5 s apart: all within 21 s, less than the idle
    // timeout (30 s) and decision delay - idle timeout.
    for (const SpanRecord& s : spans) {
      Ingest({s});
      clock_.Advance(milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
    }
    // Orphans come due one by one, in separate decisions.
    for (int step = 0; step < 200; ++step) {
      clock_.Advance(seconds(1));
      engine().Advance();
    }
    std::vector<std::string> edges = Edges(), pairs = Pairs();
    if (round == 0) {
      first_edges = edges;
      first_pairs = pairs;
      EXPECT_EQ(edges, (std::vector<std::string>{
                           "billing->orders http 1", "checkout->orders http 1",
                           "unknown->consumer messaging 1", "unknown->orders http 2",
                           "worker->consumer messaging 2"}));
      EXPECT_EQ(pairs, (std::vector<std::string>{
                           "0002->checkout:0001/0002", "0004->billing:0003/0002",
                           "0006->unknown:-", "0008->worker:0007/0002", "000a->worker:0009/0002",
                           "000b->unknown:-", "000c->unknown:-"}));
    } else {
      EXPECT_EQ(edges, first_edges) << "round " << round;
      EXPECT_EQ(pairs, first_pairs) << "round " << round;
    }
  }
}

TEST_F(EdgesTest, OptionsAreValidated) {
  EngineOptions o;
  o.edge_decision_delay = seconds(10);  // below the 30 s idle timeout
  EXPECT_FALSE(o.Validate().ok());
  o.edge_decision_delay = seconds(30);
  EXPECT_TRUE(o.Validate().ok());
  o.max_edge_candidates = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.max_edge_candidates = 1;
  o.edge_clock_skew = std::chrono::hours(2);
  EXPECT_FALSE(o.Validate().ok());
  o.edge_clock_skew = seconds(1);
  o.max_edge_series = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace propwatch
