#include "exporter/receiver/grpc_log.h"

#include <grpc/support/log.h>

#include <string>

#include "exporter/log/log.h"

namespace propwatch::receiver {
namespace {

void ToLog(gpr_log_func_args* args) {
  log::Level level = log::Level::kInfo;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG: level = log::Level::kDebug; break;
    case GPR_LOG_SEVERITY_INFO: level = log::Level::kDebug; break;  // gRPC's chatter
    case GPR_LOG_SEVERITY_ERROR: level = log::Level::kError; break;
  }
  std::string file = args->file != nullptr ? args->file : "";
  if (const size_t slash = file.rfind('/'); slash != std::string::npos) file.erase(0, slash + 1);
  log::Log(level, "grpc: " + std::string(args->message != nullptr ? args->message : "") + " (" +
                      file + ":" + std::to_string(args->line) + ")");
}

}  // namespace

void RouteGrpcLogsToLog() {
  // gRPC's own verbosity stays as it is (errors only, unless GRPC_VERBOSITY
  // says otherwise), so its debug chatter is not even formatted.
  gpr_set_log_function(&ToLog);
}

}  // namespace propwatch::receiver
