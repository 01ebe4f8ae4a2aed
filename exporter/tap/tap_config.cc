#include "exporter/tap/tap_config.h"

#include <algorithm>

#include <unistd.h>  // environ

#include <cctype>
#include <climits>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "absl/strings/string_view.h"
#include "exporter/flags/flags.h"

namespace propwatch::tap {
namespace {

std::string Join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

// A cross-field validation error, naming the flag.
absl::Status Bad(std::string_view key, std::string_view why) {
  return absl::InvalidArgumentError(Join({"--", key, ": ", why}));
}

// A value error inside one flag's parser: FlagSet::Apply prefixes the flag.
absl::Status Reason(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <typename T>
absl::Status ParseUnsigned(std::string_view key, std::string_view value, T* out, uint64_t min,
                           uint64_t max) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
    return Reason(Join({"not a whole number: '", value, "'"}));
  }
  if (v < min || v > max) {
    return Reason(Join({"must be in [", std::to_string(min), ", ", std::to_string(max), "]"}));
  }
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

absl::Status ParseDurationValue(std::string_view key, std::string_view value, absl::Duration* out) {
  absl::Duration d;
  if (!absl::ParseDuration(absl::string_view(value.data(), value.size()), &d)) {
    return Reason(Join({"not a duration (e.g. 30s, 5m, 500ms): '", value, "'"}));
  }
  *out = d;
  return absl::OkStatus();
}

// The same, for the engine's std::chrono options.
absl::Status ParseDurationValue(std::string_view key, std::string_view value, Duration* out) {
  absl::Duration d;
  if (absl::Status s = ParseDurationValue(key, value, &d); !s.ok()) return s;
  *out = absl::ToChronoNanoseconds(d);
  return absl::OkStatus();
}

// "1MiB", "16777216", "64KiB" → bytes.
absl::Status ParseBytes(std::string_view key, std::string_view value, uint64_t* out) {
  uint64_t multiplier = 1;
  std::string_view digits = value;
  for (auto [suffix, mult] : {std::pair<std::string_view, uint64_t>{"KiB", 1ull << 10},
                              {"MiB", 1ull << 20}, {"GiB", 1ull << 30}}) {
    if (value.size() > suffix.size() && value.substr(value.size() - suffix.size()) == suffix) {
      multiplier = mult;
      digits = value.substr(0, value.size() - suffix.size());
    }
  }
  uint64_t v = 0;
  if (absl::Status s = ParseUnsigned(key, digits, &v, 1, (1ull << 40) / multiplier); !s.ok()) {
    return Reason(Join({std::string(s.message()),
                        " (a number of bytes, or with KiB, MiB or GiB: 16MiB)"}));
  }
  *out = v * multiplier;
  return absl::OkStatus();
}

struct Option {
  std::string_view key;
  std::string_view default_text;
  std::string_view help;
  std::function<absl::Status(TapConfig&, std::string_view key, std::string_view value)> apply;
};

const std::vector<Option>& Options() {
  static const std::vector<Option>* const options = new std::vector<Option>{
      {"config", "", "Read settings from FILE (`key = value` lines, keys as below); flags win.",
       nullptr},
      {"otlp-grpc-address", "127.0.0.1:4417",
       "OTLP/gRPC listen address (host:port, or `off`). Not the collector's 4317.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.otlp_grpc_address = std::string(v);
         return absl::OkStatus();
       }},
      {"otlp-http-address", "127.0.0.1:4418",
       "OTLP/HTTP listen address for POST /v1/traces (or `off`). Not the collector's 4318.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.otlp_http_address = std::string(v);
         return absl::OkStatus();
       }},
      {"admin-address", "127.0.0.1:9417",
       "Listen address for the status page (/), /metrics, /api/v1/{status,examples,traces}, "
       "/healthz and /readyz.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.admin_address = std::string(v);
         return absl::OkStatus();
       }},
      {"entry-services", "(none)",
       "Comma-separated service names or globs (* and ?) where traces legitimately start; "
       "their roots are trace starts, never orphans.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.engine.entry_point_services = SplitCommaList(v);
         return absl::OkStatus();
       }},
      {"trace-idle-timeout", "30s",
       "A trace is finalized (broken parents decided) after this long without new spans.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.trace_idle_timeout);
       }},
      {"late-span-retention", "60s",
       "How long a finalized trace is remembered to recognise late spans.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.late_span_retention);
       }},
      {"rebalance-window", "30s",
       "Rollout guard: traces live when the tap starts or when the fleet changes "
       "(--fleet-members, --fleet-dns), and "
       "traces that begin in this window, get no broken-parent or unpaired verdicts (they may "
       "be split with another tap); 0 turns it off. See docs/deploy.md.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.rebalance_window);
       }},
      {"max-clock-skew", "2s",
       "How far senders' clocks may run ahead: a trace with a span that started before the "
       "tap did, plus this, is not judged.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.max_clock_skew);
       }},
      {"fleet-members", "(none)",
       "Comma-separated host:port of every tap behind the load balancer (the collector's "
       "load_balancing static resolver list). Re-read on SIGHUP; a change opens a rebalance "
       "window.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.fleet_members = SplitCommaList(v);
         std::sort(c.fleet_members.begin(), c.fleet_members.end());
         c.fleet_members.erase(std::unique(c.fleet_members.begin(), c.fleet_members.end()),
                               c.fleet_members.end());
         return absl::OkStatus();
       }},
      {"fleet-dns", "(none)",
       "Instead of --fleet-members: a DNS name that resolves to every tap (a Kubernetes "
       "headless Service); a change of its addresses opens a rebalance window.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.fleet_dns = std::string(Trim(v));
         return absl::OkStatus();
       }},
      {"fleet-dns-interval", "5s",
       "How often --fleet-dns is resolved (the collector's dns resolver default is 5s).",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.fleet_dns_interval);
       }},
      {"max-traces", "500000", "Cap on traces in memory (live + retained finalized).",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_traces, 1, 100'000'000);
       }},
      {"max-spans-per-trace", "1000", "Spans tracked per trace; more are counted, not tracked.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_spans_per_trace, 1, 65'535);
       }},
      {"max-services", "2000",
       "Distinct service.name values; more share service_name=\"__overflow__\".",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_services, 1, 65'000);
       }},
      {"max-destinations", "2000",
       "Distinct outbound destinations; more share destination=\"__overflow__\".",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_destinations, 1, 65'000);
       }},
      {"examples-per-finding", "5",
       "Trace ids kept per service, finding and span kind for GET /api/v1/examples; 0 turns "
       "examples off.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.examples_per_finding, 0, 64);
       }},
      {"max-example-series", "16384",
       "Example series (service, finding, span kind) held; findings of more are not kept.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_example_series, 1, 1'000'000);
       }},
      {"edge-attribution", "true",
       "Pair each orphan SERVER/CONSUMER root with the unpaired CLIENT/PRODUCER span that sent "
       "it (propwatch_broken_edges_total); false turns it off.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         if (v == "true" || v == "false") {
           c.engine.edge_attribution = v == "true";
           return absl::OkStatus();
         }
         return absl::InvalidArgumentError("--" + std::string(k) +
                                           ": expected true or false, got \"" + std::string(v) +
                                           "\"");
       }},
      {"edge-clock-skew", "1s",
       "How far a caller's and a callee's span clocks may disagree and still pair as an edge.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.edge_clock_skew);
       }},
      {"edge-messaging-max-lag", "5m",
       "Longest wait between a PRODUCER span's start and its CONSUMER span's start that still "
       "pairs.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.edge_messaging_max_lag);
       }},
      {"edge-decision-delay", "0s",
       "An orphan's caller is decided this long after it arrived; 0s means 2 x "
       "--trace-idle-timeout, otherwise at least --trace-idle-timeout.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.edge_decision_delay);
       }},
      {"max-edge-candidates", "100000",
       "Orphans awaiting an edge decision, and unpaired outbound spans held as candidates: at "
       "most this many each (~200 bytes apiece).",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_edge_candidates, 1, 10'000'000);
       }},
      {"max-edge-series", "10000",
       "Distinct (caller, callee, boundary) broken-edge series; edges of more are not counted.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.max_edge_series, 1, 1'000'000);
       }},
      {"window", "5m", "Length of the sliding-window gauges.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.window_length);
       }},
      {"window-resolution", "10s", "Step of the sliding windows; --window must be a multiple.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.engine.window_resolution);
       }},
      {"shards", "0",
       "Engine lock stripes: 0 picks from the core count, else a power of two up to 1024.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.engine.shards, 0, 1024);
       }},
      {"max-request-bytes", "16MiB",
       "Largest request body, enforced after decompression (413 / RESOURCE_EXHAUSTED).",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         if (absl::Status s = ParseBytes(k, v, &c.max_request_bytes); !s.ok()) return s;
         // gRPC takes message sizes as int.
         if (c.max_request_bytes > static_cast<uint64_t>(INT_MAX)) {
           return Reason("must be at most 2147483647 bytes (2GiB - 1)");
         }
         return absl::OkStatus();
       }},
      {"max-inflight-requests", "64",
       "Concurrent export requests before answering 503 / UNAVAILABLE with a retry hint.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.max_inflight_requests, 1, 100'000);
       }},
      {"http-threads", "2", "I/O threads of each HTTP listener.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.http_threads, 1, 256);
       }},
      {"trace-store-max-traces", "10000",
       "Recent traces kept for /api/v1/traces/{id}; 0 disables the trace API.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.trace_store_max_traces, 0, 10'000'000);
       }},
      {"trace-store-max-spans-per-trace", "1000", "Spans kept per trace for the trace API.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseUnsigned(k, v, &c.trace_store_max_spans_per_trace, 1, 1'000'000);
       }},
      {"forward-to", "(off)",
       "In-line mode: forward each accepted OTLP/protobuf request unchanged to this OTLP/gRPC "
       "host:port; upstream failures are answered 503 / UNAVAILABLE so senders retry. "
       "OTLP/JSON is refused (415) in this mode.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.forward_to = std::string(v);
         return absl::OkStatus();
       }},
      {"forward-timeout", "10s", "Deadline of each forwarded request.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.forward_timeout);
       }},
      {"advance-interval", "1s", "How often idle traces are finalized and windows rolled.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         return ParseDurationValue(k, v, &c.advance_interval);
       }},
      {"otlp-tls-cert-file", "(plaintext)",
       "PEM certificate chain: both OTLP listeners serve TLS (gRPC and HTTPS).",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.otlp_tls.cert_file = std::string(v);
         return absl::OkStatus();
       }},
      {"otlp-tls-key-file", "", "PEM private key of --otlp-tls-cert-file.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.otlp_tls.key_file = std::string(v);
         return absl::OkStatus();
       }},
      {"otlp-tls-client-ca-file", "(none)",
       "PEM CA bundle: OTLP clients must present a certificate it signed (mutual TLS).",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.otlp_tls.client_ca_file = std::string(v);
         return absl::OkStatus();
       }},
      {"admin-tls-cert-file", "(plaintext)",
       "PEM certificate chain: the admin listener serves HTTPS.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.admin_tls.cert_file = std::string(v);
         return absl::OkStatus();
       }},
      {"admin-tls-key-file", "", "PEM private key of --admin-tls-cert-file.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.admin_tls.key_file = std::string(v);
         return absl::OkStatus();
       }},
      {"admin-tls-client-ca-file", "(none)",
       "PEM CA bundle: admin clients (Prometheus) must present a certificate it signed.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.admin_tls.client_ca_file = std::string(v);
         return absl::OkStatus();
       }},
      {"admin-bearer-token-file", "(none)",
       "File holding a token: the trace API then requires `Authorization: Bearer <token>`.",
       [](TapConfig& c, std::string_view, std::string_view v) {
         c.admin_bearer_token_file = std::string(v);
         return absl::OkStatus();
       }},
      {"log-level", "info", "Least severe log line written: debug, info, warn or error.",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         auto level = log::ParseLevel(v);
         if (!level.ok()) return Reason(std::string(level.status().message()));
         c.log_level = *level;
         return absl::OkStatus();
       }},
      {"log-format", "text",
       "Log lines on stderr: `text` (timestamp level message) or `json` (ts, level, msg).",
       [](TapConfig& c, std::string_view k, std::string_view v) {
         auto format = log::ParseFormat(v);
         if (!format.ok()) return Reason(std::string(format.status().message()));
         c.log_format = *format;
         return absl::OkStatus();
       }},
  };
  return *options;
}

// The tap's settings as flags bound to `config`; `--config` is a flag too, but
// ParseTapConfig reads the file itself (before the environment and flags).
flags::FlagSet TapFlags(TapConfig* config) {
  flags::FlagSet set(
      "Usage:\n"
      "  propwatch [--key=value ...]          run the tap (defaults need no flags)\n"
      "  propwatch trace TRACE_ID [flags]     print a recent trace as a tree (--help)\n"
      "  propwatch check --trace-id=ID [flags]\n"
      "                                       CI gate: one connected trace, internal\n"
      "                                       orphan ratios under the threshold (--help)\n"
      "  propwatch sampler-check --pre=ADDR --post=ADDR,...\n"
      "                                       every trace a sampler kept is whole (--help)\n"
      "  propwatch --print-metrics-doc        the metric reference table\n"
      "  propwatch --version                  version and source revision",
      "propwatch: trace-context propagation health tap (OTLP in, Prometheus out).\n\n"
      "Settings, later wins: defaults < `key = value` lines in --config FILE (or\n"
      "$PROPWATCH_CONFIG) < environment PROPWATCH_<KEY> (e.g. PROPWATCH_ENTRY_SERVICES)\n"
      "< flags.");
  for (const Option& o : Options()) {
    flags::Flag flag{std::string(o.key), std::string(o.default_text), std::string(o.help), nullptr};
    if (o.apply) {
      flag.apply = [config, apply = o.apply, key = o.key](std::string_view v) {
        return apply(*config, key, v);
      };
    } else {
      flag.apply = [](std::string_view) { return absl::OkStatus(); };  // --config
    }
    set.Add(std::move(flag));
  }
  return set;
}

// `source` names where the path came from (--config or PROPWATCH_CONFIG).
absl::Status ApplyFile(TapConfig& config, const std::string& path, std::string_view source) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(Join({source, ": cannot read '", path, "'"}));
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text = line;
    if (size_t hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    text = Trim(text);
    if (text.empty()) continue;
    size_t eq = text.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          Join({path, ":", std::to_string(number), ": expected `key = value`"}));
    }
    std::string_view key = Trim(text.substr(0, eq));
    if (key == "config") {
      return absl::InvalidArgumentError(
          Join({path, ":", std::to_string(number), ": config files do not nest"}));
    }
    std::string_view value = Trim(text.substr(eq + 1));
    // `key = "a, b"` means a, b (quotes are not part of values).
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (absl::Status s = ApplySetting(config, key, value); !s.ok()) {
      return absl::InvalidArgumentError(
          Join({path, ":", std::to_string(number), ": ", std::string(s.message())}));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplySetting(TapConfig& config, std::string_view key, std::string_view value) {
  if (key == "config") {
    return absl::InvalidArgumentError("unknown setting 'config' (see --help)");
  }
  return TapFlags(&config).Apply(key, value);
}

absl::Status ParseHostPort(std::string_view address, std::string* host, uint16_t* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(Join({"'", address, "' is not host:port"}));
  }
  std::string_view h = address.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return absl::InvalidArgumentError(Join({"'", address, "': bad [ipv6]"}));
    h = h.substr(1, h.size() - 2);
  }
  uint32_t p = 0;
  std::string_view digits = address.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || p > 65535) {
    return absl::InvalidArgumentError(Join({"'", address, "': port must be 0-65535"}));
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

absl::Status ValidateTapConfig(const TapConfig& config) {
  for (auto [key, address] :
       {std::pair<std::string_view, const std::string*>{"otlp-grpc-address",
                                                         &config.otlp_grpc_address},
        {"otlp-http-address", &config.otlp_http_address},
        {"admin-address", &config.admin_address}}) {
    if (*address == "off" && key != "admin-address") continue;
    std::string host;
    uint16_t port;
    if (absl::Status s = ParseHostPort(*address, &host, &port); !s.ok()) {
      return Bad(key, std::string(s.message()));
    }
  }
  for (auto [prefix, tls] : {std::pair<std::string_view, const receiver::TlsFiles*>{
                                 "otlp-tls", &config.otlp_tls},
                             {"admin-tls", &config.admin_tls}}) {
    if (tls->cert_file.empty() != tls->key_file.empty()) {
      return Bad(Join({prefix, tls->cert_file.empty() ? "-cert-file" : "-key-file"}),
                 Join({"required with --", prefix,
                       tls->cert_file.empty() ? "-key-file" : "-cert-file"}));
    }
    if (!tls->client_ca_file.empty() && tls->cert_file.empty()) {
      return Bad(Join({prefix, "-client-ca-file"}),
                 Join({"mutual TLS needs --", prefix, "-cert-file and --", prefix, "-key-file"}));
    }
  }
  if (config.otlp_grpc_address == "off" && config.otlp_http_address == "off") {
    return absl::InvalidArgumentError("both OTLP listeners are off: nothing would receive spans");
  }
  if (!config.forward_to.empty()) {
    std::string host;
    uint16_t port = 0;
    if (absl::Status s = ParseHostPort(config.forward_to, &host, &port); !s.ok() || port == 0) {
      return Bad("forward-to", "must be host:port with a non-zero port");
    }
  }
  for (const std::string& member : config.fleet_members) {
    std::string host;
    uint16_t port = 0;
    // A host name or address: no scheme, no spaces, no other separators.
    const bool plain = member.find_first_of(" \t;/") == std::string::npos;
    if (absl::Status s = ParseHostPort(member, &host, &port);
        !s.ok() || port == 0 || !plain || host.empty() ||
        (host.find(':') != std::string::npos && member.front() != '[')) {
      return Bad("fleet-members", "\"" + member + "\" is not host:port with a non-zero port");
    }
  }
  if (config.fleet_dns.find_first_of(": \t/;,") != std::string::npos) {
    return Bad("fleet-dns", "a DNS name only (no port, scheme or list): the taps' OTLP port "
                            "is the collector's `port`, not part of the name");
  }
  if (!config.fleet_dns.empty() && !config.fleet_members.empty()) {
    return Bad("fleet-dns", "set --fleet-dns or --fleet-members, not both");
  }
  if (config.fleet_dns_interval < absl::Seconds(1)) {
    return Bad("fleet-dns-interval", "must be at least 1s");
  }
  if (config.forward_timeout <= absl::ZeroDuration()) {
    return Bad("forward-timeout", "must be positive");
  }
  if (config.advance_interval <= absl::ZeroDuration()) {
    return Bad("advance-interval", "must be positive");
  }
  if (Status s = config.engine.Validate(); !s.ok()) {
    // Engine messages name engine fields ("engine option window_length: ...");
    // users set flags, so name the flag.
    static constexpr std::pair<std::string_view, std::string_view> kFlagOf[] = {
        {"trace_idle_timeout", "trace-idle-timeout"}, {"late_span_retention", "late-span-retention"},
        {"max_traces", "max-traces"}, {"max_spans_per_trace", "max-spans-per-trace"},
        {"max_services", "max-services"}, {"max_destinations", "max-destinations"},
        {"window_length", "window"}, {"window_resolution", "window-resolution"},
        {"shards", "shards"}, {"entry_point_services", "entry-services"},
        {"rebalance_window", "rebalance-window"}, {"max_clock_skew", "max-clock-skew"},
        {"examples_per_finding", "examples-per-finding"},
        {"max_example_series", "max-example-series"},
        {"edge_clock_skew", "edge-clock-skew"},
        {"edge_messaging_max_lag", "edge-messaging-max-lag"},
        {"edge_decision_delay", "edge-decision-delay"},
        {"max_edge_candidates", "max-edge-candidates"},
        {"max_edge_series", "max-edge-series"}};
    std::string message(s.message());
    constexpr std::string_view kPrefix = "engine option ";
    if (message.starts_with(kPrefix)) {
      const size_t colon = message.find(':');
      const std::string_view field =
          std::string_view(message).substr(kPrefix.size(), colon - kPrefix.size());
      for (auto [engine_name, flag] : kFlagOf) {
        if (field != engine_name) continue;
        std::string why(Trim(std::string_view(message).substr(colon + 1)));
        for (auto [other, other_flag] : kFlagOf) {  // "at least window_resolution"
          const std::string replacement = Join({"--", other_flag});
          for (size_t at = why.find(other); at != std::string::npos;
               at = why.find(other, at + replacement.size())) {
            why.replace(at, other.size(), replacement);
          }
        }
        return Bad(flag, why);
      }
    }
    return absl::InvalidArgumentError(Join({"invalid settings: ", message}));
  }
  return absl::OkStatus();
}

std::string EnvVarName(std::string_view key) {
  std::string name = "PROPWATCH_";
  for (char c : key) name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return name;
}

std::vector<std::string> UnknownEnvSettings() {
  std::vector<std::string> unknown;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view var(*entry);
    const std::string_view name = var.substr(0, var.find('='));
    if (!name.starts_with("PROPWATCH_")) continue;
    bool known = false;
    for (const Option& o : Options()) known = known || EnvVarName(o.key) == name;
    if (!known) unknown.emplace_back(name);
  }
  return unknown;
}

std::optional<std::string> ProcessEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<TapConfig> ParseTapConfig(std::span<const std::string_view> args,
                                         const EnvLookup& env) {
  TapConfig config;
  flags::FlagSet set = TapFlags(&config);
  flags::FlagSet::Parsed parsed;
  auto pairs = set.Split(args, &parsed);
  if (!pairs.ok()) return pairs.status();
  if (parsed.help) return absl::InvalidArgumentError("--help is handled by the caller");
  // Sources, later wins: defaults < config file < environment < flags. The
  // file comes from --config, else PROPWATCH_CONFIG.
  std::optional<std::string> file;
  std::string_view file_source = "--config";
  for (const auto& [key, value] : *pairs) {
    if (key == "config") file = value;
  }
  if (!file && env) {
    file = env(EnvVarName("config"));
    file_source = "PROPWATCH_CONFIG";
  }
  if (file) {
    if (absl::Status s = ApplyFile(config, *file, file_source); !s.ok()) return s;
  }
  if (env) {
    for (const Option& o : Options()) {
      if (o.apply == nullptr) continue;  // config: handled above
      const std::string name = EnvVarName(o.key);
      if (std::optional<std::string> value = env(name)) {
        if (absl::Status s = set.Apply(o.key, *value); !s.ok()) {
          return absl::InvalidArgumentError(Join({name, ": ", std::string(s.message())}));
        }
      }
    }
  }
  for (const auto& [key, value] : *pairs) {
    if (key == "config") continue;
    if (absl::Status s = set.Apply(key, value); !s.ok()) return s;
  }
  if (absl::Status s = ValidateTapConfig(config); !s.ok()) return s;
  return config;
}

std::string TapUsage() {
  TapConfig unused;
  return TapFlags(&unused).Usage();
}

std::vector<std::string> SplitCommaList(std::string_view v) {
  std::vector<std::string> out;
  while (!v.empty()) {
    const size_t comma = v.find(',');
    std::string_view item = Trim(v.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace propwatch::tap
