// The standard `process_*` metrics every Prometheus exporter serves (CPU
// seconds, resident and virtual memory, open and maximum file descriptors,
// start time), read from Linux's /proc for the calling process, and
// `propwatch_build_info`.
//
// Thread-safe (reads /proc on each call; no state). ReadProcessStats costs a
// few small file reads plus one readdir of /proc/self/fd: O(open fds).
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "exporter/metrics/family_builder.h"

namespace propwatch::metrics {

struct ProcessStats {
  double cpu_seconds = 0;        // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;          // soft RLIMIT_NOFILE
  double start_time_seconds = 0; // Unix time the process started
};

// Reads the calling process's stats from /proc/self and /proc/stat. Where
// /proc/stat is hidden (systemd's ProcSubset=pid, as the shipped unit sets),
// the start time is the moment the binary's statics were initialized.
absl::StatusOr<ProcessStats> ReadProcessStats();

void AppendProcessMetrics(const ProcessStats& stats, FamilyBuilder* out);

// propwatch_build_info{version, revision} 1.
void AppendBuildInfo(std::string_view version, std::string_view revision, FamilyBuilder* out);

}  // namespace propwatch::metrics
