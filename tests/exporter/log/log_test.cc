// Log lines: exact text and JSON forms, one event per line whatever the
// message holds, and level filtering.
#include "exporter/log/log.h"

#include <sstream>

#include "gtest/gtest.h"

namespace propwatch::log {
namespace {

constexpr int64_t kT = 1'764'750'421'123;  // 2025-12-03T08:27:01.123Z

TEST(LogTest, TextAndJsonLinesAreExact) {
  EXPECT_EQ(FormatLine(Format::kText, Level::kInfo, kT, "listening: admin=127.0.0.1:9417"),
            "2025-12-03T08:27:01.123Z info listening: admin=127.0.0.1:9417\n");
  EXPECT_EQ(FormatLine(Format::kJson, Level::kWarn, kT, "say \"hi\"\\"),
            "{\"ts\":\"2025-12-03T08:27:01.123Z\",\"level\":\"warn\",\"msg\":\"say "
            "\\\"hi\\\"\\\\\"}\n");
}

TEST(LogTest, OneEventIsOneLineAndValidUtf8) {
  // A newline in a message (e.g. from a peer's error text) must not forge a
  // second log line; invalid UTF-8 is repaired.
  EXPECT_EQ(FormatLine(Format::kText, Level::kError, kT, "a\nb\r\tc\xff"),
            "2025-12-03T08:27:01.123Z error a b  c\xEF\xBF\xBD\n");
  EXPECT_EQ(FormatLine(Format::kJson, Level::kError, kT, "a\nb"),
            "{\"ts\":\"2025-12-03T08:27:01.123Z\",\"level\":\"error\",\"msg\":\"a\\nb\"}\n");
}

TEST(LogTest, LevelFilterAndParsing) {
  std::ostringstream out;
  Configure(Level::kWarn, Format::kText, &out);
  Info("dropped");
  Warn("kept");
  Error("kept too");
  Configure(Level::kInfo, Format::kText, nullptr);
  const std::string text = out.str();
  EXPECT_EQ(text.find("dropped"), std::string::npos);
  EXPECT_NE(text.find(" warn kept\n"), std::string::npos);
  EXPECT_NE(text.find(" error kept too\n"), std::string::npos);
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_FALSE(ParseLevel("INFO").ok());
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace propwatch::log
