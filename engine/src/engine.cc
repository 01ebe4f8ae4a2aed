#include "propwatch/engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstring>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "edge_matcher.h"
#include "mutex.h"
#include "glob.h"
#include "name_registry.h"
#include "shard.h"
#include "window.h"

namespace propwatch {
namespace detail {
namespace {

uint32_t DefaultShards() {
  const uint32_t hw = std::max(1u, std::thread::hardware_concurrency());
  return std::min<uint32_t>(1024, std::max<uint32_t>(4, std::bit_ceil(2 * hw)));
}

// Stripes in use: a power of two, and no more than max_traces so that every
// stripe's share of the cap is at least one trace.
uint32_t StripeCount(const EngineOptions& options) {
  const uint32_t requested = options.shards ? options.shards : DefaultShards();
  return std::min(std::bit_floor(requested), std::bit_floor(options.max_traces));
}

// MurmurHash3's 64-bit finalizer: a bijection in which every input bit
// affects every output bit.
inline uint64_t Mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

int64_t ToNanos(Timestamp t) { return t.time_since_epoch().count(); }

bool IsOutbound(SpanKind kind) { return kind == SpanKind::kClient || kind == SpanKind::kProducer; }

// A per-batch cache of recently looked-up names, so most spans skip the
// registry's lock: spans of one resource (one service) arrive together, and a
// service's outbound spans alternate between a few destinations. The views
// point into the batch, which outlives the cache.
class RecentNames {
 public:
  struct Entry {
    std::string_view name;
    uint16_t id = 0;
    bool flag = false;
  };
  const Entry* Find(std::string_view name) const {
    for (size_t i = 0; i < size_; ++i) {
      if (entries_[i].name == name) return &entries_[i];
    }
    return nullptr;
  }
  const Entry& Add(Entry entry) {
    Entry& slot = entries_[next_];
    slot = entry;
    next_ = (next_ + 1) % kSize;
    if (size_ < kSize) ++size_;
    return slot;
  }

 private:
  static constexpr size_t kSize = 8;
  std::array<Entry, kSize> entries_;
  size_t size_ = 0, next_ = 0;
};

}  // namespace

class EngineImpl {
 public:
  // REQUIRES: options.Validate().ok() and options.clock != nullptr.
  explicit EngineImpl(const EngineOptions& options)
      : options_(options),
        clock_(options.clock),
        services_(options.max_services,
                  [patterns = options.entry_point_services](std::string_view name) {
                    for (const std::string& p : patterns) {
                      if (GlobMatch(p, name)) return true;
                    }
                    return false;
                  }),
        destinations_(options.max_destinations),
        examples_(options.max_example_series, options.examples_per_finding),
        edges_(options.edge_attribution ? std::make_unique<EdgeMatcher>(EdgeOptions(options))
                                        : nullptr),
        start_ns_(std::max<int64_t>(0, ToNanos(clock_->Now()))),
        stripe_shift_(64 - std::countr_zero(StripeCount(options))),
        last_now_ns_(start_ns_),
        window_(start_ns_, options.window_resolution.count(),
                options.window_length / options.window_resolution) {
    const uint32_t count = StripeCount(options);
    Shard::Limits limits;
    limits.max_spans_per_trace = options.max_spans_per_trace;
    limits.idle_timeout_ns = options.trace_idle_timeout.count();
    limits.retention_ns = options.late_span_retention.count();
    if (options.rebalance_window > Duration::zero()) {
      limits.judge_spans_started_from_unix_ns =
          static_cast<uint64_t>(start_ns_ + options.max_clock_skew.count());
    }
    for (uint32_t i = 0; i < count; ++i) {
      // Exact shares: they sum to max_traces, and each is >= 1 (count <= max_traces).
      limits.max_traces = options.max_traces / count + (i < options.max_traces % count ? 1 : 0);
      shards_.push_back(std::make_unique<Shard>(limits, &examples_, edges_.get()));
    }
    // Creation is the first rebalance: the load balancer may still be
    // switching traces over to this engine.
    OpenRebalanceWindow(start_ns_);
    sampled_boundary_.store(0, std::memory_order_relaxed);
  }

  const EngineOptions& options() const { return options_; }

  static EdgeMatcher::Options EdgeOptions(const EngineOptions& options) {
    EdgeMatcher::Options o;
    o.skew_ns = options.edge_clock_skew.count();
    o.max_lag_ns = options.edge_messaging_max_lag.count();
    o.decision_delay_ns = options.edge_decision_delay > Duration::zero()
                              ? options.edge_decision_delay.count()
                              : 2 * options.trace_idle_timeout.count();
    o.max_candidates = options.max_edge_candidates;
    o.max_series = options.max_edge_series;
    o.examples_per_edge = options.examples_per_finding;
    return o;
  }

  IngestResult Ingest(std::span<const SpanRecord> spans) {
    IngestResult result;
    if (spans.empty()) return result;
    const int64_t now = Now();
    RollWindowIfDue(now);

    // Per-thread scratch, reused across calls: no allocation per span once
    // warmed up.
    struct Prepared {
      SpanMeta meta;
      int8_t invalid = -1;  // SpanContextError, or -1 when valid
    };
    thread_local std::vector<Prepared> prepared;
    thread_local std::vector<uint32_t> order;
    thread_local std::vector<uint32_t> shard_start;
    prepared.resize(spans.size());
    order.resize(spans.size());
    shard_start.assign(shards_.size() + 1, 0);

    RecentNames recent_services, recent_destinations;
    uint64_t overflow_services = 0, overflow_destinations = 0;
    for (size_t i = 0; i < spans.size(); ++i) {
      const SpanRecord& span = spans[i];
      Prepared& p = prepared[i];
      std::string_view service = span.service_name.empty() ? kUnknownService : span.service_name;
      const RecentNames::Entry* svc = recent_services.Find(service);
      if (svc == nullptr) {
        bool overflowed = false;
        const uint16_t id = services_.Intern(service, &overflowed);
        svc = &recent_services.Add({service, id, !overflowed && services_.Flag(id)});
      }
      if (svc->id == NameRegistry::kOverflowId) ++overflow_services;
      p.meta.service = svc->id;
      p.meta.entry_point = svc->flag;
      p.meta.destination = 0;
      if (IsOutbound(span.kind)) {
        std::string_view dest = span.destination.empty() ? "unknown" : span.destination;
        const RecentNames::Entry* d = recent_destinations.Find(dest);
        if (d == nullptr) d = &recent_destinations.Add({dest, destinations_.Intern(dest), false});
        if (d->id == NameRegistry::kOverflowId) ++overflow_destinations;
        p.meta.destination = d->id;
      }
      p.invalid = -1;
      if (span.trace_id.IsZero()) {
        p.invalid = static_cast<int8_t>(SpanContextError::kTraceIdZero);
      } else if (span.span_id.IsZero()) {
        p.invalid = static_cast<int8_t>(SpanContextError::kSpanIdZero);
      }
      // Invalid spans have no usable trace id: count them on the service's stripe.
      const uint32_t shard =
          p.invalid >= 0 ? (p.meta.service & (shards_.size() - 1)) : ShardOf(span.trace_id);
      order[i] = shard;
      ++shard_start[shard + 1];
    }
    // Counting sort of span indices by shard, so each stripe is locked once.
    for (size_t s = 1; s < shard_start.size(); ++s) shard_start[s] += shard_start[s - 1];
    thread_local std::vector<uint32_t> sorted;
    sorted.resize(spans.size());
    {
      thread_local std::vector<uint32_t> fill;
      fill.assign(shard_start.begin(), shard_start.end() - 1);
      for (uint32_t i = 0; i < spans.size(); ++i) sorted[fill[order[i]]++] = i;
    }
    for (size_t s = 0; s < shards_.size(); ++s) {
      if (shard_start[s] == shard_start[s + 1]) continue;
      Shard& shard = *shards_[s];
      MutexLock lock(&shard.mu);
      for (uint32_t k = shard_start[s]; k < shard_start[s + 1]; ++k) {
        const uint32_t i = sorted[k];
        const Prepared& p = prepared[i];
        if (p.invalid >= 0) {
          ++shard.CountersFor(p.meta.service).invalid_span_contexts_by_reason[p.invalid];
          ++result.rejected;
        } else {
          shard.IngestSpan(spans[i], p.meta, now);
          ++result.accepted;
        }
      }
    }
    if (overflow_services) spans_overflow_service_.fetch_add(overflow_services);
    if (overflow_destinations) outbound_overflow_destination_.fetch_add(overflow_destinations);
    return result;
  }

  void RecordInvalidSpanContext(std::string_view service_name, SpanContextError error,
                                uint64_t count) {
    if (error >= SpanContextError::kCount || count == 0) return;
    const int64_t now = Now();
    RollWindowIfDue(now);
    const uint16_t id = InternService(service_name);
    Shard& shard = *shards_[id & (shards_.size() - 1)];
    MutexLock lock(&shard.mu);
    shard.CountersFor(id).invalid_span_contexts_by_reason[static_cast<int>(error)] += count;
  }

  TraceparentParse ObserveTraceparent(std::string_view service_name, std::string_view header) {
    const int64_t now = Now();
    RollWindowIfDue(now);
    TraceparentParse parse = ParseTraceparent(header);
    const uint16_t id = InternService(service_name);
    Shard& shard = *shards_[id & (shards_.size() - 1)];
    MutexLock lock(&shard.mu);
    ServiceCounters& counters = shard.CountersFor(id);
    if (parse.ok) {
      ++counters.traceparents_valid;
    } else {
      ++counters.invalid_traceparents_by_reason[static_cast<int>(parse.error)];
    }
    return parse;
  }

  void Advance() { AdvanceTo(Now()); }

  void BeginRebalance() {
    if (options_.rebalance_window <= Duration::zero()) return;
    rebalances_.fetch_add(1);
    OpenRebalanceWindow(Now());
  }

  Snapshot Collect() {
    const int64_t now = Now();
    AdvanceTo(now);

    std::vector<ServiceCounters> totals;
    absl::flat_hash_map<uint32_t, uint64_t> unpaired;
    ShardStats shard_stats;
    EngineStats stats;
    Merge(&totals, &unpaired, &shard_stats, &stats);

    Snapshot snap;
    snap.time = Timestamp(Duration(now));
    snap.window_length = options_.window_length;
    absl::flat_hash_map<uint64_t, uint64_t> edges, baseline_edges;
    EdgeMatcher::Stats edge_stats;
    if (edges_ != nullptr) {
      edges_->AddCounts(&edges);
      edge_stats = edges_->GetStats();
    }
    std::vector<ServiceCounters> baseline;
    uint64_t baseline_distinct = 0;
    {
      MutexLock lock(&window_mu_);
      int64_t baseline_ns = 0;
      const WindowRing::Sample& sample = window_.Baseline(now, &baseline_ns);
      baseline = sample.services;
      baseline_distinct = sample.distinct_trace_ids;
      baseline_edges = sample.edges;
      snap.window_covered = Duration(now - baseline_ns);
    }

    std::vector<std::string> names, destination_names;
    std::vector<bool> flags, unused_flags;
    services_.Copy(&names, &flags);
    destinations_.Copy(&destination_names, &unused_flags);
    totals.resize(std::max(totals.size(), names.size()));
    baseline.resize(totals.size());

    std::vector<std::vector<DestinationCount>> by_service(totals.size());
    for (const auto& [key, count] : unpaired) {
      const uint32_t service = key >> 16, dest = key & 0xffff;
      if (service < by_service.size() && dest < destination_names.size()) {
        by_service[service].push_back(DestinationCount{destination_names[dest], count});
      }
    }

    for (size_t id = 0; id < names.size(); ++id) {
      // The overflow bucket is listed only once something landed in it.
      if (id == NameRegistry::kOverflowId && totals[id] == ServiceCounters{}) continue;
      ServiceSnapshot s;
      s.service = names[id];
      s.entry_point = flags[id];
      s.total = totals[id];
      s.window = totals[id];
      s.window -= baseline[id];
      s.unpaired_by_destination = std::move(by_service[id]);
      std::sort(s.unpaired_by_destination.begin(), s.unpaired_by_destination.end(),
                [](const DestinationCount& a, const DestinationCount& b) {
                  return a.unpaired_outbound != b.unpaired_outbound
                             ? a.unpaired_outbound > b.unpaired_outbound
                             : a.destination < b.destination;
                });
      snap.services.push_back(std::move(s));
    }
    std::sort(snap.services.begin(), snap.services.end(),
              [](const ServiceSnapshot& a, const ServiceSnapshot& b) { return a.service < b.service; });

    auto service_name = [&](uint64_t id) -> std::string {
      if (id == EdgeMatcher::kUnknownCallerId) return std::string(kUnknownCaller);
      return id < names.size() ? names[id] : std::string(kOverflowService);
    };
    for (const auto& [key, total] : edges) {
      BrokenEdgeCount& e = snap.broken_edges.emplace_back();
      e.caller_service = service_name(key >> 24);
      e.callee_service = service_name((key >> 8) & 0xffff);
      e.boundary = static_cast<EdgeBoundary>(key & 0xff);
      e.total = total;
      auto base = baseline_edges.find(key);
      e.window = total - (base == baseline_edges.end() ? 0 : base->second);
    }
    std::sort(snap.broken_edges.begin(), snap.broken_edges.end(),
              [](const BrokenEdgeCount& a, const BrokenEdgeCount& b) {
                if (a.window != b.window) return a.window > b.window;
                if (a.total != b.total) return a.total > b.total;
                if (a.callee_service != b.callee_service) return a.callee_service < b.callee_service;
                if (a.caller_service != b.caller_service) return a.caller_service < b.caller_service;
                return a.boundary < b.boundary;
              });

    stats.services = names.size() - 1;  // the overflow bucket is not a service
    stats.destinations = destination_names.size() - 1;
    stats.distinct_trace_ids = shard_stats.distinct_trace_ids;
    stats.distinct_trace_ids_window = shard_stats.distinct_trace_ids - baseline_distinct;
    stats.traces_finalized = shard_stats.traces_finalized;
    stats.traces_evicted_capacity = shard_stats.traces_evicted_capacity;
    stats.finalized_traces_displaced = shard_stats.finalized_traces_displaced;
    stats.spans_untracked_trace_cap = shard_stats.spans_untracked_trace_cap;
    stats.traces_unjudged_truncated = shard_stats.traces_unjudged_truncated;
    stats.traces_unjudged_evicted = shard_stats.traces_unjudged_evicted;
    stats.traces_unjudged_started_before_start = shard_stats.traces_unjudged_started_before_start;
    stats.traces_unjudged_rebalance = shard_stats.traces_unjudged_rebalance;
    stats.rebalances = rebalances_.load();
    stats.spans_overflow_service = spans_overflow_service_.load();
    stats.outbound_overflow_destination = outbound_overflow_destination_.load();
    stats.example_series = examples_.series();
    stats.example_series_overflow = examples_.overflow();
    stats.edge_orphans_pending = edge_stats.orphans_pending;
    stats.edge_outbound_candidates = edge_stats.outbound_candidates;
    stats.edge_series = edge_stats.series;
    stats.edge_orphans_evicted = edge_stats.orphans_evicted;
    stats.edge_outbound_evicted = edge_stats.outbound_evicted;
    stats.edge_series_overflow = edge_stats.series_overflow;
    stats.tracked_bytes += edge_stats.bytes;
    snap.stats = stats;
    return snap;
  }

  std::vector<FindingExample> RecentExamples(std::string_view service, const Finding* finding,
                                             size_t limit) {
    AdvanceTo(Now());  // findings due at finalization are recorded first
    struct Kept {
      uint32_t key;  // service << 16 | finding << 8 | kind
      ExampleStore::Entry entry;
    };
    std::vector<Kept> kept;
    kept.reserve(std::min<uint64_t>(examples_.series() * options_.examples_per_finding, 1 << 20));
    examples_.ForEach([&](uint16_t id, Finding f, SpanKind kind, const ExampleStore::Entry& e) {
      if (finding != nullptr && f != *finding) return;
      kept.push_back(Kept{static_cast<uint32_t>(id) << 16 | static_cast<uint32_t>(f) << 8 |
                              static_cast<uint32_t>(kind),
                          e});
    });
    std::vector<std::pair<uint64_t, EdgeMatcher::Example>> edge_examples;
    if (edges_ != nullptr && (finding == nullptr || *finding == Finding::kBrokenEdge)) {
      edges_->ForEachExample([&](uint64_t key, const EdgeMatcher::Example& e) {
        edge_examples.emplace_back(key, e);
      });
    }
    // Names after the scans: ids only grow, so every id seen has its name.
    std::vector<std::string> names;
    std::vector<bool> unused_flags;
    services_.Copy(&names, &unused_flags);
    auto name_of = [&](uint32_t key) -> std::string_view {
      const uint32_t id = key >> 16;
      return id < names.size() ? std::string_view(names[id]) : kOverflowService;
    };
    if (!service.empty()) {
      std::erase_if(kept, [&](const Kept& k) { return name_of(k.key) != service; });
    }
    std::vector<FindingExample> out;
    uint32_t run_key = 0, run_length = 0;
    // Newest first within a series (ExampleStore keys are unique per series).
    std::sort(kept.begin(), kept.end(), [](const Kept& a, const Kept& b) {
      if (a.key != b.key) return a.key < b.key;
      return a.entry.seen_ns > b.entry.seen_ns;
    });
    for (const Kept& k : kept) {
      run_length = (out.empty() || k.key != run_key) ? 1 : run_length + 1;
      run_key = k.key;
      if (run_length > options_.examples_per_finding) continue;
      FindingExample& x = out.emplace_back();
      x.service = std::string(name_of(k.key));
      x.finding = static_cast<Finding>((k.key >> 8) & 0xff);
      x.span_kind = static_cast<SpanKind>(k.key & 0xff);
      x.trace_id = k.entry.trace_id;
      std::memcpy(x.span_id.bytes.data(), &k.entry.span_id, 8);
      x.seen = Timestamp(Duration(k.entry.seen_ns));
    }
    for (const auto& [key, e] : edge_examples) {
      {
        const uint64_t callee = (key >> 8) & 0xffff, caller = key >> 24;
        std::string_view callee_name = callee < names.size() ? std::string_view(names[callee])
                                                             : kOverflowService;
        if (!service.empty() && callee_name != service) continue;
        FindingExample& x = out.emplace_back();
        x.service = std::string(callee_name);
        x.finding = Finding::kBrokenEdge;
        x.span_kind = static_cast<EdgeBoundary>(key & 0xff) == EdgeBoundary::kHttp
                          ? SpanKind::kServer
                          : SpanKind::kConsumer;
        x.trace_id = e.trace_id;
        std::memcpy(x.span_id.bytes.data(), &e.span_id, 8);
        x.seen = Timestamp(Duration(e.seen_ns));
        x.caller_service = caller == EdgeMatcher::kUnknownCallerId
                               ? std::string(kUnknownCaller)
                               : std::string(caller < names.size() ? std::string_view(names[caller])
                                                                   : kOverflowService);
        x.caller_trace_id = e.caller_trace_id;
        std::memcpy(x.caller_span_id.bytes.data(), &e.caller_span_id, 8);
      }
    }
    // Series by name (service, finding, kind, caller), then newest first;
    // the ids break ties so the order never depends on stripe layout.
    std::sort(out.begin(), out.end(), [](const FindingExample& a, const FindingExample& b) {
      if (a.service != b.service) return a.service < b.service;
      if (a.finding != b.finding) return a.finding < b.finding;
      if (a.span_kind != b.span_kind) return a.span_kind < b.span_kind;
      if (a.caller_service != b.caller_service) return a.caller_service < b.caller_service;
      if (a.seen != b.seen) return a.seen > b.seen;
      if (a.trace_id.bytes != b.trace_id.bytes) return a.trace_id.bytes < b.trace_id.bytes;
      return a.span_id.bytes < b.span_id.bytes;
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  }

 private:
  // The clock, clamped so that time never runs backwards inside the engine
  // and never before the Unix epoch (so differences of times cannot overflow).
  int64_t Now() {
    const int64_t t = std::max<int64_t>(0, ToNanos(clock_->Now()));
    int64_t prev = last_now_ns_.load(std::memory_order_relaxed);
    while (t > prev && !last_now_ns_.compare_exchange_weak(prev, t)) {
    }
    return std::max(t, prev);
  }

  void OpenRebalanceWindow(int64_t now) {
    if (options_.rebalance_window <= Duration::zero()) return;
    for (auto& shard : shards_) {
      MutexLock lock(&shard->mu);
      shard->BeginRebalance(now + options_.rebalance_window.count());
    }
  }

  uint16_t InternService(std::string_view name) {
    return services_.Intern(name.empty() ? kUnknownService : name);
  }

  uint32_t ShardOf(const TraceId& id) const {
    // Every byte of the id moves the result: both halves go through a full
    // avalanche mix, and the stripe is the top bits of it (a stripe's own
    // table indexes by low bits of another hash, so the two do not correlate).
    if (stripe_shift_ == 64) return 0;
    const uint64_t h = Mix64(id.High64() ^ Mix64(id.Low64()));
    return static_cast<uint32_t>(h >> stripe_shift_);
  }

  void RollWindowIfDue(int64_t now) {
    // Cheap check first: one relaxed load per call.
    const int64_t boundary = (now - start_ns_) / options_.window_resolution.count();
    if (boundary > sampled_boundary_.load(std::memory_order_acquire)) AdvanceTo(now);
  }

  void AdvanceTo(int64_t now) {
    // Sample the window before finalizing, so verdicts reached now count in
    // the step that starts at the boundary just crossed.
    {
      MutexLock lock(&window_mu_);
      if (window_.NeedsSample(now)) {
        std::vector<ServiceCounters> totals;
        absl::flat_hash_map<uint32_t, uint64_t> unpaired;
        ShardStats shard_stats;
        EngineStats stats;
        Merge(&totals, &unpaired, &shard_stats, &stats);
        absl::flat_hash_map<uint64_t, uint64_t> edges;
        if (edges_ != nullptr) edges_->AddCounts(&edges);
        window_.Record(now, totals, shard_stats.distinct_trace_ids, edges);
        sampled_boundary_.store(window_.BoundaryAt(now), std::memory_order_release);
      }
    }
    for (auto& shard : shards_) {
      MutexLock lock(&shard->mu);
      shard->Advance(now);
    }
    // After every stripe: the candidates finalized just now take part.
    if (edges_ != nullptr) edges_->Decide(now);
  }

  void Merge(std::vector<ServiceCounters>* totals,
             absl::flat_hash_map<uint32_t, uint64_t>* unpaired, ShardStats* shard_stats,
             EngineStats* stats) {
    for (auto& shard : shards_) {
      MutexLock lock(&shard->mu);
      shard->MergeInto(totals, unpaired, shard_stats, stats);
    }
  }

  // Constant after construction.
  const EngineOptions options_;
  const Clock* const clock_;
  NameRegistry services_;      // internally synchronized
  NameRegistry destinations_;  // internally synchronized
  ExampleStore examples_;      // internally synchronized; after any shard mu
  std::unique_ptr<EdgeMatcher> edges_;  // null when off; internally synchronized; after any shard mu
  const int64_t start_ns_;
  const int stripe_shift_;  // 64 - log2(stripes)
  std::vector<std::unique_ptr<Shard>> shards_;  // size is a power of two

  std::atomic<int64_t> last_now_ns_;
  std::atomic<int64_t> sampled_boundary_{0};
  std::atomic<uint64_t> rebalances_{0};
  std::atomic<uint64_t> spans_overflow_service_{0};
  std::atomic<uint64_t> outbound_overflow_destination_{0};

  // Lock order: window_mu_ before any shard mu.
  Mutex window_mu_;
  WindowRing window_ ABSL_GUARDED_BY(window_mu_);
};

}  // namespace detail

Engine::Engine(std::unique_ptr<detail::EngineImpl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Status Engine::Create(const EngineOptions& options, std::unique_ptr<Engine>* engine) {
  if (engine == nullptr) return Status::InvalidArgument("Engine::Create: engine must not be null");
  if (Status status = options.Validate(); !status.ok()) return status;
  EngineOptions resolved = options;
  if (resolved.clock == nullptr) resolved.clock = SystemClock::Default();
  engine->reset(new Engine(std::make_unique<detail::EngineImpl>(resolved)));
  return Status::Ok();
}

IngestResult Engine::Ingest(std::span<const SpanRecord> spans) { return impl_->Ingest(spans); }

void Engine::RecordInvalidSpanContext(std::string_view service_name, SpanContextError error,
                                      uint64_t count) {
  impl_->RecordInvalidSpanContext(service_name, error, count);
}

TraceparentParse Engine::ObserveTraceparent(std::string_view service_name,
                                            std::string_view header) {
  return impl_->ObserveTraceparent(service_name, header);
}

void Engine::Advance() { impl_->Advance(); }
void Engine::BeginRebalance() { impl_->BeginRebalance(); }
Snapshot Engine::Collect() { return impl_->Collect(); }
std::vector<FindingExample> Engine::RecentExamples(const ExampleQuery& query) {
  return impl_->RecentExamples(query.service, query.finding ? &*query.finding : nullptr,
                               query.limit);
}
const EngineOptions& Engine::options() const { return impl_->options(); }

}  // namespace propwatch
