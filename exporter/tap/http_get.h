// A minimal blocking HTTP/1.1 GET for the CLI subcommands (Boost.Beast).
// Thread-compatible; one connection per call; times out after `timeout`.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace propwatch::tap {

struct HttpGetResult {
  int status = 0;
  std::string body;
};

// `address` is host:port. Connection errors and timeouts → Unavailable.
absl::StatusOr<HttpGetResult> HttpGet(std::string_view address, std::string_view target,
                                      absl::Duration timeout = absl::Seconds(10));

}  // namespace propwatch::tap
