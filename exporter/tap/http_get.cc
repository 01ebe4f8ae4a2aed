#include "exporter/tap/http_get.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "exporter/tap/tap_config.h"
#include "exporter/tap/token.h"

namespace propwatch::tap {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

namespace {

template <typename Stream>
HttpGetResult Exchange(Stream& stream, const http::request<http::empty_body>& request) {
  http::write(stream, request);
  beast::flat_buffer buffer;
  // Beast's default 8 MB body cap is below a large trace store's listing
  // (GET /api/v1/traces, ~80 B per trace); 1 GiB covers the store's ceiling.
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{1} << 30);
  http::read(stream, buffer, parser);
  http::response<http::string_body> response = parser.release();
  return HttpGetResult{static_cast<int>(response.result_int()), std::move(response.body())};
}

}  // namespace

void AddAdminClientFlags(flags::FlagSet* set, AdminClientOptions* o) {
  set->String("admin-ca-file", &o->ca_file,
              "PEM CA that signed the admin listener's certificate: connect over HTTPS.");
  set->String("admin-cert-file", &o->cert_file,
              "PEM client certificate for an admin listener with mutual TLS.");
  set->String("admin-key-file", &o->key_file, "PEM key of --admin-cert-file.");
  set->String("bearer-token-file", &o->bearer_token_file,
              "File holding the trace API's bearer token (--admin-bearer-token-file of the tap).");
}

absl::StatusOr<HttpGetResult> HttpGet(std::string_view address, std::string_view target,
                                      const AdminClientOptions& client, absl::Duration timeout) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = ParseHostPort(address, &host, &port); !s.ok()) return s;
  const bool tls = !client.ca_file.empty();
  if (!tls && (!client.cert_file.empty() || !client.key_file.empty())) {
    // A client certificate only means anything over TLS: refuse rather than
    // talk plaintext (and send a token in the clear) to a TLS listener.
    return absl::InvalidArgumentError(
        "--admin-cert-file/--admin-key-file need --admin-ca-file (the admin listener's CA)");
  }
  if (client.cert_file.empty() != client.key_file.empty()) {
    return absl::InvalidArgumentError("--admin-cert-file and --admin-key-file go together");
  }
  http::request<http::empty_body> request(http::verb::get, std::string(target), 11);
  request.set(http::field::host, host);
  request.set(http::field::user_agent, "propwatch-cli");
  if (!client.bearer_token_file.empty()) {
    auto token = ReadTokenFile(client.bearer_token_file, "bearer-token-file");
    if (!token.ok()) return token.status();
    request.set(http::field::authorization, "Bearer " + *token);
  }
  const std::string url =
      std::string(tls ? "https://" : "http://") + std::string(address) + std::string(target);
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    const auto deadline = std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
    if (!tls) {
      beast::tcp_stream stream(io);
      stream.expires_after(deadline);
      stream.connect(resolver.resolve(host, std::to_string(port)));
      HttpGetResult result = Exchange(stream, request);
      beast::error_code ignored;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      return result;
    }
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(client.ca_file);
    if (!client.cert_file.empty()) {
      context.use_certificate_chain_file(client.cert_file);
      context.use_private_key_file(client.key_file, ssl::context::pem);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, context);
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(host));
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    beast::get_lowest_layer(stream).expires_after(deadline);
    beast::get_lowest_layer(stream).connect(resolver.resolve(host, std::to_string(port)));
    stream.handshake(ssl::stream_base::client);
    HttpGetResult result = Exchange(stream, request);
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                      ignored);
    return result;
  } catch (const std::exception& e) {
    return absl::UnavailableError("GET " + url + ": " + e.what());
  }
}

}  // namespace propwatch::tap
