// otlp_load: OTLP/gRPC and OTLP/HTTP load generator for the tap, with
// same-run baselines.
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
//      an external tap or any OTLP receiver) driven by --concurrency
//      callers, each with one call in flight at a time, for --seconds after
//      --warmup; --rate paces them to an offered load (spans/s) instead.
//      --protocol=grpc: unary calls through the gRPC generic stub (raw
//      bytes: the client does not serialize). --protocol=http: POST
//      /v1/traces, application/x-protobuf, over one keep-alive HTTP/1.1
//      connection per caller (plain sockets, Content-Length bodies).
//      --protocol=http-gzip: the same with Content-Encoding: gzip, the
//      bodies compressed before the run (see "gzip bodies" below).
// Spans/s of the load count spans of calls that returned OK (gRPC OK, HTTP
// 200) inside the timed window; after each repetition the in-process tap's
// own engine counters (Snapshot totals) are checked against the spans of
// every OK call. A response whose partial_success rejects spans fails the
// run; an empty one (the Collector always sends it) does not.
//
// Every send is a copy of a pre-encoded request with its trace ids (binary
// and in the traceparent strings) XORed with a per-send value, so the tap
// sees new traces, not re-sent duplicates; the engine-only baseline does the
// same to the decoded records. Copy and patch are client work inside the
// timed loop (a memcpy of the request and ~50 16-byte stores).
//
// gzip bodies: a compressed body cannot be patched, and compressing each
// send would put zlib's deflate (several times the server's inflate) on the
// client, which shares the machine with the server. So http-gzip compresses
// --gzip-bodies patched copies (each with its own ids) once, before the
// run, and sends each body once per repetition, never twice (a re-sent body
// would be duplicates to a tap, a cheaper path). When the bodies run out
// during the timed window, the window ends there: spans/s are over the
// shorter window and the line says so; running out during the warm-up fails
// the repetition.
//
// Output: one line per phase and repetition, then a Markdown summary (median,
// min..max over repetitions). Exit status 1 when a check fails.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
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

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
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

enum class Protocol { kGrpc, kHttp, kHttpGzip };

const char* ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kGrpc: return "grpc";
    case Protocol::kHttp: return "http";
    case Protocol::kHttpGzip: return "http-gzip";
  }
  return "?";
}

// For the summary table: "OTLP/gRPC", "OTLP/HTTP", "OTLP/HTTP+gzip".
const char* ProtocolTitle(Protocol p) {
  switch (p) {
    case Protocol::kGrpc: return "OTLP/gRPC";
    case Protocol::kHttp: return "OTLP/HTTP";
    case Protocol::kHttpGzip: return "OTLP/HTTP+gzip";
  }
  return "?";
}

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
  Protocol protocol = Protocol::kGrpc;
  int gzip_bodies = 0;  // http-gzip: bodies compressed before the run; 0: automatic
  int gzip_level = 6;   // zlib level (6: zlib's and Go's default)
};

// 0: run; 1: --help printed; 2: bad flags (message printed).
int ParseFlags(int argc, char** argv, Flags* f) {
  propwatch::flags::FlagSet set(
      "Usage: otlp_load [--target=HOST:PORT] [--protocol=grpc|http|http-gzip] [--seconds=10]\n"
      "                 [--concurrency=4] [...]",
      "OTLP/gRPC and OTLP/HTTP load generator: pre-encoded requests of 10-span traces\n"
      "against an in-process tap (or --target), with same-run decode-only and\n"
      "engine-only baselines. bench/README.md explains the method.");
  set.Int("batch-spans", &f->batch_spans, "Spans per request.", 1, 1 << 20);
  set.Int("requests", &f->requests, "Distinct pre-encoded requests.", 1, 1 << 20);
  set.Int("concurrency", &f->concurrency, "Calls in flight.", 1, 4096);
  set.Int("channels", &f->channels,
          "gRPC channels the callers share round-robin (grpc only; over HTTP each caller has "
          "its own keep-alive connection).",
          1, 1024);
  set.Double("seconds", &f->seconds, "Timed load per repetition.", 1e-3, 1e6);
  set.Double("warmup", &f->warmup, "Untimed load before each repetition.", 0, 1e6);
  set.Double("baseline-seconds", &f->baseline_seconds, "Time per baseline measurement.", 1e-3,
             1e6);
  set.Int("repetitions", &f->repetitions, "Repetitions of the whole measurement.", 1, 1000);
  set.String("target", &f->target,
             "host:port of an external tap's (or any OTLP receiver's) listener for --protocol "
             "(OTLP/gRPC, or OTLP/HTTP: POST http://TARGET/v1/traces); empty: an in-process tap "
             "with that listener on 127.0.0.1:0.");
  set.Add({"protocol", "grpc",
           "grpc: OTLP/gRPC unary calls. http: OTLP/HTTP POST /v1/traces, "
           "application/x-protobuf, one keep-alive HTTP/1.1 connection per caller. "
           "http-gzip: the same with Content-Encoding: gzip (bodies compressed before the run, "
           "see --gzip-bodies).",
           [f](std::string_view v) {
             if (v == "grpc") {
               f->protocol = Protocol::kGrpc;
             } else if (v == "http") {
               f->protocol = Protocol::kHttp;
             } else if (v == "http-gzip") {
               f->protocol = Protocol::kHttpGzip;
             } else {
               return absl::InvalidArgumentError(
                   absl::StrCat("'", std::string(v), "' is not one of grpc, http, http-gzip"));
             }
             return absl::OkStatus();
           }});
  set.Int("gzip-bodies", &f->gzip_bodies,
          "http-gzip: distinct bodies (each with its own trace ids) compressed before the run "
          "(~19 KiB each at the default --batch-spans) and sent at most once per repetition (per "
          "run with --target); when they run out, the timed window ends there (during the "
          "warm-up: the repetition fails). 0: enough for warm-up + timed window at --rate, or "
          "at 1 M spans/s when unpaced (x repetitions with --target).",
          0, 1 << 22);
  set.Int("gzip-level", &f->gzip_level, "http-gzip: zlib compression level.", 1, 9);
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

// ---------------------------------------------------------------- OTLP/HTTP

// A minimal keep-alive HTTP/1.1 client on one blocking TCP connection, for
// one caller thread (thread-compatible). Post sends a Content-Length body and
// reads the whole response: status line, headers, and a Content-Length,
// chunked or until-close body. It connects lazily and reconnects when the
// server has closed the connection: a reused connection that fails before
// any byte of the response arrived is retried once on a fresh one (the
// server closed it idle; the request was not processed).
class HttpClient {
 public:
  struct Response {
    int status = 0;
    std::string body;
  };

  // `target`: host:port ([v6]:port too). Content-Encoding: gzip when `gzip`.
  HttpClient(const std::string& target, const std::string& path, bool gzip) {
    const size_t colon = target.rfind(':');
    host_ = target.substr(0, colon == std::string::npos ? target.size() : colon);
    port_ = colon == std::string::npos ? "80" : target.substr(colon + 1);
    if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') {
      host_ = host_.substr(1, host_.size() - 2);
    }
    head_ = absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: ", target,
                         "\r\nContent-Type: application/x-protobuf\r\n",
                         gzip ? "Content-Encoding: gzip\r\n" : "", "Content-Length: ");
  }
  ~HttpClient() { Close(); }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Opens the connection now (to fail early); false with *error.
  bool Connect(std::string* error) {
    Close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res); rc != 0) {
      *error = absl::StrCat("resolve ", host_, ": ", gai_strerror(rc));
      return false;
    }
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
      const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        last = std::strerror(errno);
        close(fd);
        continue;
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const timeval timeout{30, 0};  // as the gRPC calls' deadline
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
      fd_ = fd;
    }
    freeaddrinfo(res);
    if (fd_ < 0) {
      *error = absl::StrCat("connect ", host_, ":", port_, ": ", last);
      return false;
    }
    return true;
  }

  // POSTs `body`. False with *error when no complete response arrived (a
  // transport failure); any HTTP status is a response.
  bool Post(std::string_view body, Response* response, std::string* error) {
    for (int attempt = 0;; ++attempt) {
      const bool fresh = fd_ < 0;
      if (fresh && !Connect(error)) return false;
      bool got_bytes = false;
      if (SendRequest(body, error) && ReadResponse(response, &got_bytes, error)) return true;
      Close();
      if (fresh || got_bytes || attempt > 0) return false;
      ++reconnects_;  // the server closed a kept-alive connection: once more
    }
  }

  uint64_t reconnects() const { return reconnects_; }

 private:
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    in_.clear();
  }

  bool SendRequest(std::string_view body, std::string* error) {
    const std::string head = absl::StrCat(head_, body.size(), "\r\n\r\n");
    iovec iov[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    while (msg.msg_iovlen > 0) {
      const ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        *error = absl::StrCat("send: ", std::strerror(errno));
        return false;
      }
      size_t left = static_cast<size_t>(n);
      while (msg.msg_iovlen > 0 && left >= msg.msg_iov[0].iov_len) {
        left -= msg.msg_iov[0].iov_len;
        ++msg.msg_iov;
        --msg.msg_iovlen;
      }
      if (msg.msg_iovlen > 0) {
        msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + left;
        msg.msg_iov[0].iov_len -= left;
      }
    }
    return true;
  }

  // Appends what the socket has to in_; 0 at end of stream, -1 on error.
  ssize_t Receive(std::string* error) {
    char buf[64 << 10];
    for (;;) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) *error = absl::StrCat("recv: ", std::strerror(errno));
      if (n == 0) *error = "connection closed by the server";
      if (n > 0) in_.append(buf, static_cast<size_t>(n));
      return n;
    }
  }

  // Reads until in_ holds `n` bytes.
  bool Need(size_t n, bool* got_bytes, std::string* error) {
    while (in_.size() < n) {
      if (Receive(error) <= 0) return false;
      *got_bytes = true;
    }
    return true;
  }

  // Reads until in_ holds "\r\n" at or after `from`; its position in *eol.
  bool NeedLine(size_t from, size_t* eol, bool* got_bytes, std::string* error) {
    for (;;) {
      *eol = in_.find("\r\n", from);
      if (*eol != std::string::npos) return true;
      if (in_.size() - from > (64 << 10)) {
        *error = "response line over 64 KiB";
        return false;
      }
      if (Receive(error) <= 0) return false;
      *got_bytes = true;
    }
  }

  bool ReadResponse(Response* response, bool* got_bytes, std::string* error) {
    in_.clear();  // one request at a time: nothing is left over
    size_t pos = 0;
    bool chunked = false, close_after = false, has_length = false;
    uint64_t length = 0;
    for (;;) {  // skips interim 1xx responses
      size_t eol;
      if (!NeedLine(pos, &eol, got_bytes, error)) return false;
      const absl::string_view status_line(in_.data() + pos, eol - pos);
      int status = 0;
      if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12 ||
          !absl::SimpleAtoi(status_line.substr(9, 3), &status)) {
        *error = absl::StrCat("bad status line: ", absl::CHexEscape(status_line.substr(0, 80)));
        return false;
      }
      close_after = absl::StartsWith(status_line, "HTTP/1.0");
      chunked = has_length = false;
      pos = eol + 2;
      for (;;) {  // headers
        if (!NeedLine(pos, &eol, got_bytes, error)) return false;
        const absl::string_view line(in_.data() + pos, eol - pos);
        pos = eol + 2;
        if (line.empty()) break;
        const size_t colon = line.find(':');
        if (colon == absl::string_view::npos) continue;
        const absl::string_view name = line.substr(0, colon);
        const std::string value =
            absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(colon + 1)));
        if (absl::EqualsIgnoreCase(name, "content-length")) {
          has_length = absl::SimpleAtoi(value, &length);
        } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
          chunked = absl::StrContains(value, "chunked");
        } else if (absl::EqualsIgnoreCase(name, "connection")) {
          if (absl::StrContains(value, "close")) close_after = true;
          if (absl::StrContains(value, "keep-alive")) close_after = false;
        }
      }
      response->status = status;
      if (status >= 200) break;
    }
    response->body.clear();
    if (response->status == 204 || response->status == 304) {
    } else if (chunked) {
      for (;;) {
        size_t eol;
        if (!NeedLine(pos, &eol, got_bytes, error)) return false;
        absl::string_view size_text(in_.data() + pos, eol - pos);
        size_text = size_text.substr(0, size_text.find(';'));
        uint64_t size = 0;
        if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
          *error = "bad chunk size";
          return false;
        }
        pos = eol + 2;
        if (size == 0) {  // trailers up to an empty line
          for (;;) {
            if (!NeedLine(pos, &eol, got_bytes, error)) return false;
            const bool last = eol == pos;
            pos = eol + 2;
            if (last) break;
          }
          break;
        }
        if (!Need(pos + size + 2, got_bytes, error)) return false;
        response->body.append(in_, pos, size);
        pos += size + 2;
      }
    } else if (has_length) {
      if (!Need(pos + length, got_bytes, error)) return false;
      response->body.assign(in_, pos, length);
    } else {  // the body runs until the server closes the connection
      std::string ignored;
      while (Receive(&ignored) > 0) {
      }
      response->body.assign(in_, pos);
      close_after = true;
    }
    if (close_after) Close();
    return true;
  }

  std::string host_, port_;
  std::string head_;  // request line and headers up to the Content-Length value
  int fd_ = -1;
  std::string in_;  // bytes received of the current response
  uint64_t reconnects_ = 0;
};

// `in` compressed with zlib in the gzip format (RFC 1952).
std::string Gzip(std::string_view in, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::fprintf(stderr, "deflateInit2 failed\n");
    std::exit(2);
  }
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);  // deflateBound: one call suffices
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    std::fprintf(stderr, "deflate failed: %d\n", rc);
    std::exit(2);
  }
  return out;
}

// `in` (gzip) inflated; false when it is not valid gzip.
bool Gunzip(std::string_view in, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  char buf[64 << 10];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out->append(buf, sizeof buf - zs.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&zs);
  return rc == Z_STREAM_END && zs.avail_in == 0;
}

// http-gzip: patched copies of the requests (each with ids of its own),
// compressed once before the run. `next` hands each caller the next body.
struct GzipPool {
  std::vector<std::string> bodies;
  std::vector<uint32_t> request;  // the request each body is a copy of
  std::atomic<uint64_t> next{0};
  uint64_t protobuf_bytes = 0, gzip_bytes = 0;
  double seconds = 0;  // time to build it
};

void BuildGzipPool(const std::vector<PreEncoded>& requests, int count, int level,
                   std::atomic<uint64_t>* gen, GzipPool* pool) {
  const auto t0 = SteadyClock::now();
  pool->bodies.resize(count);
  pool->request.resize(count);
  std::vector<uint64_t> gens(count);
  for (int p = 0; p < count; ++p) {
    pool->request[p] = static_cast<uint32_t>(p % requests.size());
    gens[p] = gen->fetch_add(1) + 1;
  }
  const unsigned nthreads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  for (unsigned t = 0; t < nthreads; ++t) {
    threads.emplace_back([&] {
      std::string plain;
      for (int p; (p = next.fetch_add(1)) < count;) {
        const PreEncoded& r = requests[pool->request[p]];
        plain.resize(r.bytes.size());
        WritePatched(r, gens[p], reinterpret_cast<uint8_t*>(plain.data()));
        pool->bodies[p] = Gzip(plain, level);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int p = 0; p < count; ++p) {
    pool->protobuf_bytes += requests[pool->request[p]].bytes.size();
    pool->gzip_bytes += pool->bodies[p].size();
  }
  // One round trip as a check of the compression itself.
  std::string plain, back;
  plain.resize(requests[pool->request[0]].bytes.size());
  WritePatched(requests[pool->request[0]], gens[0], reinterpret_cast<uint8_t*>(plain.data()));
  if (!Gunzip(pool->bodies[0], &back) || back != plain) {
    std::fprintf(stderr, "internal: gzip body does not inflate to its request\n");
    std::exit(2);
  }
  pool->seconds = Seconds(SteadyClock::now() - t0);
}

// ---------------------------------------------------------------- load

struct LoadResult {
  double spans_per_s = 0, calls_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  double process_cores = 0, other_cores = 0;
  uint64_t ok_calls_total = 0, failed_calls = 0, partial_calls = 0, rejected_spans = 0;
  uint64_t late_sends = 0;  // --rate: sends that started after their slot (target too slow)
  uint64_t ok_spans_total = 0;
  uint64_t reconnects = 0;     // http: kept-alive connections the server had closed
  double window_s = 0;           // the timed window as run
  bool gzip_ran_out = false;     // http-gzip: the bodies ran out and ended the window
  bool gzip_ran_out_in_warmup = false;
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

// An HTTP error response for the first_error line: status and the start of
// the body (a google.rpc.Status from the tap or the Collector; its message
// is readable in the escaped bytes).
std::string HttpError(const HttpClient::Response& response) {
  return absl::StrCat("HTTP ", response.status, ", body (", response.body.size(), " bytes): ",
                      absl::CHexEscape(absl::string_view(response.body).substr(0, 200)));
}

LoadResult RunLoad(const Flags& flags, const std::vector<PreEncoded>& requests, GzipPool* pool,
                   const std::string& address, std::atomic<uint64_t>* gen) {
  const bool grpc = flags.protocol == Protocol::kGrpc;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; grpc && c < flags.channels; ++c) {
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
  // HTTP: one connection per caller, opened before the load starts.
  std::vector<std::unique_ptr<HttpClient>> http;
  for (int c = 0; !grpc && c < flags.concurrency; ++c) {
    http.push_back(std::make_unique<HttpClient>(address, "/v1/traces",
                                                flags.protocol == Protocol::kHttpGzip));
    std::string error;
    if (!http.back()->Connect(&error)) {
      std::fprintf(stderr, "cannot connect to %s: %s\n", address.c_str(), error.c_str());
      std::exit(2);
    }
  }
  const std::string method(propwatch::receiver::kOtlpTraceExportMethod);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int c = 0; c < flags.concurrency; ++c) callers.push_back(std::make_unique<Caller>());
  std::atomic<bool> stop{false}, timing{false};
  // http-gzip: a caller that finds no unsent body left stops and ends the
  // timed window (or the warm-up) early.
  std::atomic<bool> ran_out{false};
  absl::Notification ran_out_notification;
  std::vector<std::thread> threads;
  for (int c = 0; c < flags.concurrency; ++c) {
    threads.emplace_back([&, c] {
      Caller& me = *callers[c];
      std::unique_ptr<grpc::GenericStub> stub;
      if (grpc) stub = std::make_unique<grpc::GenericStub>(channels[c % channels.size()]);
      std::string http_body;  // http: this caller's patched copy, reused
      HttpClient::Response http_response;
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
        bool call_ok = false;
        std::string error, response_bytes;
        const bool in_window = timing.load(std::memory_order_relaxed);
        auto start = SteadyClock::now(), finish = start;
        uint64_t spans = 0;
        if (grpc) {
          const PreEncoded& r = requests[i++ % requests.size()];
          spans = r.spans;
          grpc::Slice slice(r.bytes.size());
          WritePatched(r, gen->fetch_add(1, std::memory_order_relaxed) + 1,
                       const_cast<uint8_t*>(slice.begin()));
          grpc::ByteBuffer request(&slice, 1);
          grpc::ByteBuffer response;
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
          absl::Notification done;
          grpc::Status status;
          start = SteadyClock::now();
          stub->UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                          [&](grpc::Status s) {
                            status = std::move(s);
                            done.Notify();
                          });
          done.WaitForNotification();
          finish = SteadyClock::now();
          call_ok = status.ok();
          if (!call_ok) {
            error = absl::StrCat(status.error_code(), " ", status.error_message());
          } else if (response.Length() > 0) {
            std::vector<grpc::Slice> slices;
            if (response.Dump(&slices).ok()) {
              for (const grpc::Slice& sl : slices) {
                response_bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
              }
            }
          }
        } else {
          std::string_view body;
          if (pool != nullptr) {  // http-gzip: the next unsent compressed body
            const uint64_t p = pool->next.fetch_add(1, std::memory_order_relaxed);
            if (p >= pool->bodies.size()) {
              if (!ran_out.exchange(true)) ran_out_notification.Notify();
              break;
            }
            body = pool->bodies[p];
            spans = requests[pool->request[p]].spans;
          } else {
            const PreEncoded& r = requests[i++ % requests.size()];
            spans = r.spans;
            http_body.resize(r.bytes.size());
            WritePatched(r, gen->fetch_add(1, std::memory_order_relaxed) + 1,
                         reinterpret_cast<uint8_t*>(http_body.data()));
            body = http_body;
          }
          start = SteadyClock::now();
          const bool answered = http[c]->Post(body, &http_response, &error);
          finish = SteadyClock::now();
          call_ok = answered && http_response.status == 200;
          if (answered && !call_ok) error = HttpError(http_response);
          if (call_ok) response_bytes.swap(http_response.body);
        }
        if (!call_ok) {
          if (me.first_error.empty()) me.first_error = error;
          ++me.failed;
          continue;
        }
        // A partial_success that rejects nothing is not a rejection: the
        // Collector always sends one, empty.
        if (!response_bytes.empty()) {
          ExportTraceServiceResponse parsed;
          if (!parsed.ParseFromString(response_bytes)) {
            if (me.first_error.empty()) {
              me.first_error = absl::StrCat(
                  "unparseable ExportTraceServiceResponse: ",
                  absl::CHexEscape(absl::string_view(response_bytes).substr(0, 200)));
            }
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
        me.ok_spans.fetch_add(spans, std::memory_order_relaxed);
        me.ok_calls.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto sum = [&](auto field) {
    uint64_t s = 0;
    for (auto& c : callers) s += ((*c).*field).load();
    return s;
  };
  LoadResult r;
  r.gzip_ran_out_in_warmup =
      ran_out_notification.WaitForNotificationWithTimeout(absl::Seconds(flags.warmup));
  timing = true;
  const auto t0 = SteadyClock::now();
  const double cpu0 = ProcessCpuSeconds(), busy0 = MachineBusySeconds();
  const uint64_t spans0 = sum(&Caller::ok_spans), calls0 = sum(&Caller::ok_calls);
  r.gzip_ran_out =
      ran_out_notification.WaitForNotificationWithTimeout(absl::Seconds(flags.seconds));
  const uint64_t spans1 = sum(&Caller::ok_spans), calls1 = sum(&Caller::ok_calls);
  const double cpu1 = ProcessCpuSeconds(), busy1 = MachineBusySeconds();
  const auto t1 = SteadyClock::now();
  timing = false;
  stop = true;
  for (auto& t : threads) t.join();

  const double wall = Seconds(t1 - t0);
  r.window_s = wall;
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
  for (const auto& h : http) r.reconnects += h->reconnects();
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
  std::fflush(stdout);
  std::vector<double> decode_rate, engine_rate, load_rate, load_calls, p50, p99, proc_cores,
      other_cores;
  bool all_ok = true;
  std::atomic<uint64_t> gen{static_cast<uint64_t>(flags.seed) << 40};

  // http-gzip: the compressed bodies, once for the whole run, before the
  // "load:" line (bench/peer/run.py starts the server's clock there).
  // Automatic size: every send of warm-up + timed window at --rate, or at
  // kAssumedRate when unpaced (10% and one per caller to spare), for each
  // repetition that shares a target. A faster target ends the timed window
  // early (see the top of the file) rather than getting a body twice.
  std::unique_ptr<GzipPool> pool;
  if (flags.protocol == Protocol::kHttpGzip) {
    constexpr double kAssumedRate = 1e6;  // spans/s
    int count = flags.gzip_bodies;
    if (count == 0) {
      const double sends = (flags.rate > 0 ? flags.rate : kAssumedRate) *
                           (flags.warmup + flags.seconds) /
                           static_cast<double>(spans_per_request) * 1.1;
      const int64_t per_rep = static_cast<int64_t>(std::ceil(sends)) + flags.concurrency;
      count = static_cast<int>(std::min<int64_t>(
          1 << 22, per_rep * (flags.target.empty() ? 1 : flags.repetitions)));
    }
    pool = std::make_unique<GzipPool>();
    BuildGzipPool(requests, count, flags.gzip_level, &gen, pool.get());
  }
  const std::string connections =
      flags.protocol == Protocol::kGrpc
          ? absl::StrCat(flags.channels, " gRPC channel(s)")
          : absl::StrCat(flags.concurrency, " keep-alive HTTP/1.1 connection(s)");
  std::printf("load: protocol %s, %d callers (1 call in flight each), %s, %s, %g s warm-up + "
              "%g s timed; baselines %.1f s each; %d repetitions; target %s; %u CPUs online; "
              "absl deadlock detection %s\n",
              ProtocolName(flags.protocol), flags.concurrency, connections.c_str(),
              flags.rate > 0 ? absl::StrCat("offered ", flags.rate, " spans/s").c_str()
                             : "as fast as answered",
              flags.warmup, flags.seconds,
              flags.baseline_seconds, flags.repetitions,
              flags.target.empty() ? "in-process tap on 127.0.0.1:0" : flags.target.c_str(),
              std::thread::hardware_concurrency(), flags.deadlock_detection ? "on" : "off");
  std::fflush(stdout);

  if (pool) {
    std::printf("gzip: %d bodies compressed before the run (zlib level %d, %.1f s), %.1f KiB "
                "each on average, %.0f%% of the protobuf; %.0f MiB in all; each is sent once "
                "per %s, never twice\n",
                static_cast<int>(pool->bodies.size()), flags.gzip_level, pool->seconds,
                pool->gzip_bytes / 1024.0 / static_cast<double>(pool->bodies.size()),
                100.0 * pool->gzip_bytes / pool->protobuf_bytes, pool->gzip_bytes / 1048576.0,
                flags.target.empty() ? "repetition (each has a fresh tap)" : "run");
    std::fflush(stdout);
  }

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
    // bench/peer/run.py starts the server's CPU window at this line.
    std::fflush(stdout);
    all_ok &= ok;

    std::unique_ptr<propwatch::tap::Tap> tap;
    std::string address = flags.target;
    if (address.empty()) {
      // The listener of --protocol only, on a port of its own.
      const bool grpc = flags.protocol == Protocol::kGrpc;
      propwatch::tap::TapConfig config = TapSettings();
      config.otlp_grpc_address = grpc ? "127.0.0.1:0" : "off";
      config.otlp_http_address = grpc ? "off" : "127.0.0.1:0";
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
      address = absl::StrCat("127.0.0.1:", grpc ? tap->grpc_port() : tap->http_port());
      if (pool) pool->next = 0;  // a fresh tap: every body is new to it
    }
    LoadResult r = RunLoad(flags, requests, pool.get(), address, &gen);
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
                absl::StrCat(flags.rate > 0 ? absl::StrCat("; offered ", flags.rate / 1e6,
                                                           " M spans/s, late sends ", r.late_sends)
                                            : "",
                             flags.protocol != Protocol::kGrpc
                                 ? absl::StrCat("; reconnects ", r.reconnects)
                                 : "",
                             r.gzip_ran_out_in_warmup
                                 ? "; the gzip bodies ran out during the warm-up: FAILED "
                                   "(raise --gzip-bodies)"
                             : r.gzip_ran_out
                                 ? absl::StrCat("; the gzip bodies ran out: timed window cut to ",
                                                absl::SixDigits(r.window_s), " s (of ",
                                                flags.seconds, ")")
                                 : "")
                    .c_str());
    if (r.failed_calls) std::printf("  first error: %s\n", r.first_error.c_str());
    const bool load_ok =
        r.failed_calls == 0 && r.partial_calls == 0 && !r.gzip_ran_out_in_warmup;
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
  const std::string over = absl::StrCat(flags.target.empty() ? "tap" : "target", " over ",
                                        ProtocolTitle(flags.protocol));
  row((over + ", M spans/s").c_str(), load_rate, 1e-6, "%.3f");
  row((over + ", calls/s").c_str(), load_calls, 1, "%.0f");
  row("call latency p50, ms", p50, 1, "%.2f");
  row("call latency p99, ms", p99, 1, "%.2f");
  row("process CPU during load, cores", proc_cores, 1, "%.2f");
  row("other processes during load, cores", other_cores, 1, "%.2f");
  row("decode-only (1 thread), M spans/s", decode_rate, 1e-6, "%.3f");
  row("engine-only (1 thread), M spans/s", engine_rate, 1e-6, "%.3f");
  std::printf("\nchecks: %s\n", all_ok ? "all passed" : "FAILED (see above)");
  return all_ok ? 0 : 1;
}
