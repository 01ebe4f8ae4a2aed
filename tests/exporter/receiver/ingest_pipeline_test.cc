// IngestPipeline: decode -> engine -> observer -> stats, for every protocol,
// with exact engine counts read back through Engine::Collect.
#include "exporter/receiver/ingest_pipeline.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "receiver_test_util.h"

namespace propwatch::receiver {
namespace {

using testing::EngineHolder;
using testing::JsonRequest;
using testing::ProtoRequest;
using testing::Root;
using testing::SpanIdBytes;
using testing::TestObserver;
using testing::TestSpan;
using Kind = IngestPipeline::Result::Kind;

class IngestPipelineTest : public ::testing::Test {
 protected:
  EngineHolder engine_;
  ReceiverStats stats_;
  TestObserver observer_;
  IngestPipeline pipeline_{engine_.engine(), &stats_, &observer_};
};

TEST_F(IngestPipelineTest, ProtobufRequestIsIngested) {
  const auto result = pipeline_.Ingest(
      Protocol::kGrpc, ProtoRequest({Root("checkout", 1, 1), Root("checkout", 2, 2),
                                     Root("payment", 3, 3)}));
  EXPECT_EQ(result.kind, Kind::kOk);
  EXPECT_EQ(result.accepted_spans, 3u);
  EXPECT_EQ(result.rejected_spans, 0u);
  EXPECT_EQ(result.message, "");
  EXPECT_EQ(engine_.Spans("checkout"), 2u);
  EXPECT_EQ(engine_.Spans("payment"), 1u);
  EXPECT_EQ(observer_.calls(), 1u);
  EXPECT_EQ(observer_.spans(), 3u);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kOk), 1u);
  EXPECT_EQ(stats_.grpc.spans_received.load(), 3u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOk), 0u);
}

TEST_F(IngestPipelineTest, JsonRequestIsIngested) {
  const auto result =
      pipeline_.Ingest(Protocol::kHttpJson, JsonRequest({Root("web", 1, 1), Root("web", 2, 2)}));
  EXPECT_EQ(result.kind, Kind::kOk) << result.message;
  EXPECT_EQ(result.accepted_spans, 2u);
  EXPECT_EQ(engine_.Spans("web"), 2u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOk), 1u);
  EXPECT_EQ(stats_.http.spans_received.load(), 2u);
}

TEST_F(IngestPipelineTest, EmptyRequestIsOkAndSkipsObserver) {
  const auto result = pipeline_.Ingest(Protocol::kHttpProtobuf, "");
  EXPECT_EQ(result.kind, Kind::kOk);
  EXPECT_EQ(result.accepted_spans, 0u);
  EXPECT_EQ(observer_.calls(), 0u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOk), 1u);
}

TEST_F(IngestPipelineTest, InvalidSpanContextsArePartialAndCountedPerSpan) {
  TestSpan short_trace = Root("checkout", 1, 1);
  short_trace.trace_id = "\x01\x02\x03";
  TestSpan zero_span = Root("checkout", 2, 2);
  zero_span.span_id = std::string(8, '\0');
  TestSpan zero_span2 = Root("payment", 3, 3);
  zero_span2.span_id = std::string(8, '\0');
  const auto result = pipeline_.Ingest(
      Protocol::kHttpProtobuf,
      ProtoRequest({short_trace, Root("checkout", 4, 4), zero_span, zero_span2}));
  EXPECT_EQ(result.kind, Kind::kPartial);
  EXPECT_EQ(result.accepted_spans, 1u);
  EXPECT_EQ(result.rejected_spans, 3u);
  EXPECT_EQ(result.message, "3 spans rejected: trace_id_length (1), span_id_zero (2)");
  EXPECT_EQ(engine_.Spans("checkout"), 1u);
  EXPECT_EQ(engine_.InvalidContexts("checkout", SpanContextError::kTraceIdLength), 1u);
  EXPECT_EQ(engine_.InvalidContexts("checkout", SpanContextError::kSpanIdZero), 1u);
  EXPECT_EQ(engine_.InvalidContexts("payment", SpanContextError::kSpanIdZero), 1u);
  EXPECT_EQ(observer_.spans(), 1u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kPartial), 1u);
  EXPECT_EQ(stats_.http.spans_received.load(), 1u);
  EXPECT_EQ(stats_.http.spans_rejected.load(), 3u);
}

TEST_F(IngestPipelineTest, MergedRejectionsAreCountedCountTimes) {
  // Consecutive rejections of one resource merge into one entry with a
  // count; the engine still sees one RecordInvalidSpanContext per span.
  namespace collector = opentelemetry::proto::collector::trace::v1;
  collector::ExportTraceServiceRequest request;
  auto* rs = request.add_resource_spans();
  auto* attr = rs->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("batch");
  auto* scope = rs->add_scope_spans();
  for (int i = 0; i < 5; ++i) {
    auto* span = scope->add_spans();
    span->set_trace_id(std::string(16, '\0'));
    span->set_span_id(SpanIdBytes(i + 1));
  }
  const auto result = pipeline_.Ingest(Protocol::kGrpc, request.SerializeAsString());
  EXPECT_EQ(result.kind, Kind::kPartial);
  EXPECT_EQ(result.rejected_spans, 5u);
  EXPECT_EQ(result.message, "5 spans rejected: trace_id_zero (5)");
  EXPECT_EQ(engine_.InvalidContexts("batch", SpanContextError::kTraceIdZero), 5u);
  EXPECT_EQ(observer_.calls(), 0u);
}

TEST_F(IngestPipelineTest, SingleRejectionMessageIsSingular) {
  TestSpan bad = Root("svc", 1, 1);
  bad.parent_span_id = "\x01";
  const auto result = pipeline_.Ingest(Protocol::kGrpc, ProtoRequest({bad}));
  EXPECT_EQ(result.message, "1 span rejected: parent_span_id_length (1)");
}

TEST_F(IngestPipelineTest, UndecodableBodyIsInvalidAndIngestsNothing) {
  std::string body = ProtoRequest({Root("checkout", 1, 1), Root("checkout", 2, 2)});
  body.resize(body.size() - 3);
  const auto result = pipeline_.Ingest(Protocol::kHttpProtobuf, body);
  EXPECT_EQ(result.kind, Kind::kInvalid);
  EXPECT_NE(result.message, "");
  EXPECT_EQ(engine_.Spans("checkout"), 0u);
  EXPECT_EQ(observer_.calls(), 0u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kInvalid), 1u);
  EXPECT_EQ(stats_.http.spans_received.load(), 0u);

  const auto json = pipeline_.Ingest(Protocol::kHttpJson, R"({"resourceSpans":[)");
  EXPECT_EQ(json.kind, Kind::kInvalid);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kInvalid), 2u);
}

TEST_F(IngestPipelineTest, NullStatsAndObserverAreAllowed) {
  IngestPipeline bare(engine_.engine());
  EXPECT_EQ(bare.Ingest(Protocol::kGrpc, ProtoRequest({Root("a", 1, 1)})).kind, Kind::kOk);
  EXPECT_EQ(engine_.Spans("a"), 1u);
}

TEST_F(IngestPipelineTest, OutsizedDecodeBuffersAreReleasedAndStillWork) {
  IngestPipeline::Options options;
  options.max_retained_decode_bytes = 0;  // drop after every request
  IngestPipeline pipeline(engine_.engine(), &stats_, nullptr, options);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pipeline.Ingest(Protocol::kGrpc, ProtoRequest({Root("r", i + 1, i + 1)})).kind,
              Kind::kOk);
  }
  EXPECT_EQ(engine_.Spans("r"), 3u);
}

TEST_F(IngestPipelineTest, ConcurrentIngestCountsExactly) {
  constexpr int kThreads = 4;
  constexpr int kRequests = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        const int n = t * kRequests + i + 1;
        const std::string body =
            t % 2 == 0 ? ProtoRequest({Root("conc", n, n)}) : JsonRequest({Root("conc", n, n)});
        pipeline_.Ingest(t % 2 == 0 ? Protocol::kGrpc : Protocol::kHttpJson, body);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(engine_.Spans("conc"), uint64_t{kThreads * kRequests});
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kOk) + stats_.http.Requests(RequestResult::kOk),
            uint64_t{kThreads * kRequests});
}

}  // namespace
}  // namespace propwatch::receiver
