// Engine snapshot → Prometheus text exposition, asserted line by line.
#include "exporter/metrics/engine_metrics.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "propwatch/engine.h"

namespace propwatch::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

SpanRecord Span(uint8_t trace, uint8_t span, uint8_t parent, std::string_view service,
                SpanKind kind) {
  SpanRecord r;
  r.trace_id.bytes[15] = trace;
  r.span_id.bytes[7] = span;
  r.parent_span_id.bytes[7] = parent;
  r.service_name = service;
  r.kind = kind;
  return r;
}

std::string Expose(Engine& engine) {
  FamilyBuilder builder;
  AppendEngineMetrics(engine.Collect(), &builder);
  return prometheus::TextSerializer().Serialize(builder.Take());
}

TEST(EngineMetricsTest, ExposesCountersWindowsAndInfoWithExactValues) {
  ManualClock clock;
  EngineOptions options;
  options.entry_point_services = {"gateway"};
  options.window_length = std::chrono::seconds(60);
  options.window_resolution = std::chrono::seconds(10);
  options.shards = 1;
  options.clock = &clock;
  std::unique_ptr<Engine> engine_ptr;
  ASSERT_TRUE(Engine::Create(options, &engine_ptr).ok());
  Engine& engine = *engine_ptr;
  SpanRecord client = Span(1, 2, 1, "worker", SpanKind::kClient);
  client.destination = "payments";
  std::vector<SpanRecord> spans = {Span(1, 1, 0, "gateway", SpanKind::kServer), client,
                                   Span(2, 1, 0, "worker", SpanKind::kConsumer),
                                   Span(3, 1, 0, "worker", SpanKind::kServer),
                                   Span(4, 5, 4, "worker", SpanKind::kServer)};
  engine.Ingest(spans);
  clock.Advance(std::chrono::seconds(30));
  const std::string text = Expose(engine);

  EXPECT_THAT(text, HasSubstr("propwatch_spans_total{service_name=\"worker\"} 4\n"));
  EXPECT_THAT(text, HasSubstr(
      "propwatch_orphan_spans_total{service_name=\"worker\",span_kind=\"consumer\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "propwatch_orphan_spans_total{service_name=\"worker\",span_kind=\"server\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "propwatch_orphan_spans_total{service_name=\"gateway\",span_kind=\"server\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_broken_parent_spans_total{service_name=\"worker\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_unpaired_outbound_spans_total{service_name=\"worker\","
                              "destination=\"payments\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_window_orphan_span_ratio{service_name=\"worker\"} 0.5\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_window_broken_parent_ratio{service_name=\"worker\"} 0.25\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_window_seconds 30\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_window_spans_per_second{service_name=\"gateway\"} "
                              "0.03333333333333333\n"));
  EXPECT_THAT(text, HasSubstr(
      "propwatch_service_info{service_name=\"gateway\",entry_point=\"true\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "propwatch_service_info{service_name=\"worker\",entry_point=\"false\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_distinct_trace_ids_total 4\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_traces_tracked{state=\"finalized\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_traces_tracked{state=\"live\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("propwatch_trace_evictions_total{reason=\"capacity\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(
      "propwatch_invalid_traceparent_total{service_name=\"worker\",reason=\"version_ff\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE propwatch_spans_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE propwatch_window_orphan_span_ratio gauge\n"));
  EXPECT_THAT(text, Not(HasSubstr("__overflow__")));
}

}  // namespace
}  // namespace propwatch::metrics
