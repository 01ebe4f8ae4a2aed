#include "exporter/receiver/forwarder.h"

#include <chrono>

#include "absl/synchronization/notification.h"
#include "exporter/receiver/grpc_receiver.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"

namespace propwatch::receiver {

Forwarder::Forwarder(const std::string& target, absl::Duration timeout)
    : target_(target),
      timeout_(timeout),
      channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
      stub_(std::make_unique<grpc::GenericStub>(channel_)) {}

Forwarder::~Forwarder() = default;

absl::Status Forwarder::Forward(std::string_view request_protobuf) {
  grpc::Slice slice(request_protobuf.data(), request_protobuf.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout_)));
  grpc::Status status;
  absl::Notification done;
  stub_->UnaryCall(&context, std::string(kOtlpTraceExportMethod), grpc::StubOptions(), &request,
                   &response, [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
  done.WaitForNotification();
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      "forward to " + target_ + ": " + status.error_message());
}

}  // namespace propwatch::receiver
