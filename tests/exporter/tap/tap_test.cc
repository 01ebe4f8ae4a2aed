// The assembled tap on ephemeral ports: admin routes, the trace API and the
// metrics exposition after a real OTLP/HTTP request.
#include "exporter/tap/tap.h"

#include <dirent.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <regex>
#include <sstream>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "exporter/tap/build_info.h"
#include "exporter/tap/check.h"
#include "exporter/tap/examples_api.h"
#include "exporter/tap/http_get.h"
#include "exporter/tap/sampler_check.h"
#include "exporter/tap/status_api.h"
#include "gtest/gtest.h"
#include "propwatch/version.h"

namespace propwatch::tap {
namespace {

namespace http = boost::beast::http;

// POST via Beast: the tap's own HTTP client only does GET.
std::pair<int, std::string> Post(int port, std::string_view target, std::string_view type,
                                 std::string body) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(http::verb::post, std::string(target), 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, std::string(type));
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

// GET or HEAD via Beast, for the response headers.
http::response<http::string_body> Fetch(int port, std::string_view target,
                                        http::verb verb = http::verb::get) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req(verb, std::string(target), 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(verb == http::verb::head);
  http::read(stream, buffer, parser);
  return parser.release();
}

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.otlp_grpc_address = "127.0.0.1:0";
    config_.otlp_http_address = "127.0.0.1:0";
    config_.admin_address = "127.0.0.1:0";
    config_.engine.entry_point_services = {"gateway"};
    auto tap = Tap::Create(config_, &clock_);
    ASSERT_TRUE(tap.ok()) << tap.status();
    tap_ = *std::move(tap);
    ASSERT_TRUE(tap_->Start().ok());
    admin_ = "127.0.0.1:" + std::to_string(tap_->admin_port());
  }
  void TearDown() override {
    if (tap_) tap_->Shutdown(absl::Seconds(5));
  }

  ManualClock clock_;
  TapConfig config_;
  std::unique_ptr<Tap> tap_;
  std::string admin_;
};

constexpr char kRequest[] = R"({"resourceSpans":[
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"gateway"}}]},
  "scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c",
    "spanId":"b7ad6b7169203331","name":"GET /checkout","kind":2,
    "startTimeUnixNano":"1000000","endTimeUnixNano":"3000000"}]}]},
 {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"worker"}}]},
  "scopeSpans":[{"spans":[
   {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"00f067aa0ba902b7",
    "parentSpanId":"b7ad6b7169203331","name":"work","kind":2},
   {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b8",
    "name":"lost context","kind":5},
   {"traceId":"00000000000000000000000000000000","spanId":"00f067aa0ba902b9","name":"bad"}]}]}]})";

TEST_F(TapTest, OtlpHttpToMetricsAndTraceApi) {
  auto [status, body] = Post(tap_->http_port(), "/v1/traces", "application/json", kRequest);
  EXPECT_EQ(status, 200);
  EXPECT_NE(body.find("\"rejectedSpans\":\"1\""), std::string::npos) << body;

  auto metrics = HttpGet(admin_, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  EXPECT_NE(text.find("propwatch_spans_total{service_name=\"worker\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("propwatch_orphan_spans_total{service_name=\"worker\",span_kind=\"consumer\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("propwatch_invalid_span_contexts_total{service_name=\"worker\",reason=\"trace_id_zero\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("propwatch_receiver_requests_total{transport=\"http\",result=\"partial\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("propwatch_trace_store_traces 2\n"), std::string::npos);

  auto tree = HttpGet(admin_, "/api/v1/traces/0AF7651916CD43DD8448EB211C80319C?format=text");
  ASSERT_TRUE(tree.ok());
  EXPECT_EQ(tree->status, 200);
  EXPECT_EQ(tree->body,
            "trace 0af7651916cd43dd8448eb211c80319c spans=2 roots=1 unresolved_parents=0\n"
            "- gateway \"GET /checkout\" server unset 2.000ms span=b7ad6b7169203331 parent=-\n"
            "  - worker \"work\" server unset 0.000ms span=00f067aa0ba902b7 "
            "parent=b7ad6b7169203331\n");
  auto json = HttpGet(admin_, "/api/v1/traces/0af7651916cd43dd8448eb211c80319c");
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->body.find("\"spanCount\":2,\"roots\":1,\"unresolvedParents\":0"),
            std::string::npos);
}

TEST_F(TapTest, TraceApiRejectsBadIdsAndUnknownTraces) {
  EXPECT_EQ(HttpGet(admin_, "/api/v1/traces/xyz")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/traces/00000000000000000000000000000000")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4737")->status, 404);
  EXPECT_EQ(HttpGet(admin_, "/healthz")->body, "ok\n");
  EXPECT_EQ(HttpGet(admin_, "/nope")->status, 404);
  // A 404 on the admin listener (a scanner, a typo) is no failed OTLP export.
  const std::string text = HttpGet(admin_, "/metrics")->body;
  EXPECT_EQ(text.find("result=\"not_found\"} 1"), std::string::npos) << text;
}

TEST_F(TapTest, ExamplesApiLinksFindingsToTraces) {
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_EQ(Post(tap_->http_port(), "/v1/traces", "application/json", kRequest).first, 200);
  clock_.Advance(std::chrono::seconds(3));
  auto all = HttpGet(admin_, "/api/v1/examples");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(all->body,
            "{\"examples\":[\n{\"service\":\"worker\",\"finding\":\"orphan\",\"spanKind\":\"consumer\","
            "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b8\","
            "\"seenUnixNano\":" +
                std::to_string((clock_.Now() - std::chrono::seconds(3)).time_since_epoch().count()) +
                ",\"ageSeconds\":3.000,"
                "\"trace\":\"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736\"}]}\n");
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?service=gateway")->body, "{\"examples\":[]}\n");
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?finding=broken_parent&service=worker")->body,
            "{\"examples\":[]}\n");
  const std::string decoded = HttpGet(admin_, "/api/v1/examples?service=wor%6Ber&finding=orphan")->body;
  EXPECT_NE(decoded.find("4bf92f3577b34da6a3ce929d0e0e4736"), std::string::npos) << decoded;
  auto bad = HttpGet(admin_, "/api/v1/examples?finding=orphans");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("known: orphan, broken_parent"), std::string::npos) << bad->body;
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?service=%zz")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?finding=%zz")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?finding=orphan%")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?limit=0")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?limit=100001")->status, 400);
  EXPECT_EQ(HttpGet(admin_, "/api/v1/examples?limit=1")->body, all->body);
}

TEST_F(TapTest, StatusPageAndStatusJson) {
  auto page = HttpGet(admin_, "/");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(page->body.starts_with("<!doctype html>")) << page->body.substr(0, 80);
  // Self-contained: nothing is loaded from anywhere else.
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);
  EXPECT_NE(page->body.find("/api/v1/status"), std::string::npos);

  clock_.Advance(std::chrono::seconds(10));
  ASSERT_EQ(Post(tap_->http_port(), "/v1/traces", "application/json", kRequest).first, 200);
  auto status = HttpGet(admin_, "/api/v1/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status, 200);
  const std::string& json = status->body;
  EXPECT_NE(json.find("\"windowSeconds\":10,"), std::string::npos) << json;
  EXPECT_NE(json.find("{\"service\":\"gateway\",\"entryPoint\":true,\"spansPerSecond\":0.1,"
                      "\"traceStartsPerSecond\":0.1,\"spans\":1,\"orphans\":0,\"orphanRate\":0,"
                      "\"orphansByKind\":{},"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("{\"service\":\"worker\",\"entryPoint\":false,\"spansPerSecond\":0.2,"
                      "\"traceStartsPerSecond\":0.1,\"spans\":2,\"orphans\":1,\"orphanRate\":0.5,"
                      "\"orphansByKind\":{\"consumer\":1},\"brokenParents\":0,"),
            std::string::npos)
      << json;
  EXPECT_EQ(HttpGet(admin_, "/api/v1/statusx")->status, 404);
}

TEST_F(TapTest, StatusPageHeadersForbidOtherOriginsAndHeadHasNoBody) {
  const auto page = Fetch(tap_->admin_port(), "/");
  EXPECT_EQ(page.result_int(), 200u);
  const std::string csp(page["Content-Security-Policy"]);
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << "scripts from this listener only: " << csp;
  const auto script = Fetch(tap_->admin_port(), "/status.js");
  EXPECT_EQ(script.result_int(), 200u);
  EXPECT_EQ(std::string(script[http::field::content_type]), "text/javascript; charset=utf-8");
  EXPECT_NE(script.body().find("/api/v1/status"), std::string::npos);

  // HEAD then GET on one connection: the HEAD answer has the GET answer's
  // length and no body, so the next answer is read as itself.
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                tap_->admin_port()));
  const std::string two = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  boost::asio::write(stream.socket(), boost::asio::buffer(two));
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> head;
  head.skip(true);
  http::read(stream, buffer, head);
  EXPECT_EQ(head.get().result_int(), 200u);
  EXPECT_EQ(std::string(head.get()[http::field::content_length]), std::to_string(page.body().size()));
  http::response<http::string_body> next;
  http::read(stream, buffer, next);
  EXPECT_EQ(next.body(), "ok\n");

  const auto examples = Fetch(tap_->admin_port(), "/api/v1/examples", http::verb::post);
  EXPECT_EQ(examples.result_int(), 405u);
  EXPECT_EQ(std::string(examples[http::field::allow]), "GET");
  EXPECT_EQ(std::string(Fetch(tap_->admin_port(), "/api/v1/status")[http::field::cache_control]),
            "no-store");
}

TEST(ExamplesApiTest, QueryParamDecodesAndTellsAbsentFromMalformed) {
  bool malformed = true;
  EXPECT_EQ(QueryParam("a=1&service=my+svc%2Fv2", "service", &malformed), "my svc/v2");
  EXPECT_FALSE(malformed);
  EXPECT_EQ(QueryParam("xservice=1", "service", &malformed), std::nullopt);
  EXPECT_FALSE(malformed);
  EXPECT_EQ(QueryParam("service=%4", "service", &malformed), std::nullopt);
  EXPECT_TRUE(malformed);
  EXPECT_EQ(QueryParam("service", "service"), "");
  EXPECT_EQ(ParseFinding("extraction_failure"), Finding::kExtractionFailure);
  EXPECT_EQ(ParseFinding("broken_edge"), Finding::kBrokenEdge);
  EXPECT_EQ(ParseFinding("orphans"), std::nullopt);
}

// A broken_edge example names its caller and the caller's span, in another
// trace; with the caller unknown the ids and the link are empty. Other
// findings carry no caller fields.
TEST(ExamplesApiTest, BrokenEdgeExamplesNameTheCallerAndItsTrace) {
  const Timestamp now{std::chrono::seconds(1000)};
  FindingExample known;
  known.service = "orders";
  known.finding = Finding::kBrokenEdge;
  known.span_kind = SpanKind::kServer;
  known.trace_id = *TraceId::FromLowerHex("4bf92f3577b34da6a3ce929d0e0e4736");
  known.span_id = *SpanId::FromLowerHex("00f067aa0ba902b8");
  known.seen = now - std::chrono::milliseconds(1500);
  known.caller_service = "check\"out";
  known.caller_trace_id = *TraceId::FromLowerHex("0af7651916cd43dd8448eb211c80319c");
  known.caller_span_id = *SpanId::FromLowerHex("b7ad6b7169203331");
  FindingExample unknown = known;
  unknown.span_kind = SpanKind::kConsumer;
  unknown.caller_service = std::string(kUnknownCaller);
  unknown.caller_trace_id = TraceId();
  unknown.caller_span_id = SpanId();
  FindingExample orphan = known;
  orphan.finding = Finding::kOrphan;
  orphan.caller_service.clear();
  EXPECT_EQ(RenderExamplesJson({known, unknown, orphan}, now),
            "{\"examples\":[\n"
            "{\"service\":\"orders\",\"finding\":\"broken_edge\",\"spanKind\":\"server\","
            "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b8\","
            "\"seenUnixNano\":998500000000,\"ageSeconds\":1.500,"
            "\"trace\":\"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736\","
            "\"callerService\":\"check\\\"out\",\"callerTraceId\":\"0af7651916cd43dd8448eb211c80319c\","
            "\"callerSpanId\":\"b7ad6b7169203331\","
            "\"callerTrace\":\"/api/v1/traces/0af7651916cd43dd8448eb211c80319c\"},\n"
            "{\"service\":\"orders\",\"finding\":\"broken_edge\",\"spanKind\":\"consumer\","
            "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b8\","
            "\"seenUnixNano\":998500000000,\"ageSeconds\":1.500,"
            "\"trace\":\"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736\","
            "\"callerService\":\"unknown\",\"callerTraceId\":\"\",\"callerSpanId\":\"\","
            "\"callerTrace\":\"\"},\n"
            "{\"service\":\"orders\",\"finding\":\"orphan\",\"spanKind\":\"server\","
            "\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"00f067aa0ba902b8\","
            "\"seenUnixNano\":998500000000,\"ageSeconds\":1.500,"
            "\"trace\":\"/api/v1/traces/4bf92f3577b34da6a3ce929d0e0e4736\"}]}\n");
}

// /api/v1/status lists the snapshot's broken edges in its order, names
// escaped, and the edge figures of the engine.
TEST(StatusApiTest, BrokenEdgesAndEdgeStats) {
  Snapshot snap;
  snap.time = Timestamp(std::chrono::seconds(100));
  snap.window_covered = std::chrono::seconds(10);
  snap.broken_edges = {
      {"checkout", "orders", EdgeBoundary::kHttp, 40, 7},
      {std::string(kUnknownCaller), "<b>billing</b>", EdgeBoundary::kMessaging, 3, 2},
      {"checkout", "stock", EdgeBoundary::kHttp, 5, 0},
  };
  snap.stats.edge_orphans_pending = 11;
  snap.stats.edge_outbound_candidates = 12;
  snap.stats.edge_series = 3;
  snap.stats.edge_orphans_evicted = 13;
  snap.stats.edge_outbound_evicted = 14;
  snap.stats.edge_series_overflow = 15;
  const std::string json = RenderStatusJson(snap);
  EXPECT_NE(json.find("\"services\":[],\n\"brokenEdges\":["
                      "\n{\"caller\":\"checkout\",\"callee\":\"orders\",\"boundary\":\"http\","
                      "\"window\":7,\"total\":40},"
                      "\n{\"caller\":\"unknown\",\"callee\":\"<b>billing</b>\","
                      "\"boundary\":\"messaging\",\"window\":2,\"total\":3},"
                      "\n{\"caller\":\"checkout\",\"callee\":\"stock\",\"boundary\":\"http\","
                      "\"window\":0,\"total\":5}],\n\"engine\":{"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(",\"edgeOrphansPending\":11,\"edgeOutboundCandidates\":12,\"edgeSeries\":3,"
                      "\"edgeOrphansEvictedTotal\":13,\"edgeOutboundEvictedTotal\":14,"
                      "\"edgeSeriesOverflowTotal\":15}}\n"),
            std::string::npos)
      << json;
  snap.broken_edges.clear();
  EXPECT_NE(RenderStatusJson(snap).find("\"brokenEdges\":[],"), std::string::npos);
}

// The value of an unlabelled sample in a Prometheus text exposition.
double Sample(const std::string& text, const std::string& name) {
  std::smatch m;
  const std::regex re("\n" + name + " ([0-9.e+]+)\n");
  return std::regex_search(text, m, re) ? std::stod(m[1]) : -1;
}

TEST_F(TapTest, ReadyzBuildInfoAndProcessMetrics) {
  auto ready = HttpGet(admin_, "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");

  const std::string text = HttpGet(admin_, "/metrics")->body;
  EXPECT_NE(text.find("propwatch_build_info{version=\"" + std::string(BuildVersion()) +
                      "\",revision=\"" + std::string(BuildRevision()) + "\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(BuildVersion(), PROPWATCH_VERSION_STRING);
  // The process_* values against what this (same) process sees directly.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(Sample(text, "process_max_fds"), static_cast<double>(limit.rlim_cur));
  const double open_fds = Sample(text, "process_open_fds");
  int fds = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (const dirent* e = readdir(dir)) fds += e->d_name[0] != '.';
  closedir(dir);
  // Within a few of the count now: the scrape's own client and server sockets
  // were open while it was taken.
  EXPECT_GE(open_fds, 5);  // at least stdio and the three listeners
  EXPECT_NEAR(open_fds, fds, 4);
  const double start = Sample(text, "process_start_time_seconds");
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_GT(start, now - 600);  // this test process started minutes ago at most
  EXPECT_LE(start, now + 1);
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(Sample(text, "process_virtual_memory_bytes"),
            Sample(text, "process_resident_memory_bytes"));
  // CPU seconds agree with getrusage() up to /proc's clock-tick granularity.
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                     usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  EXPECT_GE(Sample(text, "process_cpu_seconds_total"), 0);
  EXPECT_NEAR(Sample(text, "process_cpu_seconds_total"), cpu, 0.05);
}

// grpc.health.v1.Health/Check on the OTLP/gRPC port, called with a generic
// stub: an empty HealthCheckRequest (service "") answers status SERVING (1),
// i.e. the bytes 08 01.
TEST_F(TapTest, GrpcHealthServiceAnswersServing) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(tap_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, response;
  grpc::Slice empty("", 0);
  request = grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = s;
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST(TapStartTest, PortInUseIsAClearErrorAndNothingKeepsRunning) {
  TapConfig first;
  first.otlp_grpc_address = "127.0.0.1:0";
  first.otlp_http_address = "127.0.0.1:0";
  first.admin_address = "127.0.0.1:0";
  auto a = Tap::Create(first);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->Start().ok());
  TapConfig second = first;
  second.otlp_http_address = "127.0.0.1:" + std::to_string((*a)->http_port());
  auto b = Tap::Create(second);
  ASSERT_TRUE(b.ok());
  absl::Status s = (*b)->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(std::to_string((*a)->http_port())), absl::string_view::npos) << s;
  (*a)->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace propwatch::tap

namespace propwatch::tap {
namespace {

TapConfig EphemeralConfig() {
  TapConfig c;
  c.otlp_grpc_address = "127.0.0.1:0";
  c.otlp_http_address = "127.0.0.1:0";
  c.admin_address = "127.0.0.1:0";
  return c;
}

// A minimal protobuf request: one root span of service "svc".
std::string OneSpanRequest(uint8_t trace_byte) {
  auto ld = [](int field, const std::string& payload) {
    std::string out(1, static_cast<char>(field << 3 | 2));
    out += static_cast<char>(payload.size());  // payloads here are < 128 bytes
    return out + payload;
  };
  std::string trace_id(16, '\x01');
  trace_id[15] = static_cast<char>(trace_byte);
  const std::string span = ld(1, trace_id) + ld(2, std::string(8, '\x02')) + ld(5, "op");
  const std::string resource = ld(1, ld(1, "service.name") + ld(2, ld(1, "svc")));
  return ld(1, ld(1, resource) + ld(2, ld(2, span)));
}

std::string Metric(int admin_port, std::string_view line_prefix) {
  auto m = HttpGet("127.0.0.1:" + std::to_string(admin_port), "/metrics");
  if (!m.ok()) return "";
  size_t at = m->body.find(line_prefix);
  if (at == std::string::npos) return "";
  size_t end = m->body.find('\n', at);
  return m->body.substr(at, end - at);
}

TEST(TapInlineTest, ForwardsProtobufUpstreamAndAnswersRetryableWhenUpstreamFails) {
  auto upstream = Tap::Create(EphemeralConfig());
  ASSERT_TRUE(upstream.ok());
  ASSERT_TRUE((*upstream)->Start().ok());
  TapConfig inline_config = EphemeralConfig();
  inline_config.forward_to = "127.0.0.1:" + std::to_string((*upstream)->grpc_port());
  inline_config.forward_timeout = absl::Seconds(2);
  auto tap = Tap::Create(inline_config);
  ASSERT_TRUE(tap.ok());
  ASSERT_TRUE((*tap)->Start().ok());

  auto [status, body] =
      Post((*tap)->http_port(), "/v1/traces", "application/x-protobuf", OneSpanRequest(1));
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(Metric((*tap)->admin_port(), "propwatch_spans_total{service_name=\"svc\"}"),
            "propwatch_spans_total{service_name=\"svc\"} 1");
  EXPECT_EQ(Metric((*upstream)->admin_port(), "propwatch_spans_total{service_name=\"svc\"}"),
            "propwatch_spans_total{service_name=\"svc\"} 1");

  // JSON cannot be forwarded byte for byte over gRPC: refused, not dropped.
  auto [json_status, json_body] = Post((*tap)->http_port(), "/v1/traces", "application/json", "{}");
  EXPECT_EQ(json_status, 415) << json_body;

  (*upstream)->Shutdown(absl::Seconds(1));
  auto [down_status, down_body] =
      Post((*tap)->http_port(), "/v1/traces", "application/x-protobuf", OneSpanRequest(2));
  EXPECT_EQ(down_status, 503) << down_body;
  EXPECT_EQ(Metric((*tap)->admin_port(), "propwatch_spans_total{service_name=\"svc\"}"),
            "propwatch_spans_total{service_name=\"svc\"} 2");  // still ingested
  EXPECT_EQ(Metric((*tap)->admin_port(),
                   "propwatch_receiver_requests_total{transport=\"http\",result=\"upstream_unavailable\"}"),
            "propwatch_receiver_requests_total{transport=\"http\",result=\"upstream_unavailable\"} 1");
  (*tap)->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace propwatch::tap

namespace propwatch::tap {
namespace {

TEST_F(TapTest, CheckGatePassesAConnectedTraceAndFailsOrphansAndGaps) {
  // kRequest: gateway -> worker connected in trace 0af7..., plus a worker
  // orphan (1 of 2 worker spans) in another trace.
  ASSERT_EQ(Post(tap_->http_port(), "/v1/traces", "application/json", kRequest).first, 200);

  CheckOptions connected;
  connected.admin_address = admin_;
  connected.trace_id = "0af7651916cd43dd8448eb211c80319c";
  connected.expect_spans = 2;
  connected.max_orphan_ratio = -1;  // shape only
  std::ostringstream out;
  EXPECT_EQ(RunCheck(connected, out), 0) << out.str();
  EXPECT_NE(out.str().find("PASS one connected tree: 1 root(s)"), std::string::npos);

  // Same trace, but the worker's orphan ratio (0.5) is over 1%.
  CheckOptions with_ratio = connected;
  with_ratio.max_orphan_ratio = 0.01;
  out.str("");
  EXPECT_EQ(RunCheck(with_ratio, out), 1) << out.str();
  EXPECT_NE(out.str().find("FAIL orphan ratio of internal service worker: 0.500000"),
            std::string::npos)
      << out.str();
  EXPECT_EQ(out.str().find("service gateway"), std::string::npos);  // entry point: not judged

  CheckOptions wrong_count = connected;
  wrong_count.expect_spans = 4;
  out.str("");
  EXPECT_EQ(RunCheck(wrong_count, out), 1);
  EXPECT_NE(out.str().find("FAIL span count 2 (expected 4)"), std::string::npos) << out.str();

  CheckOptions missing = connected;
  missing.trace_id = "4bf92f3577b34da6a3ce929d0e0e4799";
  out.str("");
  EXPECT_EQ(RunCheck(missing, out), 1);
  EXPECT_NE(out.str().find("FAIL trace 4bf92f3577b34da6a3ce929d0e0e4799 found (HTTP 404"),
            std::string::npos)
      << out.str();

  CheckOptions unreachable = connected;
  unreachable.admin_address = "127.0.0.1:1";
  out.str("");
  EXPECT_EQ(RunCheck(unreachable, out), 2);
}

TEST(CheckArgsTest, ParsesAndRejects) {
  std::vector<std::string_view> args = {"--trace-id=0AF7651916CD43DD8448EB211C80319C",
                                        "--expect-spans", "5", "--max-orphan-ratio=0.05"};
  auto o = ParseCheckArgs(args);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->trace_id, "0AF7651916CD43DD8448EB211C80319C");
  // Checked locally, before any request: 32 hex digits, not all zero.
  for (std::string_view id : {"--trace-id=abc", "--trace-id=00000000000000000000000000000000"}) {
    std::vector<std::string_view> bad_id = {id};
    auto r = ParseCheckArgs(bad_id);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(std::string(r.status().message()),
              "propwatch check: --trace-id must be 32 hex digits, not all zero");
  }
  EXPECT_EQ(*o->expect_spans, 5u);
  EXPECT_DOUBLE_EQ(o->max_orphan_ratio, 0.05);
  std::vector<std::string_view> none = {};
  EXPECT_FALSE(ParseCheckArgs(none).ok());
  std::vector<std::string_view> bad = {"--trace-id=a", "--expect-spans=x"};
  EXPECT_FALSE(ParseCheckArgs(bad).ok());
}

}  // namespace
}  // namespace propwatch::tap

namespace propwatch::tap {
namespace {

// A changed fleet list opens a rebalance window; the same list, or the first
// list a --fleet-dns lookup learns, does not.
TEST(TapFleetTest, MembershipChangesOpenRebalanceWindows) {
  TapConfig config;
  config.otlp_grpc_address = "127.0.0.1:0";
  config.otlp_http_address = "off";
  config.admin_address = "127.0.0.1:0";
  config.fleet_dns = "localhost";  // resolves on any machine, without a network
  ManualClock clock;
  auto tap = Tap::Create(config, &clock);
  ASSERT_TRUE(tap.ok()) << tap.status();
  ASSERT_TRUE((*tap)->Start().ok());
  const std::string admin = "127.0.0.1:" + std::to_string((*tap)->admin_port());
  std::string text = HttpGet(admin, "/metrics")->body;
  EXPECT_GE(Sample(text, "propwatch_fleet_members"), 1);  // 127.0.0.1, maybe ::1
  EXPECT_EQ(Sample(text, "propwatch_rebalances_total"), 0);

  EXPECT_TRUE((*tap)->UpdateFleetMembers({"tap-a:4417", "tap-b:4417"}));
  EXPECT_FALSE((*tap)->UpdateFleetMembers({"tap-a:4417", "tap-b:4417"}));
  EXPECT_TRUE((*tap)->UpdateFleetMembers({"tap-a:4417"}, /*open_window=*/false));
  text = HttpGet(admin, "/metrics")->body;
  EXPECT_EQ(Sample(text, "propwatch_fleet_members"), 1);
  EXPECT_EQ(Sample(text, "propwatch_rebalances_total"), 1);
  (*tap)->Shutdown(absl::Seconds(5));
}

// The command end to end: a "pre" tap holds two traces, a "post" tap one of
// them whole and one cut.
TEST(SamplerCheckCommandTest, ReadsTapsAndFailsOnACutTrace) {
  auto start = [](TapConfig config) {
    config.otlp_grpc_address = "off";
    config.otlp_http_address = "127.0.0.1:0";
    config.admin_address = "127.0.0.1:0";
    auto tap = Tap::Create(config);
    EXPECT_TRUE(tap.ok());
    EXPECT_TRUE((*tap)->Start().ok());
    return *std::move(tap);
  };
  auto pre = start({});
  auto post = start({});
  auto span = [](std::string trace, std::string span, std::string parent) {
    return "{\"traceId\":\"" + trace + "\",\"spanId\":\"" + span + "\",\"parentSpanId\":\"" +
           parent + "\",\"name\":\"s\"}";
  };
  const std::string a = "0af7651916cd43dd8448eb211c80319c", b = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto body = [](std::vector<std::string> spans) {
    std::string joined;
    for (auto& s : spans) joined += (joined.empty() ? "" : ",") + s;
    return "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" + joined + "]}]}]}";
  };
  const std::string all = body({span(a, "b7ad6b7169203331", ""), span(a, "00f067aa0ba902b7", "b7ad6b7169203331"),
                                span(b, "b7ad6b7169203332", ""), span(b, "00f067aa0ba902b8", "b7ad6b7169203332")});
  const std::string kept = body({span(a, "b7ad6b7169203331", ""), span(a, "00f067aa0ba902b7", "b7ad6b7169203331"),
                                 span(b, "b7ad6b7169203332", "")});
  auto post_json = [](int port, const std::string& json) {
    return Post(port, "/v1/traces", "application/json", json).first;
  };
  ASSERT_EQ(post_json(pre->http_port(), all), 200);
  ASSERT_EQ(post_json(post->http_port(), kept), 200);

  SamplerCheckOptions o;
  o.pre_addresses = {"127.0.0.1:" + std::to_string(pre->admin_port())};
  o.post_addresses = {"127.0.0.1:" + std::to_string(post->admin_port())};
  std::ostringstream text;
  EXPECT_EQ(RunSamplerCheck(o, text), 1) << text.str();
  EXPECT_NE(text.str().find("FAIL kept traces missing spans: 1 (whole: 1 of 2)"), std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find(b + ": 1 of 2 spans"), std::string::npos) << text.str();
  o.json = true;
  std::ostringstream json;
  EXPECT_EQ(RunSamplerCheck(o, json), 1);
  EXPECT_NE(json.str().find("\"missingSpans\":[{\"traceId\":\"" + b +
                            "\",\"preSpans\":2,\"postSpans\":1}]"),
            std::string::npos)
      << json.str();
  // An address nothing listens on: exit 2.
  o.post_addresses = {"127.0.0.1:1"};
  std::ostringstream down;
  EXPECT_EQ(RunSamplerCheck(o, down), 2) << down.str();
  pre->Shutdown(absl::Seconds(5));
  post->Shutdown(absl::Seconds(5));
}

TEST(TapFleetTest, ResolveAllAnswersSortedAddressesOrAnError) {
  auto local = ResolveAll("localhost");
  ASSERT_TRUE(local.ok()) << local.status();
  EXPECT_TRUE(std::is_sorted(local->begin(), local->end()));
  EXPECT_NE(std::find(local->begin(), local->end(), "127.0.0.1"), local->end());
  EXPECT_FALSE(ResolveAll("no-such-host.invalid").ok());  // RFC 6761: never resolves
}

}  // namespace
}  // namespace propwatch::tap
