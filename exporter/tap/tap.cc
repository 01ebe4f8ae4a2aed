#include "exporter/tap/tap.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "exporter/log/log.h"
#include "exporter/metrics/engine_metrics.h"
#include "exporter/metrics/process_metrics.h"
#include "exporter/tap/build_info.h"
#include "exporter/tap/examples_api.h"
#include "exporter/tap/status_api.h"
#include "exporter/tap/token.h"
#include "exporter/tap/trace_id_arg.h"
#include "exporter/metrics/receiver_metrics.h"
#include "exporter/receiver/span_observer.h"
#include "exporter/trace_store/trace_render.h"
#include "prometheus/text_serializer.h"

namespace propwatch::tap {

class Tap::StoreObserver final : public receiver::SpanObserver {
 public:
  explicit StoreObserver(TraceStore* store) : store_(store) {}
  void OnSpans(std::span<const SpanRecord> spans) override { store_->OnSpans(spans); }

 private:
  TraceStore* const store_;
};

namespace {

int64_t ModifiedNanos(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The admin routes that serve GET (and HEAD) only.
receiver::HttpResponse MethodNotAllowed() {
  return receiver::HttpResponse{405, "text/plain; charset=utf-8", "use GET\n",
                                {{"Allow", "GET, HEAD"}}, false};
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tap>> Tap::Create(const TapConfig& config, const Clock* clock) {
  if (absl::Status s = ValidateTapConfig(config); !s.ok()) return s;
  std::string token;
  if (!config.admin_bearer_token_file.empty()) {
    auto read = ReadTokenFile(config.admin_bearer_token_file, "admin-bearer-token-file");
    if (!read.ok()) return read.status();
    token = *std::move(read);
  }
  EngineOptions engine_options = config.engine;
  engine_options.clock = clock;
  std::unique_ptr<Engine> engine;
  if (Status s = Engine::Create(engine_options, &engine); !s.ok()) {
    return absl::InvalidArgumentError(s.message());
  }
  std::unique_ptr<Tap> tap(new Tap(config, std::move(engine)));
  {
    absl::MutexLock lock(&tap->token_mu_);
    tap->bearer_token_ = std::move(token);
  }
  return tap;
}

Tap::Tap(const TapConfig& config, std::unique_ptr<Engine> engine)
    : config_(config),
      engine_(std::move(engine)),
      store_(TraceStore::Options{config.trace_store_max_traces,
                                 config.trace_store_max_spans_per_trace}),
      observer_(std::make_unique<StoreObserver>(&store_)),
      fleet_members_(config.fleet_members) {
  receiver::IngestPipeline::Options pipeline_options;
  if (!config.forward_to.empty()) {
    forwarder_ = std::make_unique<receiver::Forwarder>(config.forward_to, config.forward_timeout);
    pipeline_options.forwarder = forwarder_.get();
  }
  pipeline_ = std::make_unique<receiver::IngestPipeline>(
      *engine_, &stats_, config.trace_store_max_traces > 0 ? observer_.get() : nullptr,
      pipeline_options);
}

Tap::~Tap() {
  Shutdown(absl::ZeroDuration());
  if (!grpc_tls_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(grpc_tls_dir_, ignored);
  }
}

absl::StatusOr<receiver::TlsFiles> Tap::PublishGrpcTls() {
  namespace fs = std::filesystem;
  // Validate first: a broken pair never reaches the copies.
  if (auto context = receiver::MakeServerTlsContext(config_.otlp_tls); !context.ok()) {
    return context.status();
  }
  std::error_code ec;
  if (grpc_tls_dir_.empty()) {
    std::string pattern = (fs::temp_directory_path(ec) / "propwatch-grpc-tls.XXXXXX").string();
    if (ec || ::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("cannot create a private directory for the gRPC certificates");
    }
    grpc_tls_dir_ = pattern;
  }
  const fs::path dir = grpc_tls_dir_;
  const int generation = ++grpc_tls_generation_;
  const fs::path gen = dir / ("gen-" + std::to_string(generation));
  fs::create_directory(gen, ec);
  auto copy = [&](const std::string& from, const char* to) {
    if (!ec && !from.empty()) fs::copy_file(from, gen / to, fs::copy_options::overwrite_existing, ec);
  };
  copy(config_.otlp_tls.cert_file, "cert.pem");
  copy(config_.otlp_tls.key_file, "key.pem");
  copy(config_.otlp_tls.client_ca_file, "ca.pem");
  // One rename swaps all three files at once for the watcher.
  const fs::path next = dir / "current.next";
  if (!ec) fs::remove(next, ec);
  if (!ec) fs::create_directory_symlink(gen.filename(), next, ec);
  if (!ec) fs::rename(next, dir / "current", ec);
  if (ec) return absl::InternalError("cannot publish the gRPC certificates: " + ec.message());
  if (generation > 2) fs::remove_all(dir / ("gen-" + std::to_string(generation - 2)), ec);
  receiver::TlsFiles files;
  files.cert_file = (dir / "current" / "cert.pem").string();
  files.key_file = (dir / "current" / "key.pem").string();
  if (!config_.otlp_tls.client_ca_file.empty()) {
    files.client_ca_file = (dir / "current" / "ca.pem").string();
  }
  return files;
}

absl::Status Tap::Start() {
  if (started_) return absl::FailedPreconditionError("tap already started");
  started_ = true;
  auto fail = [this](absl::Status status) {
    Shutdown(absl::ZeroDuration());
    return status;
  };

  receiver::HttpServer::Options admin_options;
  admin_options.listen_address = config_.admin_address;
  admin_options.io_threads = 1;
  admin_options.stats = &stats_;
  admin_options.tls = config_.admin_tls;
  admin_options.count_unrouted_as_otlp = false;
  admin_options.name = "admin listener";
  admin_ = std::make_unique<receiver::HttpServer>(admin_options);
  (void)admin_->Handle("/metrics", [this](const receiver::HttpRequest& r) { return HandleMetrics(r); });
  (void)admin_->Handle("/api/v1/traces",
                       [this](const receiver::HttpRequest& r) { return HandleTraceList(r); });
  (void)admin_->HandlePrefix("/api/v1/traces/",
                             [this](const receiver::HttpRequest& r) { return HandleTrace(r); });
  (void)admin_->Handle("/api/v1/examples",
                       [this](const receiver::HttpRequest& r) { return HandleExamples(r); });
  (void)admin_->Handle("/api/v1/status", [this](const receiver::HttpRequest& r) {
    if (r.method != "GET" && r.method != "HEAD") return MethodNotAllowed();
    return receiver::HttpResponse{200, "application/json", RenderStatusJson(engine_->Collect()),
                                  {{"Cache-Control", "no-store"}}, false};
  });
  // The status page and its script, with a policy that keeps the page from
  // loading or sending anything elsewhere.
  auto page = [](std::string_view type, std::string_view content) {
    return [type, content](const receiver::HttpRequest& r) {
      if (r.method != "GET" && r.method != "HEAD") return MethodNotAllowed();
      return receiver::HttpResponse{200,
                                    std::string(type),
                                    std::string(content),
                                    {{"Content-Security-Policy", std::string(kStatusPagePolicy)},
                                     {"X-Content-Type-Options", "nosniff"},
                                     {"Referrer-Policy", "no-referrer"}},
                                    false};
    };
  };
  (void)admin_->Handle("/", page("text/html; charset=utf-8", StatusPageHtml()));
  (void)admin_->Handle("/status.js", page("text/javascript; charset=utf-8", StatusPageScript()));
  (void)admin_->Handle("/healthz", [](const receiver::HttpRequest&) {
    return receiver::HttpResponse{200, "text/plain; charset=utf-8", "ok\n", {}, false};
  });
  (void)admin_->Handle("/readyz", [this](const receiver::HttpRequest&) {
    return ready_.load() ? receiver::HttpResponse{200, "text/plain; charset=utf-8", "ready\n",
                                                  {}, false}
                         : receiver::HttpResponse{503, "text/plain; charset=utf-8",
                                                  draining_.load() ? "draining\n" : "starting\n",
                                                  {}, false};
  });
  if (absl::Status s = admin_->Start(); !s.ok()) return fail(s);

  if (config_.otlp_grpc_address != "off") {
    receiver::GrpcReceiver::Options options;
    options.listen_address = config_.otlp_grpc_address;
    options.max_recv_message_bytes = config_.max_request_bytes;
    options.max_inflight_requests = config_.max_inflight_requests;
    if (config_.otlp_tls.enabled()) {
      // gRPC re-reads its certificate files on its own, and would take a
      // key that does not match (refusing every handshake until fixed). So it
      // watches private copies that only ever hold a validated pair.
      auto files = PublishGrpcTls();
      if (!files.ok()) return fail(files.status());
      options.tls = *files;
      options.tls_refresh_seconds = 1;
    }
    grpc_ = std::make_unique<receiver::GrpcReceiver>(*pipeline_, &stats_, options);
    if (absl::Status s = grpc_->Start(); !s.ok()) return fail(s);
  }
  if (config_.otlp_http_address != "off") {
    receiver::HttpServer::Options options;
    options.listen_address = config_.otlp_http_address;
    options.io_threads = static_cast<int>(config_.http_threads);
    options.stats = &stats_;
    options.tls = config_.otlp_tls;
    options.name = "OTLP/HTTP listener";
    otlp_http_ = std::make_unique<receiver::HttpServer>(options);
    receiver::OtlpHttpHandler::Options handler_options;
    handler_options.max_body_bytes = config_.max_request_bytes;
    handler_options.max_inflight_requests = config_.max_inflight_requests;
    otlp_http_handler_ =
        std::make_unique<receiver::OtlpHttpHandler>(*pipeline_, &stats_, handler_options);
    if (absl::Status s = otlp_http_handler_->Register(*otlp_http_); !s.ok()) return fail(s);
    if (absl::Status s = otlp_http_->Start(); !s.ok()) return fail(s);
  }

  if (!config_.fleet_dns.empty()) {
    fleet_dns_ = std::make_unique<FleetDnsWatcher>(
        config_.fleet_dns, config_.fleet_dns_interval,
        [this](const std::vector<std::string>& members, bool initial) {
          UpdateFleetMembers(members, /*open_window=*/!initial);
          log::Info("--fleet-dns " + config_.fleet_dns + ": " + std::to_string(members.size()) +
                    (members.size() == 1 ? " tap" : " taps") +
                    (initial ? "" : " (changed: rebalance window opened, traces in flight are "
                                    "not judged)"));
        });
    fleet_dns_->Start();
  }
  watched_version_ = WatchedFilesVersion();
  advance_thread_ = std::thread([this] {
    int64_t ticks = 0;
    while (!stop_advancing_.WaitForNotificationWithTimeout(config_.advance_interval)) {
      engine_->Advance();
      // Renewed certificates or token (cert-manager, a cron job) are picked
      // up without a SIGHUP: the files' modification times are checked
      // about every 10 s.
      if (++ticks * config_.advance_interval >= absl::Seconds(10)) {
        ticks = 0;
        const int64_t version = WatchedFilesVersion();
        if (version != watched_version_) {
          watched_version_ = version;
          if (absl::Status s = Reload(); s.ok()) {
            log::Info("TLS certificates / bearer token changed on disk: reloaded");
          } else {
            log::Error("reload after a file change failed, keeping the previous ones: " +
                       std::string(s.message()));
          }
        }
      }
    }
  });
  ready_.store(true);  // every listener is bound and the engine runs
  return absl::OkStatus();
}

void Tap::Shutdown(absl::Duration grace) {
  // Receivers first, so nothing new arrives; then the admin listener, so a
  // final scrape during the drain still works.
  const absl::Time deadline = absl::Now() + grace;
  draining_.store(true);
  ready_.store(false);
  if (grpc_) grpc_->Shutdown(deadline);
  if (otlp_http_) otlp_http_->Stop(grace);
  if (admin_) admin_->Stop(std::max(absl::ZeroDuration(), deadline - absl::Now()));
  if (fleet_dns_) fleet_dns_->Stop();
  if (advance_thread_.joinable()) {
    stop_advancing_.Notify();
    advance_thread_.join();
  }
}

absl::Status Tap::Reload() {
  absl::MutexLock lock(&reload_mu_);  // SIGHUP and a file change may race
  absl::Status status;
  if (admin_) status.Update(admin_->ReloadTls());
  if (otlp_http_) status.Update(otlp_http_->ReloadTls());
  if (grpc_ && config_.otlp_tls.enabled()) status.Update(PublishGrpcTls().status());
  if (!config_.admin_bearer_token_file.empty()) {
    auto token = ReadTokenFile(config_.admin_bearer_token_file, "admin-bearer-token-file");
    if (token.ok()) {
      absl::MutexLock lock(&token_mu_);
      bearer_token_ = *std::move(token);
    } else {
      status.Update(token.status());
    }
  }
  return status;
}

int64_t Tap::WatchedFilesVersion() const {
  int64_t newest = 0;
  for (const std::string* path :
       {&config_.admin_tls.cert_file, &config_.admin_tls.key_file,
        &config_.admin_tls.client_ca_file, &config_.otlp_tls.cert_file,
        &config_.otlp_tls.key_file, &config_.otlp_tls.client_ca_file,
        &config_.admin_bearer_token_file}) {
    newest = std::max(newest, ModifiedNanos(*path));
  }
  return newest;
}

bool Tap::Authorized(const receiver::HttpRequest& request) {
  absl::MutexLock lock(&token_mu_);
  if (bearer_token_.empty()) return true;
  const std::string_view header = request.Header("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(header.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return false;
  }
  return ConstantTimeEquals(header.substr(kScheme.size()), bearer_token_);
}

int Tap::grpc_port() const { return grpc_ ? grpc_->port() : 0; }
int Tap::http_port() const { return otlp_http_ ? otlp_http_->port() : 0; }
int Tap::admin_port() const { return admin_ ? admin_->port() : 0; }

bool Tap::UpdateFleetMembers(const std::vector<std::string>& members, bool open_window) {
  {
    absl::MutexLock lock(&fleet_mu_);
    if (members == fleet_members_) return false;
    fleet_members_ = members;
  }
  // O(live traces): not under fleet_mu_, which /metrics takes.
  if (open_window) engine_->BeginRebalance();
  return true;
}

std::string Tap::RenderMetrics() {
  metrics::FamilyBuilder builder;
  metrics::AppendEngineMetrics(engine_->Collect(), &builder);
  metrics::AppendReceiverMetrics(stats_, &builder);
  metrics::AppendTraceStoreMetrics(store_.Stats(), &builder);
  {
    absl::MutexLock lock(&fleet_mu_);
    builder.Add(metrics::MetricId::kFleetMembers, {}, static_cast<double>(fleet_members_.size()));
  }
  metrics::AppendBuildInfo(BuildVersion(), BuildRevision(), &builder);
  // /proc is Linux's; elsewhere the process_* series are simply absent.
  if (auto process = metrics::ReadProcessStats(); process.ok()) {
    metrics::AppendProcessMetrics(*process, &builder);
  }
  return prometheus::TextSerializer().Serialize(builder.Take());
}

receiver::HttpResponse Tap::HandleMetrics(const receiver::HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return MethodNotAllowed();
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", RenderMetrics(), {}, false};
}

std::optional<receiver::HttpResponse> Tap::RefuseTraceApiRequest(
    const receiver::HttpRequest& request) {
  if (request.method != "GET") {
    return receiver::HttpResponse{405, "text/plain; charset=utf-8", "use GET\n", {{"Allow", "GET"}},
                                  false};
  }
  if (!Authorized(request)) {
    return receiver::HttpResponse{401,
                                  "text/plain; charset=utf-8",
                                  "the trace API needs Authorization: Bearer <token>\n",
                                  {{"WWW-Authenticate", "Bearer realm=\"propwatch\""}},
                                  false};
  }
  return std::nullopt;
}

receiver::HttpResponse Tap::HandleTraceList(const receiver::HttpRequest& request) {
  auto text = [](int status, std::string body) {
    return receiver::HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}, false};
  };
  if (auto refused = RefuseTraceApiRequest(request)) return *std::move(refused);
  if (config_.trace_store_max_traces == 0) {
    return text(404, "the trace API is disabled (--trace-store-max-traces=0)\n");
  }
  const std::vector<StoredTraceSummary> traces = store_.List();
  std::string body = "{\"traces\":[";
  body.reserve(body.size() + traces.size() * 72);
  for (size_t i = 0; i < traces.size(); ++i) {
    if (i) body += ',';
    body += "\n{\"traceId\":\"" + traces[i].trace_id.ToHex() + "\",\"spanCount\":" +
            std::to_string(traces[i].span_count) +
            ",\"truncated\":" + (traces[i].truncated ? "true" : "false") + "}";
  }
  body += "]}\n";
  return {200, "application/json", std::move(body), {}, false};
}

receiver::HttpResponse Tap::HandleExamples(const receiver::HttpRequest& request) {
  auto text = [](int status, std::string body) {
    return receiver::HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}, false};
  };
  if (auto refused = RefuseTraceApiRequest(request)) return *std::move(refused);
  bool malformed = false;
  const std::optional<std::string> service = QueryParam(request.query, "service", &malformed);
  if (malformed) return text(400, "service= is not a valid percent-encoded value\n");
  ExampleQuery query;
  if (service) query.service = *service;  // a view: `service` outlives the query
  if (auto name = QueryParam(request.query, "finding", &malformed)) {
    query.finding = ParseFinding(*name);
    if (!query.finding) {
      std::string known;
      for (int f = 0; f < kNumFindings; ++f) {
        known += (f ? ", " : "") + std::string(FindingName(static_cast<Finding>(f)));
      }
      return text(400, "unknown finding \"" + *name + "\"; known: " + known + "\n");
    }
  }
  if (malformed) return text(400, "finding= is not a valid percent-encoded value\n");
  // Bounded answers: the admin listener also serves /metrics and the probes.
  query.limit = kDefaultExampleLimit;
  if (auto limit = QueryParam(request.query, "limit", &malformed)) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(*limit, &n) || n == 0 || n > kMaxExampleLimit) {
      return text(400, "limit= must be a whole number in [1, " + std::to_string(kMaxExampleLimit) +
                           "]\n");
    }
    query.limit = n;
  }
  if (malformed) return text(400, "limit= is not a valid percent-encoded value\n");
  return {200, "application/json",
          RenderExamplesJson(engine_->RecentExamples(query), engine_->options().clock->Now()),
          {{"Cache-Control", "no-store"}}, false};
}

receiver::HttpResponse Tap::HandleTrace(const receiver::HttpRequest& request) {
  auto text = [](int status, std::string body) {
    return receiver::HttpResponse{status, "text/plain; charset=utf-8", std::move(body), {}, false};
  };
  if (auto refused = RefuseTraceApiRequest(request)) return *std::move(refused);
  const auto id = ParseTraceIdArg(request.path.substr(std::string_view("/api/v1/traces/").size()));
  if (!id) {
    return text(400, "trace id must be 32 hex digits, not all zero\n");
  }
  if (config_.trace_store_max_traces == 0) {
    return text(404, "the trace API is disabled (--trace-store-max-traces=0)\n");
  }
  std::optional<StoredTrace> trace = store_.Get(*id);
  if (!trace) return text(404, "trace " + id->ToHex() + " is not among the recent traces\n");
  if (request.query == "format=text") return text(200, RenderTraceText(*trace));
  return {200, "application/json", RenderTraceJson(*trace), {}, false};
}

}  // namespace propwatch::tap
