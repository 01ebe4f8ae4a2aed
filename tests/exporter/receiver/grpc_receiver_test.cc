// OTLP/gRPC end to end: a real GrpcReceiver on port 0 and real gRPC clients
// (a generic client sending raw bytes, and the generated TraceService stub
// when it is built), with a real engine behind it.
#include "exporter/receiver/grpc_receiver.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "receiver_test_util.h"
#ifdef PROPWATCH_HAVE_OTLP_GRPC_STUB
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#endif

namespace propwatch::receiver {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using testing::EngineHolder;
using testing::ProtoRequest;
using testing::Root;
using testing::TestObserver;
using testing::TestSpan;

const std::string kExport(kOtlpTraceExportMethod);

struct CallResult {
  grpc::Status status;
  std::string body;
};

std::shared_ptr<grpc::Channel> Connect(int port) {
  grpc::ChannelArguments args;
  // A private connection per channel, so channels do not share transports.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

// One unary call with a raw request body through the generic stub.
CallResult Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                const std::string& request, bool gzip = false) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  absl::Notification done;
  CallResult result;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&](grpc::Status status) {
                   result.status = std::move(status);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (result.status.ok()) {
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response_buffer.Dump(&slices).ok());
    for (const auto& s : slices) {
      result.body.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return result;
}

class GrpcReceiverTest : public ::testing::Test {
 protected:
  void Start(GrpcReceiver::Options options = {}) {
    options.listen_address = "127.0.0.1:0";
    pipeline_ = std::make_unique<IngestPipeline>(engine_.engine(), &stats_, &observer_);
    receiver_ = std::make_unique<GrpcReceiver>(*pipeline_, &stats_, options);
    ASSERT_TRUE(receiver_->Start().ok());
    ASSERT_GT(receiver_->port(), 0);
    channel_ = Connect(receiver_->port());
  }

  void TearDown() override {
    if (receiver_) receiver_->Shutdown(absl::Now() + absl::Seconds(10));
  }

  EngineHolder engine_;
  ReceiverStats stats_;
  TestObserver observer_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<GrpcReceiver> receiver_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcReceiverTest, ExportIsAcceptedWithEmptyResponse) {
  Start();
  const std::string request =
      ProtoRequest({Root("checkout", 1, 1), Root("checkout", 2, 2), Root("cart", 3, 3)});
  const CallResult r = Call(channel_, kExport, request);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.body, "");  // partial_success unset
  EXPECT_EQ(engine_.Spans("checkout"), 2u);
  EXPECT_EQ(engine_.Spans("cart"), 1u);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kOk), 1u);
  EXPECT_EQ(stats_.grpc.spans_received.load(), 3u);
  EXPECT_EQ(stats_.grpc.bytes_received.load(), request.size());
  EXPECT_EQ(stats_.grpc.request_duration.Read().count, 1u);
}

TEST_F(GrpcReceiverTest, PartialSuccess) {
  Start();
  TestSpan bad = Root("checkout", 2, 2);
  bad.span_id = "1234";
  const CallResult r = Call(channel_, kExport, ProtoRequest({Root("checkout", 1, 1), bad}));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(r.body));
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_EQ(response.partial_success().error_message(), "1 span rejected: span_id_length (1)");
  EXPECT_EQ(engine_.Spans("checkout"), 1u);
  EXPECT_EQ(engine_.InvalidContexts("checkout", SpanContextError::kSpanIdLength), 1u);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kPartial), 1u);
}

TEST_F(GrpcReceiverTest, UndecodableIsInvalidArgument) {
  Start();
  std::string request = ProtoRequest({Root("checkout", 1, 1)});
  request.resize(request.size() - 4);
  const CallResult r = Call(channel_, kExport, request);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(r.status.error_message().find("OTLP protobuf"), std::string::npos)
      << r.status.error_message();
  EXPECT_EQ(engine_.Spans("checkout"), 0u);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kInvalid), 1u);
}

TEST_F(GrpcReceiverTest, OversizedIsResourceExhausted) {
  GrpcReceiver::Options options;
  options.max_recv_message_bytes = 1024;
  Start(options);
  std::vector<TestSpan> spans;
  for (int i = 1; i <= 100; ++i) spans.push_back(Root("big", i, i));
  const std::string request = ProtoRequest(spans);
  ASSERT_GT(request.size(), 1024u);
  const CallResult r = Call(channel_, kExport, request);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  EXPECT_EQ(r.status.error_details(), "");  // no RetryInfo: not retryable
  EXPECT_EQ(engine_.Spans("big"), 0u);
  // Under the limit still works on the same channel.
  EXPECT_TRUE(Call(channel_, kExport, ProtoRequest({Root("small", 1, 1)})).status.ok());
  // Counted once every call is done (gRPC answers before our reactor runs).
  receiver_->Shutdown(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kTooLarge), 1u);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kOk), 1u);
  EXPECT_EQ(stats_.grpc.inflight_requests.load(), 0);
}

TEST_F(GrpcReceiverTest, GzipCompressedCall) {
  Start();
  std::vector<TestSpan> spans;
  for (int i = 1; i <= 500; ++i) spans.push_back(Root("zipped", i, i));
  const std::string request = ProtoRequest(spans);
  const CallResult r = Call(channel_, kExport, request, /*gzip=*/true);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(engine_.Spans("zipped"), 500u);
  // The handler received the compressed message and inflated it itself.
  EXPECT_LT(stats_.grpc.bytes_received.load(), request.size() / 2);
  EXPECT_EQ(stats_.grpc.bytes_decompressed.load(), request.size());
}

TEST_F(GrpcReceiverTest, GzipBombIsStoppedAtTheLimit) {
  GrpcReceiver::Options options;
  options.max_recv_message_bytes = size_t{1} << 20;
  Start(options);
  // 64 MiB of zeros compress to about 64 KiB: far under the limit as
  // received, far over it inflated.
  const CallResult r = Call(channel_, kExport, std::string(size_t{64} << 20, '\0'), /*gzip=*/true);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  EXPECT_NE(r.status.error_message().find("decompressed"), std::string::npos)
      << r.status.error_message();
  EXPECT_LT(stats_.grpc.bytes_received.load(), size_t{1} << 20);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kTooLarge), 1u);
}

TEST_F(GrpcReceiverTest, CorruptGzipIsInvalidArgument) {
  Start();
  std::string gz = testing::Gzip(ProtoRequest({Root("x", 1, 1)}));
  gz[gz.size() - 6] ^= 1;
  const CallResult r = Call(channel_, kExport, gz);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kInvalid), 1u);
}

TEST_F(GrpcReceiverTest, DeflateIsRefused) {
  Start();
  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  context.set_compression_algorithm(GRPC_COMPRESS_DEFLATE);
  const std::string request = ProtoRequest({Root("deflated", 1, 1)});
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, kExport, grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  EXPECT_EQ(engine_.Spans("deflated"), 0u);
}

TEST_F(GrpcReceiverTest, ConcurrentCallsAreCountedExactly) {
  Start();
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const int n = t * kCalls + i + 1;
        EXPECT_TRUE(Call(channel_, kExport, ProtoRequest({Root("many", n, n)}), n % 2 == 0)
                        .status.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(engine_.Spans("many"), uint64_t{kThreads * kCalls});
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kOk), uint64_t{kThreads * kCalls});
}

TEST_F(GrpcReceiverTest, UnknownMethodIsUnimplemented) {
  Start();
  EXPECT_EQ(Call(channel_, "/foo.Bar/Baz", "").status.error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Call(channel_, "/opentelemetry.proto.collector.trace.v1.TraceService/Other", "")
                .status.error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kNotFound), 2u);
}

TEST_F(GrpcReceiverTest, OverloadIsUnavailableWithRetryInfo) {
  GrpcReceiver::Options options;
  options.max_inflight_requests = 1;
  options.retry_delay = absl::Seconds(3);
  Start(options);
  observer_.Hold();
  CallResult held;
  std::thread first([&] { held = Call(channel_, kExport, ProtoRequest({Root("slow", 1, 1)})); });
  observer_.WaitHeld(1);

  const CallResult r = Call(channel_, kExport, ProtoRequest({Root("fast", 2, 2)}));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // grpc-status-details-bin: google.rpc.Status{code, message, details: [Any{RetryInfo}]}.
  google::protobuf::UnknownFieldSet status;
  ASSERT_TRUE(status.ParseFromString(r.status.error_details()));
  std::string any_bytes;
  for (int i = 0; i < status.field_count(); ++i) {
    if (status.field(i).number() == 1) {
      EXPECT_EQ(status.field(i).varint(), 14u);
    } else if (status.field(i).number() == 3) {
      any_bytes = status.field(i).length_delimited();
    }
  }
  google::protobuf::UnknownFieldSet any;
  ASSERT_TRUE(any.ParseFromString(any_bytes));
  ASSERT_EQ(any.field_count(), 2);
  EXPECT_EQ(any.field(0).length_delimited(), "type.googleapis.com/google.rpc.RetryInfo");
  google::protobuf::UnknownFieldSet retry_info;
  ASSERT_TRUE(retry_info.ParseFromString(any.field(1).length_delimited()));
  google::protobuf::UnknownFieldSet duration;
  ASSERT_TRUE(duration.ParseFromString(retry_info.field(0).length_delimited()));
  EXPECT_EQ(duration.field(0).varint(), 3u);
  EXPECT_EQ(stats_.grpc.Requests(RequestResult::kOverloaded), 1u);

  observer_.Release();
  first.join();
  EXPECT_TRUE(held.status.ok()) << held.status.error_message();
  EXPECT_EQ(engine_.Spans("slow"), 1u);
  EXPECT_EQ(engine_.Spans("fast"), 0u);
  // The slot is free again once the held call has been answered.
  EXPECT_TRUE(Call(channel_, kExport, ProtoRequest({Root("fast", 2, 2)})).status.ok());
}

TEST_F(GrpcReceiverTest, ShutdownCompletesTheCallInFlight) {
  Start();
  observer_.Hold();
  CallResult held;
  std::thread caller(
      [&] { held = Call(channel_, kExport, ProtoRequest({Root("inflight", 1, 1)})); });
  observer_.WaitHeld(1);
  std::thread stopper([&] { receiver_->Shutdown(absl::Now() + absl::Seconds(60)); });
  // Shutdown has begun once a fresh connection gets UNAVAILABLE.
  const int port = receiver_->port();
  while (Call(Connect(port), "/probe.Probe/Probe", "").status.error_code() !=
         grpc::StatusCode::UNAVAILABLE) {
  }
  observer_.Release();
  caller.join();
  stopper.join();
  EXPECT_TRUE(held.status.ok()) << held.status.error_message();
  EXPECT_EQ(engine_.Spans("inflight"), 1u);
  receiver_->Shutdown(absl::Now());  // idempotent
}

TEST_F(GrpcReceiverTest, BindFailureNamesTheAddress) {
  Start();
  GrpcReceiver::Options options;
  options.listen_address = absl::StrCat("127.0.0.1:", receiver_->port());
  GrpcReceiver second(*pipeline_, nullptr, options);
  const absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(options.listen_address), absl::string_view::npos) << status;
}

TEST_F(GrpcReceiverTest, BadOptionsAreRejected) {
  EngineHolder engine;
  IngestPipeline pipeline(engine.engine());
  GrpcReceiver::Options options;
  options.max_inflight_requests = 0;
  EXPECT_EQ(GrpcReceiver(pipeline, nullptr, options).Start().code(),
            absl::StatusCode::kInvalidArgument);
}

#ifdef PROPWATCH_HAVE_OTLP_GRPC_STUB
TEST_F(GrpcReceiverTest, GeneratedStubInteroperates) {
  Start();
  namespace collector = opentelemetry::proto::collector::trace::v1;
  auto stub = collector::TraceService::NewStub(channel_);
  collector::ExportTraceServiceRequest request;
  ASSERT_TRUE(request.ParseFromString(ProtoRequest({Root("stub", 1, 1), Root("stub", 2, 2)})));
  request.mutable_resource_spans(1)->mutable_scope_spans(0)->mutable_spans(0)->set_trace_id("x");
  grpc::ClientContext context;
  context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  collector::ExportTraceServiceResponse response;
  const grpc::Status status = stub->Export(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_EQ(engine_.Spans("stub"), 1u);
}
#endif

}  // namespace
}  // namespace propwatch::receiver
