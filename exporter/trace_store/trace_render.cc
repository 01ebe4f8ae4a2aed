#include "exporter/trace_store/trace_render.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "exporter/text/text.h"

namespace propwatch::tap {
namespace {

struct Row {
  const StoredSpan* span;
  int depth;
  bool parent_resolved;
};

// Depth-first tree order, children by (start time, span id).
std::vector<Row> TreeOrder(const StoredTrace& trace) {
  const auto& spans = trace.spans;
  absl::flat_hash_map<SpanId, size_t> by_id;
  for (size_t i = 0; i < spans.size(); ++i) by_id.emplace(spans[i].span_id, i);
  std::vector<std::vector<size_t>> children(spans.size());
  std::vector<size_t> roots;
  std::vector<bool> resolved(spans.size(), true);
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].parent_span_id.IsZero()) {
      roots.push_back(i);
    } else if (auto it = by_id.find(spans[i].parent_span_id); it != by_id.end() && it->second != i) {
      children[it->second].push_back(i);
    } else {
      resolved[i] = false;
      roots.push_back(i);
    }
  }
  auto earlier = [&](size_t a, size_t b) {
    if (spans[a].start_unix_nano != spans[b].start_unix_nano)
      return spans[a].start_unix_nano < spans[b].start_unix_nano;
    return spans[a].span_id.bytes < spans[b].span_id.bytes;
  };
  for (auto& c : children) std::sort(c.begin(), c.end(), earlier);
  std::sort(roots.begin(), roots.end(), earlier);

  std::vector<Row> rows;
  std::vector<bool> visited(spans.size(), false);
  auto walk = [&](size_t root) {
    std::vector<std::pair<size_t, int>> stack{{root, 0}};
    while (!stack.empty()) {
      auto [i, depth] = stack.back();
      stack.pop_back();
      if (visited[i]) continue;
      visited[i] = true;
      rows.push_back(Row{&spans[i], depth, resolved[i]});
      for (auto it = children[i].rbegin(); it != children[i].rend(); ++it) {
        stack.push_back({*it, depth + 1});
      }
    }
  };
  for (size_t r : roots) walk(r);
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!visited[i]) walk(i);  // in a parent cycle: never reachable from a root
  }
  return rows;
}

using text::AppendJsonString;

std::string_view StatusName(StatusCode s) {
  switch (s) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kError: return "error";
    case StatusCode::kUnset: break;
  }
  return "unset";
}

double DurationMs(const StoredSpan& s) {
  if (s.end_unix_nano < s.start_unix_nano) return 0.0;
  return static_cast<double>(s.end_unix_nano - s.start_unix_nano) / 1e6;
}

// First span start to last span end: the trace duration a tail sampler's
// latency policy judges. Spans ending before they start count as points.
double TraceExtentMs(const StoredTrace& trace) {
  if (trace.spans.empty()) return 0.0;
  uint64_t first = UINT64_MAX, last = 0;
  for (const StoredSpan& s : trace.spans) {
    first = std::min(first, s.start_unix_nano);
    last = std::max(last, std::max(s.start_unix_nano, s.end_unix_nano));
  }
  return static_cast<double>(last - first) / 1e6;
}

std::string FormatMs(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms);
  return buf;
}

struct Summary {
  size_t roots = 0;
  size_t unresolved = 0;
  std::set<std::string> services;
};

Summary Summarize(const std::vector<Row>& rows) {
  Summary s;
  for (const Row& r : rows) {
    if (r.depth == 0) ++s.roots;
    if (!r.parent_resolved) ++s.unresolved;
    s.services.insert(r.span->service);
  }
  return s;
}

}  // namespace

std::string RenderTraceJson(const StoredTrace& trace) {
  const std::vector<Row> rows = TreeOrder(trace);
  const Summary summary = Summarize(rows);
  std::string out = "{\"traceId\":\"" + trace.trace_id.ToHex() + "\"";
  out += ",\"spanCount\":" + std::to_string(rows.size());
  out += ",\"roots\":" + std::to_string(summary.roots);
  out += ",\"unresolvedParents\":" + std::to_string(summary.unresolved);
  out += ",\"truncated\":";
  out += trace.truncated ? "true" : "false";
  out += ",\"durationMs\":" + FormatMs(TraceExtentMs(trace));
  out += ",\"services\":[";
  bool first = true;
  for (const std::string& svc : summary.services) {
    if (!first) out += ",";
    first = false;
    AppendJsonString(&out, svc);
  }
  out += "],\"spans\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const StoredSpan& s = *rows[i].span;
    if (i > 0) out += ",";
    out += "{\"spanId\":\"" + s.span_id.ToHex() + "\",\"parentSpanId\":";
    out += s.parent_span_id.IsZero() ? std::string("null")
                                     : "\"" + s.parent_span_id.ToHex() + "\"";
    out += ",\"service\":";
    AppendJsonString(&out, s.service);
    out += ",\"name\":";
    AppendJsonString(&out, s.name);
    out += ",\"kind\":\"";
    out += SpanKindName(s.kind);
    out += "\",\"status\":\"";
    out += StatusName(s.status);
    // 64-bit times as decimal strings, as OTLP/JSON writes them.
    out += "\",\"startTimeUnixNano\":\"" + std::to_string(s.start_unix_nano) + "\"";
    out += ",\"durationMs\":" + FormatMs(DurationMs(s));
    out += ",\"links\":" + std::to_string(s.link_count);
    out += ",\"parentResolved\":";
    out += rows[i].parent_resolved ? "true" : "false";
    out += ",\"depth\":" + std::to_string(rows[i].depth) + "}";
  }
  out += "]}\n";
  return out;
}

std::string RenderTraceText(const StoredTrace& trace) {
  const std::vector<Row> rows = TreeOrder(trace);
  const Summary summary = Summarize(rows);
  std::string out = "trace " + trace.trace_id.ToHex() + " spans=" + std::to_string(rows.size()) +
                    " roots=" + std::to_string(summary.roots) +
                    " unresolved_parents=" + std::to_string(summary.unresolved) +
                    (trace.truncated ? " truncated" : "") + "\n";
  for (const Row& r : rows) {
    const StoredSpan& s = *r.span;
    out.append(2 * r.depth, ' ');
    out += "- " + s.service + " \"" + s.name + "\" " + std::string(SpanKindName(s.kind)) + " " +
           std::string(StatusName(s.status)) + " " + FormatMs(DurationMs(s)) + "ms span=" +
           s.span_id.ToHex() + " parent=" +
           (s.parent_span_id.IsZero() ? std::string("-") : s.parent_span_id.ToHex());
    if (!r.parent_resolved) out += " (parent missing)";
    if (s.link_count > 0) out += " links=" + std::to_string(s.link_count);
    out += "\n";
  }
  return out;
}

}  // namespace propwatch::tap
