// TapConfig: every setting of the `propwatch` tap, its defaults, and parsing
// from command-line flags and an optional config file.
//
// Sources, later wins: embedded defaults < the config file (--config FILE, or
// $PROPWATCH_CONFIG) < environment variables PROPWATCH_<KEY> (the flag name
// upper-cased, dashes as underscores: PROPWATCH_ENTRY_SERVICES) < flags. The
// file has one `key = value` per line with the flag names as keys (`#` starts
// a comment). Every value is validated before anything binds a port; an error
// names the key (or variable) and what is wrong. Thread-compatible value type.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "exporter/log/log.h"
#include "exporter/receiver/tls.h"
#include "propwatch/engine_options.h"

namespace propwatch::tap {

struct TapConfig {
  // Listen addresses (host:port). "off" disables a listener.
  std::string otlp_grpc_address = "127.0.0.1:4417";
  std::string otlp_http_address = "127.0.0.1:4418";
  std::string admin_address = "127.0.0.1:9417";  // /metrics, /api/v1/traces, /healthz

  // TLS for both OTLP listeners, and for the admin listener (mutual TLS
  // when a client CA is set). Re-read on SIGHUP and when the files change.
  receiver::TlsFiles otlp_tls;
  receiver::TlsFiles admin_tls;
  // When set, the trace API (/api/v1/traces/) requires the header
  // `Authorization: Bearer <the file's content, trimmed>`.
  std::string admin_bearer_token_file;

  // The engine's defaults, except that rollouts are guarded: a tap is
  // meant to run behind a trace-id load balancer (docs/deploy.md).
  static EngineOptions DefaultEngineOptions() {
    EngineOptions options;
    options.rebalance_window = std::chrono::seconds(30);
    return options;
  }
  EngineOptions engine = DefaultEngineOptions();

  // The taps behind the same load balancer (its static resolver's list), as
  // given; only changes matter: when the list differs after a SIGHUP, the
  // engine opens a rebalance window. Sorted, no duplicates.
  std::vector<std::string> fleet_members;
  // Or: a name that resolves to every tap (a Kubernetes headless Service, the
  // one the collector's `dns` resolver watches), resolved every interval;
  // a change of its addresses opens a rebalance window. Empty: off.
  std::string fleet_dns;
  absl::Duration fleet_dns_interval = absl::Seconds(5);

  uint64_t max_request_bytes = 16ull << 20;  // after decompression
  uint32_t max_inflight_requests = 64;
  uint32_t http_threads = 2;

  uint32_t trace_store_max_traces = 10'000;
  uint32_t trace_store_max_spans_per_trace = 1'000;

  // In-line mode: after ingesting, forward every OTLP/protobuf request
  // unchanged to this OTLP/gRPC host:port. Empty: off.
  std::string forward_to;
  absl::Duration forward_timeout = absl::Seconds(10);

  absl::Duration advance_interval = absl::Seconds(1);

  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
};

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
std::optional<std::string> ProcessEnv(std::string_view name);
// "PROPWATCH_ENTRY_SERVICES" for "entry-services".
std::string EnvVarName(std::string_view key);
// PROPWATCH_* variables of this process that name no setting (a typo such as
// PROPWATCH_ENTRY_SERVICE), for a warning at start-up.
std::vector<std::string> UnknownEnvSettings();

// Parses the config file, the environment (through `env`; nullptr ignores
// it) and flags (`--key=value` or `--key value`; `args` excludes argv[0]).
// `--help` is not handled here. Returns InvalidArgument naming the key.
absl::StatusOr<TapConfig> ParseTapConfig(std::span<const std::string_view> args,
                                         const EnvLookup& env = ProcessEnv);

// Applies one `key`/`value` pair (the flag name without dashes).
absl::Status ApplySetting(TapConfig& config, std::string_view key, std::string_view value);

// Validates cross-field rules and every address.
absl::Status ValidateTapConfig(const TapConfig& config);

// The --help text: every key with its default and meaning.
std::string TapUsage();

// "a, b,,c " -> {"a", "b", "c"}: items trimmed, empty ones dropped.
std::vector<std::string> SplitCommaList(std::string_view list);

// Splits "host:port" ("[v6]:port" too). Port 0 allowed (ephemeral).
absl::Status ParseHostPort(std::string_view address, std::string* host, uint16_t* port);

}  // namespace propwatch::tap
