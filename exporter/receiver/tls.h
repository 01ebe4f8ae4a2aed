// TLS settings of a listener and the OpenSSL server context built from them.
//
// A listener serves TLS when cert_file is set: the certificate chain (PEM)
// and its private key (PEM) are presented to clients; with client_ca_file,
// every client must present a certificate signed by that CA (mutual TLS),
// else the handshake fails. TLS 1.2 is the minimum.
//
// MakeServerTlsContext reads the files each time it is called, so calling it
// again is how a listener picks up renewed certificates (see
// HttpServer::ReloadTls). Thread-safe; the context it returns is shared by
// the connections that use it and immutable afterwards.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"

namespace propwatch::receiver {

struct TlsFiles {
  std::string cert_file;       // PEM certificate chain; empty: plaintext listener
  std::string key_file;        // PEM private key of cert_file
  std::string client_ca_file;  // PEM CA bundle; set: require client certificates

  bool enabled() const { return !cert_file.empty(); }
  // Both of cert_file and key_file or neither; client_ca_file only with them.
  absl::Status Validate() const;
};

// InvalidArgument naming the file and OpenSSL's reason when a file cannot be
// read, is not PEM, or the key does not match the certificate.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsFiles& files);

}  // namespace propwatch::receiver
