#include "exporter/trace_store/trace_store.h"

#include <vector>

#include "exporter/trace_store/trace_render.h"
#include "gtest/gtest.h"

namespace propwatch::tap {
namespace {

TraceId T(uint8_t n) {
  TraceId id;
  id.bytes[0] = 0x0a;
  id.bytes[15] = n;
  return id;
}

SpanRecord Span(uint8_t trace, uint8_t span, uint8_t parent, std::string_view service,
                std::string_view name, SpanKind kind, uint64_t start_ms, uint64_t end_ms) {
  SpanRecord r;
  r.trace_id = T(trace);
  r.span_id.bytes[7] = span;
  r.parent_span_id.bytes[7] = parent;
  r.service_name = service;
  r.name = name;
  r.kind = kind;
  r.start_unix_nano = start_ms * 1'000'000;
  r.end_unix_nano = end_ms * 1'000'000;
  return r;
}

TEST(TraceStoreTest, AssemblesTreeRegardlessOfArrivalOrder) {
  TraceStore store({.max_traces = 100, .max_spans_per_trace = 100});
  std::vector<SpanRecord> spans = {
      Span(1, 4, 3, "consumer", "orders process", SpanKind::kConsumer, 40, 45),
      Span(1, 3, 2, "worker", "orders send", SpanKind::kProducer, 20, 22),
      Span(1, 2, 1, "worker", "GET /work", SpanKind::kServer, 10, 30),
      Span(1, 1, 0, "gateway", "GET /checkout", SpanKind::kServer, 0, 50)};
  spans[3].status = StatusCode::kOk;
  store.OnSpans(spans);
  store.OnSpans(std::span(spans).subspan(0, 1));  // duplicate: stored once
  auto trace = store.Get(T(1));
  ASSERT_TRUE(trace.has_value());
  EXPECT_EQ(trace->spans.size(), 4u);
  EXPECT_EQ(RenderTraceText(*trace),
            "trace 0a000000000000000000000000000001 spans=4 roots=1 unresolved_parents=0\n"
            "- gateway \"GET /checkout\" server ok 50.000ms span=0000000000000001 parent=-\n"
            "  - worker \"GET /work\" server unset 20.000ms span=0000000000000002 "
            "parent=0000000000000001\n"
            "    - worker \"orders send\" producer unset 2.000ms span=0000000000000003 "
            "parent=0000000000000002\n"
            "      - consumer \"orders process\" consumer unset 5.000ms span=0000000000000004 "
            "parent=0000000000000003\n");
  const std::string json = RenderTraceJson(*trace);
  EXPECT_NE(json.find("\"spanCount\":4,\"roots\":1,\"unresolvedParents\":0,"
                      "\"truncated\":false,\"durationMs\":50.000,"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"services\":[\"consumer\",\"gateway\",\"worker\"]"), std::string::npos);
  EXPECT_NE(json.find("{\"spanId\":\"0000000000000001\",\"parentSpanId\":null,\"service\":"
                      "\"gateway\",\"name\":\"GET /checkout\",\"kind\":\"server\",\"status\":"
                      "\"ok\",\"startTimeUnixNano\":\"0\",\"durationMs\":50.000,\"links\":0,"
                      "\"parentResolved\":true,"
                      "\"depth\":0}"),
            std::string::npos);
}

TEST(TraceStoreTest, JsonTraceDurationSpansFirstStartToLastEnd) {
  TraceStore store({});
  store.OnSpans(std::vector<SpanRecord>{
      Span(3, 2, 1, "worker", "late child", SpanKind::kInternal, 1700, 1900),
      Span(3, 1, 0, "gateway", "root", SpanKind::kServer, 1000, 1100),
      // Ends before it starts (a clock bug): counts as a point at its start.
      Span(3, 3, 1, "worker", "skewed", SpanKind::kInternal, 2500, 2400)});
  const std::string json = RenderTraceJson(*store.Get(T(3)));
  EXPECT_NE(json.find("\"durationMs\":1500.000,\"services\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"startTimeUnixNano\":\"1700000000\""), std::string::npos) << json;
}

TEST(TraceStoreTest, MissingParentsAndCyclesAreShownNotLost) {
  TraceStore store({});
  store.OnSpans(std::vector<SpanRecord>{
      Span(2, 5, 9, "worker", "orphaned child", SpanKind::kInternal, 0, 1),
      Span(2, 6, 7, "a", "cycle-1", SpanKind::kInternal, 0, 1),
      Span(2, 7, 6, "b", "cycle-2", SpanKind::kInternal, 0, 1)});
  const std::string text = RenderTraceText(*store.Get(T(2)));
  EXPECT_NE(text.find("spans=3 roots=2 unresolved_parents=1"), std::string::npos) << text;
  EXPECT_NE(text.find("span=0000000000000005 parent=0000000000000009 (parent missing)"),
            std::string::npos);
  EXPECT_NE(text.find("cycle-1"), std::string::npos);
  EXPECT_NE(text.find("cycle-2"), std::string::npos);
}

TEST(TraceStoreTest, BoundsAreEnforcedAndCounted) {
  TraceStore store({.max_traces = 16, .max_spans_per_trace = 2});  // 1 trace per stripe
  std::vector<SpanRecord> spans;
  for (int i = 0; i < 3; ++i) spans.push_back(Span(3, i + 1, 0, "s", "x", SpanKind::kServer, 0, 1));
  store.OnSpans(spans);
  EXPECT_EQ(store.Get(T(3))->spans.size(), 2u);
  EXPECT_TRUE(store.Get(T(3))->truncated);
  // 64 more traces: each stripe keeps at most one.
  std::vector<SpanRecord> more;
  for (int t = 0; t < 64; ++t) {
    SpanRecord r = Span(0, 1, 0, "s", "x", SpanKind::kServer, 0, 1);
    r.trace_id.bytes[14] = static_cast<uint8_t>(t + 1);
    more.push_back(r);
  }
  store.OnSpans(more);
  TraceStoreStats stats = store.Stats();
  EXPECT_LE(stats.traces, 16u);
  EXPECT_EQ(stats.traces + stats.evicted_capacity, 65u);
  EXPECT_EQ(stats.dropped_span_cap, 1u);
}

// Slots are reused oldest first: the evicted trace is the oldest-created one
// (not the least recently updated), and a reused slot shows nothing of its
// previous trace (spans, names, the truncated mark).
TEST(TraceStoreTest, ReusedSlotsEvictOldestCreatedAndKeepNothingOfThePrevious) {
  // 16 stripes x 2 slots; ids chosen so every trace lands in one stripe.
  TraceStore store({.max_traces = 32, .max_spans_per_trace = 3});
  auto in_one_stripe = [](int n) {
    TraceId id;
    id.bytes[0] = static_cast<uint8_t>(n);  // both halves carry n, so their xor, which
    id.bytes[8] = static_cast<uint8_t>(n);  // picks the stripe, is 0 for every n
    return id;
  };
  auto span = [&](int trace, int span_n, std::string_view service, std::string_view name) {
    SpanRecord r = Span(0, static_cast<uint8_t>(span_n), 0, service, name, SpanKind::kServer, 0, 1);
    r.trace_id = in_one_stripe(trace);
    return r;
  };
  // Trace 1 fills its slot past the cap (truncated), trace 2 is small.
  std::vector<SpanRecord> first;
  for (int i = 1; i <= 5; ++i) first.push_back(span(1, i, "svc-one", "first-trace-span-name"));
  first.push_back(span(2, 1, "svc-two", "b"));
  store.OnSpans(first);
  ASSERT_TRUE(store.Get(in_one_stripe(1))->truncated);
  // Trace 1 gets another (duplicate) span: still the oldest-created.
  store.OnSpans(std::vector<SpanRecord>{span(1, 1, "svc-one", "first-trace-span-name")});
  // Trace 3 needs a slot: trace 1's, the oldest created, goes.
  store.OnSpans(std::vector<SpanRecord>{span(3, 7, "c", "x")});
  EXPECT_FALSE(store.Get(in_one_stripe(1)).has_value());
  ASSERT_TRUE(store.Get(in_one_stripe(2)).has_value());
  std::optional<StoredTrace> third = store.Get(in_one_stripe(3));
  ASSERT_TRUE(third.has_value());
  EXPECT_FALSE(third->truncated);
  ASSERT_EQ(third->spans.size(), 1u);
  EXPECT_EQ(third->spans[0].service, "c");
  EXPECT_EQ(third->spans[0].name, "x");
  EXPECT_EQ(third->spans[0].span_id.bytes[7], 7);
  // Trace 4 evicts trace 2; trace 1 returning is a new trace, evicting 3.
  store.OnSpans(std::vector<SpanRecord>{span(4, 1, "d", "y"), span(1, 2, "e", "z")});
  EXPECT_FALSE(store.Get(in_one_stripe(2)).has_value());
  EXPECT_FALSE(store.Get(in_one_stripe(3)).has_value());
  ASSERT_EQ(store.Get(in_one_stripe(1))->spans.size(), 1u);
  EXPECT_EQ(store.Get(in_one_stripe(1))->spans[0].service, "e");
  EXPECT_EQ(store.Get(in_one_stripe(4))->spans[0].name, "y");
  EXPECT_EQ(store.Stats().evicted_capacity, 3u);
  EXPECT_EQ(store.Stats().traces, 2u);
}

// A service's bytes are shared between spans of the trace; sharing must never
// give a span another span's service, whatever the interleaving, and a name
// equal to a service must stay a name.
TEST(TraceStoreTest, SharedServiceBytesNeverMixServices) {
  TraceStore store({});
  std::vector<SpanRecord> spans;
  const std::string_view services[] = {"alpha", "beta", "alpha", "gamma", "delta",
                                       "epsilon", "alpha", "beta", "", "alphabet", "alph"};
  for (int i = 0; i < 11; ++i) {
    spans.push_back(Span(9, static_cast<uint8_t>(i + 1), 0, services[i],
                         i % 2 == 0 ? "alpha" : "op", SpanKind::kInternal, 0, 1));
  }
  store.OnSpans(spans);
  std::optional<StoredTrace> trace = store.Get(T(9));
  ASSERT_TRUE(trace.has_value());
  ASSERT_EQ(trace->spans.size(), 11u);
  for (int i = 0; i < 11; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(trace->spans[i].service, services[i].empty() ? kUnknownService : services[i]);
    EXPECT_EQ(trace->spans[i].name, i % 2 == 0 ? "alpha" : "op");
  }
}

TEST(TraceStoreTest, JsonIsValidUtf8WhateverTheWireSent) {
  TraceStore store({});
  store.OnSpans(std::vector<SpanRecord>{
      Span(4, 1, 0, "svc\xff", "GET \"/a\"\n", SpanKind::kServer, 0, 1)});
  const std::string json = RenderTraceJson(*store.Get(T(4)));
  EXPECT_NE(json.find("\"service\":\"svc\xef\xbf\xbd\",\"name\":\"GET \\\"/a\\\"\\n\""),
            std::string::npos)
      << json;
}

TEST(TraceStoreTest, ZeroCapacityDisablesTheStore) {
  TraceStore store({.max_traces = 0});
  store.OnSpans(std::vector<SpanRecord>{Span(1, 1, 0, "s", "x", SpanKind::kServer, 0, 1)});
  EXPECT_FALSE(store.Get(T(1)).has_value());
  EXPECT_EQ(store.Stats().traces, 0u);
}

}  // namespace
}  // namespace propwatch::tap
