#include "exporter/tap/sampler_check.h"

#include <charconv>

#include "exporter/flags/flags.h"
#include "exporter/otlp/json_reader.h"
#include "exporter/tap/tap_config.h"

namespace propwatch::tap {
namespace {

std::string Unescaped(const otlp::JsonString& s) {
  std::string out(s.raw.size(), '\0');
  out.resize(otlp::UnescapeJsonString(s, out.data()));
  return out;
}

flags::FlagSet SamplerCheckFlags(SamplerCheckOptions* o) {
  flags::FlagSet set(
      "Usage: propwatch sampler-check --pre=HOST:PORT[,...] --post=HOST:PORT[,...] [--json]",
      "Proves a sampler keeps whole traces: compares the trace store of the tap fed every\n"
      "span (before sampling) with the taps behind each sampler instance. Every kept trace\n"
      "must have as many spans as before and be on one instance only. Run it once the\n"
      "traffic has settled. Exit 0 passed, 1 a kept trace lost spans, was split or could\n"
      "not be compared (or nothing was kept), 2 a tap could not be read.");
  set.Add({"pre", "(required)",
           "Comma-separated admin listeners of the taps before sampling (every tap of a fleet).",
           [o](std::string_view v) {
             o->pre_addresses = SplitCommaList(v);
             return o->pre_addresses.empty() ? absl::InvalidArgumentError("empty list")
                                             : absl::OkStatus();
           }});
  set.Add({"post", "(required)", "Comma-separated admin listeners of the taps after sampling.",
           [o](std::string_view v) {
             o->post_addresses = SplitCommaList(v);
             return o->post_addresses.empty() ? absl::InvalidArgumentError("empty list")
                                              : absl::OkStatus();
           }});
  AddAdminClientFlags(&set, &o->admin);
  set.Bool("json", &o->json, "Print the report as JSON.");
  set.Uint64("show", &o->show, "Trace ids listed per finding.", 0, 1'000'000);
  return set;
}

void JsonPartials(std::ostream& out, const std::vector<SamplerReport::Partial>& list) {
  out << '[';
  for (size_t i = 0; i < list.size(); ++i) {
    out << (i ? "," : "") << "{\"traceId\":\"" << list[i].trace_id
        << "\",\"preSpans\":" << list[i].pre_spans << ",\"postSpans\":" << list[i].post_spans
        << '}';
  }
  out << ']';
}

}  // namespace

absl::StatusOr<TraceListing> ParseTraceListing(std::string_view json) {
  TraceListing listing;
  otlp::JsonReader r(json);
  otlp::JsonString key;
  bool saw_traces = false;
  if (!r.BeginObject()) return r.status();
  while (r.NextMember(&key)) {
    if (!otlp::JsonStringEquals(key, "traces")) {
      if (!r.SkipValue()) break;
      continue;
    }
    saw_traces = true;
    if (!r.BeginArray()) break;
    while (r.NextElement()) {
      std::string id;
      TraceListing::Entry entry;
      bool has_count = false;
      if (!r.BeginObject()) break;
      while (r.NextMember(&key)) {
        if (otlp::JsonStringEquals(key, "traceId")) {
          otlp::JsonString s;
          if (!r.ReadString(&s)) break;
          id = Unescaped(s);
        } else if (otlp::JsonStringEquals(key, "spanCount")) {
          std::string_view n;
          if (!r.ReadNumber(&n)) break;
          auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), entry.spans);
          if (ec != std::errc() || ptr != n.data() + n.size()) {
            r.Fail("spanCount is not a whole number");
            break;
          }
          has_count = true;
        } else if (otlp::JsonStringEquals(key, "truncated")) {
          if (!r.ReadBool(&entry.truncated)) break;
        } else if (!r.SkipValue()) {
          break;
        }
      }
      if (!r.ok()) break;
      if (id.size() != 32 || !has_count) {
        return absl::InvalidArgumentError("trace listing: an entry lacks traceId or spanCount");
      }
      listing.traces[id] = entry;
    }
    if (!r.ok()) break;
  }
  if (!r.ok() || !r.ExpectEnd()) return r.status();
  if (!saw_traces) return absl::InvalidArgumentError("trace listing: no \"traces\" member");
  return listing;
}

SamplerReport CompareListings(const TraceListing& pre, std::span<const TraceListing> post) {
  SamplerReport report;
  report.pre_traces = pre.traces.size();
  struct Kept {
    uint32_t spans = 0;
    int instances = 0;
    bool truncated = false;
  };
  std::map<std::string, Kept> kept;
  for (const TraceListing& listing : post) {
    report.kept_per_instance.push_back(listing.traces.size());
    for (const auto& [id, entry] : listing.traces) {
      Kept& k = kept[id];
      k.spans += entry.spans;
      ++k.instances;
      k.truncated |= entry.truncated;
    }
  }
  report.kept = kept.size();
  for (const auto& [id, k] : kept) {
    if (k.instances > 1) report.split.push_back(id);
    auto it = pre.traces.find(id);
    if (it == pre.traces.end()) {
      ++report.not_in_pre;
    } else if (k.truncated || it->second.truncated) {
      ++report.truncated;
    } else if (k.spans < it->second.spans) {
      report.missing_spans.push_back({id, it->second.spans, k.spans});
    } else if (k.spans > it->second.spans) {
      report.more_after.push_back({id, it->second.spans, k.spans});
    } else if (k.instances == 1) {
      ++report.whole;
    }
  }
  return report;
}

std::string SamplerCheckUsage() {
  SamplerCheckOptions o;
  return SamplerCheckFlags(&o).Usage();
}

absl::StatusOr<SamplerCheckOptions> ParseSamplerCheckArgs(std::span<const std::string_view> args) {
  SamplerCheckOptions o;
  flags::FlagSet set = SamplerCheckFlags(&o);
  auto parsed = set.Parse(args);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("propwatch sampler-check: " +
                                      std::string(parsed.status().message()));
  }
  if (o.pre_addresses.empty() || o.post_addresses.empty()) {
    return absl::InvalidArgumentError("propwatch sampler-check: --pre and --post are required");
  }
  return o;
}

int RunSamplerCheck(const SamplerCheckOptions& o, std::ostream& out) {
  auto read = [&](const std::string& address) -> absl::StatusOr<TraceListing> {
    auto r = HttpGet(address, "/api/v1/traces", o.admin, absl::Seconds(60));
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      return absl::UnavailableError(address + ": HTTP " + std::to_string(r->status) + ": " +
                                    r->body.substr(0, r->body.find('\n')));
    }
    auto listing = ParseTraceListing(r->body);
    if (!listing.ok()) {
      return absl::InvalidArgumentError(address + ": " + std::string(listing.status().message()));
    }
    return listing;
  };
  // Behind a trace-id load balancer each trace is on one pre-sampling tap:
  // their stores together are the whole picture.
  TraceListing pre_all;
  for (const std::string& address : o.pre_addresses) {
    auto pre = read(address);
    if (!pre.ok()) {
      out << "ERROR pre-sampling tap " << pre.status().message() << "\n";
      return 2;
    }
    for (const auto& [id, entry] : pre->traces) {
      TraceListing::Entry& e = pre_all.traces[id];
      e.spans += entry.spans;
      e.truncated |= entry.truncated;
    }
  }
  const TraceListing* pre = &pre_all;
  std::vector<TraceListing> post;
  for (const std::string& address : o.post_addresses) {
    auto listing = read(address);
    if (!listing.ok()) {
      out << "ERROR post-sampling tap " << listing.status().message() << "\n";
      return 2;
    }
    post.push_back(*std::move(listing));
  }
  const SamplerReport r = CompareListings(*pre, post);
  if (o.json) {
    out << "{\"preTraces\":" << r.pre_traces << ",\"keptPerInstance\":{";
    for (size_t i = 0; i < o.post_addresses.size(); ++i) {
      out << (i ? "," : "") << '"' << o.post_addresses[i] << "\":" << r.kept_per_instance[i];
    }
    out << "},\"kept\":" << r.kept << ",\"whole\":" << r.whole << ",\"missingSpans\":";
    JsonPartials(out, r.missing_spans);
    out << ",\"moreAfterThanBefore\":";
    JsonPartials(out, r.more_after);
    out << ",\"split\":[";
    for (size_t i = 0; i < r.split.size(); ++i) out << (i ? "," : "") << '"' << r.split[i] << '"';
    out << "],\"notInPre\":" << r.not_in_pre << ",\"truncated\":" << r.truncated
        << ",\"passed\":" << (r.passed() ? "true" : "false") << "}\n";
    return r.passed() ? 0 : 1;
  }
  out << "pre-sampling (" << o.pre_addresses.size() << " taps): " << r.pre_traces
      << " traces stored\n";
  for (size_t i = 0; i < o.post_addresses.size(); ++i) {
    out << "post-sampling " << o.post_addresses[i] << ": " << r.kept_per_instance[i]
        << " traces kept\n";
  }
  auto list = [&](const std::vector<SamplerReport::Partial>& items) {
    for (size_t i = 0; i < items.size() && i < o.show; ++i) {
      out << "  " << items[i].trace_id << ": " << items[i].post_spans << " of "
          << items[i].pre_spans << " spans\n";
    }
  };
  out << (r.missing_spans.empty() ? "PASS" : "FAIL") << " kept traces missing spans: "
      << r.missing_spans.size() << " (whole: " << r.whole << " of " << r.kept << ")\n";
  list(r.missing_spans);
  out << (r.split.empty() ? "PASS" : "FAIL") << " kept traces on more than one instance: "
      << r.split.size() << "\n";
  for (size_t i = 0; i < r.split.size() && i < o.show; ++i) out << "  " << r.split[i] << "\n";
  out << (r.more_after.empty() ? "PASS" : "FAIL")
      << " kept traces with more spans than before sampling: " << r.more_after.size() << "\n";
  list(r.more_after);
  out << (r.not_in_pre + r.truncated == 0 ? "PASS" : "FAIL")
      << " every kept trace compared: " << r.not_in_pre
      << " not in the pre-sampling stores (evicted: raise their --trace-store-max-traces; or "
         "--pre does not name every tap before sampling), "
      << r.truncated << " truncated by a store cap\n";
  if (r.kept == 0) out << "FAIL no trace kept by any sampler: nothing to compare\n";
  return r.passed() ? 0 : 1;
}

}  // namespace propwatch::tap
