#include "exporter/metrics/family_builder.h"

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace propwatch::metrics {
namespace {

TEST(FamilyBuilderTest, LabelValuesAreMadeValidUtf8) {
  EXPECT_EQ(SanitizeLabelValue("checkout"), "checkout");
  EXPECT_EQ(SanitizeLabelValue("caf\xc3\xa9"), "caf\xc3\xa9");           // é stays
  EXPECT_EQ(SanitizeLabelValue("a\xff" "b"), "a\xef\xbf\xbd" "b");      // stray byte
  EXPECT_EQ(SanitizeLabelValue("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(SanitizeLabelValue("\xed\xa0\x80"),                          // surrogate
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(SanitizeLabelValue("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");  // truncated
  EXPECT_EQ(SanitizeLabelValue("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // emoji stays
}

TEST(FamilyBuilderTest, OnlyFamiliesWithSamplesAreEmittedInListOrder) {
  FamilyBuilder b;
  b.Add(MetricId::kLateSpans, {"svc\"quoted"}, 3);
  b.Add(MetricId::kSpans, {"svc"}, 7);
  b.AddHistogram(MetricId::kReceiverRequestDuration, {"grpc"}, {0.1, 1.0}, {2, 5, 6}, 1.5);
  auto families = b.Take();
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "propwatch_spans_total");
  EXPECT_EQ(families[1].name, "propwatch_late_spans_total");
  const std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_NE(text.find("propwatch_late_spans_total{service_name=\"svc\\\"quoted\"} 3"),
            std::string::npos) << text;
  EXPECT_NE(text.find("propwatch_receiver_request_duration_seconds_bucket{transport=\"grpc\",le=\"1\"} 5"),
            std::string::npos) << text;
  EXPECT_NE(text.find("propwatch_receiver_request_duration_seconds_count{transport=\"grpc\"} 6"),
            std::string::npos) << text;
}

}  // namespace
}  // namespace propwatch::metrics
