// Tests of the hand-written protobuf decoder (and the DecodedTraces contract
// shared with the JSON decoder): field extraction, attribute rules, span and
// link rejection, unknown/out-of-order fields, malformed input, equivalence
// with protobuf's own parser, and allocation-free steady state.
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "exporter/otlp/otlp_decoder.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/exporter/alloc_counter.h"
#include "tests/exporter/otlp_test_util.h"

namespace propwatch::otlp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace test_util;  // NOLINT: test helpers
namespace wire = test_util::wire;

constexpr std::string_view kTraceparentKey = "http.request.header.traceparent";
constexpr std::string_view kTp1 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr std::string_view kTp2 = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00";

std::string Serialize(const pb::ExportTraceServiceRequest& request) {
  std::string out;
  EXPECT_TRUE(request.SerializeToString(&out));
  return out;
}

OwnedResult DecodeProtoOk(std::string_view body) {
  DecodedTraces decoded;
  absl::Status status = DecodeTraceRequestProto(body, &decoded);
  EXPECT_TRUE(status.ok()) << status;
  return Own(decoded);
}

OwnedResult DecodeProtoOk(const pb::ExportTraceServiceRequest& request) {
  return DecodeProtoOk(Serialize(request));
}

propwatch::TraceId Tid(uint8_t seed) { return *propwatch::TraceId::FromBytes(TraceIdBytes(seed)); }
propwatch::SpanId Sid(uint8_t seed) { return *propwatch::SpanId::FromBytes(SpanIdBytes(seed)); }

// A request using every field the decoder reads, and several it skips.
pb::ExportTraceServiceRequest FullRequest() {
  pb::ExportTraceServiceRequest request;
  pb::ResourceSpans* rs = request.add_resource_spans();
  auto* rattrs = rs->mutable_resource()->mutable_attributes();
  AddStringAttr(rattrs, "host.name", "h1");
  AddStringAttr(rattrs, "service.name", "checkout");
  rs->mutable_resource()->set_dropped_attributes_count(2);
  rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  pb::ScopeSpans* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("io.test");
  ss->mutable_scope()->set_version("1.2.3");
  ss->set_schema_url("https://opentelemetry.io/schemas/1.21.0");

  pb::Span* client = AddSpan(ss, 1, 2, 3);
  client->set_name("GET /cart");
  client->set_kind(pb::Span::SPAN_KIND_CLIENT);
  client->set_start_time_unix_nano(1'700'000'000'000'000'001ull);
  client->set_end_time_unix_nano(18'000'000'000'000'000'002ull);  // > 2^63
  client->set_trace_state("congo=t61rcWkgMzE");
  client->set_flags(0x301);
  AddStringAttr(client->mutable_attributes(), "http.method", "GET");
  AddStringAttr(client->mutable_attributes(), "server.address", "cart.internal");
  AddStringAttr(client->mutable_attributes(), "peer.service", "cart");
  AddStringAttr(client->mutable_attributes(), kTraceparentKey, kTp1);
  {
    auto* port = client->add_attributes();
    port->set_key("server.port");
    port->mutable_value()->set_int_value(8443);
  }
  AddStringAttr(client->mutable_attributes(), "messaging.destination.name", "orders");
  client->set_dropped_attributes_count(4);
  auto* event = client->add_events();
  event->set_name("retry");
  event->set_time_unix_nano(5);
  AddStringAttr(event->mutable_attributes(), "peer.service", "not-from-events");
  client->set_dropped_events_count(1);
  auto* link = client->add_links();
  link->set_trace_id(TraceIdBytes(4));
  link->set_span_id(SpanIdBytes(5));
  link->set_trace_state("a=b");
  link->set_flags(1);
  AddStringAttr(link->mutable_attributes(), "peer.service", "not-from-links");
  link = client->add_links();
  link->set_trace_id(TraceIdBytes(6));
  link->set_span_id(SpanIdBytes(7));
  client->set_dropped_links_count(3);
  client->mutable_status()->set_code(pb::Status::STATUS_CODE_ERROR);
  client->mutable_status()->set_message("boom");

  pb::Span* server = AddSpan(ss, 8, 9);
  server->set_name("POST /pay");
  server->set_kind(pb::Span::SPAN_KIND_SERVER);
  server->set_start_time_unix_nano(10);
  server->set_end_time_unix_nano(20);
  AddStringArrayAttr(server->mutable_attributes(), kTraceparentKey,
                     {std::string(kTp1), std::string(kTp2)});
  server->mutable_status()->set_code(pb::Status::STATUS_CODE_OK);
  return request;
}

TEST(OtlpProtoDecoderTest, ExtractsEveryField) {
  OwnedResult r = DecodeProtoOk(FullRequest());
  ASSERT_EQ(r.spans.size(), 2u);
  EXPECT_THAT(r.rejected, IsEmpty());
  EXPECT_EQ(r.rejected_span_count, 0u);

  const OwnedSpan& c = r.spans[0];
  EXPECT_EQ(c.trace_id, Tid(1));
  EXPECT_EQ(c.span_id, Sid(2));
  EXPECT_EQ(c.parent_span_id, Sid(3));
  EXPECT_EQ(c.service_name, "checkout");
  EXPECT_EQ(c.name, "GET /cart");
  EXPECT_EQ(c.kind, propwatch::SpanKind::kClient);
  EXPECT_EQ(c.status, propwatch::StatusCode::kError);
  EXPECT_EQ(c.start_unix_nano, 1'700'000'000'000'000'001ull);
  EXPECT_EQ(c.end_unix_nano, 18'000'000'000'000'000'002ull);
  EXPECT_THAT(c.links, ElementsAre(std::pair(Tid(4), Sid(5)), std::pair(Tid(6), Sid(7))));
  EXPECT_THAT(c.traceparents, ElementsAre(kTp1));
  EXPECT_EQ(c.destination, "cart");
  EXPECT_EQ(c.peer_service, "cart");
  EXPECT_EQ(c.server_address, "cart.internal");
  EXPECT_EQ(c.server_port, 8443u);
  EXPECT_EQ(c.messaging_destination, "orders");

  const OwnedSpan& s = r.spans[1];
  EXPECT_EQ(s.trace_id, Tid(8));
  EXPECT_EQ(s.span_id, Sid(9));
  EXPECT_TRUE(s.parent_span_id.IsZero());
  EXPECT_EQ(s.service_name, "checkout");
  EXPECT_EQ(s.name, "POST /pay");
  EXPECT_EQ(s.kind, propwatch::SpanKind::kServer);
  EXPECT_EQ(s.status, propwatch::StatusCode::kOk);
  EXPECT_EQ(s.start_unix_nano, 10u);
  EXPECT_EQ(s.end_unix_nano, 20u);
  EXPECT_THAT(s.links, IsEmpty());
  EXPECT_THAT(s.traceparents, ElementsAre(kTp1, kTp2));
  EXPECT_EQ(s.destination, "");

  EXPECT_EQ(r, ReferenceDecode(FullRequest()));
}

TEST(OtlpProtoDecoderTest, StringsPointIntoTheBody) {
  std::string body = Serialize(FullRequest());
  DecodedTraces decoded;
  ASSERT_TRUE(DecodeTraceRequestProto(body, &decoded).ok());
  const propwatch::SpanRecord& span = decoded.spans()[0];
  auto inside = [&](std::string_view v) {
    return v.data() >= body.data() && v.data() + v.size() <= body.data() + body.size();
  };
  EXPECT_TRUE(inside(span.name));
  EXPECT_TRUE(inside(span.service_name));
  EXPECT_TRUE(inside(span.destination));
  EXPECT_TRUE(inside(span.captured_traceparents[0]));
}

TEST(OtlpProtoDecoderTest, EmptyRequestIsOk) {
  OwnedResult r = DecodeProtoOk("");
  EXPECT_THAT(r.spans, IsEmpty());
  EXPECT_THAT(r.rejected, IsEmpty());
}

// Adds unknown fields of every wire type to `message` and all messages in it.
void AddUnknownFieldsEverywhere(google::protobuf::Message* message) {
  const auto* reflection = message->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, f); ++i) {
        AddUnknownFieldsEverywhere(reflection->MutableRepeatedMessage(message, f, i));
      }
    } else {
      AddUnknownFieldsEverywhere(reflection->MutableMessage(message, f));
    }
  }
  google::protobuf::UnknownFieldSet* unknown = reflection->MutableUnknownFields(message);
  unknown->AddVarint(17, 1ull << 62);
  unknown->AddFixed32(18, 0xDEADBEEF);
  unknown->AddFixed64(19, 0x0123456789ABCDEFull);
  // Looks like a span / KeyValue inside, but must be skipped by length.
  unknown->AddLengthDelimited(20, wire::Len(1, "service.name") + wire::Len(2, "x"));
  unknown->AddVarint(536870911, 1);  // the largest field number
}

TEST(OtlpProtoDecoderTest, UnknownFieldsOfEveryWireTypeAreIgnored) {
  pb::ExportTraceServiceRequest request = FullRequest();
  AddUnknownFieldsEverywhere(&request);
  std::string body = Serialize(request);
  // Unknown fields ahead of the known ones, too.
  std::string prefix = wire::VarintField(2, 7) + wire::Fixed64Field(3, 1) +
                       wire::Fixed32Field(4, 1) + wire::Len(5, "zzz");
  EXPECT_EQ(DecodeProtoOk(prefix + body), DecodeProtoOk(FullRequest()));
}

TEST(OtlpProtoDecoderTest, KnownFieldWithOtherWireTypeIsUnknown) {
  // As protobuf parsers do: a known number with an unexpected wire type is
  // an unknown field, not an error.
  std::string span = wire::VarintField(1, 5) +                // trace_id as varint
                     wire::Len(1, TraceIdBytes(1)) +           // the real one
                     wire::Len(2, SpanIdBytes(2)) +            //
                     wire::Fixed32Field(5, 1) +                // name as fixed32
                     wire::Len(6, "x") +                       // kind as bytes
                     wire::VarintField(7, 9) +                 // start as varint
                     wire::VarintField(9, 1) +                 // attributes as varint
                     wire::Fixed64Field(13, 1) +               // links as fixed64
                     wire::VarintField(15, 2);                 // status as varint
  std::string body = wire::Len(1, wire::Len(2, wire::Len(2, span)));
  OwnedResult r = DecodeProtoOk(body);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].name, "");
  EXPECT_EQ(r.spans[0].kind, propwatch::SpanKind::kUnspecified);
  EXPECT_EQ(r.spans[0].start_unix_nano, 0u);
  EXPECT_EQ(r.spans[0].status, propwatch::StatusCode::kUnset);

  pb::ExportTraceServiceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  EXPECT_EQ(r, ReferenceDecode(parsed));
}

TEST(OtlpProtoDecoderTest, FieldsInAnyOrder) {
  // Serializers emit fields in number order; parsers must not rely on it.
  std::string service =
      wire::Len(2, wire::Len(1, "checkout")) + wire::Len(1, "service.name");  // value first
  std::string resource = wire::Len(1, service);
  std::string peer = wire::Len(2, wire::Len(1, "cart")) + wire::Len(1, "peer.service");
  std::string span = wire::Fixed64Field(8, 20) + wire::Len(9, peer) +
                     wire::VarintField(6, 3) + wire::Len(2, SpanIdBytes(2)) +
                     wire::Fixed64Field(7, 10) + wire::Len(1, TraceIdBytes(1));
  std::string scope_spans = wire::Len(2, span);
  // scope_spans before resource
  std::string body = wire::Len(1, wire::Len(2, scope_spans) + wire::Len(1, resource));
  OwnedResult r = DecodeProtoOk(body);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].service_name, "checkout");
  EXPECT_EQ(r.spans[0].destination, "cart");
  EXPECT_EQ(r.spans[0].kind, propwatch::SpanKind::kClient);
  EXPECT_EQ(r.spans[0].start_unix_nano, 10u);
  EXPECT_EQ(r.spans[0].end_unix_nano, 20u);

  pb::ExportTraceServiceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  EXPECT_EQ(r, ReferenceDecode(parsed));
}

TEST(OtlpProtoDecoderTest, RepeatedFieldsMergeLikeProtobuf) {
  // Two `resource` fields merge; two `status` fields merge; a later scalar
  // wins; two `value` fields of one KeyValue merge their AnyValue (the last
  // oneof member wins, arrays append).
  std::string resource_a =
      wire::Len(1, wire::Len(1, "host.name") + wire::Len(2, wire::Len(1, "h")));
  std::string resource_b =
      wire::Len(1, wire::Len(1, "service.name") + wire::Len(2, wire::Len(1, "svc")));
  std::string tp_string_then_array =
      wire::Len(1, kTraceparentKey) + wire::Len(2, wire::Len(1, "dropped")) +
      wire::Len(2, wire::Len(5, wire::Len(1, wire::Len(1, "a")))) +
      wire::Len(2, wire::Len(5, wire::Len(1, wire::Len(1, "b"))));
  std::string dest_array_then_string =
      wire::Len(1, "peer.service") + wire::Len(2, wire::Len(5, "")) +
      wire::Len(2, wire::Len(1, "cart"));
  std::string span = wire::Len(1, TraceIdBytes(9)) + wire::Len(1, TraceIdBytes(1)) +
                     wire::Len(2, SpanIdBytes(2)) + wire::VarintField(6, 2) +
                     wire::VarintField(6, 3) + wire::Len(15, wire::VarintField(3, 2)) +
                     wire::Len(15, wire::Len(2, "message only")) +
                     wire::Len(9, tp_string_then_array) + wire::Len(9, dest_array_then_string);
  std::string body = wire::Len(1, wire::Len(1, resource_a) + wire::Len(2, wire::Len(2, span)) +
                                      wire::Len(1, resource_b));
  OwnedResult r = DecodeProtoOk(body);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_EQ(r.spans[0].trace_id, Tid(1));
  EXPECT_EQ(r.spans[0].service_name, "svc");
  EXPECT_EQ(r.spans[0].kind, propwatch::SpanKind::kClient);
  EXPECT_EQ(r.spans[0].status, propwatch::StatusCode::kError);
  EXPECT_THAT(r.spans[0].traceparents, ElementsAre("a", "b"));
  EXPECT_EQ(r.spans[0].destination, "cart");

  pb::ExportTraceServiceRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  EXPECT_EQ(r, ReferenceDecode(parsed));
}

TEST(OtlpProtoDecoderTest, InvalidSpansAreRejectedAndGoodOnesKept) {
  pb::ExportTraceServiceRequest request;
  pb::ScopeSpans* ss = AddResource(&request, "svc");
  AddSpan(ss, 1, 1);                                              // ok
  AddSpan(ss, 2, 2)->set_trace_id(std::string(15, 'x'));          // trace length
  AddSpan(ss, 2, 2)->set_trace_id("");                            // trace length (merged)
  AddSpan(ss, 3, 3)->set_trace_id(std::string(16, '\0'));         // trace zero
  AddSpan(ss, 4, 4)->clear_span_id();                             // span length
  AddSpan(ss, 5, 5)->set_span_id(std::string(8, '\0'));           // span zero
  AddSpan(ss, 6, 6)->set_parent_span_id("1234567");               // parent length
  AddSpan(ss, 7, 7)->set_parent_span_id(std::string(8, '\0'));    // ok: zero parent = root
  AddSpan(ss, 8, 8, 1);                                           // ok
  pb::ScopeSpans* anonymous = AddResource(&request, "");
  AddSpan(anonymous, 9, 9)->set_span_id("");
  AddSpan(anonymous, 10, 10);

  OwnedResult r = DecodeProtoOk(request);
  ASSERT_EQ(r.spans.size(), 4u);
  EXPECT_EQ(r.spans[0].span_id, Sid(1));
  EXPECT_EQ(r.spans[1].span_id, Sid(7));
  EXPECT_TRUE(r.spans[1].parent_span_id.IsZero());
  EXPECT_EQ(r.spans[2].parent_span_id, Sid(1));
  EXPECT_EQ(r.spans[3].service_name, "");
  using E = propwatch::SpanContextError;
  EXPECT_THAT(r.rejected, ElementsAre(OwnedRejected{"svc", E::kTraceIdLength, 2},
                                      OwnedRejected{"svc", E::kTraceIdZero, 1},
                                      OwnedRejected{"svc", E::kSpanIdLength, 1},
                                      OwnedRejected{"svc", E::kSpanIdZero, 1},
                                      OwnedRejected{"svc", E::kParentSpanIdLength, 1},
                                      OwnedRejected{"", E::kSpanIdLength, 1}));
  EXPECT_EQ(r.rejected_span_count, 7u);
  EXPECT_EQ(r, ReferenceDecode(request));
}

TEST(OtlpProtoDecoderTest, RejectionsAreNotMergedAcrossResources) {
  pb::ExportTraceServiceRequest request;
  AddSpan(AddResource(&request, "a"), 1, 1)->set_trace_id("");
  AddSpan(AddResource(&request, "a"), 1, 1)->set_trace_id("");
  OwnedResult r = DecodeProtoOk(request);
  EXPECT_EQ(r.rejected.size(), 2u);
  EXPECT_EQ(r.rejected_span_count, 2u);
}

TEST(OtlpProtoDecoderTest, ServiceName) {
  pb::ExportTraceServiceRequest request;
  // No resource at all.
  AddSpan(request.add_resource_spans()->add_scope_spans(), 1, 1);
  // A resource without service.name.
  pb::ResourceSpans* rs = request.add_resource_spans();
  AddStringAttr(rs->mutable_resource()->mutable_attributes(), "host.name", "h");
  AddSpan(rs->add_scope_spans(), 2, 2);
  // service.name not a string, then a string.
  rs = request.add_resource_spans();
  AddIntAttr(rs->mutable_resource()->mutable_attributes(), "service.name", 3);
  AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name", "real");
  AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name", "later");
  AddSpan(rs->add_scope_spans(), 3, 3);
  // Scope attributes are not the resource.
  rs = request.add_resource_spans();
  pb::ScopeSpans* ss = rs->add_scope_spans();
  AddStringAttr(ss->mutable_scope()->mutable_attributes(), "service.name", "scope");
  AddSpan(ss, 4, 4);
  AddSpan(AddResource(&request, "last"), 5, 5);

  OwnedResult r = DecodeProtoOk(request);
  ASSERT_EQ(r.spans.size(), 5u);
  EXPECT_EQ(r.spans[0].service_name, "");
  EXPECT_EQ(r.spans[1].service_name, "");
  EXPECT_EQ(r.spans[2].service_name, "real");
  EXPECT_EQ(r.spans[3].service_name, "");
  EXPECT_EQ(r.spans[4].service_name, "last");
  EXPECT_EQ(r, ReferenceDecode(request));
}

TEST(OtlpProtoDecoderTest, CapturedTraceparents) {
  pb::ExportTraceServiceRequest request;
  pb::ScopeSpans* ss = AddResource(&request, "svc");
  AddStringAttr(AddSpan(ss, 1, 1)->mutable_attributes(), kTraceparentKey, kTp1);
  pb::Span* array = AddSpan(ss, 2, 2);
  pb::KeyValue* kv = AddStringArrayAttr(array->mutable_attributes(), kTraceparentKey,
                                        {std::string(kTp1), ""});
  kv->mutable_value()->mutable_array_value()->add_values()->set_int_value(1);  // skipped
  kv->mutable_value()->mutable_array_value()->add_values()->set_string_value(std::string(kTp2));
  pb::Span* twice = AddSpan(ss, 3, 3);
  AddStringAttr(twice->mutable_attributes(), kTraceparentKey, "first");
  AddStringAttr(twice->mutable_attributes(), "http.request.header.tracestate", "x=y");
  AddStringArrayAttr(twice->mutable_attributes(), kTraceparentKey, {"second"});
  AddIntAttr(AddSpan(ss, 4, 4)->mutable_attributes(), kTraceparentKey, 5);
  AddStringArrayAttr(AddSpan(ss, 5, 5)->mutable_attributes(), kTraceparentKey, {});
  AddStringAttr(AddSpan(ss, 6, 6)->mutable_attributes(), "traceparent", kTp1);  // other key

  OwnedResult r = DecodeProtoOk(request);
  ASSERT_EQ(r.spans.size(), 6u);
  EXPECT_THAT(r.spans[0].traceparents, ElementsAre(kTp1));
  EXPECT_THAT(r.spans[1].traceparents, ElementsAre(kTp1, "", kTp2));
  EXPECT_THAT(r.spans[2].traceparents, ElementsAre("first", "second"));
  EXPECT_THAT(r.spans[3].traceparents, IsEmpty());
  EXPECT_THAT(r.spans[4].traceparents, IsEmpty());
  EXPECT_THAT(r.spans[5].traceparents, IsEmpty());
  EXPECT_EQ(r, ReferenceDecode(request));
}

TEST(OtlpProtoDecoderTest, DestinationPrecedence) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> attrs;  // value "#" = int value
    std::string want;
  };
  const Case cases[] = {
      {{}, ""},
      {{{"server.address", "a"}, {"peer.service", "b"}}, "b"},
      {{{"messaging.destination.name", "c"}, {"server.address", "a"}}, "a"},
      {{{"messaging.destination.name", "c"}}, "c"},
      {{{"peer.service", ""}, {"server.address", "a"}}, "a"},
      {{{"peer.service", "#"}, {"server.address", "a"}}, "a"},
      {{{"peer.service", "x"}, {"peer.service", "y"}}, "x"},
      {{{"server.address", "a"}, {"messaging.destination.name", "c"}, {"peer.service", "p"}}, "p"},
      {{{"net.peer.name", "old"}}, ""},
  };
  for (const Case& c : cases) {
    pb::ExportTraceServiceRequest request;
    pb::Span* span = AddSpan(AddResource(&request, "svc"), 1, 1);
    span->set_kind(pb::Span::SPAN_KIND_CLIENT);
    for (const auto& [key, value] : c.attrs) {
      if (value == "#") {
        AddIntAttr(span->mutable_attributes(), key, 1);
      } else {
        AddStringAttr(span->mutable_attributes(), key, value);
      }
    }
    OwnedResult r = DecodeProtoOk(request);
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(r.spans[0].destination, c.want) << ::testing::PrintToString(c.attrs);
    EXPECT_EQ(r, ReferenceDecode(request));
  }
}

TEST(OtlpProtoDecoderTest, LinksWithBadIdsAreSkipped) {
  pb::ExportTraceServiceRequest request;
  pb::Span* span = AddSpan(AddResource(&request, "svc"), 1, 1);
  auto add_link = [&](std::string trace, std::string span_id) {
    auto* link = span->add_links();
    link->set_trace_id(std::move(trace));
    link->set_span_id(std::move(span_id));
  };
  add_link(TraceIdBytes(2), SpanIdBytes(2));
  add_link(std::string(15, 'x'), SpanIdBytes(3));
  add_link(TraceIdBytes(4), std::string(8, '\0'));
  add_link("", "");
  add_link(std::string(16, '\0'), SpanIdBytes(5));
  add_link(TraceIdBytes(6), std::string(9, 'y'));
  add_link(TraceIdBytes(7), SpanIdBytes(7));
  OwnedResult r = DecodeProtoOk(request);
  ASSERT_EQ(r.spans.size(), 1u);
  EXPECT_THAT(r.spans[0].links, ElementsAre(std::pair(Tid(2), Sid(2)), std::pair(Tid(7), Sid(7))));
}

TEST(OtlpProtoDecoderTest, KindAndStatusMapping) {
  const std::pair<int, propwatch::SpanKind> kinds[] = {
      {0, propwatch::SpanKind::kUnspecified}, {1, propwatch::SpanKind::kInternal},
      {2, propwatch::SpanKind::kServer},      {3, propwatch::SpanKind::kClient},
      {4, propwatch::SpanKind::kProducer},    {5, propwatch::SpanKind::kConsumer},
      {6, propwatch::SpanKind::kUnspecified}, {-1, propwatch::SpanKind::kUnspecified},
  };
  for (const auto& [wire_kind, want] : kinds) {
    pb::ExportTraceServiceRequest request;
    AddSpan(AddResource(&request, "svc"), 1, 1)
        ->set_kind(static_cast<pb::Span::SpanKind>(wire_kind));
    EXPECT_EQ(DecodeProtoOk(request).spans[0].kind, want) << wire_kind;
  }
  const std::pair<int, propwatch::StatusCode> codes[] = {
      {0, propwatch::StatusCode::kUnset}, {1, propwatch::StatusCode::kOk},
      {2, propwatch::StatusCode::kError}, {3, propwatch::StatusCode::kUnset},
      {-2, propwatch::StatusCode::kUnset},
  };
  for (const auto& [wire_code, want] : codes) {
    pb::ExportTraceServiceRequest request;
    AddSpan(AddResource(&request, "svc"), 1, 1)
        ->mutable_status()
        ->set_code(static_cast<pb::Status::StatusCode>(wire_code));
    EXPECT_EQ(DecodeProtoOk(request).spans[0].status, want) << wire_code;
  }
}

TEST(OtlpProtoDecoderTest, ManySpansAndLinksSurviveBufferGrowth) {
  // Links and traceparents are stored in vectors that grow while decoding;
  // each span must still see exactly its own.
  pb::ExportTraceServiceRequest request;
  pb::ScopeSpans* ss = AddResource(&request, "svc");
  for (int i = 0; i < 500; ++i) {
    pb::Span* span = AddSpan(ss, static_cast<uint8_t>(i), static_cast<uint8_t>(i + 1));
    for (int k = 0; k < i % 5; ++k) {
      auto* link = span->add_links();
      link->set_trace_id(TraceIdBytes(static_cast<uint8_t>(i + k)));
      link->set_span_id(SpanIdBytes(static_cast<uint8_t>(k + 1)));
      AddStringAttr(span->mutable_attributes(), kTraceparentKey, std::to_string(i * 10 + k));
    }
    if (i % 7 == 0) span->set_trace_id("bad");  // rejected spans give storage back
  }
  EXPECT_EQ(DecodeProtoOk(request), ReferenceDecode(request));
}

TEST(OtlpProtoDecoderTest, MalformedInputIsInvalidArgument) {
  const std::string good_span =
      wire::Len(2, wire::Len(2, wire::Len(1, TraceIdBytes(1)) + wire::Len(2, SpanIdBytes(1))));
  struct Case {
    std::string name;
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {"tag without length", "\x0a", "truncated varint"},
      {"length past end", "\x0a\x05" "ab", "past the end"},
      {"truncated tag", "\x88", "truncated varint"},
      {"wire type 6", wire::Tag(1, 6), "invalid wire type"},
      {"wire type 7", wire::Tag(9, 7), "invalid wire type"},
      {"start group", wire::Tag(5, 3) + wire::Tag(5, 4), "group"},
      {"end group", wire::Tag(5, 4), "group"},
      {"field number 0", std::string("\x02\x00", 2), "field number 0"},
      {"field number 0 varint", std::string("\x00\x00", 2), "field number 0"},
      {"varint too long", absl::StrCat("\x10", std::string(10, '\xff'), "\x01"), "varint"},
      {"varint overflow", absl::StrCat("\x10", std::string(9, '\xff'), "\x02"), "varint"},
      {"tag beyond 32 bits", absl::StrCat(wire::Varint(1ull << 35), std::string(1, '\0')), "tag"},
      {"truncated fixed64", wire::Tag(3, 1) + "1234567", "fixed64"},
      {"truncated fixed32", wire::Tag(3, 5) + "123", "fixed32"},
      // Errors inside the messages the decoder walks, after a good span.
      {"bad span field",
       wire::Len(1, good_span + wire::Len(2, wire::Len(2, wire::Tag(7, 1) + "abc"))),
       "fixed64"},
      {"bad attribute",
       wire::Len(1, good_span + wire::Len(2, wire::Len(2, wire::Len(9, wire::Tag(1, 6))))),
       "invalid wire type"},
      {"bad link", wire::Len(1, good_span + wire::Len(2, wire::Len(2, wire::Len(13, "\x0a\x09")))),
       "past the end"},
      {"bad traceparent array",
       wire::Len(1, wire::Len(2, wire::Len(2, wire::Len(
                                   9, wire::Len(1, kTraceparentKey) +
                                          wire::Len(2, wire::Len(5, wire::Len(1, "\x0a"))))))),
       "truncated varint"},
      {"bad resource attribute",
       wire::Len(1, wire::Len(1, wire::Len(1, wire::Len(1, "service.name") +
                                                  wire::Len(2, wire::Tag(1, 3))))),
       "group"},
  };
  for (const Case& c : cases) {
    DecodedTraces decoded;
    // Start from a non-empty state to check the output is cleared.
    ASSERT_TRUE(DecodeTraceRequestProto(Serialize(FullRequest()), &decoded).ok());
    absl::Status status = DecodeTraceRequestProto(c.body, &decoded);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message)) << c.name;
    EXPECT_THAT(decoded.spans(), IsEmpty()) << c.name;
    EXPECT_THAT(decoded.rejected(), IsEmpty()) << c.name;
    EXPECT_EQ(decoded.rejected_span_count(), 0u) << c.name;
  }
}

TEST(OtlpProtoDecoderTest, SkippedContentIsNotValidated) {
  // Events, scopes and unknown fields are skipped by length, whatever they
  // contain: that is the point of the hand-written decoder.
  std::string span = wire::Len(1, TraceIdBytes(1)) + wire::Len(2, SpanIdBytes(1)) +
                     wire::Len(11, wire::Tag(1, 7) + "garbage");
  std::string scope_spans = wire::Len(1, "\xff\xff") + wire::Len(2, span);
  OwnedResult r = DecodeProtoOk(wire::Len(1, wire::Len(2, scope_spans)));
  EXPECT_EQ(r.spans.size(), 1u);
}

TEST(OtlpProtoDecoderTest, TruncationAtEveryOffsetFailsCleanly) {
  const std::string body = Serialize(FullRequest());  // one ResourceSpans
  DecodedTraces decoded;
  for (size_t k = 1; k < body.size(); ++k) {
    absl::Status status = DecodeTraceRequestProto(std::string_view(body).substr(0, k), &decoded);
    ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "prefix " << k;
    ASSERT_THAT(decoded.spans(), IsEmpty());
    ASSERT_THAT(decoded.rejected(), IsEmpty());
  }
}

TEST(OtlpProtoDecoderTest, TruncatedMultiResourceRequestsAgreeWithProtobuf) {
  std::mt19937_64 rng(7);
  google::protobuf::LogSilencer silence;
  for (int round = 0; round < 20; ++round) {
    const std::string body = Serialize(RandomRequest(rng));
    DecodedTraces decoded;
    for (size_t k = 0; k <= body.size(); ++k) {
      // Heap copy so ASan sees reads past the prefix.
      std::string prefix = body.substr(0, k);
      bool ok = DecodeTraceRequestProto(prefix, &decoded).ok();
      pb::ExportTraceServiceRequest parsed;
      if (ok) {
        // Only a cut between two top-level fields is decodable.
        ASSERT_TRUE(parsed.ParseFromString(prefix)) << k;
        ASSERT_EQ(Own(decoded), ReferenceDecode(parsed)) << k;
      }
    }
  }
}

TEST(OtlpProtoDecoderTest, RandomRequestsMatchTheReference) {
  std::mt19937_64 rng(42);
  DecodedTraces decoded;  // reused across requests on purpose
  for (int i = 0; i < 500; ++i) {
    pb::ExportTraceServiceRequest request = RandomRequest(rng);
    const std::string body = Serialize(request);  // the output borrows from it
    ASSERT_TRUE(DecodeTraceRequestProto(body, &decoded).ok());
    ASSERT_EQ(Own(decoded), ReferenceDecode(request)) << "request " << i;
  }
}

TEST(OtlpProtoDecoderTest, MutatedBytesAgreeWithProtobufWhenBothAccept) {
  std::mt19937_64 rng(1234);
  google::protobuf::LogSilencer silence;
  DecodedTraces decoded;
  int both_ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = Serialize(RandomRequest(rng));
    if (body.empty()) continue;
    for (int m = static_cast<int>(rng() % 3) + 1; m > 0; --m) {
      size_t at = rng() % body.size();
      switch (rng() % 4) {
        case 0: body[at] = static_cast<char>(rng()); break;
        case 1: body[at] ^= static_cast<char>(1 << (rng() % 8)); break;
        case 2: body.erase(at, 1 + rng() % 4); break;
        case 3: body.insert(at, 1, static_cast<char>(rng())); break;
      }
      if (body.empty()) break;
    }
    bool ours = DecodeTraceRequestProto(body, &decoded).ok();
    if (!ours) {
      ASSERT_THAT(decoded.spans(), IsEmpty());
      continue;
    }
    pb::ExportTraceServiceRequest parsed;
    if (!parsed.ParseFromString(body)) continue;  // e.g. bad UTF-8 in a skipped string
    ++both_ok;
    ASSERT_EQ(Own(decoded), ReferenceDecode(parsed)) << "mutation round " << i;
  }
  EXPECT_GT(both_ok, 1000);
}

TEST(OtlpProtoDecoderTest, SteadyStateDecodingDoesNotAllocate) {
  std::mt19937_64 rng(99);
  pb::ExportTraceServiceRequest request;
  for (int i = 0; i < 5; ++i) request.MergeFrom(RandomRequest(rng));
  const std::string body = Serialize(request);
  const std::string json = ToOtlpJson(request, {.escape_everything = true});
  DecodedTraces decoded;
  ASSERT_TRUE(DecodeTraceRequestProto(body, &decoded).ok());  // warm up
  ASSERT_TRUE(DecodeTraceRequestJson(json, &decoded).ok());
  ASSERT_GT(decoded.spans().size(), 10u);

  {
    long probe = AllocationCount();
    auto* p = new std::string(100, 'x');  // the counter must be live
    delete p;
    ASSERT_GT(AllocationCount(), probe);
  }
  long before = AllocationCount();
  absl::Status proto_status = DecodeTraceRequestProto(body, &decoded);
  absl::Status json_status = DecodeTraceRequestJson(json, &decoded);
  long allocations = AllocationCount() - before;
  ASSERT_TRUE(proto_status.ok());
  ASSERT_TRUE(json_status.ok());
  EXPECT_EQ(allocations, 0);
}

TEST(OtlpProtoDecoderTest, ClearKeepsCapacityAndEmptiesOutput) {
  DecodedTraces decoded;
  ASSERT_TRUE(DecodeTraceRequestProto(Serialize(FullRequest()), &decoded).ok());
  size_t capacity = decoded.CapacityBytes();
  decoded.Clear();
  EXPECT_THAT(decoded.spans(), IsEmpty());
  EXPECT_THAT(decoded.rejected(), IsEmpty());
  EXPECT_EQ(decoded.CapacityBytes(), capacity);
}

}  // namespace
}  // namespace propwatch::otlp
