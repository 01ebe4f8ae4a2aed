// Tap: the running `propwatch` process minus main(): the engine, the trace
// API store, the OTLP/gRPC and OTLP/HTTP receivers, and the admin listener
// (/metrics, /api/v1/traces/{trace_id}, /healthz, /readyz), built from a
// TapConfig. /healthz answers 200 while the process serves HTTP at all;
// /readyz answers 200 only between a successful Start (every listener bound,
// the engine advancing) and the start of Shutdown, 503 otherwise.
//
// Lifecycle: Create (validates, binds nothing) → Start (binds every listener;
// on any failure stops what started and returns the error) → Shutdown (stop
// accepting, finish in-flight requests, stop the advance thread).
// Thread-safety: Start/Shutdown from one controlling thread; everything else
// the listeners do is internally synchronized.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "exporter/receiver/forwarder.h"
#include "exporter/receiver/grpc_receiver.h"
#include "exporter/receiver/http_server.h"
#include "exporter/receiver/ingest_pipeline.h"
#include "exporter/receiver/otlp_http_handler.h"
#include "exporter/receiver/receiver_stats.h"
#include "exporter/tap/tap_config.h"
#include "exporter/tap/fleet_dns.h"
#include "exporter/trace_store/trace_store.h"
#include "propwatch/engine.h"

namespace propwatch::tap {

class Tap {
 public:
  // REQUIRES: `clock` outlives the tap.
  static absl::StatusOr<std::unique_ptr<Tap>> Create(const TapConfig& config,
                                                     const Clock* clock = SystemClock::Default());
  ~Tap();

  absl::Status Start();
  void Shutdown(absl::Duration grace);

  // Re-reads the TLS certificates of every listener and the bearer token
  // (main calls it on SIGHUP; the tap also calls it when one of those files
  // changes). On error what was loaded before stays in use. The OTLP/gRPC
  // listener picks the new pair up within a second. Thread-safe.
  absl::Status Reload();

  // Called with the --fleet-members list re-read on SIGHUP: when it differs
  // from the current one, opens a rebalance window in the engine (traces in
  // flight may now be split with another tap) and returns true. Thread-safe.
  // `open_window` false: learn the first list without calling it a change.
  bool UpdateFleetMembers(const std::vector<std::string>& members, bool open_window = true);

  // Bound ports (0 when the listener is off or not started).
  int grpc_port() const;
  int http_port() const;
  int admin_port() const;

  Engine& engine() { return *engine_; }
  // The Prometheus text exposition, as served on /metrics.
  std::string RenderMetrics();

 private:
  class StoreObserver;
  Tap(const TapConfig& config, std::unique_ptr<Engine> engine);
  receiver::HttpResponse HandleMetrics(const receiver::HttpRequest& request);
  receiver::HttpResponse HandleTrace(const receiver::HttpRequest& request);
  receiver::HttpResponse HandleTraceList(const receiver::HttpRequest& request);
  receiver::HttpResponse HandleExamples(const receiver::HttpRequest& request);
  // 405 or 401 for a trace API request that may not proceed, else nullopt.
  std::optional<receiver::HttpResponse> RefuseTraceApiRequest(const receiver::HttpRequest& request);
  // Whether `request` may use the trace API (no token configured, or the
  // right bearer token).
  bool Authorized(const receiver::HttpRequest& request);
  // The newest modification time of the TLS and token files (0 when none).
  int64_t WatchedFilesVersion() const;
  // Validates the OTLP certificate files and copies them into the private
  // directory the gRPC listener watches (one atomic swap); returns the
  // copies' paths. On error the previous copies stay.
  absl::StatusOr<receiver::TlsFiles> PublishGrpcTls();

  const TapConfig config_;
  std::unique_ptr<Engine> engine_;
  TraceStore store_;
  std::unique_ptr<StoreObserver> observer_;
  receiver::ReceiverStats stats_;
  std::unique_ptr<receiver::Forwarder> forwarder_;  // in-line mode only
  std::unique_ptr<receiver::IngestPipeline> pipeline_;
  std::unique_ptr<receiver::GrpcReceiver> grpc_;
  std::unique_ptr<receiver::HttpServer> otlp_http_;
  std::unique_ptr<receiver::OtlpHttpHandler> otlp_http_handler_;
  std::unique_ptr<receiver::HttpServer> admin_;
  absl::Notification stop_advancing_;
  std::thread advance_thread_;
  bool started_ = false;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};

  mutable absl::Mutex token_mu_;
  std::string bearer_token_ ABSL_GUARDED_BY(token_mu_);  // empty: no token required
  int64_t watched_version_ = 0;  // advance thread only
  absl::Mutex fleet_mu_;
  std::vector<std::string> fleet_members_ ABSL_GUARDED_BY(fleet_mu_);
  std::unique_ptr<FleetDnsWatcher> fleet_dns_;  // --fleet-dns only
  // Private copies of the OTLP certificates for gRPC (Start, then Reload from
  // the signal thread or the advance thread: serialized by reload_mu_).
  absl::Mutex reload_mu_;
  std::string grpc_tls_dir_;
  int grpc_tls_generation_ = 0;
};

}  // namespace propwatch::tap
