// otlp_load: OTLP/gRPC load generator for the tap, with same-run baselines.
//
// Pre-encodes --requests distinct ExportTraceServiceRequest messages of
// --batch-spans spans each (10-span traces over 5 services, random ids,
// a few attributes per span incl. peer.service and a captured
// `http.request.header.traceparent`), then per repetition:
//   1. decode-only baseline: DecodeTraceRequestProto over the same requests,
//      one thread, result discarded;
//   2. engine-only baseline: the requests decoded once up front, then
//      Engine::Ingest of the decoded records, one thread, with the tap's
//      default EngineOptions and an Advance() per second like the tap;
//   3. load: a fresh in-process Tap on 127.0.0.1:0 (or --target=host:port,
//      an external tap) driven by --concurrency callers, each with one
//      unary call in flight at a time through the gRPC generic stub (raw
//      bytes: the client does not serialize), for --seconds after --warmup;
//      --rate paces them to an offered load (spans/s) instead.
// Spans/s of the load count spans of calls that returned OK inside the timed
// window; after each repetition the in-process tap's own engine counters
// (Snapshot totals) are checked against the spans of every OK call. A
// response whose partial_success rejects spans fails the run; an empty one
// (the Collector always sends it) does not.
//
// Every send is a copy of a pre-encoded request with its trace ids (binary
// and in the traceparent strings) XORed with a per-send value, so the tap
// sees new traces, not re-sent duplicates; the engine-only baseline does the
// same to the decoded records. Copy and patch are client work inside the
// timed loop (a memcpy of the request and ~50 16-byte stores).
//
// Output: one line per phase and repetition, then a Markdown summary (median,
// min..max over repetitions). Exit status 1 when a check fails.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "exporter/otlp/otlp_decoder.h"
#include "exporter/receiver/grpc_receiver.h"
#include "exporter/tap/tap.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "exporter/flags/flags.h"
#include "propwatch/engine.h"

namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using SteadyClock = std::chrono::steady_clock;

struct Flags {
  int batch_spans = 512;
  int requests = 64;  // distinct pre-encoded requests (K)
  int concurrency = 4;
  int channels = 1;  // gRPC channels (connections) the callers share round-robin
  double seconds = 10;
  double warmup = 1;
  double baseline_seconds = 2;
  int repetitions = 5;
  std::string target;  // empty: in-process tap
  bool deadlock_detection = false;  // absl debug-mode check; off as in the propwatch binary
  uint64_t seed = 1;
  double rate = 0;  // spans/s over all callers; 0: as fast as the target answers
};

// 0: run; 1: --help printed; 2: bad flags (message printed).
int ParseFlags(int argc, char** argv, Flags* f) {
  propwatch::flags::FlagSet set(
      "Usage: otlp_load [--target=HOST:PORT] [--seconds=10] [--concurrency=4] [...]",
      "OTLP/gRPC load generator: pre-encoded requests of 10-span traces against an\n"
      "in-process tap (or --target), with same-run decode-only and engine-only\n"
      "baselines. docs/benchmarks.md explains the method.");
  set.Int("batch-spans", &f->batch_spans, "Spans per request.", 1, 1 << 20);
  set.Int("requests", &f->requests, "Distinct pre-encoded requests.", 1, 1 << 20);
  set.Int("concurrency", &f->concurrency, "Calls in flight.", 1, 4096);
  set.Int("channels", &f->channels, "gRPC channels the callers share round-robin.", 1, 1024);
  set.Double("seconds", &f->seconds, "Timed load per repetition.", 1e-3, 1e6);
  set.Double("warmup", &f->warmup, "Untimed load before each repetition.", 0, 1e6);
  set.Double("baseline-seconds", &f->baseline_seconds, "Time per baseline measurement.", 1e-3,
             1e6);
  set.Int("repetitions", &f->repetitions, "Repetitions of the whole measurement.", 1, 1000);
  set.String("target", &f->target, "An external tap's OTLP/gRPC address; empty: in-process.");
  set.Bool("deadlock-detection", &f->deadlock_detection,
           "abseil's debug-mode deadlock detection (off, as in the propwatch binary).");
  set.Uint64("seed", &f->seed, "Random seed of the workload.");
  set.Double("rate", &f->rate,
             "Offered load in spans/s over all callers (each paced on a fixed schedule, "
             "never bursting to catch up); 0: as fast as the target answers.",
             0, 1e9);
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  auto parsed = set.Parse(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "otlp_load: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  if (parsed->help) {
    std::fputs(set.Usage().c_str(), stdout);
    return 1;
  }
  return 0;
}

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer: bijective
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// ---------------------------------------------------------------- workload

// One 10-span trace, parents first (so any prefix is a consistent trace).
struct TemplateSpan {
  const char* service;
  const char* name;
  int kind;     // OTLP SpanKind value
  int parent;   // index in the template, -1 for the root
  const char* dest_key;  // destination attribute, or nullptr
  const char* dest_value;
  bool captured_traceparent;  // inbound SERVER span with the header captured
};
constexpr int kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5;
const TemplateSpan kTrace[10] = {
    {"gateway", "GET /checkout", kServer, -1, nullptr, nullptr, false},
    {"gateway", "POST auth", kClient, 0, "peer.service", "auth", false},
    {"auth", "POST /verify", kServer, 1, nullptr, nullptr, true},
    {"gateway", "POST orders", kClient, 0, "peer.service", "orders", false},
    {"orders", "POST /orders", kServer, 3, nullptr, nullptr, true},
    {"orders", "GET inventory", kClient, 4, "peer.service", "inventory", false},
    {"inventory", "GET /stock", kServer, 5, nullptr, nullptr, true},
    {"inventory", "SELECT stock", kClient, 6, "peer.service", "postgres", false},
    {"orders", "orders.created publish", kProducer, 4, "messaging.destination.name",
     "orders.created", false},
    {"shipping", "orders.created process", kConsumer, 8, nullptr, nullptr, false},
};
// Resource order in a request: leaf services first, like a collector batch.
const char* const kServices[] = {"shipping", "inventory", "auth", "orders", "gateway"};

std::string Hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[p[i] >> 4];
    s[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return s;
}

struct PreEncoded {
  std::string bytes;
  uint64_t spans = 0;
  // Per trace of the request: its original id and where it occurs.
  struct TraceSites {
    std::array<uint8_t, 16> id;
    std::vector<uint32_t> binary;  // offsets of the 16 id bytes
    std::vector<uint32_t> hex;     // offsets of its 32 hex digits (traceparents)
  };
  std::vector<TraceSites> traces;
};

void AddString(opentelemetry::proto::common::v1::KeyValue* kv, const std::string& key,
               const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

PreEncoded BuildRequest(int batch_spans, std::mt19937_64& rng, uint64_t start_ns) {
  struct Span {
    int tmpl;
    std::array<uint8_t, 16> trace;
    std::array<uint8_t, 8> id, parent;
    uint64_t start, end;
  };
  const int whole = batch_spans / 10, rest = batch_spans % 10;
  const int ntraces = whole + (rest ? 1 : 0);
  std::vector<std::vector<Span>> traces(ntraces);
  PreEncoded out;
  for (int t = 0; t < ntraces; ++t) {
    const int n = t < whole ? 10 : rest;
    std::array<uint8_t, 16> tid;
    for (int i = 0; i < 2; ++i) {
      uint64_t v = rng();
      std::memcpy(tid.data() + 8 * i, &v, 8);
    }
    const uint64_t t0 = start_ns + static_cast<uint64_t>(t) * 1'000'000;
    for (int s = 0; s < n; ++s) {
      Span sp{};
      sp.tmpl = s;
      sp.trace = tid;
      uint64_t v = rng() | 1;  // never all zero
      std::memcpy(sp.id.data(), &v, 8);
      if (kTrace[s].parent >= 0) sp.parent = traces[t][kTrace[s].parent].id;
      sp.start = t0 + static_cast<uint64_t>(s) * 1'000'000;
      sp.end = t0 + 20'000'000 - static_cast<uint64_t>(s) * 1'000'000;
      traces[t].push_back(sp);
    }
    out.traces.push_back({tid, {}, {}});
  }

  ExportTraceServiceRequest req;
  for (const char* service : kServices) {
    auto* rs = req.add_resource_spans();
    auto* res = rs->mutable_resource();
    AddString(res->add_attributes(), "service.name", service);
    AddString(res->add_attributes(), "service.version", "1.4.2");
    AddString(res->add_attributes(), "host.name", absl::StrCat(service, "-7d9f8b6c5-x2k4q"));
    AddString(res->add_attributes(), "telemetry.sdk.language", "go");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
    ss->mutable_scope()->set_version("0.46.1");
    for (const auto& trace : traces) {
      // Inside a service, each trace's spans in end-time order (children first).
      for (auto it = trace.rbegin(); it != trace.rend(); ++it) {
        const TemplateSpan& tm = kTrace[it->tmpl];
        if (std::strcmp(tm.service, service) != 0) continue;
        auto* span = ss->add_spans();
        span->set_trace_id(it->trace.data(), 16);
        span->set_span_id(it->id.data(), 8);
        if (tm.parent >= 0) span->set_parent_span_id(it->parent.data(), 8);
        span->set_name(tm.name);
        span->set_kind(static_cast<opentelemetry::proto::trace::v1::Span::SpanKind>(tm.kind));
        span->set_start_time_unix_nano(it->start);
        span->set_end_time_unix_nano(it->end);
        span->set_flags(0x101);
        if (tm.kind == kServer || tm.kind == kClient) {
          AddString(span->add_attributes(), "http.request.method",
                    tm.name[0] == 'G' ? "GET" : "POST");
          auto* code = span->add_attributes();
          code->set_key("http.response.status_code");
          code->mutable_value()->set_int_value(200);
        }
        if (tm.dest_key) AddString(span->add_attributes(), tm.dest_key, tm.dest_value);
        if (tm.kind == kServer) {
          AddString(span->add_attributes(), "url.path", std::strchr(tm.name, ' ') + 1);
          AddString(span->add_attributes(), "network.peer.address", "10.12.3.41");
        }
        if (tm.captured_traceparent) {
          AddString(span->add_attributes(), "http.request.header.traceparent",
                    absl::StrCat("00-", Hex(it->trace.data(), 16), "-",
                                 Hex(it->parent.data(), 8), "-01"));
        }
        span->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_UNSET);
        ++out.spans;
      }
    }
  }
  out.bytes = req.SerializeAsString();
  // Find every occurrence of every trace id (random 16 bytes: no false hits).
  for (auto& tr : out.traces) {
    std::string_view bin(reinterpret_cast<const char*>(tr.id.data()), 16);
    for (size_t p = out.bytes.find(bin); p != std::string::npos; p = out.bytes.find(bin, p + 16)) {
      tr.binary.push_back(static_cast<uint32_t>(p));
    }
    const std::string hex = Hex(tr.id.data(), 16);
    for (size_t p = out.bytes.find(hex); p != std::string::npos; p = out.bytes.find(hex, p + 32)) {
      tr.hex.push_back(static_cast<uint32_t>(p));
    }
  }
  return out;
}

// The id a trace gets for send number `gen`: both halves XORed.
inline void PatchedId(const std::array<uint8_t, 16>& orig, uint64_t gen, uint8_t out[16]) {
  const uint64_t x[2] = {Mix(gen), Mix(gen ^ 0x5555555555555555ull)};
  std::memcpy(out, orig.data(), 16);
  for (int i = 0; i < 2; ++i) {
    uint64_t v;
    std::memcpy(&v, out + 8 * i, 8);
    v ^= x[i];
    std::memcpy(out + 8 * i, &v, 8);
  }
}

// Writes request `r`, its trace ids patched for `gen`, into `dst`.
void WritePatched(const PreEncoded& r, uint64_t gen, uint8_t* dst) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::memcpy(dst, r.bytes.data(), r.bytes.size());
  for (const auto& tr : r.traces) {
    uint8_t id[16];
    PatchedId(tr.id, gen, id);
    for (uint32_t off : tr.binary) std::memcpy(dst + off, id, 16);
    if (!tr.hex.empty()) {
      char hex[32];
      for (int i = 0; i < 16; ++i) {
        hex[2 * i] = kDigits[id[i] >> 4];
        hex[2 * i + 1] = kDigits[id[i] & 0xf];
      }
      for (uint32_t off : tr.hex) std::memcpy(dst + off, hex, 32);
    }
  }
}

// ---------------------------------------------------------------- helpers

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// Busy CPU-seconds of the whole machine so far (/proc/stat, all CPUs).
double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t v[10] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  // user nice system idle iowait irq softirq steal guest guest_nice
  const uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Stat {
  double median, min, max;
};
Stat Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {med, v.front(), v.back()};
}

// ---------------------------------------------------------------- baselines

// The tap's defaults, with the workload's entry point declared (as an
// operator would), so gateway roots are trace starts, not orphans.
propwatch::tap::TapConfig TapSettings() {
  propwatch::tap::TapConfig config;
  config.engine.entry_point_services = {"gateway"};
  return config;
}

double DecodeOnly(const std::vector<PreEncoded>& requests, double seconds, bool* ok) {
  propwatch::otlp::DecodedTraces decoded;
  uint64_t spans = 0;
  size_t i = 0;
  const auto t0 = SteadyClock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  auto now = t0;
  do {
    const PreEncoded& r = requests[i++ % requests.size()];
    if (!propwatch::otlp::DecodeTraceRequestProto(r.bytes, &decoded).ok() ||
        decoded.spans().size() != r.spans) {
      *ok = false;
    }
    spans += decoded.spans().size();
    now = SteadyClock::now();
  } while (now < end);
  return static_cast<double>(spans) / Seconds(now - t0);
}

struct EngineOnlyResult {
  double spans_per_s;
  uint64_t live, evicted, spans_counted, ingested;
};

EngineOnlyResult EngineOnly(const std::vector<PreEncoded>& requests, double seconds, uint64_t gen0,
                            bool* ok) {
  // Decoded once, outside the timed loop; records borrow from the requests.
  std::vector<propwatch::otlp::DecodedTraces> decoded(requests.size());
  std::vector<std::vector<propwatch::SpanRecord>> records(requests.size());
  std::vector<std::vector<propwatch::TraceId>> orig(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    if (!propwatch::otlp::DecodeTraceRequestProto(requests[i].bytes, &decoded[i]).ok()) *ok = false;
    records[i].assign(decoded[i].spans().begin(), decoded[i].spans().end());
    for (const auto& s : records[i]) orig[i].push_back(s.trace_id);
  }
  const propwatch::EngineOptions options = TapSettings().engine;
  std::unique_ptr<propwatch::Engine> engine;
  if (propwatch::Status s = propwatch::Engine::Create(options, &engine); !s.ok()) {
    std::fprintf(stderr, "engine: %s\n", s.ToString().c_str());
    std::exit(2);
  }
  uint64_t spans = 0, gen = gen0;
  size_t i = 0;
  const auto t0 = SteadyClock::now();
  const auto end = t0 + std::chrono::duration<double>(seconds);
  auto now = t0, last_advance = t0;
  do {
    const size_t k = i++ % requests.size();
    auto& recs = records[k];
    ++gen;
    for (size_t j = 0; j < recs.size(); ++j) {
      std::array<uint8_t, 16> o;
      std::memcpy(o.data(), orig[k][j].bytes.data(), 16);
      PatchedId(o, gen, recs[j].trace_id.bytes.data());
    }
    spans += engine->Ingest(recs).accepted;
    now = SteadyClock::now();
    if (now - last_advance >= std::chrono::seconds(1)) {  // as the tap's advance thread
      engine->Advance();
      last_advance = now;
    }
  } while (now < end);
  EngineOnlyResult r{static_cast<double>(spans) / Seconds(now - t0), 0, 0, 0, spans};
  const propwatch::Snapshot snap = engine->Collect();
  for (const auto& s : snap.services) r.spans_counted += s.total.spans + s.total.duplicate_spans;
  r.live = snap.stats.live_traces;
  r.evicted = snap.stats.traces_evicted_capacity;
  if (r.spans_counted != spans) *ok = false;
  return r;
}

// ---------------------------------------------------------------- load

struct LoadResult {
  double spans_per_s = 0, calls_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  double process_cores = 0, other_cores = 0;
  uint64_t ok_calls_total = 0, failed_calls = 0, partial_calls = 0, rejected_spans = 0;
  uint64_t late_sends = 0;  // --rate: sends that started after their slot (target too slow)
  uint64_t ok_spans_total = 0;
  bool checked = false;
  uint64_t engine_spans = 0, engine_duplicates = 0, engine_live = 0, engine_evicted = 0;
  std::string first_error;
};

struct Caller {
  std::atomic<uint64_t> ok_calls{0};
  std::atomic<uint64_t> ok_spans{0};
  uint64_t failed = 0, partial = 0, rejected_spans = 0, late_sends = 0;
  std::string first_error;
  std::vector<float> latency_ms;  // calls completed in the timed window
};

LoadResult RunLoad(const Flags& flags, const std::vector<PreEncoded>& requests,
                   const std::string& address, std::atomic<uint64_t>* gen) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < flags.channels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per channel
    args.SetMaxSendMessageSize(64 << 20);
    channels.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::seconds(10))) {
      std::fprintf(stderr, "cannot connect to %s\n", address.c_str());
      std::exit(2);
    }
  }
  const std::string method(propwatch::receiver::kOtlpTraceExportMethod);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int c = 0; c < flags.concurrency; ++c) callers.push_back(std::make_unique<Caller>());
  std::atomic<bool> stop{false}, timing{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < flags.concurrency; ++c) {
    threads.emplace_back([&, c] {
      Caller& me = *callers[c];
      grpc::GenericStub stub(channels[c % channels.size()]);
      size_t i = static_cast<size_t>(c) * requests.size() / flags.concurrency;
      // --rate: this caller sends on a fixed schedule, its share of the
      // rate, offset so the callers interleave. A send that is late goes at
      // once but the schedule does not shift, and is counted.
      const double interval_s = flags.rate > 0 ? static_cast<double>(requests[0].spans) *
                                                     flags.concurrency / flags.rate
                                               : 0;
      const auto schedule0 = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                      std::chrono::duration<double>(
                                                          interval_s * c / flags.concurrency));
      uint64_t sends = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (interval_s > 0) {
          const auto slot = schedule0 + std::chrono::duration_cast<SteadyClock::duration>(
                                            std::chrono::duration<double>(interval_s * sends));
          const auto now = SteadyClock::now();
          if (now < slot) {
            std::this_thread::sleep_until(slot);
          } else if (now - slot > std::chrono::milliseconds(1)) {
            ++me.late_sends;
          }
          ++sends;
          if (stop.load(std::memory_order_relaxed)) break;
        }
        const PreEncoded& r = requests[i++ % requests.size()];
        grpc::Slice slice(r.bytes.size());
        WritePatched(r, gen->fetch_add(1, std::memory_order_relaxed) + 1,
                     const_cast<uint8_t*>(slice.begin()));
        grpc::ByteBuffer request(&slice, 1);
        grpc::ByteBuffer response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        absl::Notification done;
        grpc::Status status;
        const bool in_window = timing.load(std::memory_order_relaxed);
        const auto start = SteadyClock::now();
        stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                       [&](grpc::Status s) {
                         status = std::move(s);
                         done.Notify();
                       });
        done.WaitForNotification();
        const auto finish = SteadyClock::now();
        if (!status.ok()) {
          if (me.first_error.empty()) {
            me.first_error = absl::StrCat(status.error_code(), " ", status.error_message());
          }
          ++me.failed;
          continue;
        }
        // A partial_success that rejects nothing is not a rejection: the
        // Collector always sends one, empty.
        if (response.Length() > 0) {
          std::vector<grpc::Slice> slices;
          std::string bytes;
          if (response.Dump(&slices).ok()) {
            for (const grpc::Slice& sl : slices) {
              bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
            }
          }
          ExportTraceServiceResponse parsed;
          if (!parsed.ParseFromString(bytes)) {
            if (me.first_error.empty()) me.first_error = "unparseable ExportTraceServiceResponse";
            ++me.failed;
            continue;
          }
          if (parsed.partial_success().rejected_spans() > 0) {
            ++me.partial;
            me.rejected_spans += static_cast<uint64_t>(parsed.partial_success().rejected_spans());
          }
        }
        if (in_window && timing.load(std::memory_order_relaxed)) {
          me.latency_ms.push_back(static_cast<float>(Seconds(finish - start) * 1e3));
        }
        me.ok_spans.fetch_add(r.spans, std::memory_order_relaxed);
        me.ok_calls.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto sum = [&](auto field) {
    uint64_t s = 0;
    for (auto& c : callers) s += ((*c).*field).load();
    return s;
  };
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.warmup));
  timing = true;
  const auto t0 = SteadyClock::now();
  const double cpu0 = ProcessCpuSeconds(), busy0 = MachineBusySeconds();
  const uint64_t spans0 = sum(&Caller::ok_spans), calls0 = sum(&Caller::ok_calls);
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  const uint64_t spans1 = sum(&Caller::ok_spans), calls1 = sum(&Caller::ok_calls);
  const double cpu1 = ProcessCpuSeconds(), busy1 = MachineBusySeconds();
  const auto t1 = SteadyClock::now();
  timing = false;
  stop = true;
  for (auto& t : threads) t.join();

  LoadResult r;
  const double wall = Seconds(t1 - t0);
  r.spans_per_s = static_cast<double>(spans1 - spans0) / wall;
  r.calls_per_s = static_cast<double>(calls1 - calls0) / wall;
  r.process_cores = (cpu1 - cpu0) / wall;
  r.other_cores = std::max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / wall;
  std::vector<float> lat;
  for (auto& c : callers) {
    lat.insert(lat.end(), c->latency_ms.begin(), c->latency_ms.end());
    r.failed_calls += c->failed;
    r.partial_calls += c->partial;
    r.rejected_spans += c->rejected_spans;
    r.late_sends += c->late_sends;
    if (r.first_error.empty()) r.first_error = c->first_error;
  }
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    r.p50_ms = lat[lat.size() / 2];
    r.p99_ms = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  }
  r.ok_calls_total = sum(&Caller::ok_calls);
  r.ok_spans_total = sum(&Caller::ok_spans);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (const int rc = ParseFlags(argc, argv, &flags); rc != 0) return rc == 1 ? 0 : 2;
  // exporter/tap/main.cc does the same: Debian's Abseil is built without
  // NDEBUG and would otherwise run deadlock detection on every lock. Applies
  // to the in-process tap and to the engine-only baseline alike.
  if (!flags.deadlock_detection) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }

  // Pre-encode.
  std::mt19937_64 rng(flags.seed);
  const uint64_t start_ns = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::vector<PreEncoded> requests;
  uint64_t total_bytes = 0;
  for (int k = 0; k < flags.requests; ++k) {
    requests.push_back(BuildRequest(flags.batch_spans, rng, start_ns));
    total_bytes += requests.back().bytes.size();
  }
  const uint64_t spans_per_request = requests[0].spans;
  for (const auto& r : requests) {
    for (const auto& t : r.traces) {
      if (t.binary.empty()) {
        std::fprintf(stderr, "internal: trace id not found in its request\n");
        return 2;
      }
    }
  }
  std::printf("otlp_load: %d requests x %" PRIu64 " spans (%d whole 10-span traces%s), "
              "%.1f KiB per request on average\n",
              flags.requests, spans_per_request, flags.batch_spans / 10,
              flags.batch_spans % 10 ? " + 1 partial" : "",
              total_bytes / 1024.0 / flags.requests);
  std::printf("load: %d callers (1 call in flight each), %d channel(s), %s, %.0f s warm-up + "
              "%.0f s timed; baselines %.1f s each; %d repetitions; target %s; %u CPUs online; "
              "absl deadlock detection %s\n",
              flags.concurrency, flags.channels,
              flags.rate > 0 ? absl::StrCat("offered ", flags.rate, " spans/s").c_str()
                             : "as fast as answered",
              flags.warmup, flags.seconds,
              flags.baseline_seconds, flags.repetitions,
              flags.target.empty() ? "in-process tap on 127.0.0.1:0" : flags.target.c_str(),
              std::thread::hardware_concurrency(), flags.deadlock_detection ? "on" : "off");
  std::fflush(stdout);

  std::vector<double> decode_rate, engine_rate, load_rate, load_calls, p50, p99, proc_cores,
      other_cores;
  bool all_ok = true;
  std::atomic<uint64_t> gen{static_cast<uint64_t>(flags.seed) << 40};
  for (int rep = 1; rep <= flags.repetitions; ++rep) {
    bool ok = true;
    const double d = DecodeOnly(requests, flags.baseline_seconds, &ok);
    decode_rate.push_back(d);
    std::printf("rep %d decode-only: %.3f M spans/s%s\n", rep, d / 1e6, ok ? "" : "  DECODE ERROR");
    all_ok &= ok;

    ok = true;
    const uint64_t g = gen.fetch_add(uint64_t{1} << 32);
    const EngineOnlyResult e = EngineOnly(requests, flags.baseline_seconds, g, &ok);
    engine_rate.push_back(e.spans_per_s);
    std::printf("rep %d engine-only: %.3f M spans/s (ingested %" PRIu64 ", engine counted %" PRIu64
                ", live traces %" PRIu64 ", evicted %" PRIu64 ")%s\n",
                rep, e.spans_per_s / 1e6, e.ingested, e.spans_counted, e.live, e.evicted,
                ok ? "" : "  MISMATCH");
    all_ok &= ok;

    std::unique_ptr<propwatch::tap::Tap> tap;
    std::string address = flags.target;
    if (address.empty()) {
      propwatch::tap::TapConfig config = TapSettings();
      config.otlp_grpc_address = "127.0.0.1:0";
      config.otlp_http_address = "off";
      config.admin_address = "127.0.0.1:0";
      auto created = propwatch::tap::Tap::Create(config);
      if (!created.ok()) {
        std::fprintf(stderr, "tap: %s\n", created.status().ToString().c_str());
        return 2;
      }
      tap = *std::move(created);
      if (absl::Status s = tap->Start(); !s.ok()) {
        std::fprintf(stderr, "tap start: %s\n", s.ToString().c_str());
        return 2;
      }
      address = absl::StrCat("127.0.0.1:", tap->grpc_port());
    }
    LoadResult r = RunLoad(flags, requests, address, &gen);
    if (tap) {
      tap->Shutdown(absl::Seconds(10));
      const propwatch::Snapshot snap = tap->engine().Collect();
      for (const auto& s : snap.services) {
        r.engine_spans += s.total.spans;
        r.engine_duplicates += s.total.duplicate_spans;
      }
      r.engine_live = snap.stats.live_traces;
      r.engine_evicted = snap.stats.traces_evicted_capacity;
      r.checked = true;
    }
    load_rate.push_back(r.spans_per_s);
    load_calls.push_back(r.calls_per_s);
    p50.push_back(r.p50_ms);
    p99.push_back(r.p99_ms);
    proc_cores.push_back(r.process_cores);
    other_cores.push_back(r.other_cores);
    std::printf("rep %d load: %.3f M spans/s, %.0f calls/s, latency p50 %.2f ms p99 %.2f ms, "
                "process %.2f cores, other processes %.2f cores; OK calls %" PRIu64
                " (%" PRIu64 " spans, warm-up and drain included), failed %" PRIu64
                ", partial_success with rejections %" PRIu64 " (%" PRIu64 " spans rejected)%s\n",
                rep, r.spans_per_s / 1e6, r.calls_per_s, r.p50_ms, r.p99_ms, r.process_cores,
                r.other_cores, r.ok_calls_total, r.ok_spans_total, r.failed_calls, r.partial_calls,
                r.rejected_spans,
                flags.rate > 0 ? absl::StrCat("; offered ", flags.rate / 1e6,
                                              " M spans/s, late sends ", r.late_sends)
                                     .c_str()
                               : "");
    if (r.failed_calls) std::printf("  first error: %s\n", r.first_error.c_str());
    const bool load_ok = r.failed_calls == 0 && r.partial_calls == 0;
    all_ok &= load_ok;
    if (r.checked) {
      const bool match = r.engine_spans + r.engine_duplicates == r.ok_spans_total;
      std::printf("  tap engine: spans %" PRIu64 " + duplicates %" PRIu64 " = %" PRIu64
                  " vs %" PRIu64 " sent in OK calls: %s; live traces %" PRIu64
                  ", evicted %" PRIu64 "\n",
                  r.engine_spans, r.engine_duplicates, r.engine_spans + r.engine_duplicates,
                  r.ok_spans_total, match ? "match" : "MISMATCH", r.engine_live,
                  r.engine_evicted);
      all_ok &= match;
    }
    std::fflush(stdout);
  }

  auto row = [](const char* name, const std::vector<double>& v, double scale, const char* fmt) {
    const Stat s = Summarize(v);
    std::printf("| %s | ", name);
    std::printf(fmt, s.median * scale);
    std::printf(" | ");
    std::printf(fmt, s.min * scale);
    std::printf("..");
    std::printf(fmt, s.max * scale);
    std::printf(" |\n");
  };
  std::printf("\n| measure (%d repetitions) | median | min..max |\n|---|---|---|\n",
              flags.repetitions);
  row("tap over OTLP/gRPC, M spans/s", load_rate, 1e-6, "%.3f");
  row("tap over OTLP/gRPC, calls/s", load_calls, 1, "%.0f");
  row("call latency p50, ms", p50, 1, "%.2f");
  row("call latency p99, ms", p99, 1, "%.2f");
  row("process CPU during load, cores", proc_cores, 1, "%.2f");
  row("other processes during load, cores", other_cores, 1, "%.2f");
  row("decode-only (1 thread), M spans/s", decode_rate, 1e-6, "%.3f");
  row("engine-only (1 thread), M spans/s", engine_rate, 1e-6, "%.3f");
  std::printf("\nchecks: %s\n", all_ok ? "all passed" : "FAILED (see above)");
  return all_ok ? 0 : 1;
}
