#include "exporter/receiver/receiver_stats.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace propwatch::receiver {
namespace {

TEST(ReceiverStatsTest, Names) {
  EXPECT_EQ(TransportName(Transport::kGrpc), "grpc");
  EXPECT_EQ(TransportName(Transport::kHttp), "http");
  EXPECT_EQ(RequestResultName(RequestResult::kOk), "ok");
  EXPECT_EQ(RequestResultName(RequestResult::kUnsupportedMediaType), "unsupported_media_type");
  EXPECT_EQ(RequestResultName(RequestResult::kNotFound), "not_found");
  for (int i = 0; i < kNumRequestResults; ++i) {
    EXPECT_NE(RequestResultName(static_cast<RequestResult>(i)), "unknown") << i;
  }
}

TEST(ReceiverStatsTest, BoundsAreSortedAndConsistent) {
  for (size_t i = 0; i < LatencyHistogram::kNumBuckets; ++i) {
    EXPECT_EQ(LatencyHistogram::kBucketBoundsNanos[i],
              static_cast<uint64_t>(LatencyHistogram::kBucketBoundsSeconds[i] * 1e9 + 0.5));
    if (i > 0) {
      EXPECT_LT(LatencyHistogram::kBucketBoundsNanos[i - 1],
                LatencyHistogram::kBucketBoundsNanos[i]);
    }
  }
}

TEST(ReceiverStatsTest, HistogramIsCumulative) {
  LatencyHistogram h;
  h.Observe(500'000);        // exactly 0.0005 s: first bucket (le is inclusive)
  h.Observe(500'001);        // just above: second bucket
  h.Observe(3'000'000'000);  // 3 s: only the 5 s bucket
  h.Observe(9'000'000'000);  // 9 s: +Inf only
  const LatencyHistogram::Values v = h.Read();
  EXPECT_EQ(v.cumulative[0], 1u);
  EXPECT_EQ(v.cumulative[1], 2u);
  EXPECT_EQ(v.cumulative[11], 2u);  // le 2.5
  EXPECT_EQ(v.cumulative[12], 3u);  // le 5
  EXPECT_EQ(v.count, 4u);
  EXPECT_EQ(v.sum_nanos, 500'000u + 500'001u + 3'000'000'000u + 9'000'000'000u);
}

TEST(ReceiverStatsTest, ConcurrentReadsAreMonotonic) {
  LatencyHistogram h;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 0; i < 200'000; ++i) h.Observe((i * 7919) % 6'000'000'000);
    done = true;
  });
  while (!done) {
    const auto v = h.Read();
    for (size_t i = 1; i < LatencyHistogram::kNumBuckets; ++i) {
      ASSERT_LE(v.cumulative[i - 1], v.cumulative[i]);
    }
    ASSERT_LE(v.cumulative.back(), v.count);
  }
  writer.join();
  EXPECT_EQ(h.Read().count, 200'000u);
}

TEST(ReceiverStatsTest, TransportSelection) {
  ReceiverStats stats;
  stats.For(Transport::kGrpc).Count(RequestResult::kOverloaded);
  stats.For(Transport::kHttp).Count(RequestResult::kOk);
  stats.For(Transport::kHttp).Count(RequestResult::kOk);
  EXPECT_EQ(stats.grpc.Requests(RequestResult::kOverloaded), 1u);
  EXPECT_EQ(stats.http.Requests(RequestResult::kOk), 2u);
}

}  // namespace
}  // namespace propwatch::receiver
