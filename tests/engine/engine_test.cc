// Engine definitions (docs/semantics.md), each tested with cases built to
// fool it. Time only moves through ManualClock; nothing sleeps. Every
// expectation is an exact number.
#include "propwatch/engine.h"
#include "test_spans.h"

#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace propwatch {
namespace {

using test_spans::S;
using test_spans::Span;
using test_spans::T;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    options_.entry_point_services = {"gateway", "cron-*", "web-?"};
    options_.trace_idle_timeout = std::chrono::seconds(30);
    options_.late_span_retention = std::chrono::seconds(60);
    options_.window_length = std::chrono::seconds(60);
    options_.window_resolution = std::chrono::seconds(10);
    options_.shards = 1;  // exact cap behaviour; sharding has its own tests
  }

  Engine& engine() {
    if (!engine_) {
      options_.clock = &clock_;
      const Status status = Engine::Create(options_, &engine_);
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
    return *engine_;
  }

  IngestResult Ingest(std::vector<SpanRecord> spans) { return engine().Ingest(spans); }

  // Totals of one service; fails the test if the service is unknown.
  ServiceCounters Total(std::string_view service) {
    Snapshot snap = engine().Collect();
    const ServiceSnapshot* s = snap.Find(service);
    EXPECT_NE(s, nullptr) << service;
    return s ? s->total : ServiceCounters{};
  }

  uint64_t Orphans(std::string_view service, SpanKind kind) {
    return Total(service).orphan_spans_by_kind[static_cast<int>(kind)];
  }

  ManualClock clock_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

// --- roots, entry points, orphans, linked roots ---------------------------

TEST_F(EngineTest, RootOfEntryPointIsTraceStartNotOrphan) {
  Ingest({Span(T(1), 1, 0, "gateway")});
  ServiceCounters c = Total("gateway");
  EXPECT_EQ(c.spans, 1u);
  EXPECT_EQ(c.root_spans, 1u);
  EXPECT_EQ(c.orphan_spans(), 0u);
}

TEST_F(EngineTest, RootOfInternalServiceIsOrphanCountedByKind) {
  Ingest({Span(T(1), 1, 0, "worker", SpanKind::kServer),
          Span(T(2), 2, 0, "worker", SpanKind::kConsumer),
          Span(T(3), 3, 0, "worker", SpanKind::kInternal),
          Span(T(4), 4, 0, "worker", SpanKind::kInternal),
          Span(T(4), 5, 4, "worker", SpanKind::kClient)});  // child: not a root
  ServiceCounters c = Total("worker");
  EXPECT_EQ(c.spans, 5u);
  EXPECT_EQ(c.root_spans, 4u);
  EXPECT_EQ(c.orphan_spans(), 4u);
  EXPECT_EQ(c.orphan_spans_by_kind[static_cast<int>(SpanKind::kServer)], 1u);
  EXPECT_EQ(c.orphan_spans_by_kind[static_cast<int>(SpanKind::kConsumer)], 1u);
  EXPECT_EQ(c.orphan_spans_by_kind[static_cast<int>(SpanKind::kInternal)], 2u);
  EXPECT_EQ(c.orphan_spans_by_kind[static_cast<int>(SpanKind::kClient)], 0u);
}

TEST_F(EngineTest, RootWithLinksIsLinkedRootNotOrphan) {
  SpanLink link{T(9), S(9)};
  SpanRecord linked = Span(T(1), 1, 0, "batcher", SpanKind::kConsumer);
  linked.links = std::span<const SpanLink>(&link, 1);
  SpanRecord child_with_link = Span(T(1), 2, 1, "batcher", SpanKind::kInternal);
  child_with_link.links = std::span<const SpanLink>(&link, 1);
  Ingest({linked, child_with_link});
  ServiceCounters c = Total("batcher");
  EXPECT_EQ(c.linked_roots, 1u);  // a linked non-root is not a linked root
  EXPECT_EQ(c.orphan_spans(), 0u);
  EXPECT_EQ(c.root_spans, 1u);
}

TEST_F(EngineTest, EntryPointRootWithLinksIsNeitherOrphanNorLinkedRoot) {
  SpanLink link{T(9), S(9)};
  SpanRecord r = Span(T(1), 1, 0, "gateway");
  r.links = std::span<const SpanLink>(&link, 1);
  Ingest({r});
  ServiceCounters c = Total("gateway");
  EXPECT_EQ(c.linked_roots, 0u);
  EXPECT_EQ(c.orphan_spans(), 0u);
  EXPECT_EQ(c.root_spans, 1u);
}

TEST_F(EngineTest, EntryPointGlobsMatchWholeNames) {
  Ingest({Span(T(1), 1, 0, "cron-nightly"), Span(T(2), 2, 0, "cron-"),
          Span(T(3), 3, 0, "cronjob"), Span(T(4), 4, 0, "web-1"), Span(T(5), 5, 0, "web-12"),
          Span(T(6), 6, 0, "my-gateway")});
  Snapshot snap = engine().Collect();
  EXPECT_TRUE(snap.Find("cron-nightly")->entry_point);
  EXPECT_TRUE(snap.Find("cron-")->entry_point);  // `*` matches the empty run
  EXPECT_FALSE(snap.Find("cronjob")->entry_point);
  EXPECT_TRUE(snap.Find("web-1")->entry_point);
  EXPECT_FALSE(snap.Find("web-12")->entry_point);  // `?` is exactly one character
  EXPECT_FALSE(snap.Find("my-gateway")->entry_point);  // exact names are anchored
  EXPECT_EQ(snap.Find("cronjob")->total.orphan_spans(), 1u);
  EXPECT_EQ(snap.Find("web-12")->total.orphan_spans(), 1u);
  EXPECT_EQ(snap.Find("cron-nightly")->total.orphan_spans(), 0u);
}

TEST_F(EngineTest, MissingServiceNameIsUnknownService) {
  Ingest({Span(T(1), 1, 0, "")});
  EXPECT_EQ(Total("unknown_service").orphan_spans(), 1u);
}

// --- broken parents and arrival order -------------------------------------

TEST_F(EngineTest, ChildrenBeforeParentsAreNotBroken) {
  // Grandchild, then child, then the root: the usual order when SDKs export
  // spans as they end.
  Ingest({Span(T(1), 3, 2, "db", SpanKind::kServer)});
  Ingest({Span(T(1), 2, 1, "api", SpanKind::kClient)});
  clock_.Advance(std::chrono::seconds(5));
  Ingest({Span(T(1), 1, 0, "gateway", SpanKind::kServer)});
  clock_.Advance(std::chrono::seconds(31));
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.traces_finalized, 1u);
  for (const ServiceSnapshot& s : snap.services) {
    EXPECT_EQ(s.total.broken_parents, 0u) << s.service;
    EXPECT_EQ(s.total.orphan_spans(), 0u) << s.service;
    EXPECT_EQ(s.total.unpaired_outbound, 0u) << s.service;  // api's CLIENT has db as child
  }
}

TEST_F(EngineTest, BrokenParentIsDecidedOnlyAtFinalization) {
  Ingest({Span(T(1), 1, 0, "gateway"), Span(T(1), 3, 2, "worker")});
  clock_.Advance(std::chrono::seconds(29));
  EXPECT_EQ(Total("worker").broken_parents, 0u);  // parent 2 may still come
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Total("worker").broken_parents, 1u);
  EXPECT_EQ(Total("gateway").broken_parents, 0u);  // counted on the child's service
}

TEST_F(EngineTest, ParentJustInsideIdleTimeoutResolves) {
  Ingest({Span(T(1), 2, 1, "worker")});
  clock_.Advance(std::chrono::seconds(30) - std::chrono::milliseconds(1));
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Total("worker").broken_parents, 0u);
  EXPECT_EQ(Total("gateway").late_spans, 0u);
}

TEST_F(EngineTest, ParentJustOutsideIdleTimeoutIsLateAndChildBroken) {
  Ingest({Span(T(1), 2, 1, "worker")});
  clock_.Advance(std::chrono::seconds(30));  // idle == timeout: finalized (>=)
  Ingest({Span(T(1), 1, 0, "gateway")});
  EXPECT_EQ(Total("worker").broken_parents, 1u);
  ServiceCounters gw = Total("gateway");
  EXPECT_EQ(gw.late_spans, 1u);
  EXPECT_EQ(gw.orphan_spans(), 0u);  // an entry point's root, late or not
}

TEST_F(EngineTest, ResultsDoNotDependOnAdvanceFrequency) {
  // Same scenario as above, with Advance() called every second in between.
  Ingest({Span(T(1), 2, 1, "worker")});
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(std::chrono::seconds(1));
    engine().Advance();
  }
  Ingest({Span(T(1), 1, 0, "gateway")});
  EXPECT_EQ(Total("worker").broken_parents, 1u);
  EXPECT_EQ(Total("gateway").late_spans, 1u);
}

TEST_F(EngineTest, IdleTimeoutRestartsWithEveryNewSpan) {
  Ingest({Span(T(1), 2, 1, "worker")});
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(std::chrono::seconds(20));
    Ingest({Span(T(1), 10 + i, 2, "worker")});  // keeps the trace active
  }
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find("worker")->total.broken_parents, 0u);
  EXPECT_EQ(snap.Find("gateway")->total.late_spans, 0u);
  EXPECT_EQ(snap.stats.traces_finalized, 1u);
}

TEST_F(EngineTest, SpansOfOtherTracesDoNotResolveParents) {
  // Same span ids in two traces: identity is (trace id, span id).
  Ingest({Span(T(1), 1, 0, "gateway"), Span(T(2), 2, 1, "worker")});
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Total("worker").broken_parents, 1u);
}

// --- duplicates -------------------------------------------------------------

TEST_F(EngineTest, SameSpanTwiceIsCountedOnceAndAsDuplicate) {
  Ingest({Span(T(1), 1, 0, "worker"), Span(T(1), 1, 0, "worker")});
  Ingest({Span(T(1), 1, 0, "worker")});  // a retried export
  ServiceCounters c = Total("worker");
  EXPECT_EQ(c.spans, 1u);
  EXPECT_EQ(c.root_spans, 1u);
  EXPECT_EQ(c.orphan_spans(), 1u);
  EXPECT_EQ(c.duplicate_spans, 2u);
}

TEST_F(EngineTest, DuplicateChildDoesNotDoubleCountBrokenParent) {
  Ingest({Span(T(1), 2, 1, "worker"), Span(T(1), 2, 1, "worker")});
  clock_.Advance(std::chrono::seconds(30));
  ServiceCounters c = Total("worker");
  EXPECT_EQ(c.broken_parents, 1u);
  EXPECT_EQ(c.duplicate_spans, 1u);
}

// --- capacity eviction ------------------------------------------------------

TEST_F(EngineTest, TraceEvictedByCapIsNeverReportedBroken) {
  options_.max_traces = 2;
  Ingest({Span(T(1), 3, 2, "worker")});  // parent unresolved
  clock_.Advance(std::chrono::seconds(1));
  Ingest({Span(T(2), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(1));
  Ingest({Span(T(3), 1, 0, "gateway")});  // table full: T(1) is least recent
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.traces_evicted_capacity, 1u);
  EXPECT_EQ(snap.stats.live_traces, 2u);
  // A later span of the evicted trace whose parent we dropped ourselves.
  Ingest({Span(T(1), 4, 2, "worker")});
  clock_.Advance(std::chrono::seconds(40));
  snap = engine().Collect();
  EXPECT_EQ(snap.Find("worker")->total.broken_parents, 0u);
  EXPECT_EQ(snap.stats.traces_evicted_capacity, 2u);  // T(1) again pushed T(2) out
  EXPECT_EQ(snap.stats.traces_finalized, 2u);
}

TEST_F(EngineTest, FinalizedTracesAreDisplacedBeforeLiveOnes) {
  options_.max_traces = 2;
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  engine().Advance();  // T(1) finalized and retained
  Ingest({Span(T(2), 1, 0, "gateway")});
  Ingest({Span(T(3), 1, 0, "gateway")});  // full: the retained T(1) goes first
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.finalized_traces_displaced, 1u);
  EXPECT_EQ(snap.stats.traces_evicted_capacity, 0u);
  EXPECT_EQ(snap.stats.live_traces, 2u);
  EXPECT_EQ(snap.stats.finalized_traces_retained, 0u);
}

TEST_F(EngineTest, SpansBeyondPerTraceCapAreCountedButTraceNotJudged) {
  options_.max_spans_per_trace = 3;
  Ingest({Span(T(1), 1, 0, "gateway"), Span(T(1), 2, 1, "worker"), Span(T(1), 3, 2, "worker"),
          Span(T(1), 4, 3, "worker"),     // untracked
          Span(T(1), 5, 4, "worker")});   // its parent was not tracked
  clock_.Advance(std::chrono::seconds(30));
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.spans_untracked_trace_cap, 2u);
  EXPECT_EQ(snap.Find("worker")->total.spans, 4u);
  EXPECT_EQ(snap.Find("worker")->total.broken_parents, 0u);
}

// --- late spans -------------------------------------------------------------

TEST_F(EngineTest, LateSpanWithParentInFinalizedTraceIsLateNotBroken) {
  Ingest({Span(T(1), 1, 0, "gateway"), Span(T(1), 2, 1, "api")});
  clock_.Advance(std::chrono::seconds(45));
  engine().Advance();
  Ingest({Span(T(1), 3, 2, "worker", SpanKind::kConsumer)});  // 45 s late
  clock_.Advance(std::chrono::seconds(30));
  Snapshot snap = engine().Collect();
  const ServiceCounters& w = snap.Find("worker")->total;
  EXPECT_EQ(w.late_spans, 1u);
  EXPECT_EQ(w.broken_parents, 0u);
  EXPECT_EQ(w.orphan_spans(), 0u);
  EXPECT_EQ(snap.stats.distinct_trace_ids, 1u);  // not a new trace
  EXPECT_EQ(snap.stats.traces_finalized, 2u);    // re-finalized after the late span
}

TEST_F(EngineTest, LateSpanWithMissingParentIsBrokenAfterRefinalization) {
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  Ingest({Span(T(1), 7, 6, "worker")});
  EXPECT_EQ(Total("worker").broken_parents, 0u);
  clock_.Advance(std::chrono::seconds(30));
  ServiceCounters w = Total("worker");
  EXPECT_EQ(w.late_spans, 1u);
  EXPECT_EQ(w.broken_parents, 1u);
}

TEST_F(EngineTest, LateChildAndLateParentTogetherAreNotBroken) {
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  Ingest({Span(T(1), 3, 2, "worker")});  // late, parent 2 not yet there
  Ingest({Span(T(1), 2, 1, "api")});     // late too, resolves 3
  clock_.Advance(std::chrono::seconds(30));
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find("worker")->total.broken_parents, 0u);
  EXPECT_EQ(snap.Find("worker")->total.late_spans, 1u);
  EXPECT_EQ(snap.Find("api")->total.late_spans, 1u);
}

TEST_F(EngineTest, SpanAfterRetentionStartsANewTrace) {
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  engine().Advance();                    // finalized at t=30
  clock_.Advance(std::chrono::seconds(60));     // retention (60 s) over at t=90
  Ingest({Span(T(1), 2, 1, "worker")});
  clock_.Advance(std::chrono::seconds(30));
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find("worker")->total.late_spans, 0u);
  EXPECT_EQ(snap.Find("worker")->total.broken_parents, 1u);  // parent forgotten
  EXPECT_EQ(snap.stats.distinct_trace_ids, 2u);
}

// --- unpaired outbound spans -----------------------------------------------

TEST_F(EngineTest, UnpairedOutboundByDestination) {
  SpanRecord to_payments = Span(T(1), 2, 1, "api", SpanKind::kClient);
  to_payments.destination = "payments";
  SpanRecord to_kafka = Span(T(1), 3, 1, "api", SpanKind::kProducer);
  to_kafka.destination = "orders";
  SpanRecord paired = Span(T(1), 4, 1, "api", SpanKind::kClient);
  paired.destination = "inventory";
  SpanRecord unknown = Span(T(1), 5, 1, "api", SpanKind::kClient);
  Ingest({Span(T(1), 6, 4, "inventory", SpanKind::kServer),  // child before its client
          Span(T(1), 1, 0, "gateway"), to_payments, to_kafka, paired, unknown,
          Span(T(1), 7, 1, "api", SpanKind::kInternal)});  // not outbound
  clock_.Advance(std::chrono::seconds(30));
  Snapshot snap = engine().Collect();
  const ServiceSnapshot* api = snap.Find("api");
  EXPECT_EQ(api->total.unpaired_outbound, 3u);
  ASSERT_EQ(api->unpaired_by_destination.size(), 3u);
  EXPECT_EQ(api->unpaired_by_destination[0].destination, "orders");
  EXPECT_EQ(api->unpaired_by_destination[1].destination, "payments");
  EXPECT_EQ(api->unpaired_by_destination[2].destination, "unknown");
  for (const DestinationCount& d : api->unpaired_by_destination) EXPECT_EQ(d.unpaired_outbound, 1u);
}

TEST_F(EngineTest, UnpairedOutboundIsNotRecountedAfterLateSpans) {
  SpanRecord client = Span(T(1), 2, 1, "api", SpanKind::kClient);
  client.destination = "payments";
  Ingest({Span(T(1), 1, 0, "gateway"), client});
  clock_.Advance(std::chrono::seconds(30));
  Ingest({Span(T(1), 9, 1, "gateway", SpanKind::kInternal)});  // late; trace re-opened
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Total("api").unpaired_outbound, 1u);
}

// --- invalid ids and traceparent headers -----------------------------------

TEST_F(EngineTest, ZeroIdsAreRejectedAndCountedByReason) {
  SpanRecord zero_trace = Span(TraceId{}, 1, 0, "worker");
  SpanRecord zero_span = Span(T(1), 0, 0, "worker");
  IngestResult result = Ingest({zero_trace, zero_span, Span(T(2), 1, 0, "worker")});
  EXPECT_EQ(result.accepted, 1u);
  EXPECT_EQ(result.rejected, 2u);
  ServiceCounters c = Total("worker");
  EXPECT_EQ(c.spans, 1u);  // the good span of the same batch is kept
  EXPECT_EQ(c.invalid_span_contexts_by_reason[static_cast<int>(SpanContextError::kTraceIdZero)], 1u);
  EXPECT_EQ(c.invalid_span_contexts_by_reason[static_cast<int>(SpanContextError::kSpanIdZero)], 1u);
  EXPECT_EQ(c.invalid_span_contexts(), 2u);
}

TEST_F(EngineTest, WrongLengthIdsReportedByDecoderAreCounted) {
  SpanContextCheck check = CheckSpanContext(std::string(15, 'x'), std::string(8, 'y'), "");
  ASSERT_FALSE(check.ok);
  engine().RecordInvalidSpanContext("worker", check.error);
  check = CheckSpanContext(std::string(16, 'x'), std::string(8, 'y'), std::string(7, 'z'));
  ASSERT_FALSE(check.ok);
  engine().RecordInvalidSpanContext("worker", check.error);
  ServiceCounters c = Total("worker");
  EXPECT_EQ(c.invalid_span_contexts_by_reason[static_cast<int>(SpanContextError::kTraceIdLength)], 1u);
  EXPECT_EQ(
      c.invalid_span_contexts_by_reason[static_cast<int>(SpanContextError::kParentSpanIdLength)],
      1u);
  EXPECT_EQ(c.spans, 0u);
}

TEST_F(EngineTest, ObserveTraceparentCountsValidAndInvalidByReason) {
  engine().ObserveTraceparent("edge", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  engine().ObserveTraceparent("edge", "00-00000000000000000000000000000000-b7ad6b7169203331-01");
  engine().ObserveTraceparent("edge", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  TraceparentParse p = engine().ObserveTraceparent("edge", "");
  EXPECT_FALSE(p.ok);
  ServiceCounters c = Total("edge");
  EXPECT_EQ(c.traceparents_valid, 1u);
  EXPECT_EQ(c.invalid_traceparents(), 3u);
  EXPECT_EQ(c.invalid_traceparents_by_reason[static_cast<int>(TraceparentError::kTraceIdZero)], 1u);
  EXPECT_EQ(c.invalid_traceparents_by_reason[static_cast<int>(TraceparentError::kVersionFf)], 1u);
  EXPECT_EQ(c.invalid_traceparents_by_reason[static_cast<int>(TraceparentError::kEmpty)], 1u);
}

TEST_F(EngineTest, ValidCapturedTraceparentOnRootIsExtractionFailure) {
  const std::string_view good[] = {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
  const std::string_view bad[] = {"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"};
  SpanRecord ignored_header = Span(T(1), 1, 0, "worker", SpanKind::kServer);
  ignored_header.captured_traceparents = good;
  SpanRecord extracted = Span(T(2), 2, 1, "worker", SpanKind::kServer);
  extracted.captured_traceparents = good;
  SpanRecord invalid_header = Span(T(3), 3, 0, "worker", SpanKind::kServer);
  invalid_header.captured_traceparents = bad;
  Ingest({ignored_header, extracted, invalid_header});
  ServiceCounters c = Total("worker");
  EXPECT_EQ(c.extraction_failures, 1u);  // only the root with a valid header
  EXPECT_EQ(c.traceparents_valid, 2u);
  EXPECT_EQ(c.invalid_traceparents_by_reason[static_cast<int>(TraceparentError::kTraceIdFormat)], 1u);
  EXPECT_EQ(c.orphan_spans(), 2u);  // an extraction failure is still an orphan
}

TEST_F(EngineTest, EveryElementOfACapturedHeaderArrayIsValidated) {
  const std::string_view values[] = {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                     "garbage"};
  SpanRecord r = Span(T(1), 1, 0, "gateway");
  r.captured_traceparents = values;
  Ingest({r});
  ServiceCounters c = Total("gateway");
  EXPECT_EQ(c.traceparents_valid, 1u);
  EXPECT_EQ(c.invalid_traceparents(), 1u);
  EXPECT_EQ(c.extraction_failures, 1u);
}

// --- trace ids per second, windows ------------------------------------------

TEST_F(EngineTest, DistinctTraceIdsCountsEachTraceOnce) {
  Ingest({Span(T(1), 1, 0, "gateway"), Span(T(1), 2, 1, "api"), Span(T(2), 1, 0, "gateway"),
          Span(T(3), 5, 4, "api")});
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.distinct_trace_ids, 3u);
  EXPECT_EQ(snap.stats.distinct_trace_ids_window, 3u);
  EXPECT_EQ(snap.Find("gateway")->total.root_spans, 2u);
}

TEST_F(EngineTest, WindowCoversWindowLengthPlusPartialStep) {
  // window 60 s in 10 s steps; the engine starts at t = 0.
  engine();
  clock_.Advance(std::chrono::seconds(1));
  Ingest({Span(T(1), 1, 0, "worker")});  // t = 1
  clock_.Advance(std::chrono::seconds(14));
  Ingest({Span(T(2), 1, 0, "worker")});  // t = 15
  clock_.Set(clock_.Now() + std::chrono::seconds(44));  // t = 59
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.window_covered, std::chrono::seconds(59));
  EXPECT_EQ(snap.Find("worker")->window.spans, 2u);
  EXPECT_EQ(snap.stats.distinct_trace_ids_window, 2u);

  clock_.Advance(std::chrono::seconds(10));  // t = 69: step [0,10) still inside
  snap = engine().Collect();
  EXPECT_EQ(snap.window_covered, std::chrono::seconds(69));
  EXPECT_EQ(snap.Find("worker")->window.spans, 2u);

  clock_.Advance(std::chrono::seconds(1));  // t = 70: step [0,10) left the window
  snap = engine().Collect();
  EXPECT_EQ(snap.window_covered, std::chrono::seconds(60));
  EXPECT_EQ(snap.Find("worker")->window.spans, 1u);
  EXPECT_EQ(snap.Find("worker")->window.orphan_spans(), 1u);
  EXPECT_DOUBLE_EQ(snap.Find("worker")->OrphanRate(), 1.0);

  clock_.Advance(std::chrono::seconds(10));  // t = 80: the t=15 span left too
  snap = engine().Collect();
  EXPECT_EQ(snap.Find("worker")->window.spans, 0u);
  EXPECT_EQ(snap.Find("worker")->total.spans, 2u);  // counters never go down
  EXPECT_EQ(snap.stats.distinct_trace_ids_window, 0u);
  EXPECT_DOUBLE_EQ(snap.Find("worker")->OrphanRate(), 0.0);
}

TEST_F(EngineTest, WindowIsExactWhenCallsSkipManySteps) {
  Ingest({Span(T(1), 1, 0, "worker")});  // t = 0
  clock_.Advance(std::chrono::seconds(500));
  Ingest({Span(T(2), 1, 0, "worker")});  // t = 500, nothing in between
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find("worker")->window.spans, 1u);
  EXPECT_EQ(snap.Find("worker")->total.spans, 2u);
}

TEST_F(EngineTest, OrphanRateMixesEntryAndInternalCorrectly) {
  std::vector<SpanRecord> spans;
  for (int i = 1; i <= 100; ++i) {
    spans.push_back(Span(T(i), 1, 0, "gateway"));
    // 7 of 100 worker spans lost their context.
    spans.push_back(Span(T(i), 2, i <= 7 ? 0 : 1, "worker"));
  }
  Ingest(spans);
  Snapshot snap = engine().Collect();
  EXPECT_DOUBLE_EQ(snap.Find("worker")->OrphanRate(), 0.07);
  EXPECT_DOUBLE_EQ(snap.Find("gateway")->OrphanRate(), 0.0);
  EXPECT_EQ(snap.stats.distinct_trace_ids, 100u);
}

// --- services cap -------------------------------------------------------------

TEST_F(EngineTest, TenThousandServicesOverflowIntoOneBucket) {
  options_.max_services = 1000;
  std::vector<std::string> names;
  for (int i = 0; i < 10'000; ++i) names.push_back("svc-" + std::to_string(i));
  std::vector<SpanRecord> spans;
  for (int i = 0; i < 10'000; ++i) spans.push_back(Span(T(i + 1), 1, 0, names[i]));
  Ingest(spans);
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.stats.services, 1000u);
  EXPECT_EQ(snap.services.size(), 1001u);  // plus the overflow bucket
  const ServiceSnapshot* overflow = snap.Find(kOverflowService);
  ASSERT_NE(overflow, nullptr);
  EXPECT_EQ(overflow->total.spans, 9000u);
  EXPECT_EQ(overflow->total.orphan_spans(), 9000u);
  EXPECT_FALSE(overflow->entry_point);
  EXPECT_EQ(snap.stats.spans_overflow_service, 9000u);
  EXPECT_EQ(snap.Find("svc-0")->total.spans, 1u);
  EXPECT_EQ(snap.Find("svc-9999"), nullptr);
}

TEST_F(EngineTest, OverflowBucketIsHiddenUntilUsed) {
  Ingest({Span(T(1), 1, 0, "gateway")});
  Snapshot snap = engine().Collect();
  EXPECT_EQ(snap.Find(kOverflowService), nullptr);
  EXPECT_EQ(snap.stats.services, 1u);
}

// --- clock --------------------------------------------------------------------

TEST_F(EngineTest, ClockSteppingBackwardsDoesNotUnfinalizeOrBreakWindows) {
  Ingest({Span(T(1), 2, 1, "worker")});
  clock_.Advance(std::chrono::seconds(30));
  engine().Advance();
  clock_.Advance(std::chrono::seconds(-20));  // the host clock jumped back
  Ingest({Span(T(1), 1, 0, "gateway")});
  ServiceCounters gw = Total("gateway");
  EXPECT_EQ(gw.late_spans, 1u);
  EXPECT_EQ(Total("worker").broken_parents, 1u);
}

TEST_F(EngineTest, SpanTimestampsAreIgnoredForTime) {
  SpanRecord skewed = Span(T(1), 2, 1, "worker");
  skewed.start_unix_nano = 1;  // a producer clock decades off
  skewed.end_unix_nano = 2;
  Ingest({skewed});
  clock_.Advance(std::chrono::seconds(10));
  Ingest({Span(T(1), 1, 0, "gateway")});
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(Total("worker").broken_parents, 0u);
}

TEST(EngineOptionsTest, ValidateNamesTheBadField) {
  EngineOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.window_length = std::chrono::seconds(65);
  o.window_resolution = std::chrono::seconds(10);
  EXPECT_EQ(o.Validate().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(o.Validate().message().find("window_length"), std::string::npos);
  o = EngineOptions();
  o.max_traces = 0;
  EXPECT_NE(o.Validate().message().find("max_traces"), std::string::npos);
  o = EngineOptions();
  o.trace_idle_timeout = Duration::zero();
  EXPECT_NE(o.Validate().message().find("trace_idle_timeout"), std::string::npos);
  o = EngineOptions();
  o.max_services = 70'000;
  EXPECT_NE(o.Validate().message().find("max_services"), std::string::npos);
  o = EngineOptions();
  o.max_traces = 100'000'001;  // memory is committed in proportion: refused, not allocated
  EXPECT_EQ(o.Validate().message(), "engine option max_traces: must be in [1, 100000000]");
  o = EngineOptions();
  o.entry_point_services = {""};
  EXPECT_NE(o.Validate().message().find("entry_point_services"), std::string::npos);
  std::unique_ptr<Engine> engine;
  EXPECT_EQ(Engine::Create(o, &engine).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(engine, nullptr);
}

// A clock before the Unix epoch (or at INT64_MIN) is clamped to the epoch:
// no signed overflow in window arithmetic (UBSan found it), and time still
// moves forward once the clock is sane.
TEST(EngineClockTest, ClockBeforeTheEpochIsClampedNotOverflowed) {
  ManualClock clock(Timestamp(Duration(std::numeric_limits<int64_t>::min() + 5)));
  EngineOptions options;
  options.clock = &clock;
  options.window_length = std::chrono::seconds(60);
  options.window_resolution = std::chrono::seconds(10);
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::Create(options, &engine).ok());
  clock.Set(Timestamp(std::chrono::seconds(1'700'000'000)));
  SpanRecord r;
  r.trace_id.bytes[15] = 1;
  r.span_id.bytes[7] = 1;
  r.service_name = "svc";
  engine->Ingest(std::span<const SpanRecord>(&r, 1));
  const Snapshot snap = engine->Collect();
  EXPECT_EQ(snap.time, Timestamp(std::chrono::seconds(1'700'000'000)));
  EXPECT_EQ(snap.Find("svc")->total.spans, 1u);
  EXPECT_EQ(snap.window_covered, std::chrono::seconds(60));
}

}  // namespace
}  // namespace propwatch
