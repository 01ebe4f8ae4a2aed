#include "exporter/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace propwatch::metrics {
namespace {

absl::StatusOr<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return absl::UnavailableError(std::string("cannot read ") + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Seconds since the epoch at which the system booted (/proc/stat "btime").
absl::StatusOr<uint64_t> BootTime() {
  auto stat = ReadFile("/proc/stat");
  if (!stat.ok()) return stat.status();
  std::istringstream lines(*stat);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) == 0) return std::stoull(line.substr(6));
  }
  return absl::UnavailableError("/proc/stat has no btime");
}

// Wall time when this library's statics were initialized, before main():
// the start time when /proc/stat is hidden (systemd's ProcSubset=pid).
const double kStartFallbackSeconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

}  // namespace

absl::StatusOr<ProcessStats> ReadProcessStats() {
  auto stat = ReadFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  // Field 2 (comm) may contain spaces and parentheses: parse after the last ')'.
  const size_t close = stat->rfind(')');
  if (close == std::string::npos) return absl::UnavailableError("malformed /proc/self/stat");
  std::istringstream fields(stat->substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string v; fields >> v;) f.push_back(v);
  if (f.size() < 22) return absl::UnavailableError("short /proc/self/stat");
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const long page = sysconf(_SC_PAGESIZE);
  ProcessStats s;
  // proc(5): utime = field 14, stime = 15, starttime = 22, vsize = 23, rss = 24.
  s.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks;
  s.virtual_bytes = std::stoull(f[23 - 3]);
  s.resident_bytes = std::stoull(f[24 - 3]) * static_cast<uint64_t>(page);
  if (auto boot = BootTime(); boot.ok()) {
    s.start_time_seconds = static_cast<double>(*boot) + std::stod(f[22 - 3]) / ticks;
  } else {
    s.start_time_seconds = kStartFallbackSeconds;
  }

  if (DIR* dir = opendir("/proc/self/fd")) {
    while (const dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') ++s.open_fds;
    }
    closedir(dir);
    if (s.open_fds > 0) --s.open_fds;  // the directory handle itself
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = limit.rlim_cur;
  return s;
}

void AppendProcessMetrics(const ProcessStats& s, FamilyBuilder* out) {
  out->Add(MetricId::kProcessCpuSeconds, {}, s.cpu_seconds);
  out->Add(MetricId::kProcessResidentMemoryBytes, {}, static_cast<double>(s.resident_bytes));
  out->Add(MetricId::kProcessVirtualMemoryBytes, {}, static_cast<double>(s.virtual_bytes));
  out->Add(MetricId::kProcessOpenFds, {}, static_cast<double>(s.open_fds));
  out->Add(MetricId::kProcessMaxFds, {}, static_cast<double>(s.max_fds));
  out->Add(MetricId::kProcessStartTimeSeconds, {}, s.start_time_seconds);
}

void AppendBuildInfo(std::string_view version, std::string_view revision, FamilyBuilder* out) {
  out->Add(MetricId::kBuildInfo, {version, revision}, 1);
}

}  // namespace propwatch::metrics
