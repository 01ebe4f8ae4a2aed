// Forwarder: in-line mode. Sends an accepted OTLP ExportTraceServiceRequest,
// byte for byte, to an upstream OTLP/gRPC endpoint (another collector, a
// backend) and reports whether the upstream took it.
//
// The tap ingests first and forwards second, so its numbers cover every span
// it was sent even while the upstream is down; a forward failure is answered
// with a retryable status (UNAVAILABLE / 503), and the client's retry is then
// counted by the engine as duplicates, not as new spans.
//
// Thread-safe: Forward may be called from any number of threads; one shared
// channel. Cost: one unary gRPC call per request, blocking the caller up to
// `timeout`.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
template <class RequestType, class ResponseType>
class TemplatedGenericStub;
class ByteBuffer;
}  // namespace grpc

namespace propwatch::receiver {

class Forwarder {
 public:
  // `target` is host:port (plaintext gRPC).
  Forwarder(const std::string& target, absl::Duration timeout);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // OK when the upstream answered OK; otherwise the upstream's status (or
  // DEADLINE_EXCEEDED / UNAVAILABLE from the channel), message prefixed with
  // the target.
  absl::Status Forward(std::string_view request_protobuf);

  const std::string& target() const { return target_; }

 private:
  const std::string target_;
  const absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer>> stub_;
};

}  // namespace propwatch::receiver
