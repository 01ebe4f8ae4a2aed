#include "exporter/tap/http_get.h"

#include <chrono>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "exporter/tap/tap_config.h"

namespace propwatch::tap {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

absl::StatusOr<HttpGetResult> HttpGet(std::string_view address, std::string_view target,
                                      absl::Duration timeout) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = ParseHostPort(address, &host, &port); !s.ok()) return s;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::empty_body> request(http::verb::get, std::string(target), 11);
    request.set(http::field::host, host);
    request.set(http::field::user_agent, "propwatch-cli");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return HttpGetResult{static_cast<int>(response.result_int()), std::move(response.body())};
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("GET http://") + std::string(address) +
                                  std::string(target) + ": " + e.what());
  }
}

}  // namespace propwatch::tap
