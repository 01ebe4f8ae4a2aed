// Routes gRPC's own log lines (gpr_log: handshake failures, transport
// errors) into the tap's log (exporter/log), so they carry its timestamp
// and level and honour --log-format=json and --log-level. Call once at
// start-up, after log::Configure. Thread-safe afterwards.
#pragma once

namespace propwatch::receiver {

void RouteGrpcLogsToLog();

}  // namespace propwatch::receiver
