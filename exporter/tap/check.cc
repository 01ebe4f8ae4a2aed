#include "exporter/tap/check.h"

#include <charconv>
#include <cstdlib>
#include <map>

#include "exporter/flags/flags.h"
#include "exporter/tap/http_get.h"
#include "exporter/tap/trace_id_arg.h"

namespace propwatch::tap {
namespace {

// The trace API's JSON is this project's own fixed format (trace_render.h):
// top-level integer fields are read by key.
std::optional<uint64_t> TopLevelInt(std::string_view json, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":";
  size_t at = json.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  at += needle.size();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(json.data() + at, json.data() + json.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// label value of `name` in a `{a="x",b="y"}` label set.
std::string Label(std::string_view labels, std::string_view name) {
  const std::string needle = std::string(name) + "=\"";
  size_t at = labels.find(needle);
  if (at == std::string_view::npos) return "";
  at += needle.size();
  std::string out;
  for (size_t i = at; i < labels.size() && labels[i] != '"'; ++i) {
    if (labels[i] == '\\' && i + 1 < labels.size()) ++i;
    out.push_back(labels[i]);
  }
  return out;
}

}  // namespace

flags::FlagSet CheckFlags(CheckOptions* o) {
  flags::FlagSet set(
      "Usage: propwatch check --trace-id=ID [--expect-spans=N] [--max-orphan-ratio=0.01]\n"
      "                       [--admin-address=HOST:PORT]",
      "CI gate over a running tap: the trace is one connected tree (span count, a single\n"
      "root, every parent resolved) and every internal service's sliding-window orphan\n"
      "ratio is at most the threshold. One PASS/FAIL line per check; exit 0 all passed,\n"
      "1 a check failed, 2 the tap could not be read.");
  set.String("admin-address", &o->admin_address, "The tap's admin listener.");
  AddAdminClientFlags(&set, &o->admin);
  set.String("trace-id", &o->trace_id, "The trace to judge, 32 hex digits (required).");
  set.Add({"expect-spans", "(any)", "Exact number of spans the trace must have.",
           [o](std::string_view v) {
             uint64_t n = 0;
             auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
             if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
               return absl::InvalidArgumentError("not a whole number");
             }
             o->expect_spans = n;
             return absl::OkStatus();
           }});
  set.Double("max-orphan-ratio", &o->max_orphan_ratio,
             "Highest orphan ratio allowed for internal services; negative disables.", -1, 1);
  return set;
}

std::string CheckUsage() {
  CheckOptions unused;
  return CheckFlags(&unused).Usage();
}

absl::StatusOr<CheckOptions> ParseCheckArgs(std::span<const std::string_view> args) {
  CheckOptions o;
  flags::FlagSet set = CheckFlags(&o);
  auto parsed = set.Parse(args);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("propwatch check: " + std::string(parsed.status().message()));
  }
  if (parsed->help) return absl::InvalidArgumentError("--help is handled by the caller");
  if (o.trace_id.empty()) return absl::InvalidArgumentError("propwatch check: --trace-id is required");
  if (!ParseTraceIdArg(o.trace_id)) {
    return absl::InvalidArgumentError("propwatch check: --trace-id must be 32 hex digits, not all zero");
  }
  return o;
}

int RunCheck(const CheckOptions& o, std::ostream& out) {
  bool ok = true;
  auto report = [&](bool pass, const std::string& what) {
    out << (pass ? "PASS " : "FAIL ") << what << "\n";
    ok = ok && pass;
  };

  auto trace = HttpGet(o.admin_address, "/api/v1/traces/" + o.trace_id, o.admin);
  if (!trace.ok()) {
    out << "ERROR " << trace.status().message() << "\n";
    return 2;
  }
  if (trace->status == 401 || trace->status == 403) {
    // Not a verdict on propagation: the gate could not read the tap.
    out << "ERROR the trace API refused access (HTTP " << trace->status
        << "): pass --bearer-token-file\n";
    return 2;
  }
  if (trace->status != 200) {
    report(false, "trace " + o.trace_id + " found (HTTP " + std::to_string(trace->status) +
                      ": " + trace->body.substr(0, trace->body.find('\n')) + ")");
  } else {
    report(true, "trace " + o.trace_id + " found");
    const auto spans = TopLevelInt(trace->body, "spanCount");
    const auto roots = TopLevelInt(trace->body, "roots");
    const auto unresolved = TopLevelInt(trace->body, "unresolvedParents");
    if (!spans || !roots || !unresolved) {
      out << "ERROR unexpected trace API response\n";
      return 2;
    }
    if (o.expect_spans) {
      report(*spans == *o.expect_spans, "span count " + std::to_string(*spans) + " (expected " +
                                            std::to_string(*o.expect_spans) + ")");
    }
    report(*roots == 1, "one connected tree: " + std::to_string(*roots) + " root(s)");
    report(*unresolved == 0,
           "every parent resolved: " + std::to_string(*unresolved) + " missing");
  }

  if (o.max_orphan_ratio >= 0) {
    auto metrics = HttpGet(o.admin_address, "/metrics", o.admin);
    if (!metrics.ok() || metrics->status != 200) {
      out << "ERROR cannot read /metrics\n";
      return 2;
    }
    std::map<std::string, bool> entry_point;
    std::map<std::string, double> ratio;
    std::string_view text = metrics->body;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      auto parse = [&](std::string_view metric) -> std::optional<std::string_view> {
        if (!line.starts_with(metric) || line.size() <= metric.size() ||
            line[metric.size()] != '{') {
          return std::nullopt;
        }
        return line.substr(metric.size());
      };
      if (auto rest = parse("propwatch_service_info")) {
        entry_point[Label(*rest, "service_name")] = Label(*rest, "entry_point") == "true";
      } else if (auto rest = parse("propwatch_window_orphan_span_ratio")) {
        const std::string value(rest->substr(rest->rfind(' ') + 1));
        ratio[Label(*rest, "service_name")] = std::strtod(value.c_str(), nullptr);
      }
    }
    for (const auto& [service, r] : ratio) {
      if (entry_point[service]) continue;
      report(r <= o.max_orphan_ratio, "orphan ratio of internal service " + service + ": " +
                                          std::to_string(r) + " (max " +
                                          std::to_string(o.max_orphan_ratio) + ")");
    }
  }
  out << (ok ? "propwatch check: passed\n" : "propwatch check: FAILED\n");
  return ok ? 0 : 1;
}

}  // namespace propwatch::tap
