// `propwatch check`: a CI gate over a running tap. Given a trace id, asserts
// the trace is one connected tree (span count, a single root, every parent
// resolved) and that every internal (non-entry-point) service's sliding-window
// orphan ratio is under a threshold. Prints one PASS/FAIL line per check.
//
// Reads the tap's admin API (/api/v1/traces/{id}, /metrics); no state.
// Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "exporter/tap/http_get.h"

namespace propwatch::tap {

struct CheckOptions {
  std::string admin_address = "127.0.0.1:9417";
  AdminClientOptions admin;              // HTTPS / client certificate / token
  std::string trace_id;                  // required
  std::optional<uint64_t> expect_spans;  // unset: any count
  double max_orphan_ratio = 0.01;        // for internal services; < 0 disables
};

// The --help text of `propwatch check`.
std::string CheckUsage();

// Parses `propwatch check` arguments (after the subcommand).
absl::StatusOr<CheckOptions> ParseCheckArgs(std::span<const std::string_view> args);

// Runs the checks, writes the report to `out`. Returns the process exit code:
// 0 all passed, 1 a check failed, 2 the tap could not be read.
int RunCheck(const CheckOptions& options, std::ostream& out);

}  // namespace propwatch::tap
