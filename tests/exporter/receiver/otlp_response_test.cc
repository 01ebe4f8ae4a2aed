// Hand-written OTLP response encoders, checked against protobuf's own parser
// (generated classes for ExportTraceServiceResponse; UnknownFieldSet for
// google.rpc.Status, which has no generated class here).
#include "exporter/receiver/otlp_response.h"

#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace propwatch::receiver {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

TEST(OtlpResponseTest, FullSuccessIsEmptyMessage) {
  EXPECT_EQ(EncodeExportTraceResponseProto(0, ""), "");
  EXPECT_EQ(EncodeExportTraceResponseJson(0, ""), "{}");
}

TEST(OtlpResponseTest, PartialSuccessProto) {
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(EncodeExportTraceResponseProto(2, "2 spans rejected")));
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_EQ(response.partial_success().error_message(), "2 spans rejected");
}

TEST(OtlpResponseTest, WarningOnlyPartialSuccessIsStillSet) {
  ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(EncodeExportTraceResponseProto(0, "note")));
  ASSERT_TRUE(response.has_partial_success());
  EXPECT_EQ(response.partial_success().rejected_spans(), 0);
}

TEST(OtlpResponseTest, PartialSuccessJsonUsesStringInt64) {
  EXPECT_EQ(EncodeExportTraceResponseJson(2, "a \"quoted\"\nline"),
            R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"a \"quoted\"\nline"}})");
  EXPECT_EQ(EncodeExportTraceResponseJson(7, ""), R"({"partialSuccess":{"rejectedSpans":"7"}})");
}

TEST(OtlpResponseTest, InvalidUtf8IsReplaced) {
  EXPECT_EQ(ToValidUtf8("ok \xff end"), "ok \xef\xbf\xbd end");
  EXPECT_EQ(ToValidUtf8("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(ToValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(ToValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong
  EXPECT_EQ(EncodeExportTraceResponseJson(1, std::string("x\x01y\xfe", 4)),
            "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"errorMessage\":\"x\\u0001y\xef\xbf\xbd\"}}");
  ExportTraceServiceResponse response;
  EXPECT_TRUE(response.ParseFromString(EncodeExportTraceResponseProto(1, "bad \xff")));
}

TEST(OtlpResponseTest, StatusProtoWithRetryInfo) {
  UnknownFieldSet status;
  ASSERT_TRUE(status.ParseFromString(
      EncodeStatusProto(kRpcUnavailable, "busy", absl::Milliseconds(1500))));
  ASSERT_EQ(status.field_count(), 3);
  EXPECT_EQ(status.field(0).number(), 1);
  EXPECT_EQ(status.field(0).varint(), 14u);
  EXPECT_EQ(status.field(1).number(), 2);
  EXPECT_EQ(status.field(1).length_delimited(), "busy");
  EXPECT_EQ(status.field(2).number(), 3);
  UnknownFieldSet any;
  ASSERT_TRUE(any.ParseFromString(status.field(2).length_delimited()));
  ASSERT_EQ(any.field_count(), 2);
  EXPECT_EQ(any.field(0).length_delimited(), "type.googleapis.com/google.rpc.RetryInfo");
  UnknownFieldSet retry_info;
  ASSERT_TRUE(retry_info.ParseFromString(any.field(1).length_delimited()));
  ASSERT_EQ(retry_info.field_count(), 1);
  UnknownFieldSet duration;
  ASSERT_TRUE(duration.ParseFromString(retry_info.field(0).length_delimited()));
  ASSERT_EQ(duration.field_count(), 2);
  EXPECT_EQ(duration.field(0).varint(), 1u);            // seconds
  EXPECT_EQ(duration.field(1).varint(), 500000000u);    // nanos
}

TEST(OtlpResponseTest, StatusProtoWithoutDetails) {
  UnknownFieldSet status;
  ASSERT_TRUE(status.ParseFromString(EncodeStatusProto(kRpcInvalidArgument, "bad")));
  ASSERT_EQ(status.field_count(), 2);
  EXPECT_EQ(status.field(0).varint(), 3u);
  EXPECT_EQ(status.field(1).length_delimited(), "bad");
}

TEST(OtlpResponseTest, StatusJson) {
  EXPECT_EQ(EncodeStatusJson(kRpcInvalidArgument, "bad \"x\""),
            R"({"code":3,"message":"bad \"x\""})");
  EXPECT_EQ(EncodeStatusJson(kRpcUnavailable, "busy", absl::Seconds(2)),
            R"({"code":14,"message":"busy","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]})");
  EXPECT_EQ(EncodeStatusJson(kRpcUnavailable, "", absl::Milliseconds(250)),
            R"({"code":14,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.250s"}]})");
}

}  // namespace
}  // namespace propwatch::receiver
