// Shared helpers for the receiver tests: OTLP request builders (protobuf via
// the generated classes, JSON by hand), gzip, an engine on a manual clock, a
// span observer that can hold a request in flight, and a small blocking
// HTTP/1.1 client on Beast.
#pragma once

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <zlib.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "exporter/receiver/span_observer.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "propwatch/clock.h"
#include "propwatch/engine.h"

namespace propwatch::receiver::testing {

inline std::string TraceIdBytes(int n) {
  std::string id(16, '\0');
  id[0] = '\xab';
  id[14] = static_cast<char>(n >> 8);
  id[15] = static_cast<char>(n);
  return id;
}

inline std::string SpanIdBytes(int n) {
  std::string id(8, '\0');
  id[0] = '\x01';
  id[6] = static_cast<char>(n >> 8);
  id[7] = static_cast<char>(n);
  return id;
}

struct TestSpan {
  std::string service;
  std::string trace_id;  // raw bytes
  std::string span_id;   // raw bytes
  std::string parent_span_id;
  int kind = 2;  // SERVER
};

// A root span of `service` in trace `trace`.
inline TestSpan Root(std::string service, int trace, int span) {
  return TestSpan{std::move(service), TraceIdBytes(trace), SpanIdBytes(span), "", 2};
}

// One ResourceSpans per span (keeps the builder trivial; the decoder handles
// any grouping).
inline std::string ProtoRequest(const std::vector<TestSpan>& spans) {
  namespace collector = opentelemetry::proto::collector::trace::v1;
  collector::ExportTraceServiceRequest request;
  for (const TestSpan& s : spans) {
    auto* rs = request.add_resource_spans();
    auto* attr = rs->mutable_resource()->add_attributes();
    attr->set_key("service.name");
    attr->mutable_value()->set_string_value(s.service);
    auto* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(s.trace_id);
    span->set_span_id(s.span_id);
    span->set_parent_span_id(s.parent_span_id);
    span->set_name("op");
    span->set_kind(static_cast<opentelemetry::proto::trace::v1::Span::SpanKind>(s.kind));
  }
  return request.SerializeAsString();
}

inline std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

inline std::string JsonRequest(const std::vector<TestSpan>& spans) {
  std::string out = R"({"resourceSpans":[)";
  for (size_t i = 0; i < spans.size(); ++i) {
    const TestSpan& s = spans[i];
    if (i != 0) out += ",";
    out += R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":")" +
           s.service + R"("}}]},"scopeSpans":[{"spans":[{"traceId":")" + Hex(s.trace_id) +
           R"(","spanId":")" + Hex(s.span_id) + R"(","parentSpanId":")" +
           Hex(s.parent_span_id) + R"(","name":"op","kind":)" + std::to_string(s.kind) +
           "}]}]}";
  }
  out += "]}";
  return out;
}

// A gzip stream of `mebibytes` MiB of zeros that never exists decompressed:
// one MiB is deflated once by a fresh raw stream ending in a full flush
// (self-contained, byte-aligned), repeated, then closed by an empty final
// block and the gzip trailer (CRC-32 combined arithmetically). 1 GiB of zeros
// comes out at about 1 MiB.
inline std::string GzipZeros(size_t mebibytes) {
  const std::string block(size_t{1} << 20, '\0');
  auto raw_deflate = [](std::string_view in, int flush) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&zs, in.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_NE(deflate(&zs, flush), Z_STREAM_ERROR);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  };
  const std::string chunk = raw_deflate(block, Z_FULL_FLUSH);
  const std::string last = raw_deflate("", Z_FINISH);
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  const uLong block_crc = crc32(0, reinterpret_cast<const Bytef*>(block.data()),
                                static_cast<uInt>(block.size()));
  uLong crc = crc32(0, nullptr, 0);
  for (size_t i = 0; i < mebibytes; ++i) {
    out += chunk;
    crc = crc32_combine(crc, block_crc, static_cast<z_off_t>(block.size()));
  }
  out += last;
  const uint64_t size = uint64_t{mebibytes} << 20;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  return out;
}

inline std::string Gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Peak resident set size of this process, bytes.
inline int64_t MaxRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// An engine on a manual clock, and readers of its totals.
class EngineHolder {
 public:
  EngineHolder() {
    EngineOptions options;
    options.clock = &clock_;
    if (!Engine::Create(options, &engine_).ok()) std::abort();  // defaults are valid
  }
  Engine& engine() { return *engine_; }

  uint64_t Spans(std::string_view service) {
    const Snapshot snap = engine_->Collect();
    const ServiceSnapshot* s = snap.Find(service);
    return s == nullptr ? 0 : s->total.spans;
  }
  uint64_t InvalidContexts(std::string_view service, SpanContextError reason) {
    const Snapshot snap = engine_->Collect();
    const ServiceSnapshot* s = snap.Find(service);
    return s == nullptr ? 0
                        : s->total.invalid_span_contexts_by_reason[static_cast<int>(reason)];
  }

 private:
  ManualClock clock_;
  std::unique_ptr<Engine> engine_;
};

// Records every batch; when armed with Hold(), blocks OnSpans until Release(),
// which keeps the request in flight for overload and shutdown tests.
class TestObserver : public SpanObserver {
 public:
  void OnSpans(std::span<const SpanRecord> spans) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    spans_ += spans.size();
    for (const SpanRecord& s : spans) services_.emplace_back(s.service_name);
    if (hold_) {
      ++held_;
      auto released = [this]() { return !hold_; };
      mu_.Await(absl::Condition(&released));
      --held_;
    }
  }
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  // Blocks until `n` calls are being held.
  void WaitHeld(int n) {
    absl::MutexLock lock(&mu_);
    auto held = [this, n]() { return held_ >= n; };
    mu_.Await(absl::Condition(&held));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_ = false;
  }
  uint64_t calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  uint64_t spans() {
    absl::MutexLock lock(&mu_);
    return spans_;
  }
  std::vector<std::string> services() {
    absl::MutexLock lock(&mu_);
    return services_;
  }

 private:
  absl::Mutex mu_;
  bool hold_ = false;
  int held_ = 0;
  uint64_t calls_ = 0;
  uint64_t spans_ = 0;
  std::vector<std::string> services_;
};

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  bool keep_alive = false;

  std::string Header(const std::string& lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A blocking HTTP/1.1 client over one TCP connection (kept alive between
// Send calls). Reads time out after 60 s so a broken server fails the test
// instead of hanging it.
class HttpClient {
 public:
  explicit HttpClient(int port) : socket_(ioc_) {
    boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                            static_cast<uint16_t>(port));
    socket_.connect(endpoint);
    timeval tv{60, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  HttpResult Send(std::string_view method, std::string_view target,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  std::string body) {
    namespace http = boost::beast::http;
    http::request<http::string_body> request;
    request.method_string(boost::beast::string_view(method.data(), method.size()));
    request.target(boost::beast::string_view(target.data(), target.size()));
    request.version(11);
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    request.prepare_payload();
    http::write(socket_, request);
    return Read();
  }

  // Writes raw bytes (for malformed requests).
  void WriteRaw(std::string_view bytes) {
    boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size()));
  }

  HttpResult Read() {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.body_limit(size_t{1} << 30);
    http::read(socket_, buffer_, parser);
    HttpResult result;
    const auto& response = parser.get();
    result.status = static_cast<int>(response.result_int());
    for (const auto& field : response) {
      result.headers[absl::AsciiStrToLower(
          absl::string_view(field.name_string().data(), field.name_string().size()))] =
          std::string(field.value());
    }
    result.body = response.body();
    result.keep_alive = response.keep_alive();
    return result;
  }

  // True once the server has closed the connection (reads EOF/reset).
  bool ServerClosed() {
    boost::system::error_code ec;
    char byte;
    socket_.read_some(boost::asio::buffer(&byte, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace propwatch::receiver::testing
