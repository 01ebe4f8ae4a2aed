#include "exporter/receiver/http_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <exception>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl/ssl_stream.hpp"
#include "exporter/receiver/gunzip.h"

namespace propwatch::receiver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// After a response that closes the connection, unread request bytes are
// drained for at most this long / this many bytes before closing, so the
// close does not turn into a TCP reset that destroys the response in flight.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = size_t{64} << 20;
// Per-connection buffers larger than this are released between requests.
constexpr size_t kMaxRetainedBufferBytes = size_t{1} << 20;
// Most a body read asks of the socket at once (see ReadBody).
constexpr size_t kBodyReadBytes = size_t{64} << 10;

std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

std::string_view Trim(std::string_view s) {
  const absl::string_view t = absl::StripAsciiWhitespace(AbslView(s));
  return std::string_view(t.data(), t.size());
}

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(d));
}

uint64_t NanosSince(std::chrono::steady_clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now() - start)
                                   .count());
}

HttpResponse TextResponse(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = absl::StrCat(AbslView(message), "\n");
  return r;
}

absl::StatusOr<tcp::endpoint> ParseListenAddress(std::string_view address) {
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed listen address \"", AbslView(address), "\""));
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen address \"", AbslView(address), "\" has no port"));
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  uint32_t port_number = 0;
  if (!absl::SimpleAtoi(AbslView(port), &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in listen address \"", AbslView(address), "\""));
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("bad host in listen address \"",
                                                   AbslView(address),
                                                   "\" (an IP address is required)"));
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port_number));
}

struct Route {
  std::string path;
  bool prefix = false;
  HttpHandler handler;
  HttpRouteOptions options;
  std::atomic<uint32_t> inflight{0};
};

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

absl::Status HttpServer::Options::Validate() const {
  if (io_threads < 1) return absl::InvalidArgumentError("io_threads must be at least 1");
  if (max_header_bytes < 256 || max_header_bytes > UINT32_MAX) {
    return absl::InvalidArgumentError("max_header_bytes must be in [256, 2^32)");
  }
  if (idle_timeout <= absl::ZeroDuration() || read_timeout <= absl::ZeroDuration() ||
      write_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  if (absl::Status s = tls.Validate(); !s.ok()) return s;
  return ParseListenAddress(listen_address).status();
}

class HttpServer::Impl {
 public:
  explicit Impl(const Options& options)
      : options_(options),
        conn_stats_(options.stats != nullptr ? &options.stats->http_connections : nullptr),
        unrouted_stats_(options.stats != nullptr && options.count_unrouted_as_otlp
                            ? &options.stats->http
                            : nullptr),
        ioc_(std::max(1, options.io_threads)),
        acceptor_(asio::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {}

  ~Impl() { Stop(absl::ZeroDuration()); }

  absl::Status AddRoute(std::string path, bool prefix, HttpHandler handler,
                        HttpRouteOptions options) {
    if (started_) return absl::FailedPreconditionError("routes must be added before Start()");
    if (path.empty() || path.front() != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("route path \"", path, "\" must start with /"));
    }
    if (!handler) return absl::InvalidArgumentError("route handler is empty");
    for (const auto& r : routes_) {
      if (r->prefix == prefix && r->path == path) {
        return absl::AlreadyExistsError(absl::StrCat("route ", path, " already registered"));
      }
    }
    auto route = std::make_unique<Route>();
    route->path = std::move(path);
    route->prefix = prefix;
    route->handler = std::move(handler);
    route->options = std::move(options);
    routes_.push_back(std::move(route));
    return absl::OkStatus();
  }

  absl::Status Start() {
    if (started_) return absl::FailedPreconditionError("HTTP server already started");
    if (absl::Status s = options_.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("HTTP server: ", s.message()));
    }
    if (options_.tls.enabled()) {
      auto context = MakeServerTlsContext(options_.tls);
      if (!context.ok()) return absl::InvalidArgumentError(context.status().message());
      absl::MutexLock lock(&mu_);
      tls_context_ = *std::move(context);
    }
    const tcp::endpoint endpoint = *ParseListenAddress(options_.listen_address);
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return absl::UnavailableError(absl::StrCat(options_.name, ": cannot listen on ",
                                                 options_.listen_address, ": ", ec.message()));
    }
    port_.store(acceptor_.local_endpoint().port(), std::memory_order_release);
    started_ = true;
    work_.emplace(ioc_.get_executor());
    DoAccept();
    for (int i = 0; i < options_.io_threads; ++i) {
      threads_.emplace_back([this] { RunIo(); });
    }
    return absl::OkStatus();
  }

  void Stop(absl::Duration grace);

  int port() const { return port_.load(std::memory_order_acquire); }

  absl::Status ReloadTls() {
    if (!options_.tls.enabled()) return absl::OkStatus();
    auto context = MakeServerTlsContext(options_.tls);
    if (!context.ok()) return context.status();
    absl::MutexLock lock(&mu_);
    tls_context_ = *std::move(context);
    return absl::OkStatus();
  }

 private:
  class Connection;
  template <typename Stream>
  class StreamConnection;

  std::shared_ptr<asio::ssl::context> TlsContext() {
    absl::MutexLock lock(&mu_);
    return tls_context_;
  }

  void RunIo() {
    // Completion handlers catch their own exceptions; this is the last line.
    for (;;) {
      try {
        ioc_.run();
        return;
      } catch (...) {
        if (conn_stats_ != nullptr) {
          conn_stats_->connection_errors.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }

  void DoAccept();

  Route* FindRoute(std::string_view path) const {
    Route* best = nullptr;
    for (const auto& r : routes_) {
      if (!r->prefix) {
        if (r->path == path) return r.get();
      } else if (path.starts_with(r->path) &&
                 (best == nullptr || r->path.size() > best->path.size())) {
        best = r.get();
      }
    }
    return best;
  }

  // False when stopping: the caller closes the connection.
  bool Register(const std::shared_ptr<Connection>& connection);
  void Unregister(Connection* connection) {
    absl::MutexLock lock(&mu_);
    connections_.erase(connection);
  }

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  const Options options_;
  HttpConnectionStats* const conn_stats_;
  TransportStats* const unrouted_stats_;
  std::vector<std::unique_ptr<Route>> routes_;  // immutable once started

  // Declared before ioc_: handlers destroyed with the io_context may still
  // release connections, which unregister here.
  absl::Mutex mu_;
  std::atomic<bool> stopping_{false};  // written under mu_
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  // Stop's wait condition: every connection has unregistered.
  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return connections_.empty(); }
  // The context new TLS connections use; replaced by ReloadTls.
  std::shared_ptr<asio::ssl::context> tls_context_ ABSL_GUARDED_BY(mu_);

  asio::io_context ioc_;
  tcp::acceptor acceptor_;           // on its own strand
  asio::steady_timer accept_retry_;  // same strand
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::atomic<int> port_{0};
  bool started_ = false;
  bool stopped_ = false;
};

// What the server needs of a connection, whatever its transport.
class HttpServer::Impl::Connection {
 public:
  virtual ~Connection() = default;
  virtual void Start() = 0;
  virtual void CloseIfIdle() = 0;
  virtual void ForceClose() = 0;
  virtual asio::any_io_executor executor() = 0;
};

// One TCP connection, plain (beast::tcp_stream) or TLS
// (beast::ssl_stream<beast::tcp_stream>). Every member is touched only on the
// connection's strand (all completion handlers run there), so there is no
// locking here.
template <typename Stream>
class HttpServer::Impl::StreamConnection final
    : public Connection,
      public std::enable_shared_from_this<StreamConnection<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  // Plain.
  StreamConnection(Impl& server, tcp::socket socket)
    requires(!kTls)
      : server_(server), stream_(std::move(socket)) {
    CountAccepted();
  }
  // TLS: the connection keeps the context it was accepted with alive.
  StreamConnection(Impl& server, tcp::socket socket, std::shared_ptr<asio::ssl::context> context)
    requires(kTls)
      : server_(server), context_(std::move(context)), stream_(std::move(socket), *context_) {
    CountAccepted();
  }

  ~StreamConnection() override {
    EndRequest();
    server_.Unregister(this);
    if (server_.conn_stats_ != nullptr) {
      server_.conn_stats_->connections_active.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  void Start() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      self->Guarded([&] {
        if (!self->server_.Register(self)) {
          self->Close();
          return;
        }
        if constexpr (kTls) {
          self->Handshake();
        } else {
          self->DoReadHead();
        }
      });
    });
  }

  // Posted by Stop(): close now if waiting for a request (or draining after
  // a final response); a connection in the middle of a request closes after
  // its response instead.
  void CloseIfIdle() override {
    Guarded([&] {
      if (state_ == State::kIdle || state_ == State::kLingering) Close();
    });
  }
  void ForceClose() override {
    Guarded([&] { Close(); });
  }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  void CountAccepted() {
    if (server_.conn_stats_ != nullptr) {
      server_.conn_stats_->connections_accepted.fetch_add(1, std::memory_order_relaxed);
      server_.conn_stats_->connections_active.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // The TCP layer under either stream: timeouts, shutdown, close.
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  // TLS only: the handshake, bounded by read_timeout. A failure (plaintext
  // sent to a TLS port, no or an untrusted client certificate under mutual
  // TLS) is counted as a TLS error and closes the connection.
  void Handshake() {
    state_ = State::kBusy;
    Tcp().expires_after(ToChrono(server_.options_.read_timeout));
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = this->shared_from_this()](beast::error_code ec) {
                              self->Guarded([&] {
                                if (ec) {
                                  self->CountError(ec == beast::error::timeout
                                                       ? &HttpConnectionStats::timeouts
                                                       : &HttpConnectionStats::tls_errors);
                                  self->Close();
                                  return;
                                }
                                self->DoReadHead();
                              });
                            });
  }
  enum class State : uint8_t { kIdle, kBusy, kLingering, kClosed };

  // Runs a step of the connection; an exception ends this connection only.
  template <typename F>
  void Guarded(F&& f) {
    try {
      f();
    } catch (...) {
      CountError(&HttpConnectionStats::connection_errors);
      EndRequest();
      Close();
    }
  }

  void CountError(std::atomic<uint64_t> HttpConnectionStats::*counter) {
    if (server_.conn_stats_ != nullptr) {
      (server_.conn_stats_->*counter).fetch_add(1, std::memory_order_relaxed);
    }
  }

  void DoReadHead() {
    if (server_.stopping()) {
      Close();
      return;
    }
    state_ = State::kIdle;
    route_ = nullptr;
    if (buffer_.capacity() > kMaxRetainedBufferBytes && buffer_.size() == 0) {
      buffer_.shrink_to_fit();
    }
    if (decoded_.capacity() > kMaxRetainedBufferBytes) std::string().swap(decoded_);
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options_.max_header_bytes));
    // Beast checks Content-Length against its (1 MB) default while parsing
    // the head; the route's limit is applied once the route is known. (Not
    // boost::none: Beast 1.74 compares lengths against the optional itself.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Tcp().expires_after(ToChrono(server_.options_.idle_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->Guarded([&] { self->OnHead(ec); });
                            });
  }

  void OnHead(beast::error_code ec) {
    if (ec) {
      OnReadError(ec, /*reading_head=*/true);
      return;
    }
    state_ = State::kBusy;
    start_ = std::chrono::steady_clock::now();
    const auto& message = parser_->get();
    request_ = HttpRequest();
    request_.method = View(message.method_string());
    request_.target = View(message.target());
    const size_t q = request_.target.find('?');
    request_.path = request_.target.substr(0, q);
    if (q != std::string_view::npos) request_.query = request_.target.substr(q + 1);
    headers_.clear();
    for (const auto& field : message) {
      headers_.push_back({View(field.name_string()), View(field.value())});
    }
    request_.headers = headers_;
    request_keep_alive_ = message.keep_alive();
    const bool body_pending = !parser_->is_done();

    route_ = server_.FindRoute(request_.path);
    if (route_ == nullptr) {
      if (server_.unrouted_stats_ != nullptr) {
        server_.unrouted_stats_->Count(RequestResult::kNotFound);
      }
      Respond(TextResponse(404, "not found"), /*close=*/body_pending);
      return;
    }
    const HttpRouteOptions& options = route_->options;
    if (options.stats != nullptr) {
      options.stats->inflight_requests.fetch_add(1, std::memory_order_relaxed);
      counted_inflight_ = true;
    }
    if (options.max_inflight_requests != 0) {
      uint32_t n = route_->inflight.load(std::memory_order_relaxed);
      do {
        if (n >= options.max_inflight_requests) {
          // OTLP/HTTP throttling: 503 is retryable and Retry-After says when.
          HttpResponse r = RouteError(
              503, absl::StrCat("overloaded: more than ", options.max_inflight_requests,
                                " requests in flight; retry later"));
          const int64_t seconds =
              std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(options.retry_after,
                                                                   absl::Seconds(1))));
          r.headers.emplace_back("Retry-After", absl::StrCat(seconds));
          CountRoute(RequestResult::kOverloaded);
          Respond(std::move(r), body_pending);
          return;
        }
      } while (!route_->inflight.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel));
      admitted_ = true;
    }
    if (const auto length = parser_->content_length();
        length.has_value() && *length > options.max_body_bytes) {
      CountRoute(RequestResult::kTooLarge);
      Respond(RouteError(413, absl::StrCat("request body of ", *length,
                                           " bytes exceeds the limit of ", options.max_body_bytes,
                                           " bytes")),
              /*close=*/true);
      return;
    }
    if (!body_pending) {
      OnBodyComplete();
      return;
    }
    parser_->body_limit(options.max_body_bytes);
    if (message.version() >= 11 && EqualsIgnoreCase(request_.Header("Expect"), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      Tcp().expires_after(ToChrono(server_.options_.write_timeout));
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          self->Guarded([&] {
                            if (ec) {
                              self->OnWriteError(ec);
                            } else {
                              self->ReadBody();
                            }
                          });
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // Beast reads as much as the buffer has room for, at least 512 bytes: a
    // buffer sized for the head would take a 100 KiB body in ~200 reads
    // (measured with otlp_load --protocol=http). Room for up to 64 KiB per
    // read, within what a connection keeps between requests.
    if (const auto length = parser_->content_length(); !length.has_value() || *length > 0) {
      const size_t want = static_cast<size_t>(
          std::min<uint64_t>(length.value_or(kBodyReadBytes), kBodyReadBytes));
      if (buffer_.capacity() - buffer_.size() < want) buffer_.reserve(buffer_.size() + want);
    }
    Tcp().expires_after(ToChrono(server_.options_.read_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->Guarded([&] { self->OnBody(ec); });
                     });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      // Only chunked bodies get here; a Content-Length over the limit is
      // refused before reading.
      CountRoute(RequestResult::kTooLarge);
      Respond(RouteError(413, absl::StrCat("request body exceeds the limit of ",
                                           route_->options.max_body_bytes, " bytes")),
              /*close=*/true);
      return;
    }
    if (ec) {
      OnReadError(ec, /*reading_head=*/false);
      return;
    }
    OnBodyComplete();
  }

  void OnBodyComplete() {
    // Handling time starts once the body is in (see TransportStats).
    start_ = std::chrono::steady_clock::now();
    const HttpRouteOptions& options = route_->options;
    const std::string& raw = parser_->get().body();
    request_.wire_body_bytes = raw.size();
    std::string_view body = raw;
    const std::string_view encoding = Trim(request_.Header("Content-Encoding"));
    if (!encoding.empty() && !EqualsIgnoreCase(encoding, "identity")) {
      if (!EqualsIgnoreCase(encoding, "gzip") && !EqualsIgnoreCase(encoding, "x-gzip")) {
        CountBytes(raw.size(), 0);
        CountRoute(RequestResult::kUnsupportedMediaType);
        Respond(RouteError(415, absl::StrCat("unsupported Content-Encoding \"",
                                             AbslView(encoding),
                                             "\" (supported: gzip, identity)")),
                false);
        return;
      }
      const absl::Status status = GunzipWithLimit(raw, options.max_body_bytes, &decoded_);
      if (!status.ok()) {
        CountBytes(raw.size(), 0);
        const bool too_large = absl::IsResourceExhausted(status);
        CountRoute(too_large ? RequestResult::kTooLarge : RequestResult::kInvalid);
        Respond(RouteError(too_large ? 413 : 400,
                           std::string_view(status.message().data(), status.message().size())),
                false);
        return;
      }
      body = decoded_;
    }
    CountBytes(raw.size(), body.size());
    request_.body = body;
    HttpResponse response;
    try {
      response = route_->handler(request_);
    } catch (const std::exception& e) {
      CountRoute(RequestResult::kInternal);
      CountError(&HttpConnectionStats::connection_errors);
      response = RouteError(500, absl::StrCat("internal error: ", e.what()));
    } catch (...) {
      CountRoute(RequestResult::kInternal);
      CountError(&HttpConnectionStats::connection_errors);
      response = RouteError(500, "internal error");
    }
    Respond(std::move(response), false);
  }

  // A server-generated error for the current route, in the route's format.
  HttpResponse RouteError(int status, std::string_view message) {
    if (route_ != nullptr && route_->options.error_responder) {
      try {
        return route_->options.error_responder(request_, status, message);
      } catch (...) {
        CountError(&HttpConnectionStats::connection_errors);
      }
    }
    return TextResponse(status, message);
  }

  void CountRoute(RequestResult result) {
    if (route_ != nullptr && route_->options.stats != nullptr) route_->options.stats->Count(result);
  }

  void CountBytes(size_t received, size_t decompressed) {
    if (route_ == nullptr || route_->options.stats == nullptr) return;
    route_->options.stats->bytes_received.fetch_add(received, std::memory_order_relaxed);
    route_->options.stats->bytes_decompressed.fetch_add(decompressed, std::memory_order_relaxed);
  }

  void Respond(HttpResponse&& r, bool close) {
    if (route_ != nullptr && route_->options.stats != nullptr) {
      route_->options.stats->request_duration.Observe(NanosSince(start_));
    }
    // The request is handled: free its slot now rather than after the write,
    // so a client that got this response can be admitted again right away.
    EndRequest();
    keep_alive_ = !close && !r.close_connection && request_keep_alive_ && !server_.stopping();
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) response_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) {
      // A CR or LF would let a value inject headers; drop such a header.
      if (name.find_first_of("\r\n") == std::string::npos &&
          value.find_first_of("\r\n") == std::string::npos) {
        response_.set(name, value);
      }
    }
    response_.body() = std::move(r.body);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    if (request_.method == "HEAD") {
      // The headers of the GET answer, Content-Length included, and no body
      // (RFC 9110 9.3.2): a body here would be read as the next response.
      const size_t length = response_.body().size();
      response_.body().clear();
      response_.content_length(length);
    }
    // Drop the request (views first, then its buffers) before writing.
    request_ = HttpRequest();
    if (parser_.has_value() && parser_->is_done()) parser_.reset();
    Tcp().expires_after(ToChrono(server_.options_.write_timeout));
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        self->Guarded([&] { self->OnWrite(ec); });
                      });
  }

  void OnWrite(beast::error_code ec) {
    EndRequest();
    response_ = {};
    if (ec) {
      OnWriteError(ec);
      return;
    }
    if (!keep_alive_) {
      LingeringClose();
      return;
    }
    DoReadHead();
  }

  // Releases the request's in-flight slot and gauge. Idempotent.
  void EndRequest() {
    if (admitted_) {
      route_->inflight.fetch_sub(1, std::memory_order_acq_rel);
      admitted_ = false;
    }
    if (counted_inflight_) {
      route_->options.stats->inflight_requests.fetch_sub(1, std::memory_order_relaxed);
      counted_inflight_ = false;
    }
  }

  static bool IsDisconnect(beast::error_code ec) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
           ec == asio::error::bad_descriptor || ec == asio::error::not_connected;
  }

  void OnReadError(beast::error_code ec, bool reading_head) {
    EndRequest();
    if (ec == beast::error::timeout) {
      CountError(&HttpConnectionStats::timeouts);
      Close();
      return;
    }
    if (IsDisconnect(ec)) {
      Close();
      return;
    }
    // Beast's HTTP parse errors (malformed head or chunked body).
    const bool http_error =
        ec.category() == http::make_error_code(http::error::bad_target).category();
    if (reading_head && http_error) {
      // Malformed request or oversized head: say so, then close (the stream
      // position is unknown).
      CountError(&HttpConnectionStats::protocol_errors);
      route_ = nullptr;
      request_ = HttpRequest();
      const bool too_big = ec == http::error::header_limit;
      Respond(TextResponse(too_big ? 431 : 400,
                           too_big ? "request header fields too large"
                                   : absl::StrCat("bad request: ", ec.message())),
              /*close=*/true);
      return;
    }
    if (!reading_head && http_error) {
      // E.g. malformed chunked encoding.
      CountError(&HttpConnectionStats::protocol_errors);
      CountRoute(RequestResult::kInvalid);
      Respond(TextResponse(400, absl::StrCat("bad request body: ", ec.message())), true);
      return;
    }
    CountError(&HttpConnectionStats::connection_errors);
    Close();
  }

  void OnWriteError(beast::error_code ec) {
    EndRequest();
    if (ec == beast::error::timeout) {
      CountError(&HttpConnectionStats::timeouts);
    } else if (!IsDisconnect(ec)) {
      CountError(&HttpConnectionStats::connection_errors);
    }
    Close();
  }

  // Half-close, then discard what the client still sends (bounded), so the
  // final close does not reset the connection under the response.
  void LingeringClose() {
    state_ = State::kLingering;
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      Close();
      return;
    }
    linger_bytes_ = 0;
    Tcp().expires_after(kLingerTimeout);
    DoLingerRead();
  }

  void DoLingerRead() {
    buffer_.consume(buffer_.size());
    // Raw bytes below any TLS layer: they are discarded unread.
    Tcp().async_read_some(buffer_.prepare(16 * 1024),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->Guarded([&] {
                                self->linger_bytes_ += n;
                                if (ec || self->linger_bytes_ > kLingerMaxBytes) {
                                  self->Close();
                                } else {
                                  self->DoLingerRead();
                                }
                              });
                            });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    Tcp().close();
  }

  Impl& server_;
  std::shared_ptr<asio::ssl::context> context_;  // TLS only; outlives stream_
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::vector<HttpHeader> headers_;
  std::string decoded_;
  HttpRequest request_;
  Route* route_ = nullptr;
  State state_ = State::kIdle;
  bool request_keep_alive_ = false;
  bool keep_alive_ = false;
  bool admitted_ = false;
  bool counted_inflight_ = false;
  size_t linger_bytes_ = 0;
  std::chrono::steady_clock::time_point start_;
};

bool HttpServer::Impl::Register(const std::shared_ptr<Connection>& connection) {
  absl::MutexLock lock(&mu_);
  if (stopping_.load(std::memory_order_relaxed)) return false;
  connections_.emplace(connection.get(), connection);
  return true;
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(
      asio::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
          // E.g. out of file descriptors: back off briefly instead of spinning.
          if (conn_stats_ != nullptr) {
            conn_stats_->connection_errors.fetch_add(1, std::memory_order_relaxed);
          }
          accept_retry_.expires_after(std::chrono::milliseconds(50));
          accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
            if (!wait_ec && acceptor_.is_open()) DoAccept();
          });
          return;
        }
        try {
          if (options_.tls.enabled()) {
            std::make_shared<StreamConnection<beast::ssl_stream<beast::tcp_stream>>>(
                *this, std::move(socket), TlsContext())
                ->Start();
          } else {
            std::make_shared<StreamConnection<beast::tcp_stream>>(*this, std::move(socket))
                ->Start();
          }
        } catch (...) {
          if (conn_stats_ != nullptr) {
            conn_stats_->connection_errors.fetch_add(1, std::memory_order_relaxed);
          }
        }
        DoAccept();
      });
}

void HttpServer::Impl::Stop(absl::Duration grace) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  auto snapshot = [this] {
    std::vector<std::shared_ptr<Connection>> live;
    absl::MutexLock lock(&mu_);
    stopping_.store(true, std::memory_order_release);
    for (auto& [ptr, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
    return live;
  };
  // `stopping_` is set (by snapshot) before the acceptor closes, so a client
  // that sees its connection refused knows every later response says close.
  {
    // Scoped: holding these references would keep connections alive.
    const std::vector<std::shared_ptr<Connection>> live = snapshot();
    asio::post(acceptor_.get_executor(), [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      accept_retry_.cancel();
    });
    for (const auto& c : live) {
      asio::post(c->executor(), [c] { c->CloseIfIdle(); });
    }
  }
  bool done;
  {
    absl::MutexLock lock(&mu_);
    done = mu_.AwaitWithTimeout(absl::Condition(this, &Impl::Drained), grace);
  }
  if (!done) {
    for (auto& c : snapshot()) {
      asio::post(c->executor(), [c] { c->ForceClose(); });
    }
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Impl::Drained));
  }
  work_.reset();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

HttpServer::HttpServer(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
HttpServer::~HttpServer() = default;

absl::Status HttpServer::Handle(std::string path, HttpHandler handler, HttpRouteOptions options) {
  return impl_->AddRoute(std::move(path), false, std::move(handler), std::move(options));
}

absl::Status HttpServer::HandlePrefix(std::string prefix, HttpHandler handler,
                                      HttpRouteOptions options) {
  return impl_->AddRoute(std::move(prefix), true, std::move(handler), std::move(options));
}

absl::Status HttpServer::Start() { return impl_->Start(); }
int HttpServer::port() const { return impl_->port(); }
absl::Status HttpServer::ReloadTls() { return impl_->ReloadTls(); }
void HttpServer::Stop(absl::Duration grace) { impl_->Stop(grace); }

}  // namespace propwatch::receiver
