// Tests of the OTLP/JSON decoder: the OTLP JSON mapping (hex ids, integer
// enums, 64-bit integers as strings), the proto3-JSON leniencies it accepts,
// strictness on malformed JSON, and equality with the protobuf decoder.
#include <random>
#include <string>

#include "absl/status/status.h"
#include "exporter/otlp/otlp_decoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/exporter/otlp_test_util.h"

namespace propwatch::otlp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace test_util;  // NOLINT: test helpers

constexpr std::string_view kTp1 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

OwnedResult DecodeJsonOk(std::string_view body) {
  DecodedTraces decoded;
  absl::Status status = DecodeTraceRequestJson(body, &decoded);
  EXPECT_TRUE(status.ok()) << status << "\n" << body;
  return Own(decoded);
}

absl::Status DecodeJsonStatus(std::string_view body) {
  DecodedTraces decoded;
  absl::Status status = DecodeTraceRequestJson(body, &decoded);
  if (!status.ok()) {
    EXPECT_THAT(decoded.spans(), IsEmpty());
    EXPECT_THAT(decoded.rejected(), IsEmpty());
  }
  return status;
}

OwnedResult DecodeProtoOk(const pb::ExportTraceServiceRequest& request) {
  std::string body;
  EXPECT_TRUE(request.SerializeToString(&body));
  DecodedTraces decoded;
  EXPECT_TRUE(DecodeTraceRequestProto(body, &decoded).ok());
  return Own(decoded);
}

// Wraps span JSON objects into a request from service "svc".
std::string Request(std::string_view spans) {
  return R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"spans":[)" +
         std::string(spans) + "]}]}]}";
}

constexpr std::string_view kIds =
    R"("traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174")";

std::string Span(std::string_view extra = "") {
  std::string span = "{" + std::string(kIds);
  if (!extra.empty()) span += "," + std::string(extra);
  return span + "}";
}

// The OTLP spec's example shape, with every field the decoder reads.
constexpr std::string_view kExample = R"({
  "resourceSpans": [
    {
      "resource": {
        "attributes": [
          { "key": "service.name", "value": { "stringValue": "my.service" } }
        ]
      },
      "scopeSpans": [
        {
          "scope": {
            "name": "my.library", "version": "1.0.0",
            "attributes": [ { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } } ]
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "EEE19B7EC3C1B173",
              "name": "I'm a server span",
              "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": "1544712661000000000",
              "kind": 2,
              "attributes": [
                { "key": "my.span.attr", "value": { "stringValue": "some value" } },
                { "key": "http.request.header.traceparent",
                  "value": { "arrayValue": { "values": [ { "stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } ] } } },
                { "key": "server.address", "value": { "stringValue": "db.internal" } },
                { "key": "messaging.destination.name", "value": { "stringValue": "orders" } }
              ],
              "links": [
                { "traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708",
                  "traceState": "a=b", "attributes": [], "flags": 1 }
              ],
              "events": [ { "timeUnixNano": "1544712660500000000", "name": "ev" } ],
              "status": { "code": 2, "message": "oops" },
              "flags": 769,
              "droppedAttributesCount": 0
            }
          ]
        }
      ]
    }
  ]
})";

TEST(OtlpJsonDecoderTest, ExtractsEveryField) {
  OwnedResult r = DecodeJsonOk(kExample);
  ASSERT_EQ(r.spans.size(), 1u);
  const OwnedSpan& s = r.spans[0];
  EXPECT_EQ(s.trace_id.ToHex(), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(s.span_id.ToHex(), "eee19b7ec3c1b174");
  EXPECT_EQ(s.parent_span_id.ToHex(), "eee19b7ec3c1b173");
  EXPECT_EQ(s.service_name, "my.service");
  EXPECT_EQ(s.name, "I'm a server span");
  EXPECT_EQ(s.kind, propwatch::SpanKind::kServer);
  EXPECT_EQ(s.status, propwatch::StatusCode::kError);
  EXPECT_EQ(s.start_unix_nano, 1544712660000000000u);
  EXPECT_EQ(s.end_unix_nano, 1544712661000000000u);
  ASSERT_EQ(s.links.size(), 1u);
  EXPECT_EQ(s.links[0].first.ToHex(), "0102030405060708090a0b0c0d0e0f10");
  EXPECT_EQ(s.links[0].second.ToHex(), "0102030405060708");
  EXPECT_THAT(s.traceparents, ElementsAre(kTp1));
  EXPECT_EQ(s.destination, "db.internal");
  EXPECT_THAT(r.rejected, IsEmpty());
}

TEST(OtlpJsonDecoderTest, SameRecordsAsProtobufForTheSameRequest) {
  pb::ExportTraceServiceRequest request;
  pb::ScopeSpans* ss = AddResource(&request, "checkout");
  pb::Span* span = AddSpan(ss, 1, 2, 3);
  span->set_name("GET /cart \"quoted\" é 😀");
  span->set_kind(pb::Span::SPAN_KIND_CLIENT);
  span->set_start_time_unix_nano(~0ull);
  span->set_end_time_unix_nano(1);
  AddStringAttr(span->mutable_attributes(), "peer.service", "cart\n");
  AddStringArrayAttr(span->mutable_attributes(), "http.request.header.traceparent",
                     {std::string(kTp1), "x"});
  auto* link = span->add_links();
  link->set_trace_id(TraceIdBytes(4));
  link->set_span_id(SpanIdBytes(4));
  span->mutable_status()->set_code(pb::Status::STATUS_CODE_OK);
  AddSpan(ss, 5, 5)->set_span_id("bad");
  const OwnedResult want = DecodeProtoOk(request);
  ASSERT_EQ(want.spans.size(), 1u);
  ASSERT_EQ(want.rejected_span_count, 1u);

  for (JsonOptions options : {JsonOptions{}, JsonOptions{.snake_case_keys = true},
                              JsonOptions{.enum_names = true},
                              JsonOptions{.int64_as_numbers = true},
                              JsonOptions{.uppercase_hex = true},
                              JsonOptions{.escape_everything = true},
                              JsonOptions{.whitespace = true}}) {
    std::string json = ToOtlpJson(request, options);
    EXPECT_EQ(DecodeJsonOk(json), want) << json;
  }
}

TEST(OtlpJsonDecoderTest, RandomRequestsMatchProtobufDecoding) {
  std::mt19937_64 rng(2024);
  DecodedTraces decoded;
  for (int i = 0; i < 300; ++i) {
    pb::ExportTraceServiceRequest request = RandomRequest(rng);
    const OwnedResult want = ReferenceDecode(request);
    ASSERT_EQ(DecodeProtoOk(request), want);
    JsonOptions options{.snake_case_keys = i % 2 == 1,
                        .enum_names = i % 3 == 1,
                        .int64_as_numbers = i % 5 == 1,
                        .uppercase_hex = i % 7 == 1,
                        .escape_everything = i % 4 == 3,
                        .whitespace = i % 6 == 5};
    const std::string json = ToOtlpJson(request, options);
    ASSERT_TRUE(DecodeTraceRequestJson(json, &decoded).ok()) << json;
    ASSERT_EQ(Own(decoded), want) << json;
  }
}

TEST(OtlpJsonDecoderTest, ServerPortIsAnIntegerInRangeAndNeverFailsTheRequest) {
  auto port_of = [](std::string_view value) {
    OwnedResult r = DecodeJsonOk(Request(Span(
        std::string(R"("attributes":[{"key":"server.address","value":{"stringValue":"a"}},)") +
        R"({"key":"server.port","value":)" + std::string(value) + "}]")));
    EXPECT_EQ(r.spans.at(0).server_address, "a");
    return r.spans.at(0).server_port;
  };
  EXPECT_EQ(port_of(R"({"intValue":"8080"})"), 8080u) << "int64 as a string, per OTLP/JSON";
  EXPECT_EQ(port_of(R"({"intValue":443})"), 443u);
  EXPECT_EQ(port_of(R"({"int_value":"65535"})"), 65535u);
  EXPECT_EQ(port_of(R"({"intValue":"65536"})"), 0u) << "out of range";
  EXPECT_EQ(port_of(R"({"intValue":"-1"})"), 0u);
  EXPECT_EQ(port_of(R"({"intValue":"x1"})"), 0u) << "not an integer: ignored, not fatal";
  EXPECT_EQ(port_of(R"({"stringValue":"8080"})"), 0u) << "a port is an int attribute";
  EXPECT_EQ(port_of(R"({"intValue":"80","stringValue":"x"})"), 0u) << "last member wins";
  EXPECT_EQ(port_of(R"({"stringValue":"x","intValue":"80"})"), 80u);
  EXPECT_EQ(port_of(R"({"intValue":null})"), 0u);
}

TEST(OtlpJsonDecoderTest, HexIdsAreCaseInsensitive) {
  for (std::string_view ids : {
           R"("traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174")",
           R"("traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174")",
           R"("traceId":"5b8EFFF798038103d269B633813fc60C","spanId":"eEe19B7ec3C1b174")",
       }) {
    std::string span = "{";
    span.append(ids).append("}");
    OwnedResult r = DecodeJsonOk(Request(span));
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].trace_id.ToHex(), "5b8efff798038103d269b633813fc60c");
    EXPECT_EQ(r.spans[0].span_id.ToHex(), "eee19b7ec3c1b174");
  }
}

TEST(OtlpJsonDecoderTest, InvalidIdsRejectTheSpanWithTheMatchingReason) {
  using E = propwatch::SpanContextError;
  const std::string good_trace = R"("traceId":"5b8efff798038103d269b633813fc60c")";
  const std::string good_span = R"("spanId":"eee19b7ec3c1b174")";
  struct Case {
    std::string span;
    E error;
  };
  const Case cases[] = {
      {"{" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":"",)" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":null,)" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":"5b8efff798038103d269b633813fc60",)" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":"5b8efff798038103d269b633813fc6",)" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":"5b8efff798038103d269b633813fc60c00",)" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":"zb8efff798038103d269b633813fc60c",)" + good_span + "}", E::kTraceIdLength},
      {R"({"traceId":"W47/95gDgQPSabYzgT/GDA==",)" + good_span + "}", E::kTraceIdLength},  // base64
      {R"({"traceId":"00000000000000000000000000000000",)" + good_span + "}", E::kTraceIdZero},
      {"{" + good_trace + "}", E::kSpanIdLength},
      {"{" + good_trace + R"(,"spanId":"eee19b7ec3c1b17g"})", E::kSpanIdLength},
      {"{" + good_trace + R"(,"spanId":"0000000000000000"})", E::kSpanIdZero},
      {"{" + good_trace + "," + good_span + R"(,"parentSpanId":"abc"})", E::kParentSpanIdLength},
      {"{" + good_trace + "," + good_span + R"(,"parentSpanId":"eee19b7ec3c1b1xx"})",
       E::kParentSpanIdLength},
  };
  for (const Case& c : cases) {
    OwnedResult r = DecodeJsonOk(Request(Span() + "," + c.span + "," + Span()));
    EXPECT_EQ(r.spans.size(), 2u) << c.span;
    EXPECT_THAT(r.rejected, ElementsAre(OwnedRejected{"svc", c.error, 1})) << c.span;
  }
}

TEST(OtlpJsonDecoderTest, EmptyOrZeroParentIsRoot) {
  for (std::string_view parent : {R"("parentSpanId":"")", R"("parentSpanId":null)",
                                  R"("parentSpanId":"0000000000000000")"}) {
    OwnedResult r = DecodeJsonOk(Request(Span(parent)));
    ASSERT_EQ(r.spans.size(), 1u) << parent;
    EXPECT_TRUE(r.spans[0].parent_span_id.IsZero());
  }
}

TEST(OtlpJsonDecoderTest, EnumsAsIntegersOrNames) {
  const std::pair<std::string_view, propwatch::SpanKind> kinds[] = {
      {"2", propwatch::SpanKind::kServer},
      {"3", propwatch::SpanKind::kClient},
      {"\"SPAN_KIND_PRODUCER\"", propwatch::SpanKind::kProducer},
      {"\"SPAN_KIND_CONSUMER\"", propwatch::SpanKind::kConsumer},
      {"\"SPAN_KIND_INTERNAL\"", propwatch::SpanKind::kInternal},
      {"\"SPAN_KIND_BOGUS\"", propwatch::SpanKind::kUnspecified},
      {"\"4\"", propwatch::SpanKind::kProducer},
      {"2.0", propwatch::SpanKind::kServer},
      {"20e-1", propwatch::SpanKind::kServer},
      {"99", propwatch::SpanKind::kUnspecified},
      {"-1", propwatch::SpanKind::kUnspecified},
      {"null", propwatch::SpanKind::kUnspecified},
  };
  for (const auto& [text, want] : kinds) {
    OwnedResult r = DecodeJsonOk(Request(Span(R"("kind":)" + std::string(text))));
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].kind, want) << text;
  }
  const std::pair<std::string_view, propwatch::StatusCode> codes[] = {
      {"1", propwatch::StatusCode::kOk},
      {"2", propwatch::StatusCode::kError},
      {"\"STATUS_CODE_ERROR\"", propwatch::StatusCode::kError},
      {"\"STATUS_CODE_OK\"", propwatch::StatusCode::kOk},
      {"\"STATUS_CODE_UNSET\"", propwatch::StatusCode::kUnset},
      {"7", propwatch::StatusCode::kUnset},
  };
  for (const auto& [text, want] : codes) {
    OwnedResult r = DecodeJsonOk(Request(Span(R"("status":{"code":)" + std::string(text) + "}")));
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].status, want) << text;
  }
  for (std::string_view bad : {"2.5", "true", "{}", "[]", "1e20", "2147483648"}) {
    EXPECT_EQ(DecodeJsonStatus(Request(Span(R"("kind":)" + std::string(bad)))).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(OtlpJsonDecoderTest, SixtyFourBitIntegers) {
  const std::pair<std::string_view, uint64_t> good[] = {
      {R"("123")", 123},
      {"123", 123},
      {"0", 0},
      {R"("0")", 0},
      {"-0", 0},
      {"1.23e2", 123},
      {R"("1.23e2")", 123},
      {"1544712660000000000", 1544712660000000000u},
      {"1.544712660E18", 1544712660000000000u},
      {R"("18446744073709551615")", 18446744073709551615u},
      {"18446744073709551615", 18446744073709551615u},  // exact, not via double
      {"9007199254740993", 9007199254740993u},          // 2^53 + 1
      {"null", 0},
      {R"("\u0031\u0032")", 12},
  };
  for (const auto& [text, want] : good) {
    OwnedResult r = DecodeJsonOk(Request(Span(R"("startTimeUnixNano":)" + std::string(text))));
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].start_unix_nano, want) << text;
  }
  for (std::string_view bad : {R"("18446744073709551616")", "18446744073709551616", "-1",
                               R"("-1")", "1.5", R"("abc")", R"("")", R"(" 1")", R"("1 ")",
                               R"("01")", R"("0x10")", "1e999999999999", "true", "[1]", "{}"}) {
    absl::Status status =
        DecodeJsonStatus(Request(Span(R"("startTimeUnixNano":)" + std::string(bad))));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("startTimeUnixNano")) << bad;
  }
  // Tiny exponents of zero are still the integer 0.
  OwnedResult r = DecodeJsonOk(Request(Span(R"("endTimeUnixNano":0e-999999999)")));
  EXPECT_EQ(r.spans[0].end_unix_nano, 0u);
}

TEST(OtlpJsonDecoderTest, SnakeCaseKeysAreAccepted) {
  std::string json = R"({"resource_spans":[{"resource":{"attributes":[{"key":"service.name",
      "value":{"string_value":"svc"}}]},"scope_spans":[{"spans":[{
      "trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174",
      "parent_span_id":"eee19b7ec3c1b173","start_time_unix_nano":"5","end_time_unix_nano":6,
      "attributes":[{"key":"http.request.header.traceparent","value":{"array_value":{"values":[
      {"string_value":"tp"}]}}}],
      "links":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708"}]}]}]}]})";
  OwnedResult r = DecodeJsonOk(json);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].service_name, "svc");
  EXPECT_EQ(r.spans[0].parent_span_id.ToHex(), "eee19b7ec3c1b173");
  EXPECT_EQ(r.spans[0].start_unix_nano, 5u);
  EXPECT_EQ(r.spans[0].end_unix_nano, 6u);
  EXPECT_THAT(r.spans[0].traceparents, ElementsAre("tp"));
  EXPECT_EQ(r.spans[0].links.size(), 1u);
}

TEST(OtlpJsonDecoderTest, UnknownKeysAndNullsAreIgnored) {
  std::string json = R"({"unknown":{"deep":[1,2,{"x":[null,true,false,-1.5e-3,"s"]}]},
    "resourceSpans":[{"newField":[],"resource":null,"scopeSpans":[{"scope":null,"spans":[{
      "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
      "name":null,"status":null,"attributes":null,"links":null,"kind":null,
      "futureField":{"a":{"b":{"c":[]}}},"events":[{"name":"e","attributes":[{"key":"peer.service",
      "value":{"stringValue":"not-this"}}]}]}]}]}],"trailing":"x"})";
  OwnedResult r = DecodeJsonOk(json);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].service_name, "");
  EXPECT_EQ(r.spans[0].destination, "");
  EXPECT_EQ(r.spans[0].name, "");
}

TEST(OtlpJsonDecoderTest, StringEscapes) {
  // Keys, attribute keys and values may all be escaped.
  std::string json = Request(Span(
      R"("\u006eame":"a\"b\\c\/d\b\f\n\r\t\u00e9\u65e5\ud83d\ude00\u0000z",)"
      R"("attributes":[{"key":"peer\u002eservice","value":{"stringValue":"c\u0061rt"}},)"
      R"({"\u006bey":"http.request.header.traceparent","value":{"stringValue":"\u0030\u0030-x"}}])"));
  OwnedResult r = DecodeJsonOk(json);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].name, std::string("a\"b\\c/d\b\f\n\r\t\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80\0z", 23));
  EXPECT_EQ(r.spans[0].destination, "cart");
  EXPECT_THAT(r.spans[0].traceparents, ElementsAre("00-x"));
}

TEST(OtlpJsonDecoderTest, UnescapedStringsPointIntoTheBody) {
  const std::string json = Request(Span(R"("name":"plain","attributes":[{"key":"peer.service",
      "value":{"stringValue":"esc\u0061ped"}}])"));
  DecodedTraces decoded;
  ASSERT_TRUE(DecodeTraceRequestJson(json, &decoded).ok());
  const propwatch::SpanRecord& span = decoded.spans()[0];
  auto inside = [&](std::string_view v) {
    return v.data() >= json.data() && v.data() + v.size() <= json.data() + json.size();
  };
  EXPECT_TRUE(inside(span.name));
  EXPECT_TRUE(inside(span.service_name));
  EXPECT_FALSE(inside(span.destination));  // unescaped copy
  EXPECT_EQ(span.destination, "escaped");
}

TEST(OtlpJsonDecoderTest, MembersInAnyOrder) {
  // "value" before "key"; "resource" after "scopeSpans"; ids after attributes.
  std::string json = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{
      "attributes":[{"value":{"stringValue":"cart"},"key":"peer.service"},
                    {"value":{"arrayValue":{"values":[{"stringValue":"tp"}]}},
                     "key":"http.request.header.traceparent"}],
      "spanId":"eee19b7ec3c1b174","traceId":"5b8efff798038103d269b633813fc60c"}]}],
      "resource":{"attributes":[{"value":{"stringValue":"svc"},"key":"service.name"}]}}]})";
  OwnedResult r = DecodeJsonOk(json);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].service_name, "svc");
  EXPECT_EQ(r.spans[0].destination, "cart");
  EXPECT_THAT(r.spans[0].traceparents, ElementsAre("tp"));
}

TEST(OtlpJsonDecoderTest, AnyValueShapes) {
  const std::string key = R"("key":"http.request.header.traceparent")";
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {R"({"stringValue":"a"})", {"a"}},
      {R"({"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"5"},{"stringValue":"b"},{}]}})",
       {"a", "b"}},
      {R"({"arrayValue":{}})", {}},
      {R"({"arrayValue":null})", {}},
      {R"({"intValue":"5"})", {}},
      {R"({"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"no"}}]}})", {}},
      {R"({})", {}},
      {"null", {}},
      // Oneof: the last member wins.
      {R"({"stringValue":"a","arrayValue":{"values":[{"stringValue":"b"}]}})", {"b"}},
      {R"({"arrayValue":{"values":[{"stringValue":"b"}]},"stringValue":"a"})", {"a"}},
      {R"({"stringValue":"a","boolValue":true})", {}},
      {R"({"stringValue":"a","boolValue":null})", {"a"}},
      {R"({"stringValue":"a","unknownValue":1})", {"a"}},
  };
  for (const auto& [value, want] : cases) {
    OwnedResult r =
        DecodeJsonOk(Request(Span(R"("attributes":[{)" + key + R"(,"value":)" + value + "}]")));
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].traceparents, want) << value;
  }
  // Non-string service.name and destination values are ignored.
  std::string json = R"({"resourceSpans":[{"resource":{"attributes":[
      {"key":"service.name","value":{"intValue":"1"}}]},"scopeSpans":[{"spans":[)" +
                     Span(R"("attributes":[{"key":"peer.service","value":{"boolValue":true}},
      {"key":"server.address","value":{"stringValue":"addr"}}])") + "]}]}]}";
  OwnedResult r = DecodeJsonOk(json);
  EXPECT_EQ(r.spans[0].service_name, "");
  EXPECT_EQ(r.spans[0].destination, "addr");
}

TEST(OtlpJsonDecoderTest, WrongTypesForKnownFieldsAreInvalid) {
  for (std::string json : std::vector<std::string>{
           R"([])",
           R"("x")",
           R"({"resourceSpans":{}})",
           R"({"resourceSpans":[null]})",
           R"({"resourceSpans":[{"scopeSpans":"x"}]})",
           R"({"resourceSpans":[{"resource":[]}]})",
           R"({"resourceSpans":[{"scopeSpans":[{"spans":[null]}]}]})",
           Request(Span(R"("name":5)")),
           Request(R"({"traceId":5,"spanId":"eee19b7ec3c1b174"})"),
           Request(Span(R"("spanId":["eee19b7ec3c1b174"])")),
           Request(Span(R"("attributes":{})")),
           Request(Span(R"("attributes":[null])")),
           Request(Span(R"("attributes":[{"key":5,"value":{}}])")),
           Request(Span(R"("attributes":[{"key":"peer.service","value":{"stringValue":5}}])")),
           Request(Span(R"("attributes":[{"key":"peer.service","value":"cart"}])")),
           Request(Span(
               R"("attributes":[{"key":"http.request.header.traceparent","value":{"arrayValue":{"values":[null]}}}])")),
           Request(Span(R"("links":[{"traceId":1}])")),
           Request(Span(R"("links":{})")),
           Request(Span(R"("status":"error")")),
           Request(Span(R"("status":{"code":"x","message":5}, "kind":{})")),
       }) {
    absl::Status status = DecodeJsonStatus(json);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(status.message()), HasSubstr("OTLP/JSON: ")) << json;
  }
  // A schema error inside a deferred attribute value reports its position.
  std::string json =
      Request(Span(R"("attributes":[{"value":{"stringValue":5},"key":"peer.service"}])"));
  absl::Status status = DecodeJsonStatus(json);
  EXPECT_THAT(std::string(status.message()), HasSubstr("stringValue: expected a string at byte " +
                                                       std::to_string(json.find(":5}") + 1)));
}

TEST(OtlpJsonDecoderTest, MalformedJsonIsInvalid) {
  const std::string good = Request(Span());
  ASSERT_TRUE(DecodeJsonStatus(good).ok());
  for (std::string json : std::vector<std::string>{
           std::string(""),
           std::string("   "),
           good + "x",
           good + "{}",
           good + ",",
           "\xEF\xBB\xBF" + good,  // BOM
           Request(Span(R"("name":"bad utf8 \xC3")")),
           Request(Span(R"("name":"bad escape \x")")),
           Request(Span(R"("name":"lone surrogate \ud800")")),
           Request(Span(R"("name":"raw	tab")")),
           Request(Span(R"("extra":[1,])")),
           Request(Span(R"("extra":{"a":1,})")),
           Request(Span(R"("extra":01)")),
           Request(Span(R"("extra":NaN)")),
           Request(Span(R"("extra":'x')")),
           Request(Span(R"("extra":tru)")),
           Request(Span(R"("extra" 1)")),
           Request(Span(R"(extra:1)")),
       }) {
    EXPECT_EQ(DecodeJsonStatus(json).code(), absl::StatusCode::kInvalidArgument) << json;
  }
  // Whitespace around the document is fine.
  EXPECT_TRUE(DecodeJsonStatus(" \r\n\t" + good + " \n").ok());
  EXPECT_TRUE(DecodeJsonStatus("{}").ok());
}

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(OtlpJsonDecoderTest, NestingDeeperThan64IsRejected) {
  // The request object is level 1, so an unknown member can nest 63 more.
  EXPECT_TRUE(DecodeJsonStatus(R"({"x":)" + Nested(63) + "}").ok());
  absl::Status status = DecodeJsonStatus(R"({"x":)" + Nested(64) + "}");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("depth"));
  // Depth counts from the document root, also inside spans (level 7 here).
  EXPECT_TRUE(DecodeJsonStatus(Request(Span(R"("x":)" + Nested(57)))).ok());
  EXPECT_FALSE(DecodeJsonStatus(Request(Span(R"("x":)" + Nested(58)))).ok());
  // Hostile depth fails fast instead of overflowing the stack.
  EXPECT_FALSE(DecodeJsonStatus(R"({"x":)" + Nested(1'000'000) + "}").ok());
}

TEST(OtlpJsonDecoderTest, NoPartialOutputOnError) {
  DecodedTraces decoded;
  const std::string good = Request(Span() + "," + Span());
  ASSERT_TRUE(DecodeTraceRequestJson(good, &decoded).ok());
  ASSERT_EQ(decoded.spans().size(), 2u);
  // Two good spans, then a syntax error.
  std::string bad = good.substr(0, good.size() - 3);
  EXPECT_FALSE(DecodeTraceRequestJson(bad + "]x}", &decoded).ok());
  EXPECT_THAT(decoded.spans(), IsEmpty());
  EXPECT_EQ(decoded.rejected_span_count(), 0u);
}

TEST(OtlpJsonDecoderTest, TruncationAtEveryOffsetFailsCleanly) {
  pb::ExportTraceServiceRequest request;
  pb::ScopeSpans* ss = AddResource(&request, "svc");
  pb::Span* span = AddSpan(ss, 1, 2, 3);
  span->set_name("n\xC3\xA9\xF0\x9F\x98\x80");
  span->set_kind(pb::Span::SPAN_KIND_CLIENT);
  span->set_start_time_unix_nano(12345);
  AddStringAttr(span->mutable_attributes(), "peer.service", "cart");
  AddStringArrayAttr(span->mutable_attributes(), "http.request.header.traceparent", {"a", "b"});
  span->add_links()->set_trace_id(TraceIdBytes(3));
  span->mutable_status()->set_code(pb::Status::STATUS_CODE_ERROR);
  AddSpan(ss, 4, 4)->set_span_id("");
  for (JsonOptions options : {JsonOptions{}, JsonOptions{.escape_everything = true}}) {
    const std::string json = ToOtlpJson(request, options);
    DecodedTraces decoded;
    for (size_t k = 0; k < json.size(); ++k) {
      std::string prefix = json.substr(0, k);  // own buffer: ASan catches overreads
      ASSERT_EQ(DecodeTraceRequestJson(prefix, &decoded).code(),
                absl::StatusCode::kInvalidArgument)
          << k;
      ASSERT_THAT(decoded.spans(), IsEmpty());
    }
    ASSERT_TRUE(DecodeTraceRequestJson(json, &decoded).ok());
    EXPECT_EQ(decoded.spans().size(), 1u);
  }
}

}  // namespace
}  // namespace propwatch::otlp
