// `propwatch sampler-check`: proves a sampler keeps whole traces. It compares
// the trace store of a tap fed every span (before sampling) with the stores of
// the taps behind each sampler instance (after sampling), through their admin
// APIs (GET /api/v1/traces), and reports, for every trace the samplers kept:
// whole (as many spans as before), missing spans (present before, lost
// after: the sampler cut the trace), kept by more than one instance (the
// trace was split by routing), or not comparable (truncated by a store cap,
// or no longer in the pre-sampling store).
//
// Run it after the traffic settled: a trace still receiving spans compares
// as missing spans. The pre-sampling tap's --trace-store-max-traces must hold
// every trace of the period compared. Stateless; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "exporter/tap/http_get.h"

namespace propwatch::tap {

struct SamplerCheckOptions {
  std::vector<std::string> pre_addresses;   // the taps before sampling (a fleet: all of them)
  std::vector<std::string> post_addresses;  // the taps after each instance (required)
  AdminClientOptions admin;
  bool json = false;
  uint64_t show = 20;  // trace ids listed per finding
};

// A trace store listing: trace id (hex) -> span count, truncated.
struct TraceListing {
  struct Entry {
    uint32_t spans = 0;
    bool truncated = false;
  };
  std::map<std::string, Entry> traces;
};

// Parses the body of GET /api/v1/traces.
absl::StatusOr<TraceListing> ParseTraceListing(std::string_view json);

struct SamplerReport {
  uint64_t pre_traces = 0;
  std::vector<uint64_t> kept_per_instance;  // in post_addresses order
  uint64_t kept = 0;                        // distinct trace ids kept anywhere
  uint64_t whole = 0;
  struct Partial {
    std::string trace_id;
    uint32_t pre_spans = 0;
    uint32_t post_spans = 0;  // summed over the instances that kept it
  };
  std::vector<Partial> missing_spans;   // post < pre
  std::vector<Partial> more_after;      // post > pre (the pre store lost spans)
  std::vector<std::string> split;       // kept by two or more instances
  uint64_t not_in_pre = 0;
  uint64_t truncated = 0;
  // Every kept trace compared and whole, on one instance; nothing kept proves
  // nothing, so it does not pass.
  bool passed() const { return kept > 0 && whole == kept; }
};

// The comparison itself, on listings already read. O(kept traces x log).
SamplerReport CompareListings(const TraceListing& pre, std::span<const TraceListing> post);

std::string SamplerCheckUsage();
absl::StatusOr<SamplerCheckOptions> ParseSamplerCheckArgs(std::span<const std::string_view> args);

// Reads the taps, compares, writes the report (text or JSON). Exit code:
// 0 at least one trace kept, and every kept trace compared, whole and on one
// instance; 1 not (including: nothing kept, or a kept trace the pre-sampling
// store no longer holds or holds truncated); 2 a tap could not be read.
int RunSamplerCheck(const SamplerCheckOptions& options, std::ostream& out);

}  // namespace propwatch::tap
