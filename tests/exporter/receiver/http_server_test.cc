// HttpServer: routing, keep-alive, body limits before and after gzip (bomb
// included), protocol errors, handler exceptions, timeouts and Stop().
// Ports are bound to 0; waits use synchronization, never sleeps.
#include "exporter/receiver/http_server.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "receiver_test_util.h"

namespace propwatch::receiver {
namespace {

using testing::Gzip;
using testing::GzipZeros;
using testing::HttpClient;
using testing::HttpResult;
using testing::MaxRssBytes;

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

bool CanConnect(int port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
  return !ec;
}

class HttpServerTest : public ::testing::Test {
 protected:
  static constexpr size_t kLimit = size_t{4} << 20;

  void SetUp() override { options_.listen_address = "127.0.0.1:0"; }

  void Start() {
    options_.stats = &stats_;
    server_ = std::make_unique<HttpServer>(options_);
    ASSERT_TRUE(server_
                    ->Handle("/echo",
                             [](const HttpRequest& r) {
                               HttpResponse out = Text(200, std::string(r.body));
                               out.headers.emplace_back("X-Method", std::string(r.method));
                               out.headers.emplace_back("X-Query", std::string(r.query));
                               out.headers.emplace_back("X-Wire", absl::StrCat(r.wire_body_bytes));
                               return out;
                             })
                    .ok());
    ASSERT_TRUE(server_
                    ->HandlePrefix("/api/",
                                   [](const HttpRequest& r) {
                                     return Text(200, absl::StrCat("prefix ", std::string(r.path)));
                                   })
                    .ok());
    ASSERT_TRUE(server_
                    ->HandlePrefix("/api/v1/",
                                   [](const HttpRequest& r) {
                                     return Text(200, absl::StrCat("longer ", std::string(r.path)));
                                   })
                    .ok());
    ASSERT_TRUE(
        server_->Handle("/api/special", [](const HttpRequest&) { return Text(200, "exact"); })
            .ok());
    ASSERT_TRUE(server_
                    ->Handle("/throw",
                             [](const HttpRequest&) -> HttpResponse {
                               throw std::runtime_error("boom");
                             })
                    .ok());
    HttpRouteOptions limited;
    limited.max_body_bytes = kLimit;
    limited.stats = &stats_.http;
    ASSERT_TRUE(server_
                    ->Handle("/limited",
                             [](const HttpRequest& r) {
                               return Text(200,
                                           absl::StrCat(r.body.size(), " ", r.wire_body_bytes));
                             },
                             limited)
                    .ok());
    ASSERT_TRUE(server_
                    ->Handle("/block",
                             [this](const HttpRequest&) {
                               block_entered_.Notify();
                               block_release_.WaitForNotification();
                               return Text(200, "released");
                             })
                    .ok());
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }

  HttpServer::Options options_;
  ReceiverStats stats_;
  std::unique_ptr<HttpServer> server_;
  absl::Notification block_entered_;
  absl::Notification block_release_;
};

TEST_F(HttpServerTest, RoutesExactThenLongestPrefix) {
  Start();
  HttpClient client(server_->port());
  EXPECT_EQ(client.Send("GET", "/api/special", {}, "").body, "exact");
  EXPECT_EQ(client.Send("GET", "/api/x", {}, "").body, "prefix /api/x");
  EXPECT_EQ(client.Send("GET", "/api/v1/traces/abc", {}, "").body, "longer /api/v1/traces/abc");
  const HttpResult echo = client.Send("PUT", "/echo?a=1&b=2", {}, "hello");
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.body, "hello");
  EXPECT_EQ(echo.Header("x-method"), "PUT");
  EXPECT_EQ(echo.Header("x-query"), "a=1&b=2");
  EXPECT_EQ(client.Send("GET", "/echo/more", {}, "").status, 404);
  EXPECT_EQ(client.Send("GET", "/", {}, "").status, 404);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kNotFound), 2u);
}

TEST_F(HttpServerTest, RouteRegistrationErrors) {
  HttpServer server(options_);
  auto ok = [](const HttpRequest&) { return Text(200, ""); };
  EXPECT_TRUE(server.Handle("/a", ok).ok());
  EXPECT_EQ(server.Handle("/a", ok).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(server.HandlePrefix("/a", ok).ok());  // a prefix route is a different kind
  EXPECT_EQ(server.Handle("a", ok).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Handle("/b", nullptr).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.Handle("/c", ok).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kFailedPrecondition);
  server.Stop();
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  HttpClient client(server_->port());
  for (int i = 0; i < 5; ++i) {
    const HttpResult r = client.Send("POST", "/echo", {}, absl::StrCat("request ", i));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, absl::StrCat("request ", i));
    EXPECT_TRUE(r.keep_alive);
  }
  EXPECT_EQ(stats_.http_connections.connections_accepted.load(), 1u);
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  Start();
  HttpClient client(server_->port());
  client.WriteRaw("GET /api/special HTTP/1.0\r\n\r\n");
  const HttpResult r = client.Read();
  EXPECT_EQ(r.body, "exact");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(client.ServerClosed());
}

TEST_F(HttpServerTest, GzipBodyIsDecodedForTheHandler) {
  Start();
  HttpClient client(server_->port());
  const std::string text(100'000, 'x');
  const std::string gz = Gzip(text);
  const HttpResult r = client.Send("POST", "/limited", {{"Content-Encoding", "gzip"}}, gz);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, absl::StrCat(text.size(), " ", gz.size()));
  EXPECT_EQ(stats_.http.bytes_received.load(), gz.size());
  EXPECT_EQ(stats_.http.bytes_decompressed.load(), text.size());
  EXPECT_EQ(stats_.http.request_duration.Read().count, 1u);
  // Two concatenated gzip members are one body (RFC 1952).
  const HttpResult two =
      client.Send("POST", "/echo", {{"Content-Encoding", "GZIP"}}, Gzip("ab") + Gzip("cd"));
  EXPECT_EQ(two.body, "abcd");
  // identity is a no-op.
  EXPECT_EQ(client.Send("POST", "/echo", {{"Content-Encoding", "identity"}}, "raw").body, "raw");
}

TEST_F(HttpServerTest, GzipBombIsStoppedAtTheLimit) {
  Start();
  // 1 GiB of zeros, about 1 MiB compressed: under the 4 MiB wire limit, far
  // over it decompressed.
  const std::string bomb = GzipZeros(1024);
  ASSERT_LT(bomb.size(), kLimit);
  const int64_t rss_before = MaxRssBytes();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/limited", {{"Content-Encoding", "gzip"}}, bomb);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("decompressed body exceeds the limit"), std::string::npos) << r.body;
  // Peak memory grew by the limit at most, never by the decompressed size.
  EXPECT_LT(MaxRssBytes() - rss_before, int64_t{64} << 20);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kTooLarge), 1u);
  // The body was read completely, so the connection stays usable.
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(client.Send("POST", "/limited", {}, "after").body, "5 5");
}

TEST_F(HttpServerTest, CorruptOrTruncatedGzipIs400) {
  Start();
  HttpClient client(server_->port());
  std::string gz = Gzip(std::string(10'000, 'y'));
  std::string corrupt = gz;
  corrupt[corrupt.size() / 2] ^= 0x5a;
  EXPECT_EQ(client.Send("POST", "/limited", {{"Content-Encoding", "gzip"}}, corrupt).status, 400);
  const HttpResult truncated =
      client.Send("POST", "/limited", {{"Content-Encoding", "gzip"}}, gz.substr(0, gz.size() - 8));
  EXPECT_EQ(truncated.status, 400);
  EXPECT_NE(truncated.body.find("truncated"), std::string::npos) << truncated.body;
  EXPECT_EQ(client.Send("POST", "/limited", {{"Content-Encoding", "gzip"}}, gz + "junk").status,
            400);
  EXPECT_EQ(client.Send("POST", "/limited", {{"Content-Encoding", "gzip"}}, "not gzip").status,
            400);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kInvalid), 4u);
}

TEST_F(HttpServerTest, UnsupportedContentEncodingIs415) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/limited", {{"Content-Encoding", "br"}}, "x");
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kUnsupportedMediaType), 1u);
  EXPECT_EQ(client.Send("POST", "/limited", {}, "ok").status, 200);
}

TEST_F(HttpServerTest, ContentLengthOverLimitIs413AndCloses) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("POST", "/limited", {}, std::string(kLimit + 1, 'z'));
  EXPECT_EQ(r.status, 413);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(stats_.http.Requests(RequestResult::kTooLarge), 1u);
  // Exactly the limit is fine.
  HttpClient again(server_->port());
  EXPECT_EQ(again.Send("POST", "/limited", {}, std::string(kLimit, 'z')).status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  Start();
  HttpClient client(server_->port());
  std::string request =
      "POST /limited HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(1 << 20, 'c');
  for (int i = 0; i < 5; ++i) {
    request += "100000\r\n" + chunk + "\r\n";
  }
  request += "0\r\n\r\n";
  client.WriteRaw(request);
  const HttpResult r = client.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(stats_.http.Requests(RequestResult::kTooLarge), 1u);
}

TEST_F(HttpServerTest, OversizedHeadIs431AndMalformedIs400) {
  options_.max_header_bytes = 1024;
  Start();
  {
    HttpClient client(server_->port());
    const HttpResult r = client.Send("GET", "/echo", {{"X-Big", std::string(4096, 'h')}}, "");
    EXPECT_EQ(r.status, 431);
    EXPECT_TRUE(client.ServerClosed());
  }
  {
    HttpClient client(server_->port());
    client.WriteRaw("THIS IS NOT HTTP\r\n\r\n");
    EXPECT_EQ(client.Read().status, 400);
    EXPECT_TRUE(client.ServerClosed());
  }
  EXPECT_EQ(stats_.http_connections.protocol_errors.load(), 2u);
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndConnectionSurvives) {
  Start();
  HttpClient client(server_->port());
  const HttpResult r = client.Send("GET", "/throw", {}, "");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("boom"), std::string::npos);
  EXPECT_EQ(client.Send("POST", "/echo", {}, "still here").body, "still here");
  EXPECT_EQ(stats_.http_connections.connection_errors.load(), 1u);
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  Start();
  HttpClient client(server_->port());
  client.WriteRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.Read().status, 100);
  client.WriteRaw("hello");
  const HttpResult r = client.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
}

TEST_F(HttpServerTest, IdleConnectionTimesOut) {
  options_.idle_timeout = absl::Milliseconds(100);
  Start();
  HttpClient client(server_->port());
  // Blocks until the server gives up on the idle connection.
  EXPECT_TRUE(client.ServerClosed());
  // The socket closes before the timeout is counted; Stop() waits for it.
  server_->Stop();
  EXPECT_EQ(stats_.http_connections.timeouts.load(), 1u);
}

TEST_F(HttpServerTest, StopClosesIdleKeepAliveConnections) {
  Start();
  HttpClient client(server_->port());
  EXPECT_EQ(client.Send("POST", "/echo", {}, "x").status, 200);
  server_->Stop();
  EXPECT_TRUE(client.ServerClosed());
  EXPECT_EQ(stats_.http_connections.connections_active.load(), 0);
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, StopFinishesTheRequestInFlight) {
  Start();
  const int port = server_->port();
  HttpResult result;
  std::thread requester([&] {
    HttpClient client(port);
    result = client.Send("GET", "/block", {}, "");
  });
  block_entered_.WaitForNotification();
  std::thread stopper([&] { server_->Stop(absl::Seconds(60)); });
  // Stop has begun once new connections are refused.
  while (CanConnect(port)) {
  }
  block_release_.Notify();
  requester.join();
  stopper.join();
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "released");
  EXPECT_FALSE(result.keep_alive);
}

TEST_F(HttpServerTest, StartFailsOnAPortInUse) {
  Start();
  HttpServer::Options options;
  options.listen_address = absl::StrCat("127.0.0.1:", server_->port());
  HttpServer second(options);
  const absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find(options.listen_address), absl::string_view::npos) << status;
}

TEST_F(HttpServerTest, BadOptionsAreRejected) {
  HttpServer::Options options;
  options.listen_address = "no-port";
  EXPECT_EQ(HttpServer(options).Start().code(), absl::StatusCode::kInvalidArgument);
  options.listen_address = "example.com:80";
  EXPECT_EQ(HttpServer(options).Start().code(), absl::StatusCode::kInvalidArgument);
  options.listen_address = "127.0.0.1:0";
  options.io_threads = 0;
  EXPECT_EQ(HttpServer(options).Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpServerTest, Ipv6LoopbackWorks) {
  options_.listen_address = "[::1]:0";
  options_.stats = &stats_;
  HttpServer server(options_);
  ASSERT_TRUE(server.Handle("/x", [](const HttpRequest&) { return Text(200, "v6"); }).ok());
  const absl::Status status = server.Start();
  if (!status.ok()) GTEST_SKIP() << "no IPv6 loopback: " << status;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("::1"), static_cast<uint16_t>(server.port())});
  const std::string request = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  boost::beast::flat_buffer buffer;
  boost::beast::http::response<boost::beast::http::string_body> response;
  boost::beast::http::read(socket, buffer, response);
  EXPECT_EQ(response.body(), "v6");
}

}  // namespace
}  // namespace propwatch::receiver
