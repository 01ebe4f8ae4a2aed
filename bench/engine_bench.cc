// Engine benchmarks (Google Benchmark). What they measure and how to read
// them: docs/benchmarks.md "Engine"; how to build and run: bench/README.md.
//
// Workload, shared by every benchmark:
//   - traces of 10 spans over 5 services (gateway -> auth, gateway -> orders
//     -> inventory -> postgres, orders -> kafka -> shipping), with CLIENT,
//     SERVER, PRODUCER, CONSUMER and INTERNAL spans;
//   - batches of 500 spans = 50 whole traces, laid out as a collector batch
//     holding SDK exports: grouped by service (one ResourceSpans each), leaf
//     services first, and inside a service the 50 traces one after another,
//     each in end-time order. So every child arrives before its parent, in the
//     same batch, and 9 of the 10 spans of a trace go through a pending cell;
//   - trace and span ids from a bijective 64-bit mixer over a counter, so every
//     trace id is distinct and the ids are spread like random ones;
//   - the records of the timed batches are generated before the timed loop.
//
// Steady state with N live traces: trace_idle_timeout is 30 s and the
// ManualClock moves by dt = 30 s * 50 / N before each batch, then Advance()
// runs, so exactly the traces of the last N / 50 batches (N traces) are live
// after every Ingest: the engine finalizes 50 traces per batch as 50 new ones
// arrive. The engine is first warmed through two full generations of traces
// (2N) so its pools and free lists are in their steady shape. After the timed
// loop the benchmark reads Snapshot.stats and reports live_traces and friends
// as counters; a run with an eviction, a broken parent or a wrong count fails.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <tuple>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "propwatch/clock.h"
#include "propwatch/engine.h"
#include "propwatch/engine_options.h"
#include "propwatch/snapshot.h"
#include "propwatch/span_record.h"
#include "propwatch/trace_context.h"

namespace propwatch {
namespace {

constexpr int kSpansPerTrace = 10;
constexpr int kTracesPerBatch = 50;
constexpr int kSpansPerBatch = kSpansPerTrace * kTracesPerBatch;  // ~ an SDK export batch (512)
constexpr int kTimedBatches = 2000;  // iterations of every steady-state benchmark: 1M spans
constexpr Duration kIdleTimeout = std::chrono::seconds(30);

// Counter streams: warm-up traces, timed traces (one stream per thread).
constexpr uint64_t kWarmStream = 0;
constexpr uint64_t kTimedStream = uint64_t{1} << 40;
constexpr uint64_t kThreadStride = uint64_t{1} << 36;

// splitmix64's finalizer: a bijection on 64-bit words.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

template <size_t N>
ByteId<N> IdFrom(uint64_t high, uint64_t low) {
  ByteId<N> id;
  std::memcpy(id.bytes.data(), &high, 8);
  if constexpr (N == 16) std::memcpy(id.bytes.data() + 8, &low, 8);
  return id;
}

struct SpanShape {
  std::string_view service;
  std::string_view name;
  SpanKind kind;
  int parent;  // index in the trace, -1 for the root
  std::string_view destination;
  uint64_t start_ns, end_ns;  // offsets from the trace start
};

// One 10-span trace. Service of each span: gateway x3, auth, orders x3,
// inventory x2, shipping.
constexpr SpanShape kShape[kSpansPerTrace] = {
    {"gateway", "GET /checkout", SpanKind::kServer, -1, "", 0, 9'000'000},
    {"gateway", "POST auth", SpanKind::kClient, 0, "auth", 100'000, 1'100'000},
    {"auth", "POST /verify", SpanKind::kServer, 1, "", 200'000, 1'000'000},
    {"gateway", "POST orders", SpanKind::kClient, 0, "orders", 1'200'000, 8'800'000},
    {"orders", "POST /orders", SpanKind::kServer, 3, "", 1'300'000, 8'700'000},
    {"orders", "GET inventory", SpanKind::kClient, 4, "inventory", 1'400'000, 5'400'000},
    {"inventory", "GET /stock", SpanKind::kServer, 5, "", 1'500'000, 5'300'000},
    {"inventory", "SELECT stock", SpanKind::kClient, 6, "postgres", 1'600'000, 5'200'000},
    {"orders", "orders.created publish", SpanKind::kProducer, 4, "orders.created", 5'500'000,
     5'900'000},
    {"shipping", "orders.created process", SpanKind::kConsumer, 8, "", 6'000'000, 7'000'000},
};

// Service groups in batch order (leaf services first) and, inside each, the
// trace's spans in end-time order: children before parents throughout.
const std::vector<std::vector<int>> kGroups = {
    {9},        // shipping
    {7, 6},     // inventory
    {2},        // auth
    {5, 8, 4},  // orders
    {1, 3, 0},  // gateway
};

uint64_t TraceHigh(uint64_t trace) { return Mix(trace); }
uint64_t TraceLow(uint64_t trace) { return Mix(trace ^ 0x5bd1e9955bd1e995ull); }
uint64_t SpanWord(uint64_t trace, int index) { return Mix(trace * 16 + index + 1); }

// The second trace of a request whose gateway -> orders hop lost context.
constexpr uint64_t kHopSalt = 0x9e3779b97f4a7c15ull;

// Writes the kSpansPerBatch records of traces [first, first + kTracesPerBatch).
// Outbound spans carry their destination attributes (peer.service or
// messaging.destination.name), as instrumentations set them. `broken_hop`:
// the orders subtree (spans 4-9) starts a trace of its own, as when the
// gateway's client does not inject traceparent: an orphan SERVER root in one
// trace, an unpaired CLIENT span in the other, for edge attribution to pair.
void MakeBatch(uint64_t first, SpanRecord* out, bool broken_hop = false) {
  for (const std::vector<int>& group : kGroups) {
    for (uint64_t t = first; t < first + kTracesPerBatch; ++t) {
      const TraceId trace_id = IdFrom<16>(TraceHigh(t), TraceLow(t));
      const uint64_t trace_start = 1'700'000'000'000'000'000ull + t * 1'000'000;
      for (int i : group) {
        const SpanShape& shape = kShape[i];
        SpanRecord& r = *out++;
        r = SpanRecord{};
        r.trace_id = trace_id;
        r.span_id = IdFrom<8>(SpanWord(t, i), 0);
        if (shape.parent >= 0) r.parent_span_id = IdFrom<8>(SpanWord(t, shape.parent), 0);
        r.service_name = shape.service;
        r.name = shape.name;
        r.kind = shape.kind;
        r.status = StatusCode::kUnset;
        r.start_unix_nano = trace_start + shape.start_ns;
        r.end_unix_nano = trace_start + shape.end_ns;
        r.destination = shape.destination;
        if (shape.kind == SpanKind::kClient) r.peer_service = shape.destination;
        if (shape.kind == SpanKind::kProducer) r.messaging_destination = shape.destination;
        if (shape.kind == SpanKind::kConsumer) r.messaging_destination = kShape[8].destination;
        if (broken_hop && i >= 4) {
          r.trace_id = IdFrom<16>(TraceHigh(t ^ kHopSalt), TraceLow(t ^ kHopSalt));
          if (i == 4) r.parent_span_id = SpanId{};
        }
      }
    }
  }
}

// `batches` consecutive batches starting at trace `first`, generated once per
// process and reused by every repetition (each repetition has a new engine).
const std::vector<SpanRecord>& Batches(uint64_t first, size_t batches, bool broken_hop = false) {
  static auto* cache =
      new std::map<std::tuple<uint64_t, size_t, bool>, std::vector<SpanRecord>>();
  std::vector<SpanRecord>& records = (*cache)[{first, batches, broken_hop}];
  if (records.empty()) {
    records.resize(batches * kSpansPerBatch);
    for (size_t b = 0; b < batches; ++b) {
      MakeBatch(first + b * kTracesPerBatch, records.data() + b * kSpansPerBatch, broken_hop);
    }
  }
  return records;
}

std::span<const SpanRecord> BatchAt(const std::vector<SpanRecord>& records, size_t b) {
  const size_t count = records.size() / kSpansPerBatch;
  return {records.data() + (b % count) * kSpansPerBatch, static_cast<size_t>(kSpansPerBatch)};
}

// VmHWM (peak RSS) from /proc/self/status, in bytes; 0 if unavailable.
uint64_t PeakRssBytes() {
  uint64_t kib = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      unsigned long long v = 0;
      if (std::sscanf(line, "VmHWM: %llu kB", &v) == 1) kib = v;
    }
    std::fclose(f);
  }
  return kib * 1024;
}

// Resets VmHWM to the current RSS (Linux >= 4.0). False if unsupported.
bool ResetPeakRss() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

uint64_t RssBytes() {
  long total = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &total, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// An engine held at `live` live traces (see the file comment).
struct Steady {
  int64_t live = 0;
  int64_t warm_traces = 0;
  Duration dt{};
  ManualClock clock;
  std::unique_ptr<Engine> engine;

  // `headroom`: max_traces slack, as a fraction, for sharded engines.
  // `orphaned`: no entry-point service, so every trace's root is an orphan
  // (one finding per trace, all in one example series).
  // `broken_hop`: MakeBatch's broken gateway -> orders hop (two traces per
  // request); `edges`: EngineOptions::edge_attribution.
  Steady(int64_t live_traces, Duration retention, uint32_t shards, double headroom = 0.05,
         bool orphaned = false, uint32_t examples_per_finding = 5, bool broken_hop = false,
         bool edges = true)
      : live(live_traces), dt(kIdleTimeout * kTracesPerBatch / live_traces) {
    EngineOptions options;
    options.edge_attribution = edges;
    if (!orphaned) options.entry_point_services = {"gateway"};
    options.examples_per_finding = examples_per_finding;
    options.trace_idle_timeout = kIdleTimeout;
    options.late_span_retention = retention;
    // Live plus retained, plus the batch that is in flight before Advance().
    // The cap is split evenly over the shards while trace ids are not, so a
    // sharded engine gets some headroom.
    const int64_t retained = live * retention.count() / kIdleTimeout.count();
    int64_t cap = (live + retained + 2 * kTracesPerBatch) * (broken_hop ? 2 : 1);
    if (shards != 1) cap += static_cast<int64_t>(static_cast<double>(cap) * headroom);
    options.max_traces = static_cast<uint32_t>(cap);
    options.shards = shards;
    options.clock = &clock;
    if (!Engine::Create(options, &engine).ok()) std::abort();

    // Two generations of live traces plus the retention period, generated on
    // the fly (not timed). Afterwards every pool is at its steady size.
    warm_traces = 2 * live + retained;
    std::vector<SpanRecord> batch(kSpansPerBatch);
    for (int64_t t = 0; t < warm_traces; t += kTracesPerBatch) {
      MakeBatch(kWarmStream + t, batch.data(), broken_hop);
      Step(batch);
    }
  }

  // One batch at the steady-state rate.
  void Step(std::span<const SpanRecord> batch) {
    clock.Advance(dt);
    engine->Advance();
    IngestResult r = engine->Ingest(batch);
    benchmark::DoNotOptimize(r);
  }

  // The first warm-up trace of the batches that are live now.
  uint64_t FirstLiveWarmTrace() const { return kWarmStream + warm_traces - live; }
};

// Reads the engine's stats into counters; fails the run if the steady state
// was not what the benchmark claims.
void Report(benchmark::State& state, Engine& engine, int64_t expect_live, bool expect_clean) {
  Snapshot snap = engine.Collect();
  const EngineStats& s = snap.stats;
  uint64_t broken = 0, orphans = 0, duplicates = 0;
  for (const ServiceSnapshot& svc : snap.services) {
    broken += svc.total.broken_parents;
    orphans += svc.total.orphan_spans();
    duplicates += svc.total.duplicate_spans;
  }
  state.counters["live_traces"] = static_cast<double>(s.live_traces);
  state.counters["retained_traces"] = static_cast<double>(s.finalized_traces_retained);
  state.counters["evicted"] = static_cast<double>(s.traces_evicted_capacity);
  const uint64_t tracked = s.live_traces + s.finalized_traces_retained;
  state.counters["tracked_B_per_trace"] =
      tracked ? static_cast<double>(s.tracked_bytes) / static_cast<double>(tracked) : 0.0;
  if (s.traces_evicted_capacity != 0 || s.finalized_traces_displaced != 0) {
    state.SkipWithError("traces were evicted: max_traces too small for the steady state");
  } else if (expect_live >= 0 && static_cast<int64_t>(s.live_traces) != expect_live) {
    state.SkipWithError("live trace count is not the target");
  } else if (expect_clean && (broken != 0 || orphans != 0 || duplicates != 0)) {
    state.SkipWithError("healthy traces produced broken parents, orphans or duplicates");
  }
}

// --- steady-state ingest ------------------------------------------------------

// The timed loop, out of line so profilers can tell it from the warm-up
// (e.g. valgrind --tool=callgrind --toggle-collect='*Timed*').
[[gnu::noinline]] void TimedIngest(benchmark::State& state, Steady& steady,
                                   const std::vector<SpanRecord>& batches) {
  size_t b = 0;
  for (auto _ : state) steady.Step(BatchAt(batches, b++));
}

void RunIngest(benchmark::State& state, int64_t live, Duration retention) {
  const auto& timed = Batches(kTimedStream, kTimedBatches);
  Steady steady(live, retention, /*shards=*/1);
  TimedIngest(state, steady, timed);
  state.SetItemsProcessed(state.iterations() * kSpansPerBatch);
  Report(state, *steady.engine, live, /*expect_clean=*/true);
}

// Every root an orphan (no entry-point service), with finding examples kept
// (range(0) = examples_per_finding, 5 is the default) or off (0): what
// keeping an example per finding costs, compared in the same run.
void BM_IngestOrphaned(benchmark::State& state) {
  const auto& timed = Batches(kTimedStream, kTimedBatches);
  Steady steady(100'000, std::chrono::seconds(0), /*shards=*/1, 0.05, /*orphaned=*/true,
                static_cast<uint32_t>(state.range(0)));
  TimedIngest(state, steady, timed);
  state.SetItemsProcessed(state.iterations() * kSpansPerBatch);
  Report(state, *steady.engine, 100'000, /*expect_clean=*/false);
  const Snapshot snap = steady.engine->Collect();
  const ServiceSnapshot* gateway = snap.Find("gateway");
  if (gateway == nullptr || gateway->total.orphan_spans() == 0) {
    state.SkipWithError("the orphaned workload produced no orphans");
  } else if ((state.range(0) > 0) != (snap.stats.example_series > 0)) {
    state.SkipWithError("examples kept when off, or none kept when on");
  }
}
BENCHMARK(BM_IngestOrphaned)
    ->ArgNames({"examples"})
    ->Arg(0)
    ->Arg(5)
    ->Iterations(kTimedBatches)
    ->Unit(benchmark::kMillisecond);

// Broken-edge attribution, on (range(0) = 1) against off (0) in the same
// run, on the healthy workload (range(1) = 0: only the inventory -> postgres
// call is unpaired, a candidate nothing claims) and on the broken hop (1:
// every request also makes an orphan SERVER root and an unpaired CLIENT span
// for the matcher to pair). 10,000 live requests; the run fails unless every
// decided orphan was paired with the gateway.
void BM_IngestEdges(benchmark::State& state) {
  const bool edges = state.range(0) != 0, broken_hop = state.range(1) != 0;
  const auto& timed = Batches(kTimedStream, kTimedBatches, broken_hop);
  Steady steady(10'000, std::chrono::seconds(0), /*shards=*/1, 0.05, /*orphaned=*/false,
                /*examples_per_finding=*/5, broken_hop, edges);
  TimedIngest(state, steady, timed);
  state.SetItemsProcessed(state.iterations() * kSpansPerBatch);
  Report(state, *steady.engine, broken_hop ? -1 : 10'000, /*expect_clean=*/false);
  const Snapshot snap = steady.engine->Collect();
  uint64_t paired = 0, unknown = 0;
  for (const BrokenEdgeCount& e : snap.broken_edges) {
    (e.caller_service == "gateway" && e.callee_service == "orders" ? paired : unknown) += e.total;
  }
  state.counters["edges_paired"] = static_cast<double>(paired);
  state.counters["candidates"] = static_cast<double>(snap.stats.edge_outbound_candidates);
  state.counters["candidates_evicted"] = static_cast<double>(snap.stats.edge_outbound_evicted);
  if (!edges && (paired | unknown) != 0) {
    state.SkipWithError("edges counted with attribution off");
  } else if (edges && broken_hop && (paired == 0 || unknown != 0)) {
    state.SkipWithError("a broken hop was not attributed to its caller");
  } else if (snap.stats.edge_orphans_evicted != 0) {
    state.SkipWithError("pending orphans were evicted");
  }
}
BENCHMARK(BM_IngestEdges)
    ->ArgNames({"edges", "broken_hop"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Iterations(kTimedBatches)
    ->Unit(benchmark::kMillisecond);

// One thread, one shard: spans/s per core with range(0) live traces.
// range(1): late_span_retention in seconds (0: finalized traces are dropped at
// once; 60: the default, which keeps 2N finalized traces as well).
void BM_Ingest(benchmark::State& state) {
  RunIngest(state, state.range(0), std::chrono::seconds(state.range(1)));
}
BENCHMARK(BM_Ingest)
    ->ArgNames({"live", "retention_s"})
    ->Args({1'000, 0})
    ->Args({100'000, 0})
    ->Args({1'000'000, 0})
    ->Args({100'000, 60})
    ->Iterations(kTimedBatches)
    ->Unit(benchmark::kMillisecond);

// The timed loop of BM_IngestAllDuplicates: Ingest only, the clock stands still.
[[gnu::noinline]] void TimedResend(benchmark::State& state, Engine& engine,
                                   const std::vector<SpanRecord>& batches) {
  size_t b = 0;
  for (auto _ : state) {
    IngestResult r = engine.Ingest(BatchAt(batches, b++));
    benchmark::DoNotOptimize(r);
  }
}

// Baseline: the same engine at range(0) live traces, fed batches whose every
// span it already holds (the live traces re-sent). Each span pays the batch
// preparation, the lock, the trace lookup and the scan of the trace's cells,
// but tracks nothing, so the gap to BM_Ingest is the cost of tracking a span.
void BM_IngestAllDuplicates(benchmark::State& state) {
  const int64_t live = state.range(0);
  Steady steady(live, Duration::zero(), /*shards=*/1);
  // The oldest live batches, up to kTimedBatches of them: each is sent once.
  const auto& resent =
      Batches(steady.FirstLiveWarmTrace(), std::min<size_t>(live / kTracesPerBatch, kTimedBatches));
  TimedResend(state, *steady.engine, resent);
  state.SetItemsProcessed(state.iterations() * kSpansPerBatch);
  Report(state, *steady.engine, live, /*expect_clean=*/false);
  Snapshot snap = steady.engine->Collect();
  uint64_t duplicates = 0;
  for (const ServiceSnapshot& svc : snap.services) duplicates += svc.total.duplicate_spans;
  state.counters["duplicates"] = static_cast<double>(duplicates);
  if (duplicates != static_cast<uint64_t>(state.iterations()) * kSpansPerBatch) {
    state.SkipWithError("re-sent spans were not all duplicates");
  }
}
BENCHMARK(BM_IngestAllDuplicates)
    ->ArgName("live")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(kTimedBatches)
    ->Unit(benchmark::kMillisecond);

// Baseline: the least a trace table must do per span, on the same span stream
// at the same population: one absl::flat_hash_set<TraceId> probe per span, an
// insert per new trace and a FIFO erase keeping `live` traces.
void RunHashSet(benchmark::State& state, int64_t live, uint64_t timed_stream) {
  const auto& timed = Batches(timed_stream, kTimedBatches);
  absl::flat_hash_set<TraceId> set;
  std::vector<TraceId> ring(live);
  size_t head = 0;
  auto see = [&](const TraceId& id) {
    if (set.contains(id)) return;
    if (set.size() == static_cast<size_t>(live)) set.erase(ring[head]);
    set.insert(id);
    ring[head] = id;
    head = (head + 1) % ring.size();
  };
  std::vector<SpanRecord> batch(kSpansPerBatch);
  for (int64_t t = 0; t < 2 * live; t += kTracesPerBatch) {
    MakeBatch(kWarmStream + t, batch.data());
    for (const SpanRecord& r : batch) see(r.trace_id);
  }
  size_t b = 0;
  for (auto _ : state) {
    for (const SpanRecord& r : BatchAt(timed, b++)) see(r.trace_id);
  }
  state.SetItemsProcessed(state.iterations() * kSpansPerBatch);
  state.counters["live_traces"] = static_cast<double>(set.size());
}

void BM_HashSetOnly(benchmark::State& state) { RunHashSet(state, state.range(0), kTimedStream); }
BENCHMARK(BM_HashSetOnly)
    ->ArgName("live")
    ->Arg(1'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(kTimedBatches)
    ->Unit(benchmark::kMillisecond);

// Comparison: BM_Ingest at range(0) live traces with absl's Mutex deadlock
// detection off. Debian's libabsl is built without NDEBUG, so by default every
// absl::Mutex lock also runs the debug-mode lock-order tracking. The engine
// locks std::mutex / std::shared_mutex (engine/src/mutex.h), so an embedder
// needs no global switch: this benchmark should match BM_Ingest/live:100000/
// retention:0 within noise. The mode is restored afterwards (to kAbort,
// absl's default in a build without NDEBUG).
void BM_IngestNoDeadlockDetection(benchmark::State& state) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  RunIngest(state, state.range(0), Duration::zero());
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
}
BENCHMARK(BM_IngestNoDeadlockDetection)
    ->ArgName("live")
    ->Arg(100'000)
    ->Iterations(kTimedBatches)
    ->Unit(benchmark::kMillisecond);

// --- two threads --------------------------------------------------------------

// One engine with the default shard count (4 on this 2-core machine), fed by
// 1 or 2 threads, each with its own trace stream; range(0) live traces in
// total. items_per_second is the sum over threads (real time).
// range(1) = 0 turns absl's Mutex deadlock detection off for the run (see
// BM_IngestNoDeadlockDetection): in a build of absl without NDEBUG every lock
// acquisition also takes one process-wide spin lock (the lock-order graph's).
// range(2) says who calls Engine::Advance() after each batch: 1 = every
// ingest thread (the single-thread protocol), 0 = thread 0 only (as an
// embedder with one timer thread would). With thread 0 only, the other thread
// can run ahead of the finalization for a while, so that variant gets 50%
// max_traces headroom instead of 5% and its live count can exceed the target.
Steady* g_shared = nullptr;

void SharedSetup(const benchmark::State& state) {
  if (state.range(1) == 0) absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  g_shared = new Steady(state.range(0), Duration::zero(), /*shards=*/0,
                        /*headroom=*/state.range(2) ? 0.05 : 0.5);
}
void SharedTeardown(const benchmark::State& state) {
  delete g_shared;
  g_shared = nullptr;
  if (state.range(1) == 0) absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
}

void BM_IngestThreads(benchmark::State& state) {
  const auto& timed =
      Batches(kTimedStream + static_cast<uint64_t>(state.thread_index() + 1) * kThreadStride,
              kTimedBatches);
  const bool advance = state.range(2) != 0 || state.thread_index() == 0;
  Steady& steady = *g_shared;
  size_t b = 0;
  for (auto _ : state) {
    steady.clock.Advance(steady.dt);
    if (advance) steady.engine->Advance();
    IngestResult r = steady.engine->Ingest(BatchAt(timed, b++));
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * kSpansPerBatch);
  // The loop ends at a barrier: every thread is done ingesting here.
  if (state.thread_index() == 0) {
    // Each thread moves the clock, so batches of the other thread may sit in
    // the last dt: the live count is reported, not checked against the target.
    Report(state, *steady.engine, /*expect_live=*/-1, /*expect_clean=*/true);
  }
}
BENCHMARK(BM_IngestThreads)
    ->ArgNames({"live", "deadlock_detection", "advance_all_threads"})
    ->Args({100'000, 1, 1})
    ->Args({100'000, 0, 1})
    ->Args({100'000, 1, 0})
    ->Setup(SharedSetup)
    ->Teardown(SharedTeardown)
    ->Threads(1)
    ->Threads(2)
    ->Iterations(kTimedBatches)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Machine baseline for BM_IngestThreads: the hash-set-only work of
// BM_HashSetOnly, range(0) traces per thread, on 1 or 2 threads that share
// nothing. Its 2-thread / 1-thread ratio is the parallelism the machine gave
// this run (2 vCPUs, maybe shared with other work), to read the engine's ratio
// against.
void BM_HashSetOnlyThreads(benchmark::State& state) {
  RunHashSet(state, state.range(0),
             kTimedStream + static_cast<uint64_t>(state.thread_index() + 1) * kThreadStride);
}
BENCHMARK(BM_HashSetOnlyThreads)
    ->ArgName("live")
    ->Arg(100'000)
    ->Threads(1)
    ->Threads(2)
    ->Iterations(kTimedBatches)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// --- bytes per tracked trace --------------------------------------------------

// range(0) complete 10-span traces, all live (nothing finalizes: the clock
// stands still), in one shard with max_traces = range(0). Counters, per trace:
//   tracked_B_per_trace      Snapshot.stats.tracked_bytes (pool capacity) / live;
//   rss_B_per_trace          growth of the process RSS (/proc/self/statm) from
//                            before the engine is built (after malloc_trim) to
//                            after the last batch;
//   rss_trimmed_B_per_trace  the same after a second malloc_trim, i.e. without
//                            freed heap memory malloc still holds;
//   peak_rss_B_per_trace     VmHWM growth over the fill (reset through
//                            /proc/self/clear_refs): includes pool re-allocations.
// The time of this benchmark includes generating the records; it is not a
// throughput figure.
void BM_MemoryPerTrace(benchmark::State& state) {
  const int64_t traces = state.range(0);
  std::vector<SpanRecord> batch(kSpansPerBatch);
  uint64_t rss_before = 0, rss_after = 0, rss_trimmed = 0, rss_peak = 0;
  bool peak_reset = false;
  EngineStats stats;
  for (auto _ : state) {
    malloc_trim(0);
    peak_reset = ResetPeakRss();
    rss_before = RssBytes();
    {
      ManualClock clock;
      EngineOptions options;
      options.entry_point_services = {"gateway"};
      options.max_traces = static_cast<uint32_t>(traces);
      options.shards = 1;
      options.clock = &clock;
      std::unique_ptr<Engine> engine;
      if (!Engine::Create(options, &engine).ok()) std::abort();
      for (int64_t t = 0; t < traces; t += kTracesPerBatch) {
        MakeBatch(kWarmStream + t, batch.data());
        engine->Ingest(batch);
      }
      stats = engine->Collect().stats;
      rss_after = RssBytes();
      rss_peak = PeakRssBytes();
      malloc_trim(0);
      rss_trimmed = RssBytes();
    }
  }
  const double live = static_cast<double>(stats.live_traces);
  state.counters["live_traces"] = live;
  state.counters["tracked_B_per_trace"] = static_cast<double>(stats.tracked_bytes) / live;
  state.counters["rss_B_per_trace"] = static_cast<double>(rss_after - rss_before) / live;
  state.counters["rss_trimmed_B_per_trace"] = static_cast<double>(rss_trimmed - rss_before) / live;
  if (peak_reset) {
    state.counters["peak_rss_B_per_trace"] = static_cast<double>(rss_peak - rss_before) / live;
  }
  if (stats.live_traces != static_cast<uint64_t>(traces) || stats.traces_evicted_capacity != 0) {
    state.SkipWithError("not every trace is live");
  }
}
BENCHMARK(BM_MemoryPerTrace)
    ->ArgName("traces")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace propwatch

// ParseTraceparent on valid headers (every captured header is parsed once
// at ingest): 16 distinct headers, cycled.
void BM_ParseTraceparent(benchmark::State& state) {
  std::vector<std::string> headers;
  for (int i = 0; i < 16; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "00-%016llx%016llx-%016llx-01",
                  static_cast<unsigned long long>(0x4bf92f3577b34da6ULL * (i + 1)),
                  static_cast<unsigned long long>(0xa3ce929d0e0e4736ULL ^ i),
                  static_cast<unsigned long long>(0x00f067aa0ba902b7ULL + i));
    headers.emplace_back(buf);
  }
  size_t i = 0;
  for (auto _ : state) {
    propwatch::TraceparentParse parse = propwatch::ParseTraceparent(headers[i++ & 15]);
    benchmark::DoNotOptimize(parse);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTraceparent);

BENCHMARK_MAIN();
