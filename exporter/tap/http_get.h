// A minimal blocking HTTP/1.1 GET for the CLI subcommands (Boost.Beast), over
// plain HTTP or HTTPS (the tap's admin listener with --admin-tls-*), with an
// optional client certificate and bearer token.
// Thread-compatible; one connection per call; times out after `timeout`.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "exporter/flags/flags.h"

namespace propwatch::tap {

struct HttpGetResult {
  int status = 0;
  std::string body;
};

// How to reach an admin listener that has TLS or a bearer token.
struct AdminClientOptions {
  std::string ca_file;            // set: HTTPS, the server verified against this CA
  std::string cert_file;          // client certificate (mutual TLS), with key_file
  std::string key_file;
  std::string bearer_token_file;  // set: Authorization: Bearer <its content, trimmed>
};

// The --admin-ca-file, --admin-cert-file, --admin-key-file and
// --bearer-token-file flags of the CLI subcommands, bound to `options`.
void AddAdminClientFlags(flags::FlagSet* set, AdminClientOptions* options);

// `address` is host:port. Connection, TLS and timeout errors → Unavailable;
// an unreadable token file → InvalidArgument.
absl::StatusOr<HttpGetResult> HttpGet(std::string_view address, std::string_view target,
                                      const AdminClientOptions& client = {},
                                      absl::Duration timeout = absl::Seconds(10));

}  // namespace propwatch::tap
