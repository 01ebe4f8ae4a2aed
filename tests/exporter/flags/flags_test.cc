// The one flag parser: both value forms, booleans, --help anywhere, clear
// errors for unknown flags, missing and bad values, positional limits.
#include "exporter/flags/flags.h"

#include <vector>

#include "gtest/gtest.h"

namespace propwatch::flags {
namespace {

struct Settings {
  std::string address = "127.0.0.1:9417";
  uint64_t count = 3;
  int level = 1;
  double ratio = 0.01;
  bool json = false;
  absl::Duration timeout = absl::Seconds(10);
};

FlagSet Make(Settings* s) {
  FlagSet set("Usage: tool [flags] [NAME]", "A tool.");
  set.String("address", &s->address, "Where.");
  set.Uint64("count", &s->count, "How many.", 1, 100);
  set.Int("level", &s->level, "Level.", 0, 5);
  set.Double("ratio", &s->ratio, "Ratio.", 0, 1);
  set.Bool("json", &s->json, "JSON out.");
  set.Duration("timeout", &s->timeout, "Deadline.");
  return set;
}

absl::StatusOr<FlagSet::Parsed> Parse(Settings* s, std::vector<std::string_view> args,
                                      size_t positional = 0) {
  FlagSet set = Make(s);
  return set.Parse(args, positional);
}

std::string Error(std::vector<std::string_view> args, size_t positional = 0) {
  Settings s;
  auto parsed = Parse(&s, args, positional);
  return parsed.ok() ? "ok" : std::string(parsed.status().message());
}

TEST(FlagSetTest, BothFormsAreTheSameAndLaterWins) {
  Settings a, b;
  ASSERT_TRUE(Parse(&a, {"--address=h:1", "--count=7", "--ratio=0.5", "--timeout=2s"}).ok());
  ASSERT_TRUE(Parse(&b, {"--address", "h:1", "--count", "7", "--ratio", "0.5", "--timeout", "2s"}).ok());
  for (const Settings* s : {&a, &b}) {
    EXPECT_EQ(s->address, "h:1");
    EXPECT_EQ(s->count, 7u);
    EXPECT_EQ(s->ratio, 0.5);
    EXPECT_EQ(s->timeout, absl::Seconds(2));
  }
  Settings c;
  ASSERT_TRUE(Parse(&c, {"--count=2", "--count", "9"}).ok());
  EXPECT_EQ(c.count, 9u);
}

TEST(FlagSetTest, BooleansStandAloneOrTakeAValue) {
  Settings s;
  ASSERT_TRUE(Parse(&s, {"--json"}).ok());
  EXPECT_TRUE(s.json);
  ASSERT_TRUE(Parse(&s, {"--json=false"}).ok());
  EXPECT_FALSE(s.json);
  // A bare boolean never swallows the next argument.
  auto parsed = Parse(&s, {"--json", "NAME"}, 1);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(s.json);
  EXPECT_EQ(parsed->positional, std::vector<std::string>{"NAME"});
  EXPECT_EQ(Error({"--json=maybe"}), "--json: not a boolean (true or false): 'maybe'");
}

TEST(FlagSetTest, HelpAnywhereIsReportedAndNothingElseIsApplied) {
  Settings s;
  auto parsed = Parse(&s, {"--count=5", "-h"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
  EXPECT_EQ(s.count, 3u);
  FlagSet set = Make(&s);
  const std::string usage = set.Usage();
  EXPECT_NE(usage.find("Usage: tool [flags] [NAME]"), std::string::npos);
  EXPECT_NE(usage.find("  --count (default 3)\n      How many.\n"), std::string::npos) << usage;
  EXPECT_NE(usage.find("  --timeout (default 10s)\n"), std::string::npos) << usage;
  EXPECT_NE(usage.find("  --help\n"), std::string::npos);
}

TEST(FlagSetTest, ErrorsNameTheFlag) {
  EXPECT_EQ(Error({"--nope=1"}), "unknown flag '--nope' (see --help)");
  EXPECT_EQ(Error({"--count"}), "--count: missing value");
  EXPECT_EQ(Error({"--address", "--json"}), "--address: missing value");
  EXPECT_EQ(Error({"--count=0"}), "--count: must be in [1, 100]");
  EXPECT_EQ(Error({"--count=7x"}), "--count: not a whole number: '7x'");
  EXPECT_EQ(Error({"--level=-1"}), "--level: must be in [0, 5]");
  EXPECT_EQ(Error({"--ratio=abc"}), "--ratio: not a number: 'abc'");
  EXPECT_EQ(Error({"--ratio=2"}), "--ratio: must be in [0, 1]");
  EXPECT_EQ(Error({"--timeout=soon"}), "--timeout: not a duration (e.g. 30s, 5m, 500ms): 'soon'");
  EXPECT_EQ(Error({"stray"}), "unexpected argument 'stray' (see --help)");
  EXPECT_EQ(Error({"a", "b"}, 1), "unexpected argument 'b' (see --help)");
  EXPECT_EQ(Error({"--"}), "unexpected argument '--' (see --help)");
}

}  // namespace
}  // namespace propwatch::flags
