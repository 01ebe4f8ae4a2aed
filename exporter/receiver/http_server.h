// HttpServer: a small, generic HTTP/1.1 server (Boost.Beast + Asio) for the
// tap's HTTP endpoints: OTLP/HTTP ingest, /metrics, the trace API.
//
// Contract:
//   - Routes map an exact path, or a path prefix, to a handler; the exact
//     match wins, then the longest prefix. No route: 404. Paths are matched
//     on the raw request-target up to '?' (no percent-decoding).
//   - Requests: keep-alive (HTTP/1.1 default, HTTP/1.0 on request), one
//     request at a time per connection (no pipelining overlap), `Expect:
//     100-continue` honoured. Heads over Options::max_header_bytes get 431,
//     malformed requests 400; both close the connection.
//   - Bodies: the route's max_body_bytes is enforced while reading (a
//     Content-Length over it is refused before reading: 413 + close) and
//     again after Content-Encoding decoding: gzip is inflated in a streaming
//     fashion and stopped as soon as the output exceeds the limit (413), so a
//     gzip bomb costs at most the limit in memory. Corrupt gzip: 400.
//     Encodings other than gzip / x-gzip / identity: 415. Handlers always
//     see the decoded body.
//   - A route may cap requests in flight (head received .. response ready);
//     more get 503 with Retry-After (OTLP/HTTP throttling).
//   - Responses the server generates itself on a route (400, 413, 415, 500,
//     503) are built by the route's error responder, so an endpoint can keep
//     its own error body format (OTLP: google.rpc.Status).
//   - Handlers never throw through the server: an exception becomes 500 and
//     is counted. Exceptions from Beast/Asio are caught at the connection
//     boundary, counted, and close that connection only.
//   - Timeouts: idle_timeout while waiting for a request head (also closes
//     idle keep-alive connections), read_timeout for a body, write_timeout
//     for a response.
//
// Thread-safety: Handle/HandlePrefix before Start only. Start and Stop from
// one controlling thread. Handlers run concurrently on the io threads (one
// request at a time per connection) and must be thread-safe.
//
// Cost: per request, the body is held once as received and once decoded (if
// compressed); per connection, a read buffer and one request in flight.
// Handlers run on the io threads, so a slow handler occupies one of the
// Options::io_threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "exporter/receiver/receiver_stats.h"
#include "exporter/receiver/tls.h"

namespace propwatch::receiver {

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

// A request as a handler sees it. Every view points into the connection's
// buffers and is valid only during the handler call.
struct HttpRequest {
  std::string_view method;  // as sent, e.g. "POST" (methods are case-sensitive)
  std::string_view target;  // raw request-target
  std::string_view path;    // target up to '?'
  std::string_view query;   // after '?', without it; empty if none
  std::span<const HttpHeader> headers;  // as received, in order
  // After Content-Encoding decoding; empty for an error responder called
  // before the body was read.
  std::string_view body;
  size_t wire_body_bytes = 0;  // body bytes as received

  // First header named `name` (ASCII case-insensitive); empty if absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // Content-Type, omitted when empty
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close_connection = false;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// Builds a response the server generates itself (see the file comment).
// `request` has its head only (body may be empty). Must not throw.
using HttpErrorResponder =
    std::function<HttpResponse(const HttpRequest& request, int status, std::string_view message)>;

struct HttpRouteOptions {
  // Body limit, as received and after decoding. OTLP recommends 20 MiB.
  size_t max_body_bytes = size_t{20} << 20;
  // Requests of this route in flight at once (head received .. response
  // ready); 0 is unlimited.
  uint32_t max_inflight_requests = 0;
  // Retry-After on the 503 sent when max_inflight_requests is hit (rounded
  // up to whole seconds, at least 1).
  absl::Duration retry_after = absl::Seconds(1);
  // When set, the server records this route's requests here: bytes, latency,
  // the inflight gauge, and the results it decides itself (too_large,
  // overloaded, invalid for corrupt gzip, unsupported_media_type for the
  // encoding, internal). The handler counts the results it decides.
  TransportStats* stats = nullptr;
  // Formats server-generated errors; default: text/plain message.
  HttpErrorResponder error_responder;
};

class HttpServer {
 public:
  struct Options {
    // host:port (IPv6 as [addr]:port); port 0 picks a free port (see port()).
    std::string listen_address = "127.0.0.1:4418";
    int io_threads = 2;
    size_t max_header_bytes = size_t{16} << 10;
    absl::Duration idle_timeout = absl::Seconds(60);
    absl::Duration read_timeout = absl::Seconds(30);
    absl::Duration write_timeout = absl::Seconds(30);
    // Connection counters (stats->http_connections) and requests to
    // unregistered paths (stats->http, not_found; only with
    // count_unrouted_as_otlp, so the admin listener's 404s are not counted
    // as failed OTLP exports). May be null.
    ReceiverStats* stats = nullptr;
    bool count_unrouted_as_otlp = true;
    // Names the listener in errors ("cannot listen on ...").
    std::string name = "HTTP server";
    // TLS (HTTPS) when tls.cert_file is set; mutual TLS with client_ca_file.
    // The handshake must finish within read_timeout; a failed one is counted
    // as connection error kind "tls" and the connection closed.
    TlsFiles tls;

    absl::Status Validate() const;
  };

  explicit HttpServer(const Options& options);
  // Stop() with a zero grace period if still running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a route. FailedPrecondition after Start; AlreadyExists when the
  // same path (of the same kind) is registered twice; InvalidArgument when
  // the path does not start with '/' or the handler is empty.
  absl::Status Handle(std::string path, HttpHandler handler, HttpRouteOptions options = {});
  absl::Status HandlePrefix(std::string prefix, HttpHandler handler,
                            HttpRouteOptions options = {});

  // Binds, listens and starts the io threads. InvalidArgument for bad
  // options or a malformed address; Unavailable naming the address when it
  // cannot be bound. Call at most once.
  absl::Status Start();

  // The bound port; 0 before a successful Start().
  int port() const;

  // Re-reads the TLS files: new connections use the new certificate, open
  // ones keep theirs. On error (unreadable, mismatched) the current
  // certificate stays in use and the error is returned. OK and a no-op for
  // a plaintext server. Thread-safe; callable while serving.
  absl::Status ReloadTls();

  // Stops accepting, closes idle keep-alive connections, lets requests in
  // progress finish (their responses carry `Connection: close`), and waits
  // up to `grace` before closing what is left. Joins the io threads.
  // Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(10));

 private:
  class Impl;  // in the .cc

  std::unique_ptr<Impl> impl_;
};

}  // namespace propwatch::receiver
