#include "exporter/tap/tap_config.h"

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace propwatch::tap {
namespace {

// Without the process environment, so the machine's variables cannot leak in.
absl::StatusOr<TapConfig> Parse(std::vector<std::string_view> args) {
  return ParseTapConfig(args, nullptr);
}

// A fake environment.
EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(TapConfigTest, PrecedenceIsDefaultsThenFileThenEnvironmentThenFlags) {
  const std::string file = WriteFile("precedence.conf",
                                     "entry-services = from-file\n"
                                     "max-traces = 1000\n"
                                     "log-level = debug\n");
  // The file alone.
  auto c = ParseTapConfig(std::vector<std::string_view>{"--config", file}, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->engine.entry_point_services, std::vector<std::string>{"from-file"});
  EXPECT_EQ(c->log_level, log::Level::kDebug);
  // The environment beats the file; flags beat both; untouched keys keep the
  // file's value or the default.
  const EnvLookup env = Env({{"PROPWATCH_ENTRY_SERVICES", "from-env"},
                             {"PROPWATCH_MAX_TRACES", "2000"},
                             {"PROPWATCH_LOG_FORMAT", "json"}});
  c = ParseTapConfig(std::vector<std::string_view>{"--config", file, "--max-traces=3000"}, env);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->engine.entry_point_services, std::vector<std::string>{"from-env"});
  EXPECT_EQ(c->engine.max_traces, 3000u);
  EXPECT_EQ(c->log_level, log::Level::kDebug);
  EXPECT_EQ(c->log_format, log::Format::kJson);
  EXPECT_EQ(c->admin_address, "127.0.0.1:9417");
  // PROPWATCH_CONFIG names the file when --config does not.
  c = ParseTapConfig(std::vector<std::string_view>{}, Env({{"PROPWATCH_CONFIG", file}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->engine.max_traces, 1000u);
}

TEST(TapConfigTest, QuotedFileValuesAndSourcesNamedInErrors) {
  const std::string file = WriteFile("quoted.conf", "entry-services = \"gateway, web-*\"\n");
  auto c = ParseTapConfig(std::vector<std::string_view>{"--config", file}, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->engine.entry_point_services, (std::vector<std::string>{"gateway", "web-*"}));
  c = ParseTapConfig(std::vector<std::string_view>{}, Env({{"PROPWATCH_CONFIG", "/nonexistent"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()), "PROPWATCH_CONFIG: cannot read '/nonexistent'");
  c = Parse({"--max-request-bytes=2GiB"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "--max-request-bytes: must be at most 2147483647 bytes (2GiB - 1)");
}

TEST(TapConfigTest, BadEnvironmentValueNamesTheVariable) {
  auto c = ParseTapConfig(std::vector<std::string_view>{},
                          Env({{"PROPWATCH_LOG_LEVEL", "loud"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "PROPWATCH_LOG_LEVEL: --log-level: log level must be debug, info, warn or error; "
            "got 'loud'");
  c = ParseTapConfig(std::vector<std::string_view>{}, Env({{"PROPWATCH_SHARDS", "5"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("power of two"), std::string::npos)
      << c.status();
  EXPECT_EQ(EnvVarName("trace-store-max-spans-per-trace"),
            "PROPWATCH_TRACE_STORE_MAX_SPANS_PER_TRACE");
}

TEST(TapConfigTest, DefaultsNeedNoArguments) {
  auto config = Parse({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->otlp_grpc_address, "127.0.0.1:4417");
  EXPECT_EQ(config->otlp_http_address, "127.0.0.1:4418");
  EXPECT_EQ(config->admin_address, "127.0.0.1:9417");
  EXPECT_EQ(config->engine.trace_idle_timeout, std::chrono::seconds(30));
  EXPECT_EQ(config->max_request_bytes, 16u << 20);
  // A tap guards rollouts by default; the engine alone does not.
  EXPECT_EQ(config->engine.rebalance_window, std::chrono::seconds(30));
  EXPECT_EQ(EngineOptions{}.rebalance_window, Duration::zero());
  EXPECT_EQ(config->engine.max_clock_skew, std::chrono::seconds(2));
  EXPECT_TRUE(config->fleet_members.empty());
}

TEST(TapConfigTest, FleetMembersAreSortedWithoutDuplicates) {
  auto config = Parse({"--fleet-members= tap-c:4417,tap-a:4417,, tap-b:4417,tap-a:4417",
                       "--rebalance-window=0", "--max-clock-skew=500ms"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->fleet_members,
            (std::vector<std::string>{"tap-a:4417", "tap-b:4417", "tap-c:4417"}));
  EXPECT_EQ(config->engine.rebalance_window, Duration::zero());
  EXPECT_EQ(config->engine.max_clock_skew, std::chrono::milliseconds(500));
}

TEST(TapConfigTest, FlagsInBothFormsAndListsParse) {
  auto config = Parse({"--entry-services=gateway, web-*", "--trace-idle-timeout", "45s",
                       "--max-request-bytes=4MiB", "--window=2m", "--window-resolution=15s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->engine.entry_point_services, (std::vector<std::string>{"gateway", "web-*"}));
  EXPECT_EQ(config->engine.trace_idle_timeout, std::chrono::seconds(45));
  EXPECT_EQ(config->max_request_bytes, 4u << 20);
  EXPECT_EQ(config->engine.window_length, std::chrono::minutes(2));
}

TEST(TapConfigTest, ErrorsNameTheSetting) {
  auto expect_error = [](std::vector<std::string_view> args, std::string_view needle) {
    auto config = ParseTapConfig(args);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(config.status().message().find(absl::string_view(needle.data(), needle.size())),
              absl::string_view::npos)
        << config.status();
  };
  expect_error({"--nope=1"}, "unknown flag '--nope'");
  expect_error({"--max-traces=abc"}, "--max-traces: not a whole number");
  expect_error({"--max-traces=0"}, "--max-traces: must be in [1,");
  expect_error({"--trace-idle-timeout=soon"}, "--trace-idle-timeout: not a duration");
  expect_error({"--otlp-grpc-address=localhost"}, "--otlp-grpc-address");
  expect_error({"--admin-address=127.0.0.1:99999"}, "port must be 0-65535");
  expect_error({"--window=65s"}, "--window: must be a whole multiple of --window-resolution");
  expect_error({"--otlp-grpc-address=off", "--otlp-http-address=off"}, "both OTLP listeners");
  expect_error({"positional"}, "unexpected argument");
  expect_error({"--forward-to=upstream:0"}, "--forward-to");
  expect_error({"--forward-timeout=0s"}, "--forward-timeout");
  expect_error({"--max-traces"}, "missing value");
  expect_error({"--fleet-members=tap-a:4417,tap-b"}, "--fleet-members: \"tap-b\" is not host:port");
  for (std::string_view bad : {"--fleet-members=10.0.0.1:4417;10.0.0.2:4417",
                               "--fleet-members=tap-a:1 tap-b:2", "--fleet-members=http://tap-a:4417",
                               "--fleet-members=:4417"}) {
    expect_error({bad}, "--fleet-members");
  }
  expect_error({"--fleet-dns=taps.svc:4417"}, "--fleet-dns: a DNS name only");
  EXPECT_TRUE(Parse({"--fleet-members=[::1]:4417,tap-a:4417"}).ok());
  expect_error({"--rebalance-window=-1s"}, "--rebalance-window");
  expect_error({"--fleet-dns=taps", "--fleet-members=a:1"}, "--fleet-dns: set --fleet-dns or");
  expect_error({"--fleet-dns=taps", "--fleet-dns-interval=100ms"}, "--fleet-dns-interval");
  expect_error({"--rebalance-window=48h"}, "--rebalance-window: must be in [0, 24h]");
  expect_error({"--max-clock-skew=2h"}, "--max-clock-skew: must be in [0, 1h]");
}

TEST(TapConfigTest, ConfigFileIsReadAndFlagsWin) {
  const std::string path = ::testing::TempDir() + "/propwatch_tap_config_test.conf";
  {
    std::ofstream out(path);
    out << "# a comment\n"
           "entry-services = gateway\n"
           "max-traces = 1234   # trailing comment\n"
           "\n"
           "trace-idle-timeout = 10s\n";
  }
  auto config = Parse({"--trace-idle-timeout=20s", "--config", path});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->engine.max_traces, 1234u);
  EXPECT_EQ(config->engine.entry_point_services, std::vector<std::string>{"gateway"});
  EXPECT_EQ(config->engine.trace_idle_timeout, std::chrono::seconds(20));

  {
    std::ofstream out(path);
    out << "max-traces = 1\nbogus line\n";
  }
  const std::string flag = "--config=" + path;
  auto bad = Parse({flag});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2: expected `key = value`"), absl::string_view::npos);
  std::remove(path.c_str());
}

TEST(TapConfigTest, UsageListsEverySetting) {
  const std::string usage = TapUsage();
  for (const char* key : {"--otlp-grpc-address", "--entry-services", "--max-traces",
                          "--trace-store-max-traces", "--config"}) {
    EXPECT_NE(usage.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace propwatch::tap
