// propwatch: the tap binary and its CLI subcommands. See TapUsage() / --help.
#include <csignal>
#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "exporter/flags/flags.h"
#include "exporter/log/log.h"
#include "exporter/receiver/grpc_log.h"
#include "exporter/metrics/metric_defs.h"
#include "exporter/tap/build_info.h"
#include "exporter/tap/check.h"
#include "exporter/tap/http_get.h"
#include "exporter/tap/sampler_check.h"
#include "exporter/tap/tap.h"
#include "exporter/tap/tap_config.h"
#include "exporter/tap/trace_id_arg.h"

namespace {

using propwatch::tap::TapUsage;

std::string Taps(size_t n) { return std::to_string(n) + (n == 1 ? " tap" : " taps"); }

int Serve(const std::vector<std::string_view>& args) {
  namespace log = propwatch::log;
  auto config = propwatch::tap::ParseTapConfig(args);
  if (!config.ok()) {
    std::cerr << "propwatch: " << config.status().message() << "\n";
    return 2;
  }
  log::Configure(config->log_level, config->log_format);
  propwatch::receiver::RouteGrpcLogsToLog();
  for (const std::string& name : propwatch::tap::UnknownEnvSettings()) {
    log::Warn(name + " is set but is not a propwatch setting (ignored; see --help)");
  }
  // Block the stop signals in every thread the tap starts; main waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // fleet members, certificates, the bearer token
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto tap = propwatch::tap::Tap::Create(*config);
  if (!tap.ok()) {
    log::Error(std::string(tap.status().message()));
    return 2;
  }
  log::Info("starting " + propwatch::tap::VersionLine());
  if (absl::Status s = (*tap)->Start(); !s.ok()) {
    log::Error(std::string(s.message()));
    return 1;
  }
  log::Info("listening: otlp-grpc=" + config->otlp_grpc_address + " (port " +
            std::to_string((*tap)->grpc_port()) + "), otlp-http=" + config->otlp_http_address +
            " (port " + std::to_string((*tap)->http_port()) + "), admin=" +
            config->admin_address + " (port " + std::to_string((*tap)->admin_port()) + ")");
  if (!config->fleet_members.empty()) {
    log::Info("--fleet-members: " + Taps(config->fleet_members.size()) +
              " (SIGHUP re-reads the list; a change opens a rebalance window)");
  }
  if (config->engine.entry_point_services.empty()) {
    log::Warn("no --entry-services set: every root span of every service counts as an orphan");
  }
  int received = 0;
  size_t members_now = config->fleet_members.size();
  for (;;) {
    sigwait(&signals, &received);
    if (received != SIGHUP) break;
    // The fleet's membership is the one setting re-read from the config
    // sources (file, environment, flags); the rest needs a restart.
    if (auto reread = propwatch::tap::ParseTapConfig(args); !reread.ok()) {
      log::Error("SIGHUP: the configuration no longer parses, keeping the current " +
                 Taps(members_now) + " of --fleet-members: " +
                 std::string(reread.status().message()));
    } else if (!config->fleet_dns.empty() || !reread->fleet_dns.empty()) {
      // DNS owns the membership; switching between the two needs a restart.
      if (reread->fleet_dns != config->fleet_dns || !reread->fleet_members.empty()) {
        log::Warn("SIGHUP: --fleet-dns / --fleet-members changed: restart the tap to apply");
      }
    } else if ((*tap)->UpdateFleetMembers(reread->fleet_members)) {
      members_now = reread->fleet_members.size();
      log::Info("SIGHUP: --fleet-members changed to " + Taps(reread->fleet_members.size()) +
                ": rebalance window opened (traces in flight are not judged)");
    } else if (!reread->fleet_members.empty()) {
      // Flags and PROPWATCH_FLEET_MEMBERS win over the file, also on reload.
      log::Info("SIGHUP: --fleet-members unchanged (" + Taps(reread->fleet_members.size()) +
                "; flags and PROPWATCH_FLEET_MEMBERS win over the file)");
    }
    log::Info("SIGHUP re-reads --fleet-members, TLS certificates and the bearer token; other "
              "settings apply at restart");
    const bool anything = config->otlp_tls.enabled() || config->admin_tls.enabled() ||
                          !config->admin_bearer_token_file.empty();
    if (!anything) {
      log::Info("SIGHUP: no TLS certificates or bearer token to reload");
    } else if (absl::Status s = (*tap)->Reload(); s.ok()) {
      log::Info("SIGHUP: TLS certificates and bearer token reloaded");
    } else {
      log::Error("SIGHUP: reload failed, keeping the previous ones: " + std::string(s.message()));
    }
  }
  log::Info(std::string(received == SIGTERM ? "SIGTERM" : "SIGINT") +
            ": draining in-flight requests");
  (*tap)->Shutdown(absl::Seconds(10));
  log::Info("stopped");
  return 0;
}

int Trace(const std::vector<std::string_view>& args) {
  std::string admin = "127.0.0.1:9417";
  bool json = false;
  propwatch::flags::FlagSet set("Usage: propwatch trace TRACE_ID [--admin-address=HOST:PORT] [--json]",
                                "Prints a recent trace from the tap's trace API as a tree (or its\n"
                                "JSON). Exit 0 printed, 1 not found or the tap could not be read.");
  set.String("admin-address", &admin, "The tap's admin listener.");
  propwatch::tap::AdminClientOptions client;
  propwatch::tap::AddAdminClientFlags(&set, &client);
  set.Bool("json", &json, "Print the trace API's JSON instead of the tree.");
  auto parsed = set.Parse(args, /*max_positional=*/1);
  if (!parsed.ok()) {
    std::cerr << "propwatch trace: " << parsed.status().message() << "\n";
    return 2;
  }
  if (parsed->help) {
    std::cout << set.Usage();
    return 0;
  }
  if (parsed->positional.empty()) {
    std::cerr << "propwatch trace: missing TRACE_ID (see --help)\n";
    return 2;
  }
  if (!propwatch::tap::ParseTraceIdArg(parsed->positional[0])) {
    std::cerr << "propwatch trace: TRACE_ID must be 32 hex digits, not all zero\n";
    return 2;
  }
  std::string target = "/api/v1/traces/" + parsed->positional[0];
  if (!json) target += "?format=text";
  auto result = propwatch::tap::HttpGet(admin, target, client);
  if (!result.ok()) {
    std::cerr << "propwatch trace: " << result.status().message() << "\n";
    return absl::IsInvalidArgument(result.status()) ? 2 : 1;
  }
  if (result->status != 200) {
    std::cerr << "propwatch trace: HTTP " << result->status << ": " << result->body;
    return 1;
  }
  std::cout << result->body;
  return 0;
}

bool Has(const std::vector<std::string_view>& args, std::initializer_list<std::string_view> any) {
  for (std::string_view a : args) {
    for (std::string_view wanted : any) {
      if (a == wanted) return true;
    }
  }
  return false;
}
bool WantsHelp(const std::vector<std::string_view>& args) { return Has(args, {"--help", "-h"}); }

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built without NDEBUG, so every absl::Mutex lock would
  // also run deadlock-cycle detection behind a process-wide lock. The engine
  // no longer uses absl::Mutex; the tap's receivers and trace store still do.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "help") {
    std::cout << TapUsage();
    return 0;
  }
  if ((!args.empty() && args[0] == "version") || Has(args, {"--version"})) {
    std::cout << propwatch::tap::VersionLine() << "\n";
    return 0;
  }
  if (!args.empty() && args[0] == "--print-metrics-doc") {
    std::cout << propwatch::metrics::RenderMetricsMarkdown();
    return 0;
  }
  if (!args.empty() && args[0] == "check") {
    const std::vector<std::string_view> rest(args.begin() + 1, args.end());
    if (WantsHelp(rest)) {
      std::cout << propwatch::tap::CheckUsage();
      return 0;
    }
    auto options = propwatch::tap::ParseCheckArgs(rest);
    if (!options.ok()) {
      std::cerr << options.status().message() << "\n";
      return 2;
    }
    return propwatch::tap::RunCheck(*options, std::cout);
  }
  if (!args.empty() && args[0] == "sampler-check") {
    const std::vector<std::string_view> rest(args.begin() + 1, args.end());
    if (WantsHelp(rest)) {
      std::cout << propwatch::tap::SamplerCheckUsage();
      return 0;
    }
    auto options = propwatch::tap::ParseSamplerCheckArgs(rest);
    if (!options.ok()) {
      std::cerr << options.status().message() << "\n";
      return 2;
    }
    return propwatch::tap::RunSamplerCheck(*options, std::cout);
  }
  if (!args.empty() && args[0] == "trace") {
    return Trace(std::vector<std::string_view>(args.begin() + 1, args.end()));
  }
  if (WantsHelp(args)) {
    std::cout << TapUsage();
    return 0;
  }
  return Serve(args);
}
