// OTLP/HTTP end to end: a real HttpServer with the handler registered, a real
// engine behind it, checked through Engine::Collect and the response bodies.
#include "exporter/receiver/otlp_http_handler.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "google/protobuf/unknown_field_set.h"
#include "receiver_test_util.h"

namespace propwatch::receiver {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using testing::EngineHolder;
using testing::Gzip;
using testing::GzipZeros;
using testing::HttpClient;
using testing::HttpResult;
using testing::JsonRequest;
using testing::MaxRssBytes;
using testing::ProtoRequest;
using testing::Root;
using testing::TestObserver;
using testing::TestSpan;

constexpr std::pair<const char*, const char*> kProtobuf = {"Content-Type",
                                                          "application/x-protobuf"};
constexpr std::pair<const char*, const char*> kJson = {"Content-Type", "application/json"};

// google.rpc.Status fields of a binary body.
struct RpcStatus {
  uint64_t code = 0;
  std::string message;
  int details = 0;
};
RpcStatus ParseStatus(const std::string& body) {
  google::protobuf::UnknownFieldSet fields;
  EXPECT_TRUE(fields.ParseFromString(body));
  RpcStatus status;
  for (int i = 0; i < fields.field_count(); ++i) {
    const auto& f = fields.field(i);
    if (f.number() == 1) status.code = f.varint();
    if (f.number() == 2) status.message = f.length_delimited();
    if (f.number() == 3) ++status.details;
  }
  return status;
}

class OtlpHttpHandlerTest : public ::testing::Test {
 protected:
  void Start(OtlpHttpHandler::Options options = {}) {
    pipeline_ = std::make_unique<IngestPipeline>(engine_.engine(), &stats_, &observer_);
    handler_ = std::make_unique<OtlpHttpHandler>(*pipeline_, &stats_, options);
    HttpServer::Options server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.io_threads = 2;
    server_options.stats = &stats_;
    server_ = std::make_unique<HttpServer>(server_options);
    ASSERT_TRUE(handler_->Register(*server_).ok());
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  EngineHolder engine_;
  ReceiverStats stats_;
  TestObserver observer_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<OtlpHttpHandler> handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(OtlpHttpHandlerTest, ProtobufIsAcceptedWithEmptyResponse) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send(
      "POST", "/v1/traces", {kProtobuf},
      ProtoRequest({Root("checkout", 1, 1), Root("checkout", 2, 2), Root("cart", 3, 3)}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "application/x-protobuf");
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(r.body));
  EXPECT_FALSE(response.has_partial_success());
  EXPECT_EQ(engine_.Spans("checkout"), 2u);
  EXPECT_EQ(engine_.Spans("cart"), 1u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOk), 1u);
  EXPECT_EQ(stats_.http.spans_received.load(), 3u);
  EXPECT_EQ(stats_.http.request_duration.Read().count, 1u);
}

TEST_F(OtlpHttpHandlerTest, JsonIsAcceptedWithEmptyObject) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r =
      client.Send("POST", "/v1/traces", {{"Content-Type", "Application/JSON; charset=utf-8"}},
                  JsonRequest({Root("web", 1, 1), Root("web", 2, 2)}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(engine_.Spans("web"), 2u);
}

TEST_F(OtlpHttpHandlerTest, GzipProtobufIsAccepted) {
  Start();
  HttpClient client(server_->port());
  const std::string body = ProtoRequest({Root("gz", 1, 1)});
  const HttpResult r = client.Send("POST", "/v1/traces",
                                   {kProtobuf, {"Content-Encoding", "gzip"}}, Gzip(body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(engine_.Spans("gz"), 1u);
  EXPECT_EQ(stats_.http.bytes_decompressed.load(), body.size());
}

TEST_F(OtlpHttpHandlerTest, PartialSuccessProtobuf) {
  Start();
  TestSpan bad = Root("checkout", 2, 2);
  bad.trace_id = "short";
  TestSpan zero = Root("checkout", 3, 3);
  zero.span_id = std::string(8, '\0');
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/v1/traces", {kProtobuf},
                                   ProtoRequest({Root("checkout", 1, 1), bad, zero}));
  EXPECT_EQ(r.status, 200);
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(r.body));
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_EQ(response.partial_success().error_message(),
            "2 spans rejected: trace_id_length (1), span_id_zero (1)");
  EXPECT_EQ(engine_.Spans("checkout"), 1u);
  EXPECT_EQ(engine_.InvalidContexts("checkout", SpanContextError::kTraceIdLength), 1u);
  EXPECT_EQ(engine_.InvalidContexts("checkout", SpanContextError::kSpanIdZero), 1u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kPartial), 1u);
}

TEST_F(OtlpHttpHandlerTest, PartialSuccessJson) {
  Start();
  TestSpan zero = Root("web", 2, 2);
  zero.trace_id = std::string(16, '\0');
  HttpClient client(server_->port());
  const HttpResult r =
      client.Send("POST", "/v1/traces", {kJson}, JsonRequest({Root("web", 1, 1), zero}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"json({"partialSuccess":{"rejectedSpans":"1","errorMessage":"1 span rejected: trace_id_zero (1)"}})json");
}

TEST_F(OtlpHttpHandlerTest, TruncatedProtobufIs400WithStatus) {
  Start();
  std::string body = ProtoRequest({Root("checkout", 1, 1), Root("checkout", 2, 2)});
  body.resize(body.size() - 5);
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/v1/traces", {kProtobuf}, body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Header("content-type"), "application/x-protobuf");
  const RpcStatus status = ParseStatus(r.body);
  EXPECT_EQ(status.code, 3u);  // INVALID_ARGUMENT
  EXPECT_NE(status.message.find("OTLP protobuf"), std::string::npos) << status.message;
  EXPECT_EQ(engine_.Spans("checkout"), 0u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kInvalid), 1u);
  // The connection is still fine.
  EXPECT_EQ(client.Send("POST", "/v1/traces", {kProtobuf}, ProtoRequest({Root("c", 1, 1)})).status,
            200);
}

TEST_F(OtlpHttpHandlerTest, BadJsonIs400WithJsonStatus) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/v1/traces", {kJson}, R"({"resourceSpans": [)");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body.rfind(R"({"code":3,"message":")", 0), 0u) << r.body;
}

TEST_F(OtlpHttpHandlerTest, CorruptGzipIs400WithStatus) {
  Start();
  std::string gz = Gzip(ProtoRequest({Root("x", 1, 1)}));
  gz[gz.size() - 6] ^= 0x01;  // CRC32 mismatch
  HttpClient client(server_->port());
  const HttpResult r =
      client.Send("POST", "/v1/traces", {kProtobuf, {"Content-Encoding", "gzip"}}, gz);
  EXPECT_EQ(r.status, 400);
  const RpcStatus status = ParseStatus(r.body);
  EXPECT_NE(status.message.find("gzip"), std::string::npos) << status.message;
  EXPECT_EQ(engine_.Spans("x"), 0u);
}

TEST_F(OtlpHttpHandlerTest, GzipBombIs413WithoutInflatingIt) {
  OtlpHttpHandler::Options options;
  options.max_body_bytes = size_t{4} << 20;
  Start(options);
  const std::string bomb = GzipZeros(1024);
  const int64_t rss_before = MaxRssBytes();
  HttpClient client(server_->port());
  const HttpResult r =
      client.Send("POST", "/v1/traces", {kProtobuf, {"Content-Encoding", "gzip"}}, bomb);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ParseStatus(r.body).code, 8u);  // RESOURCE_EXHAUSTED
  EXPECT_LT(MaxRssBytes() - rss_before, int64_t{64} << 20);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kTooLarge), 1u);
}

TEST_F(OtlpHttpHandlerTest, OversizedBodyIs413) {
  OtlpHttpHandler::Options options;
  options.max_body_bytes = 1024;
  Start(options);
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/v1/traces", {kJson}, std::string(2048, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(stats_.http.Requests(RequestResult::kTooLarge), 1u);
}

TEST_F(OtlpHttpHandlerTest, WrongContentTypeIs415) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/v1/traces", {{"Content-Type", "text/plain"}}, "hi");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(r.Header("content-type"), "application/x-protobuf");
  EXPECT_NE(ParseStatus(r.body).message.find("text/plain"), std::string::npos);
  EXPECT_EQ(client.Send("POST", "/v1/traces", {}, "hi").status, 415);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kUnsupportedMediaType), 2u);
}

TEST_F(OtlpHttpHandlerTest, UnsupportedContentEncodingIs415) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r =
      client.Send("POST", "/v1/traces", {kProtobuf, {"Content-Encoding", "zstd"}}, "x");
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(ParseStatus(r.body).message.find("zstd"), std::string::npos);
}

TEST_F(OtlpHttpHandlerTest, GetIs405WithAllow) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("GET", "/v1/traces", {}, "");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "POST");
  EXPECT_EQ(stats_.http.Requests(RequestResult::kMethodNotAllowed), 1u);
  EXPECT_TRUE(r.keep_alive);
}

TEST_F(OtlpHttpHandlerTest, KeepAliveSeveralExportsOnOneConnection) {
  Start();
  HttpClient client(server_->port());
  for (int i = 1; i <= 10; ++i) {
    const HttpResult r = client.Send(
        "POST", "/v1/traces", {i % 2 == 0 ? kJson : kProtobuf},
        i % 2 == 0 ? JsonRequest({Root("ka", i, i)}) : ProtoRequest({Root("ka", i, i)}));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(engine_.Spans("ka"), 10u);
  EXPECT_EQ(stats_.http_connections.connections_accepted.load(), 1u);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOk), 10u);
}

TEST_F(OtlpHttpHandlerTest, ConcurrentClientsAreCountedExactly) {
  Start();
  constexpr int kClients = 4;
  constexpr int kRequests = 50;
  const int port = server_->port();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port);
      for (int i = 0; i < kRequests; ++i) {
        const int n = c * kRequests + i + 1;
        const bool json = (n % 2) == 0;
        const HttpResult r = client.Send(
            "POST", "/v1/traces", {json ? kJson : kProtobuf},
            json ? JsonRequest({Root("many", n, n)}) : ProtoRequest({Root("many", n, n)}));
        EXPECT_EQ(r.status, 200);
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(engine_.Spans("many"), uint64_t{kClients * kRequests});
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOk), uint64_t{kClients * kRequests});
  EXPECT_EQ(observer_.spans(), uint64_t{kClients * kRequests});
}

TEST_F(OtlpHttpHandlerTest, OverloadIs503WithRetryAfter) {
  OtlpHttpHandler::Options options;
  options.max_inflight_requests = 1;
  options.retry_after = absl::Milliseconds(2500);
  Start(options);
  observer_.Hold();
  const int port = server_->port();
  HttpResult held;
  std::thread first([&] {
    HttpClient client(port);
    held = client.Send("POST", "/v1/traces", {kProtobuf}, ProtoRequest({Root("slow", 1, 1)}));
  });
  observer_.WaitHeld(1);
  HttpClient client(port);
  const HttpResult r =
      client.Send("POST", "/v1/traces", {kJson}, JsonRequest({Root("fast", 2, 2)}));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("retry-after"), "3");
  EXPECT_NE(r.body.find("google.rpc.RetryInfo"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("retryDelay":"2.500s")"), std::string::npos) << r.body;
  EXPECT_EQ(stats_.http.Requests(RequestResult::kOverloaded), 1u);
  observer_.Release();
  first.join();
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(engine_.Spans("slow"), 1u);
  EXPECT_EQ(engine_.Spans("fast"), 0u);
  // The slot is free again.
  HttpClient after(port);
  EXPECT_EQ(after.Send("POST", "/v1/traces", {kJson}, JsonRequest({Root("fast", 2, 2)})).status,
            200);
  server_->Stop();
  EXPECT_EQ(stats_.http.inflight_requests.load(), 0);
}

}  // namespace
}  // namespace propwatch::receiver
