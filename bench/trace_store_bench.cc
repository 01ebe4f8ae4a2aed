// TraceStore::OnSpans at its steady state: the store full at its default
// `max_traces`, so every new trace evicts the oldest. This is the tap's
// per-span cost beside decoding and the engine (issue 13's profile put it at
// ~29 % of the tap's CPU). Spans arrive as an OTLP request groups them: by
// service (resource), so a trace's spans are spread over the batch.
//
// Compare implementations by running two builds' binaries interleaved (see
// docs/benchmarks.md "Trace store"); `Get` measures the trace API's read.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "exporter/trace_store/trace_store.h"

namespace propwatch::tap {
namespace {

constexpr int kServices = 5;
constexpr int kSpansPerTrace = 10;
constexpr int kTracesPerBatch = 50;
constexpr int kBatches = 256;  // distinct batches, cycled; trace ids renewed per cycle

// Longer than the small-string buffer, as Kubernetes service names are.
const std::string kServiceNames[kServices] = {"checkout-frontend", "payment-service-v2",
                                              "inventory-service", "shipping-quote-api",
                                              "recommendation-engine"};
const std::string kSpanNames[kSpansPerTrace] = {
    "GET /api/v1/checkout", "POST /payments/authorize", "SELECT inventory.items",
    "GET /quotes/{id}",     "recommend.for_cart",       "HTTP GET inventory",
    "redis GET cart:items", "kafka.produce orders",     "grpc Shipping/Quote",
    "render checkout page"};

TraceId TraceIdOf(uint64_t n) {
  TraceId id;
  const uint64_t words[2] = {n + 1, 0x9e3779b97f4a7c15ULL * (n + 1)};
  std::memcpy(id.bytes.data(), words, sizeof words);
  return id;
}

SpanId SpanIdOf(uint64_t trace, int i) {
  SpanId id;
  const uint64_t word = (trace + 1) * 64 + static_cast<uint64_t>(i) + 1;
  std::memcpy(id.bytes.data(), &word, sizeof word);
  return id;
}

// One batch: kTracesPerBatch traces starting at trace number `first`,
// grouped by service as in an ExportTraceServiceRequest.
void FillBatch(uint64_t first, std::vector<SpanRecord>* out) {
  out->clear();
  for (int service = 0; service < kServices; ++service) {
    for (uint64_t t = first; t < first + kTracesPerBatch; ++t) {
      for (int i = 0; i < kSpansPerTrace; ++i) {
        if (i % kServices != service) continue;
        SpanRecord r;
        r.trace_id = TraceIdOf(t);
        r.span_id = SpanIdOf(t, i);
        if (i > 0) r.parent_span_id = SpanIdOf(t, (i - 1) / 2);
        r.service_name = kServiceNames[service];
        r.name = kSpanNames[i];
        r.kind = i == 0 ? SpanKind::kServer : SpanKind::kInternal;
        r.start_unix_nano = 1'700'000'000'000'000'000ULL + t * 1000 + i;
        r.end_unix_nano = r.start_unix_nano + 500;
        out->push_back(r);
      }
    }
  }
}

void BM_TraceStoreOnSpans(benchmark::State& state) {
  TraceStore::Options options;  // defaults: the tap's
  TraceStore store(options);
  std::vector<SpanRecord> batch;
  uint64_t next_trace = 0;
  // Fill the store first so the timed loop evicts as the tap does.
  while (next_trace < 2ULL * options.max_traces) {
    FillBatch(next_trace, &batch);
    store.OnSpans(batch);
    next_trace += kTracesPerBatch;
  }
  for (auto _ : state) {
    state.PauseTiming();
    FillBatch(next_trace, &batch);
    next_trace += kTracesPerBatch;
    state.ResumeTiming();
    store.OnSpans(batch);
  }
  state.SetItemsProcessed(state.iterations() * kTracesPerBatch * kSpansPerTrace);
  benchmark::DoNotOptimize(store.Stats().traces);
}
BENCHMARK(BM_TraceStoreOnSpans);

void BM_TraceStoreGet(benchmark::State& state) {
  TraceStore store(TraceStore::Options{});
  std::vector<SpanRecord> batch;
  for (uint64_t t = 0; t < kBatches * kTracesPerBatch; t += kTracesPerBatch) {
    FillBatch(t, &batch);
    store.OnSpans(batch);
  }
  const uint64_t stored_from = kBatches * kTracesPerBatch - 5'000;  // well inside the store
  uint64_t n = 0;
  for (auto _ : state) {
    auto trace = store.Get(TraceIdOf(stored_from + (n++ % 5'000)));
    benchmark::DoNotOptimize(trace);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TraceStoreGet);

}  // namespace
}  // namespace propwatch::tap

int main(int argc, char** argv) {
  // As the tap runs (exporter/tap/main.cc): absl's debug-mode deadlock
  // detection off, else it dominates a per-span lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
