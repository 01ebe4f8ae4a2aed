#include "exporter/receiver/tls.h"

#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace propwatch::receiver {

namespace ssl = boost::asio::ssl;

absl::Status TlsFiles::Validate() const {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate file and a key file");
  }
  if (!client_ca_file.empty() && cert_file.empty()) {
    return absl::InvalidArgumentError(
        "a client CA file (mutual TLS) needs a certificate and key file too");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<ssl::context>> MakeServerTlsContext(const TlsFiles& files) {
  if (absl::Status s = files.Validate(); !s.ok()) return s;
  // Unreadable files get the system's reason (OpenSSL would only say
  // "asio.ssl error").
  for (const std::string* file : {&files.cert_file, &files.key_file, &files.client_ca_file}) {
    if (!file->empty() && ::access(file->c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError("TLS: cannot read '" + *file + "': " +
                                        std::strerror(errno));
    }
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  auto fail = [&](const std::string& what, const std::string& file) {
    return absl::InvalidArgumentError("TLS: " + what + " '" + file + "': " + ec.message());
  };
  context->use_certificate_chain_file(files.cert_file, ec);
  if (ec) return fail("cannot use certificate file", files.cert_file);
  context->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return fail("cannot use key file", files.key_file);
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError("TLS: key file '" + files.key_file +
                                      "' does not match certificate '" + files.cert_file + "'");
  }
  if (!files.client_ca_file.empty()) {
    context->load_verify_file(files.client_ca_file, ec);
    if (ec) return fail("cannot use client CA file", files.client_ca_file);
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return fail("cannot require client certificates with", files.client_ca_file);
  }
  return context;
}

}  // namespace propwatch::receiver
