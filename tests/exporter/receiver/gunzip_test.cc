#include "exporter/receiver/gunzip.h"

#include <string>

#include "gtest/gtest.h"
#include "receiver_test_util.h"

namespace propwatch::receiver {
namespace {

using testing::Gzip;
using testing::GzipZeros;

TEST(GunzipTest, RoundTripAndExactLimit) {
  const std::string data(1000, 'q');
  const std::string gz = Gzip(data);
  std::string out;
  EXPECT_TRUE(GunzipWithLimit(gz, 1000, &out).ok());
  EXPECT_EQ(out, data);
  EXPECT_EQ(GunzipWithLimit(gz, 999, &out).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(GunzipWithLimit(Gzip(""), 0, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(GunzipTest, SeveralMembersAreOneStream) {
  std::string out;
  ASSERT_TRUE(GunzipWithLimit(Gzip("ab") + Gzip("") + Gzip("cd"), 100, &out).ok());
  EXPECT_EQ(out, "abcd");
}

TEST(GunzipTest, MalformedInputIsInvalidArgument) {
  const std::string gz = Gzip(std::string(5000, 'z'));
  std::string out;
  EXPECT_EQ(GunzipWithLimit("", 10, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipWithLimit("plain text", 100, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GunzipWithLimit(gz.substr(0, gz.size() - 1), 10000, &out).code(),
            absl::StatusCode::kInvalidArgument);  // truncated trailer
  EXPECT_EQ(GunzipWithLimit(gz + "x", 10000, &out).code(),
            absl::StatusCode::kInvalidArgument);  // trailing garbage
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 5] ^= 1;
  EXPECT_EQ(GunzipWithLimit(bad_crc, 10000, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

TEST(GunzipTest, BombStopsAtTheLimit) {
  // 1 GiB of zeros in about 1 MiB; inflating stops right after 1 MiB.
  const std::string bomb = GzipZeros(1024);
  EXPECT_LT(bomb.size(), size_t{2} << 20);
  std::string out;
  EXPECT_EQ(GunzipWithLimit(bomb, size_t{1} << 20, &out).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_LE(out.capacity(), size_t{4} << 20);
}

TEST(GunzipTest, TestBombGeneratorIsValidGzip) {
  std::string out;
  ASSERT_TRUE(GunzipWithLimit(GzipZeros(3), size_t{3} << 20, &out).ok());
  EXPECT_EQ(out, std::string(size_t{3} << 20, '\0'));
}

TEST(GunzipTest, LooksGzipped) {
  EXPECT_TRUE(LooksGzipped(Gzip("x")));
  EXPECT_FALSE(LooksGzipped("\x1f"));
  EXPECT_FALSE(LooksGzipped("\x0a\x02"));
}

}  // namespace
}  // namespace propwatch::receiver
