// The C ABI (propwatch/c.h) over the C++ engine. Every entry point catches
// what the C++ side may throw (std::bad_alloc) so nothing unwinds into C.
#include "propwatch/c.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "propwatch/engine.h"
#include "propwatch/version.h"

struct propwatch_options {
  propwatch::EngineOptions options;
  propwatch_clock_fn clock_fn = nullptr;
  void* clock_context = nullptr;
};

namespace {

// A Clock that asks the embedder's callback.
class CallbackClock final : public propwatch::Clock {
 public:
  CallbackClock(propwatch_clock_fn now, void* context) : now_(now), context_(context) {}
  propwatch::Timestamp Now() const override {
    return propwatch::Timestamp(propwatch::Duration(now_(context_)));
  }

 private:
  const propwatch_clock_fn now_;
  void* const context_;
};

void WriteError(char* error, size_t error_size, std::string_view message) {
  if (error == nullptr || error_size == 0) return;
  const size_t n = std::min(message.size(), error_size - 1);
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

std::string_view View(const propwatch_string& s) {
  return s.data == nullptr ? std::string_view() : std::string_view(s.data, s.size);
}

template <size_t N>
propwatch::ByteId<N> Id(const uint8_t (&bytes)[N]) {
  propwatch::ByteId<N> id;
  std::memcpy(id.bytes.data(), bytes, N);
  return id;
}

// Runs `body`, turning an escaping exception into PROPWATCH_INTERNAL (with
// a message when the caller gave a buffer).
template <typename F>
propwatch_status Guard(F&& body, char* error = nullptr, size_t error_size = 0) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    WriteError(error, error_size, "out of memory");
  } catch (const std::exception& e) {
    WriteError(error, error_size, e.what());
  } catch (...) {
    WriteError(error, error_size, "unknown internal error");
  }
  return PROPWATCH_INTERNAL;
}

// A string argument: NULL data is allowed only with size 0.
bool ValidString(const propwatch_string& s) { return s.data != nullptr || s.size == 0; }

}  // namespace

struct propwatch_engine {
  std::unique_ptr<CallbackClock> clock;  // declared first: outlives the engine
  std::unique_ptr<propwatch::Engine> engine;
};

struct propwatch_snapshot {
  propwatch::Snapshot snapshot;
};

extern "C" {

const char* propwatch_version(void) { return propwatch::VersionString(); }
int propwatch_version_number(void) { return PROPWATCH_VERSION_NUMBER; }

propwatch_options* propwatch_options_create(void) {
  return new (std::nothrow) propwatch_options();
}
void propwatch_options_destroy(propwatch_options* options) { delete options; }

propwatch_status propwatch_options_add_entry_point_service(propwatch_options* options,
                                                           const char* pattern,
                                                           size_t pattern_len) {
  if (options == nullptr || (pattern == nullptr && pattern_len != 0))
    return PROPWATCH_INVALID_ARGUMENT;
  return Guard([&] {
    options->options.entry_point_services.emplace_back(pattern ? pattern : "", pattern_len);
    return PROPWATCH_OK;
  });
}

#define PROPWATCH_SETTER(fn, type, field, convert)                      \
  propwatch_status fn(propwatch_options* options, type value) {         \
    if (options == nullptr) return PROPWATCH_INVALID_ARGUMENT;          \
    options->options.field = convert(value);                            \
    return PROPWATCH_OK;                                                \
  }
#define PROPWATCH_AS_IS(v) (v)
PROPWATCH_SETTER(propwatch_options_set_trace_idle_timeout_ns, int64_t, trace_idle_timeout,
                 propwatch::Duration)
PROPWATCH_SETTER(propwatch_options_set_late_span_retention_ns, int64_t, late_span_retention,
                 propwatch::Duration)
PROPWATCH_SETTER(propwatch_options_set_rebalance_window_ns, int64_t, rebalance_window,
                 propwatch::Duration)
PROPWATCH_SETTER(propwatch_options_set_max_clock_skew_ns, int64_t, max_clock_skew,
                 propwatch::Duration)
PROPWATCH_SETTER(propwatch_options_set_max_traces, uint32_t, max_traces, PROPWATCH_AS_IS)
PROPWATCH_SETTER(propwatch_options_set_max_spans_per_trace, uint32_t, max_spans_per_trace,
                 PROPWATCH_AS_IS)
PROPWATCH_SETTER(propwatch_options_set_max_services, uint32_t, max_services, PROPWATCH_AS_IS)
PROPWATCH_SETTER(propwatch_options_set_max_destinations, uint32_t, max_destinations,
                 PROPWATCH_AS_IS)
PROPWATCH_SETTER(propwatch_options_set_shards, uint32_t, shards, PROPWATCH_AS_IS)
#undef PROPWATCH_AS_IS
#undef PROPWATCH_SETTER

propwatch_status propwatch_options_set_window_ns(propwatch_options* options, int64_t length_ns,
                                                 int64_t resolution_ns) {
  if (options == nullptr) return PROPWATCH_INVALID_ARGUMENT;
  options->options.window_length = propwatch::Duration(length_ns);
  options->options.window_resolution = propwatch::Duration(resolution_ns);
  return PROPWATCH_OK;
}

propwatch_status propwatch_options_set_clock(propwatch_options* options, propwatch_clock_fn now,
                                             void* context) {
  if (options == nullptr) return PROPWATCH_INVALID_ARGUMENT;
  options->clock_fn = now;
  options->clock_context = context;
  return PROPWATCH_OK;
}

propwatch_status propwatch_engine_create(const propwatch_options* options,
                                         propwatch_engine** engine, char* error,
                                         size_t error_size) {
  if (options == nullptr || engine == nullptr) {
    WriteError(error, error_size, "propwatch_engine_create: options and engine must not be NULL");
    return PROPWATCH_INVALID_ARGUMENT;
  }
  return Guard([&] {
    auto handle = std::make_unique<propwatch_engine>();
    propwatch::EngineOptions engine_options = options->options;
    if (options->clock_fn != nullptr) {
      handle->clock = std::make_unique<CallbackClock>(options->clock_fn, options->clock_context);
      engine_options.clock = handle->clock.get();
    }
    const propwatch::Status status = propwatch::Engine::Create(engine_options, &handle->engine);
    if (!status.ok()) {
      WriteError(error, error_size, status.message());
      return status.code() == propwatch::Status::Code::kInvalidArgument ? PROPWATCH_INVALID_ARGUMENT
                                                                        : PROPWATCH_INTERNAL;
    }
    *engine = handle.release();
    return PROPWATCH_OK;
  }, error, error_size);
}

void propwatch_engine_destroy(propwatch_engine* engine) { delete engine; }

propwatch_status propwatch_engine_ingest(propwatch_engine* engine, const propwatch_span* spans,
                                         size_t count, uint64_t* accepted, uint64_t* rejected) {
  if (engine == nullptr || (spans == nullptr && count != 0)) return PROPWATCH_INVALID_ARGUMENT;
  for (size_t i = 0; i < count; ++i) {
    const propwatch_span& s = spans[i];
    if ((s.links == nullptr && s.links_count != 0) ||
        (s.captured_traceparents == nullptr && s.captured_traceparents_count != 0) ||
        !ValidString(s.service_name) || !ValidString(s.name) || !ValidString(s.destination))
      return PROPWATCH_INVALID_ARGUMENT;
    for (size_t k = 0; k < s.captured_traceparents_count; ++k) {
      if (!ValidString(s.captured_traceparents[k])) return PROPWATCH_INVALID_ARGUMENT;
    }
  }
  return Guard([&] {
    // Per-thread scratch, reused: the C structs are translated into records
    // whose views point into the caller's memory, valid for this call.
    thread_local std::vector<propwatch::SpanRecord> records;
    thread_local std::vector<propwatch::SpanLink> links;
    thread_local std::vector<std::string_view> headers;
    size_t total_links = 0, total_headers = 0;
    for (size_t i = 0; i < count; ++i) {
      total_links += spans[i].links_count;
      total_headers += spans[i].captured_traceparents_count;
    }
    records.clear();
    links.clear();
    headers.clear();
    links.reserve(total_links);  // no reallocation below: spans into them stay valid
    headers.reserve(total_headers);
    for (size_t i = 0; i < count; ++i) {
      const propwatch_span& in = spans[i];
      propwatch::SpanRecord r;
      r.trace_id = Id(in.trace_id);
      r.span_id = Id(in.span_id);
      r.parent_span_id = Id(in.parent_span_id);
      r.service_name = View(in.service_name);
      r.name = View(in.name);
      r.kind = propwatch::SpanKindFromInt(in.kind);
      r.status = in.status >= 0 && in.status <= 2 ? static_cast<propwatch::StatusCode>(in.status)
                                                   : propwatch::StatusCode::kUnset;
      r.start_unix_nano = in.start_unix_nano;
      r.end_unix_nano = in.end_unix_nano;
      const size_t first_link = links.size();
      for (size_t k = 0; k < in.links_count; ++k) {
        links.push_back({Id(in.links[k].trace_id), Id(in.links[k].span_id)});
      }
      r.links = std::span<const propwatch::SpanLink>(links.data() + first_link, in.links_count);
      const size_t first_header = headers.size();
      for (size_t k = 0; k < in.captured_traceparents_count; ++k) {
        headers.push_back(View(in.captured_traceparents[k]));
      }
      r.captured_traceparents = std::span<const std::string_view>(headers.data() + first_header,
                                                                  in.captured_traceparents_count);
      r.destination = View(in.destination);
      records.push_back(r);
    }
    const propwatch::IngestResult result = engine->engine->Ingest(records);
    if (accepted) *accepted = result.accepted;
    if (rejected) *rejected = result.rejected;
    return PROPWATCH_OK;
  });
}

propwatch_status propwatch_engine_observe_traceparent(propwatch_engine* engine,
                                                      const char* service, size_t service_len,
                                                      const char* header, size_t header_len,
                                                      int* valid, const char** reason) {
  if (engine == nullptr || (service == nullptr && service_len != 0) ||
      (header == nullptr && header_len != 0))
    return PROPWATCH_INVALID_ARGUMENT;
  return Guard([&] {
    const propwatch::TraceparentParse parse = engine->engine->ObserveTraceparent(
        std::string_view(service ? service : "", service_len),
        std::string_view(header ? header : "", header_len));
    if (valid) *valid = parse.ok ? 1 : 0;
    // Reason names are static strings: their data() is NUL-terminated.
    if (reason) *reason = parse.ok ? nullptr : propwatch::TraceparentErrorName(parse.error).data();
    return PROPWATCH_OK;
  });
}

propwatch_status propwatch_engine_advance(propwatch_engine* engine) {
  if (engine == nullptr) return PROPWATCH_INVALID_ARGUMENT;
  return Guard([&] {
    engine->engine->Advance();
    return PROPWATCH_OK;
  });
}

propwatch_status propwatch_engine_begin_rebalance(propwatch_engine* engine) {
  if (engine == nullptr) return PROPWATCH_INVALID_ARGUMENT;
  return Guard([&] {
    engine->engine->BeginRebalance();
    return PROPWATCH_OK;
  });
}

propwatch_status propwatch_engine_collect(propwatch_engine* engine,
                                          propwatch_snapshot** snapshot) {
  if (engine == nullptr || snapshot == nullptr) return PROPWATCH_INVALID_ARGUMENT;
  return Guard([&] {
    auto out = std::make_unique<propwatch_snapshot>();
    out->snapshot = engine->engine->Collect();
    *snapshot = out.release();
    return PROPWATCH_OK;
  });
}

void propwatch_snapshot_destroy(propwatch_snapshot* snapshot) { delete snapshot; }

size_t propwatch_snapshot_service_count(const propwatch_snapshot* snapshot) {
  return snapshot == nullptr ? 0 : snapshot->snapshot.services.size();
}

propwatch_status propwatch_snapshot_service(const propwatch_snapshot* snapshot, size_t index,
                                            const char** name, size_t* name_len,
                                            int* entry_point) {
  if (snapshot == nullptr || index >= snapshot->snapshot.services.size())
    return PROPWATCH_INVALID_ARGUMENT;
  const propwatch::ServiceSnapshot& s = snapshot->snapshot.services[index];
  if (name) *name = s.service.c_str();
  if (name_len) *name_len = s.service.size();
  if (entry_point) *entry_point = s.entry_point ? 1 : 0;
  return PROPWATCH_OK;
}

propwatch_status propwatch_snapshot_find_service(const propwatch_snapshot* snapshot,
                                                 const char* name, size_t name_len,
                                                 size_t* index) {
  if (snapshot == nullptr || index == nullptr || (name == nullptr && name_len != 0))
    return PROPWATCH_INVALID_ARGUMENT;
  const std::string_view wanted(name ? name : "", name_len);
  const auto& services = snapshot->snapshot.services;
  for (size_t i = 0; i < services.size(); ++i) {
    if (services[i].service == wanted) {
      *index = i;
      return PROPWATCH_OK;
    }
  }
  return PROPWATCH_NOT_FOUND;
}

propwatch_status propwatch_snapshot_counter(const propwatch_snapshot* snapshot,
                                            size_t service_index, propwatch_scope scope,
                                            propwatch_counter counter, uint64_t* value) {
  if (snapshot == nullptr || value == nullptr ||
      service_index >= snapshot->snapshot.services.size() ||
      (scope != PROPWATCH_TOTAL && scope != PROPWATCH_WINDOW))
    return PROPWATCH_INVALID_ARGUMENT;
  const propwatch::ServiceSnapshot& s = snapshot->snapshot.services[service_index];
  const propwatch::ServiceCounters& c = scope == PROPWATCH_TOTAL ? s.total : s.window;
  switch (counter) {
    case PROPWATCH_COUNTER_SPANS: *value = c.spans; break;
    case PROPWATCH_COUNTER_ROOT_SPANS: *value = c.root_spans; break;
    case PROPWATCH_COUNTER_ORPHAN_SPANS: *value = c.orphan_spans(); break;
    case PROPWATCH_COUNTER_ORPHAN_SPANS_UNSPECIFIED:
    case PROPWATCH_COUNTER_ORPHAN_SPANS_INTERNAL:
    case PROPWATCH_COUNTER_ORPHAN_SPANS_SERVER:
    case PROPWATCH_COUNTER_ORPHAN_SPANS_CLIENT:
    case PROPWATCH_COUNTER_ORPHAN_SPANS_PRODUCER:
    case PROPWATCH_COUNTER_ORPHAN_SPANS_CONSUMER:
      // The six per-kind counters follow OTLP's kind numbering from 3 on.
      *value = c.orphan_spans_by_kind[counter - PROPWATCH_COUNTER_ORPHAN_SPANS_UNSPECIFIED];
      break;
    case PROPWATCH_COUNTER_LINKED_ROOTS: *value = c.linked_roots; break;
    case PROPWATCH_COUNTER_BROKEN_PARENTS: *value = c.broken_parents; break;
    case PROPWATCH_COUNTER_UNPAIRED_OUTBOUND: *value = c.unpaired_outbound; break;
    case PROPWATCH_COUNTER_LATE_SPANS: *value = c.late_spans; break;
    case PROPWATCH_COUNTER_DUPLICATE_SPANS: *value = c.duplicate_spans; break;
    case PROPWATCH_COUNTER_EXTRACTION_FAILURES: *value = c.extraction_failures; break;
    case PROPWATCH_COUNTER_TRACEPARENTS_VALID: *value = c.traceparents_valid; break;
    case PROPWATCH_COUNTER_INVALID_TRACEPARENTS: *value = c.invalid_traceparents(); break;
    case PROPWATCH_COUNTER_INVALID_SPAN_CONTEXTS: *value = c.invalid_span_contexts(); break;
    default: return PROPWATCH_INVALID_ARGUMENT;
  }
  return PROPWATCH_OK;
}

propwatch_status propwatch_snapshot_stat(const propwatch_snapshot* snapshot, propwatch_stat stat,
                                         uint64_t* value) {
  if (snapshot == nullptr || value == nullptr) return PROPWATCH_INVALID_ARGUMENT;
  const propwatch::EngineStats& s = snapshot->snapshot.stats;
  switch (stat) {
    case PROPWATCH_STAT_LIVE_TRACES: *value = s.live_traces; break;
    case PROPWATCH_STAT_FINALIZED_TRACES_RETAINED: *value = s.finalized_traces_retained; break;
    case PROPWATCH_STAT_SERVICES: *value = s.services; break;
    case PROPWATCH_STAT_DESTINATIONS: *value = s.destinations; break;
    case PROPWATCH_STAT_TRACKED_BYTES: *value = s.tracked_bytes; break;
    case PROPWATCH_STAT_DISTINCT_TRACE_IDS: *value = s.distinct_trace_ids; break;
    case PROPWATCH_STAT_DISTINCT_TRACE_IDS_WINDOW: *value = s.distinct_trace_ids_window; break;
    case PROPWATCH_STAT_TRACES_FINALIZED: *value = s.traces_finalized; break;
    case PROPWATCH_STAT_TRACES_EVICTED_CAPACITY: *value = s.traces_evicted_capacity; break;
    case PROPWATCH_STAT_FINALIZED_TRACES_DISPLACED: *value = s.finalized_traces_displaced; break;
    case PROPWATCH_STAT_SPANS_UNTRACKED_TRACE_CAP: *value = s.spans_untracked_trace_cap; break;
    case PROPWATCH_STAT_SPANS_OVERFLOW_SERVICE: *value = s.spans_overflow_service; break;
    case PROPWATCH_STAT_OUTBOUND_OVERFLOW_DESTINATION:
      *value = s.outbound_overflow_destination;
      break;
    case PROPWATCH_STAT_TRACES_UNJUDGED_TRUNCATED: *value = s.traces_unjudged_truncated; break;
    case PROPWATCH_STAT_TRACES_UNJUDGED_EVICTED: *value = s.traces_unjudged_evicted; break;
    case PROPWATCH_STAT_TRACES_UNJUDGED_STARTED_BEFORE_START:
      *value = s.traces_unjudged_started_before_start;
      break;
    case PROPWATCH_STAT_TRACES_UNJUDGED_REBALANCE: *value = s.traces_unjudged_rebalance; break;
    case PROPWATCH_STAT_REBALANCES: *value = s.rebalances; break;
    case PROPWATCH_STAT_EXAMPLE_SERIES: *value = s.example_series; break;
    case PROPWATCH_STAT_EXAMPLE_SERIES_OVERFLOW: *value = s.example_series_overflow; break;
    case PROPWATCH_STAT_EDGE_ORPHANS_PENDING: *value = s.edge_orphans_pending; break;
    case PROPWATCH_STAT_EDGE_OUTBOUND_CANDIDATES: *value = s.edge_outbound_candidates; break;
    case PROPWATCH_STAT_EDGE_SERIES: *value = s.edge_series; break;
    case PROPWATCH_STAT_EDGE_ORPHANS_EVICTED: *value = s.edge_orphans_evicted; break;
    case PROPWATCH_STAT_EDGE_OUTBOUND_EVICTED: *value = s.edge_outbound_evicted; break;
    case PROPWATCH_STAT_EDGE_SERIES_OVERFLOW: *value = s.edge_series_overflow; break;
    default: return PROPWATCH_INVALID_ARGUMENT;
  }
  return PROPWATCH_OK;
}

int64_t propwatch_snapshot_window_covered_ns(const propwatch_snapshot* snapshot) {
  return snapshot == nullptr ? 0 : snapshot->snapshot.window_covered.count();
}

}  // extern "C"
