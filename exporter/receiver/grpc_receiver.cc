#include "exporter/receiver/grpc_receiver.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <chrono>
#include <climits>
#include <exception>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exporter/receiver/gunzip.h"
#include "exporter/receiver/otlp_response.h"

namespace propwatch::receiver {
namespace {

// Per-thread flattening buffer above this size is released after use, so a
// rare huge message does not pin memory on every callback thread.
constexpr size_t kMaxRetainedFlatBytes = size_t{4} << 20;

uint64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - start)
                                   .count());
}

// A reactor that answers with a fixed status without reading the request.
class RejectReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit RejectReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

class GrpcReceiver::Service final : public grpc::CallbackGenericService {
 public:
  Service(IngestPipeline& pipeline, ReceiverStats* stats, const Options& options)
      : pipeline_(pipeline), stats_(stats != nullptr ? &stats->grpc : nullptr), options_(options) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    const auto start = std::chrono::steady_clock::now();
    if (ctx->method() != kOtlpTraceExportMethod) {
      Record(RequestResult::kNotFound, start);
      return new RejectReactor(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                            absl::StrCat("unknown method ", ctx->method())));
    }
    if (!TryAdmit()) {
      // OTLP throttling: UNAVAILABLE is retryable; RetryInfo tells the client
      // how long to back off.
      const std::string message = absl::StrCat("overloaded: more than ",
                                               options_.max_inflight_requests,
                                               " export calls in flight; retry later");
      Record(RequestResult::kOverloaded, start);
      return new RejectReactor(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, message,
                       EncodeStatusProto(kRpcUnavailable, message, options_.retry_delay)));
    }
    return new ExportReactor(this, start);
  }

 private:
  class ExportReactor final : public grpc::ServerGenericBidiReactor {
   public:
    ExportReactor(Service* service, std::chrono::steady_clock::time_point start)
        : service_(service), start_(start) {
      StartRead(&request_);
    }

    void OnReadDone(bool ok) override {
      if (!ok) {
        // No message: gRPC refused it before we saw it (for a unary client
        // that is the receive size limit, RESOURCE_EXHAUSTED; gRPC does not
        // decompress for us, see Start) and has already ended the call. gRPC
        // sometimes marks such calls cancelled too, so IsCancelled() cannot
        // tell them from a client that gave up before sending; both are
        // counted here so every refused call is counted exactly once.
        service_->Record(RequestResult::kTooLarge, start_);
        Release();
        Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "no request message"));
        return;
      }
      grpc::Status status = service_->Handle(request_, &response_);
      request_.Clear();
      // Handled: free the in-flight slot before answering, so a client that
      // has our response is never refused because of its own finished call.
      Release();
      if (status.ok()) {
        StartWriteAndFinish(&response_, grpc::WriteOptions(), status);
      } else {
        Finish(status);
      }
    }

    void OnDone() override {
      Release();
      delete this;
    }

   private:
    void Release() {
      if (!released_) service_->Release();
      released_ = true;
    }

    Service* const service_;
    const std::chrono::steady_clock::time_point start_;
    bool released_ = false;
    grpc::ByteBuffer request_;
    grpc::ByteBuffer response_;
  };

  bool TryAdmit() {
    uint32_t n = inflight_.load(std::memory_order_relaxed);
    do {
      if (n >= options_.max_inflight_requests) return false;
    } while (!inflight_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
    if (stats_ != nullptr) stats_->inflight_requests.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void Release() {
    inflight_.fetch_sub(1, std::memory_order_acq_rel);
    if (stats_ != nullptr) stats_->inflight_requests.fetch_sub(1, std::memory_order_relaxed);
  }

  void Record(RequestResult result, std::chrono::steady_clock::time_point start) {
    if (stats_ == nullptr) return;
    stats_->Count(result);
    stats_->request_duration.Observe(NanosSince(start));
  }

  // Decodes and ingests one message. Never throws: the callback API has no
  // way to report an exception, so failures become INTERNAL.
  grpc::Status Handle(const grpc::ByteBuffer& request, grpc::ByteBuffer* response) {
    const auto start = std::chrono::steady_clock::now();
    const size_t length = request.Length();
    if (stats_ != nullptr) stats_->bytes_received.fetch_add(length, std::memory_order_relaxed);
    // gRPC enforces the same limit on the message as received; this guards a
    // server built with a larger channel limit.
    if (length > options_.max_recv_message_bytes) {
      Record(RequestResult::kTooLarge, start);
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("request message of ", length, " bytes exceeds the limit of ",
                       options_.max_recv_message_bytes, " bytes"));
    }
    thread_local std::string flat;
    thread_local std::string inflated;
    grpc::Status status;
    try {
      grpc::Slice single;
      const std::string_view body = Flatten(request, &single, &flat);
      status = Ingest(body, &inflated, start, response);
    } catch (const std::exception& e) {
      Record(RequestResult::kInternal, start);
      status = grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("internal error: ", e.what()));
    } catch (...) {
      Record(RequestResult::kInternal, start);
      status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
    if (flat.capacity() > kMaxRetainedFlatBytes) std::string().swap(flat);
    if (inflated.capacity() > kMaxRetainedFlatBytes) std::string().swap(inflated);
    return status;
  }

  // The message as one contiguous view: the single slice gRPC handed over
  // when it can, else a copy into `flat`.
  static std::string_view Flatten(const grpc::ByteBuffer& request, grpc::Slice* single,
                                  std::string* flat) {
    if (request.TrySingleSlice(single).ok()) {
      return std::string_view(reinterpret_cast<const char*>(single->begin()), single->size());
    }
    thread_local std::vector<grpc::Slice> slices;
    slices.clear();
    if (!request.Dump(&slices).ok()) throw std::runtime_error("cannot read the request message");
    flat->clear();
    flat->reserve(request.Length());
    for (const grpc::Slice& s : slices) {
      flat->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    slices.clear();
    return *flat;
  }

  grpc::Status Ingest(std::string_view body, std::string* inflated,
                      std::chrono::steady_clock::time_point start, grpc::ByteBuffer* response) {
    // gRPC's own decompression is off (see Start): a gzip message arrives as
    // sent. 1f 8b can never start a valid protobuf message (wire type 7), so
    // the magic bytes identify it unambiguously.
    if (LooksGzipped(body)) {
      const absl::Status gz = GunzipWithLimit(body, options_.max_recv_message_bytes, inflated);
      if (!gz.ok()) {
        const bool too_large = absl::IsResourceExhausted(gz);
        Record(too_large ? RequestResult::kTooLarge : RequestResult::kInvalid, start);
        return grpc::Status(too_large ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                      : grpc::StatusCode::INVALID_ARGUMENT,
                            std::string(gz.message()));
      }
      body = *inflated;
    }
    if (stats_ != nullptr) {
      stats_->bytes_decompressed.fetch_add(body.size(), std::memory_order_relaxed);
    }
    grpc::Status status;
    const IngestPipeline::Result result = pipeline_.Ingest(Protocol::kGrpc, body);
    switch (result.kind) {
      case IngestPipeline::Result::Kind::kOk:
      case IngestPipeline::Result::Kind::kPartial: {
        // Full success is the empty message (partial_success unset).
        const std::string encoded = EncodeExportTraceResponseProto(
            static_cast<int64_t>(result.rejected_spans), result.message);
        grpc::Slice slice(encoded);
        *response = grpc::ByteBuffer(&slice, 1);
        break;
      }
      case IngestPipeline::Result::Kind::kInvalid:
        // Not retryable: the data cannot be decoded.
        status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, result.message);
        break;
      case IngestPipeline::Result::Kind::kUpstreamUnavailable:
        // In-line mode: retryable, so the sender keeps the data.
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE, result.message,
                              EncodeStatusProto(kRpcUnavailable, result.message,
                                                options_.retry_delay));
        break;
    }
    // The pipeline counted the result; only the latency is ours.
    if (stats_ != nullptr) stats_->request_duration.Observe(NanosSince(start));
    return status;
  }

  IngestPipeline& pipeline_;
  TransportStats* const stats_;
  const Options options_;
  std::atomic<uint32_t> inflight_{0};
};

absl::Status GrpcReceiver::Options::Validate() const {
  if (listen_address.empty()) return absl::InvalidArgumentError("listen_address is empty");
  if (max_recv_message_bytes == 0 || max_recv_message_bytes > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_recv_message_bytes must be in [1, ", INT_MAX, "]"));
  }
  if (max_inflight_requests == 0) {
    return absl::InvalidArgumentError("max_inflight_requests must be at least 1");
  }
  if (retry_delay <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retry_delay must be positive");
  }
  if (tls_refresh_seconds == 0) return absl::InvalidArgumentError("tls_refresh_seconds must be positive");
  return tls.Validate();
}

GrpcReceiver::GrpcReceiver(IngestPipeline& pipeline, ReceiverStats* stats, const Options& options)
    : options_(options), service_(std::make_unique<Service>(pipeline, stats, options)) {}

GrpcReceiver::~GrpcReceiver() { Shutdown(absl::Now()); }

absl::Status GrpcReceiver::Start() {
  if (started_) return absl::FailedPreconditionError("gRPC receiver already started");
  if (absl::Status status = options_.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("gRPC receiver: ", status.message()));
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (options_.tls.enabled()) {
    // Load once with OpenSSL so a bad file fails Start with a clear error
    // instead of every later handshake.
    if (auto context = MakeServerTlsContext(options_.tls); !context.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("gRPC receiver: ", context.status().message()));
    }
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        options_.tls.key_file, options_.tls.cert_file, options_.tls.client_ca_file,
        options_.tls_refresh_seconds);
    grpc::experimental::TlsServerCredentialsOptions tls_options(provider);
    tls_options.watch_identity_key_cert_pairs();
    if (!options_.tls.client_ca_file.empty()) {
      tls_options.watch_root_certs();
      tls_options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    } else {
      tls_options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    }
    credentials = grpc::experimental::TlsServerCredentials(tls_options);
  }
  started_ = true;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen_address, credentials, &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_recv_message_bytes));
  // Without this, Linux gRPC binds with SO_REUSEPORT and silently shares a
  // port another process already serves.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // gRPC 1.51 inflates compressed messages completely before any size check
  // on the result, so a small gzip bomb would cost gigabytes. Receive
  // messages as sent and inflate gzip ourselves, bounded (Handle). deflate is
  // refused: OTLP requires only gzip, and deflate cannot be told apart from
  // protobuf by its first bytes.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
  builder.RegisterCallbackGenericService(service_.get());
  // grpc.health.v1.Health on the same port (load balancers and Kubernetes
  // probe it): SERVING from here until Shutdown() starts draining.
  grpc::EnableDefaultHealthCheckService(true);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    if (server_ != nullptr) {
      server_->Shutdown();
      server_.reset();
    }
    return absl::UnavailableError(absl::StrCat("gRPC receiver: cannot listen on ",
                                               options_.listen_address,
                                               " (address in use, malformed or not local?)"));
  }
  port_ = port;
  return absl::OkStatus();
}

void GrpcReceiver::Shutdown(absl::Time deadline) {
  if (server_ == nullptr) return;
  if (auto* health = server_->GetHealthCheckService()) health->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  server_.reset();
}

}  // namespace propwatch::receiver
