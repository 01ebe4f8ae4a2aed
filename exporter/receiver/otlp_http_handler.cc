#include "exporter/receiver/otlp_http_handler.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exporter/receiver/otlp_response.h"

namespace propwatch::receiver {
namespace {

constexpr std::string_view kProtobufType = "application/x-protobuf";
constexpr std::string_view kJsonType = "application/json";

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The media type of a Content-Type value: before any ';', trimmed.
std::string_view MediaType(std::string_view content_type) {
  const absl::string_view t = absl::StripAsciiWhitespace(
      AbslView(content_type.substr(0, content_type.find(';'))));
  return std::string_view(t.data(), t.size());
}

bool IsJson(const HttpRequest& request) {
  return absl::EqualsIgnoreCase(AbslView(MediaType(request.Header("Content-Type"))),
                                AbslView(kJsonType));
}

// google.rpc.Status.code for an HTTP status (informational only: OTLP
// clients decide on the HTTP status).
int32_t RpcCode(int http_status) {
  switch (http_status) {
    case 413: return kRpcResourceExhausted;
    case 429:
    case 503: return kRpcUnavailable;
    case 500: return kRpcInternal;
    case 405: return kRpcUnimplemented;
    default: return kRpcInvalidArgument;
  }
}

}  // namespace

OtlpHttpHandler::OtlpHttpHandler(IngestPipeline& pipeline, ReceiverStats* stats,
                                 const Options& options)
    : pipeline_(pipeline), stats_(stats != nullptr ? &stats->http : nullptr), options_(options) {}

absl::Status OtlpHttpHandler::Register(HttpServer& server) {
  HttpRouteOptions route;
  route.max_body_bytes = options_.max_body_bytes;
  route.max_inflight_requests = options_.max_inflight_requests;
  route.retry_after = options_.retry_after;
  route.stats = stats_;
  route.error_responder = [this](const HttpRequest& request, int status,
                                 std::string_view message) {
    return Error(request, status, message);
  };
  return server.Handle(options_.path,
                       [this](const HttpRequest& request) { return Handle(request); },
                       std::move(route));
}

HttpResponse OtlpHttpHandler::Error(const HttpRequest& request, int status,
                                    std::string_view message) const {
  HttpResponse r;
  r.status = status;
  std::optional<absl::Duration> retry;
  if (status == 429 || status == 503) retry = options_.retry_after;
  if (IsJson(request)) {
    r.content_type = std::string(kJsonType);
    r.body = EncodeStatusJson(RpcCode(status), message, retry);
  } else {
    r.content_type = std::string(kProtobufType);
    r.body = EncodeStatusProto(RpcCode(status), message, retry);
  }
  return r;
}

HttpResponse OtlpHttpHandler::Handle(const HttpRequest& request) {
  if (request.method != "POST") {
    if (stats_ != nullptr) stats_->Count(RequestResult::kMethodNotAllowed);
    HttpResponse r = Error(request, 405,
                           absl::StrCat("method ", AbslView(request.method),
                                        " not allowed on ", AbslView(request.path), "; use POST"));
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  const std::string_view media = MediaType(request.Header("Content-Type"));
  Protocol protocol;
  if (absl::EqualsIgnoreCase(AbslView(media), AbslView(kProtobufType))) {
    protocol = Protocol::kHttpProtobuf;
  } else if (absl::EqualsIgnoreCase(AbslView(media), AbslView(kJsonType))) {
    protocol = Protocol::kHttpJson;
  } else {
    if (stats_ != nullptr) stats_->Count(RequestResult::kUnsupportedMediaType);
    return Error(request, 415,
                 absl::StrCat("unsupported Content-Type \"", AbslView(media),
                              "\"; use application/x-protobuf or application/json"));
  }

  if (protocol == Protocol::kHttpJson && pipeline_.forwards()) {
    // In-line mode forwards requests byte for byte over OTLP/gRPC, which
    // carries protobuf only: refuse JSON rather than drop it downstream.
    if (stats_ != nullptr) stats_->Count(RequestResult::kUnsupportedMediaType);
    return Error(request, 415,
                 "in-line mode (--forward-to) accepts application/x-protobuf only");
  }

  const IngestPipeline::Result result = pipeline_.Ingest(protocol, request.body);
  if (result.kind == IngestPipeline::Result::Kind::kInvalid) {
    // Bad data: 400, not retryable.
    return Error(request, 400, result.message);
  }
  if (result.kind == IngestPipeline::Result::Kind::kUpstreamUnavailable) {
    HttpResponse r = Error(request, 503, result.message);
    r.headers.emplace_back(
        "Retry-After",
        std::to_string(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(
                                                options_.retry_after, absl::Seconds(1))))));
    return r;
  }
  HttpResponse r;
  r.status = 200;
  const auto rejected = static_cast<int64_t>(result.rejected_spans);
  if (protocol == Protocol::kHttpJson) {
    r.content_type = std::string(kJsonType);
    r.body = EncodeExportTraceResponseJson(rejected, result.message);
  } else {
    r.content_type = std::string(kProtobufType);
    r.body = EncodeExportTraceResponseProto(rejected, result.message);
  }
  return r;
}

}  // namespace propwatch::receiver
