#include "exporter/tap/check.h"

#include <charconv>
#include <cstdlib>
#include <map>

#include "exporter/tap/http_get.h"

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

absl::StatusOr<CheckOptions> ParseCheckArgs(std::span<const std::string_view> args) {
  CheckOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view key = a, value;
    if (size_t eq = a.find('='); eq != std::string_view::npos) {
      key = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else if (a.starts_with("--") && i + 1 < args.size()) {
      value = args[++i];
    }
    if (key == "--admin-address") {
      o.admin_address = std::string(value);
    } else if (key == "--trace-id") {
      o.trace_id = std::string(value);
    } else if (key == "--expect-spans") {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
        return absl::InvalidArgumentError("--expect-spans: not a whole number");
      }
      o.expect_spans = n;
    } else if (key == "--max-orphan-ratio") {
      char* end = nullptr;
      const std::string text(value);
      o.max_orphan_ratio = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) {
        return absl::InvalidArgumentError("--max-orphan-ratio: not a number");
      }
    } else {
      return absl::InvalidArgumentError("propwatch check: unexpected argument '" +
                                        std::string(a) + "'");
    }
  }
  if (o.trace_id.empty()) return absl::InvalidArgumentError("propwatch check: --trace-id is required");
  return o;
}

int RunCheck(const CheckOptions& o, std::ostream& out) {
  bool ok = true;
  auto report = [&](bool pass, const std::string& what) {
    out << (pass ? "PASS " : "FAIL ") << what << "\n";
    ok = ok && pass;
  };

  auto trace = HttpGet(o.admin_address, "/api/v1/traces/" + o.trace_id);
  if (!trace.ok()) {
    out << "ERROR " << trace.status().message() << "\n";
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
    auto metrics = HttpGet(o.admin_address, "/metrics");
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
