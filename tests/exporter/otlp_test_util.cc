#include "tests/exporter/otlp_test_util.h"

#include <cinttypes>
#include <cstdio>

#include "absl/strings/escaping.h"
#include "google/protobuf/descriptor.h"

namespace propwatch::otlp::test_util {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string TraceIdBytes(uint8_t seed) {
  std::string id(16, '\0');
  for (int i = 0; i < 16; ++i) id[i] = static_cast<char>(seed * 31 + i + 1);
  return id;
}

std::string SpanIdBytes(uint8_t seed) {
  std::string id(8, '\0');
  for (int i = 0; i < 8; ++i) id[i] = static_cast<char>(seed * 17 + i + 1);
  return id;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[static_cast<uint8_t>(c) >> 4];
    out += kDigits[static_cast<uint8_t>(c) & 0xF];
  }
  return out;
}

pb::KeyValue* AddStringAttr(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs,
                            std::string_view key, std::string_view value) {
  pb::KeyValue* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
  return kv;
}

pb::KeyValue* AddIntAttr(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs,
                         std::string_view key, int64_t value) {
  pb::KeyValue* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_int_value(value);
  return kv;
}

pb::KeyValue* AddStringArrayAttr(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs,
                                 std::string_view key, const std::vector<std::string>& values) {
  pb::KeyValue* kv = attrs->Add();
  kv->set_key(std::string(key));
  auto* array = kv->mutable_value()->mutable_array_value();
  for (const std::string& v : values) array->add_values()->set_string_value(v);
  return kv;
}

pb::ScopeSpans* AddResource(pb::ExportTraceServiceRequest* request, std::string_view service) {
  pb::ResourceSpans* rs = request->add_resource_spans();
  if (!service.empty()) {
    AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name", service);
  }
  return rs->add_scope_spans();
}

pb::Span* AddSpan(pb::ScopeSpans* scope, uint8_t trace_seed, uint8_t span_seed,
                  uint8_t parent_seed) {
  pb::Span* span = scope->add_spans();
  span->set_trace_id(TraceIdBytes(trace_seed));
  span->set_span_id(SpanIdBytes(span_seed));
  if (parent_seed != 0) span->set_parent_span_id(SpanIdBytes(parent_seed));
  return span;
}

// ---------------------------------------------------------------------------
// OTLP/JSON writer.

namespace {

void AppendCodeUnitEscape(uint32_t unit, std::string* out) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04X", unit);
  *out += buf;
}

void WriteJsonString(std::string_view s, const JsonOptions& o, std::string* out) {
  *out += '"';
  if (o.escape_everything) {
    // Decode UTF-8 (input is valid) and escape every code point.
    for (size_t i = 0; i < s.size();) {
      uint8_t b = static_cast<uint8_t>(s[i]);
      uint32_t cp;
      size_t len;
      if (b < 0x80) {
        cp = b;
        len = 1;
      } else if (b < 0xE0) {
        cp = b & 0x1F;
        len = 2;
      } else if (b < 0xF0) {
        cp = b & 0x0F;
        len = 3;
      } else {
        cp = b & 0x07;
        len = 4;
      }
      for (size_t k = 1; k < len; ++k) cp = cp << 6 | (static_cast<uint8_t>(s[i + k]) & 0x3F);
      i += len;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        AppendCodeUnitEscape(0xD800 + (cp >> 10), out);
        AppendCodeUnitEscape(0xDC00 + (cp & 0x3FF), out);
      } else {
        AppendCodeUnitEscape(cp, out);
      }
    }
  } else {
    for (char c : s) {
      switch (c) {
        case '"': *out += "\\\""; break;
        case '\\': *out += "\\\\"; break;
        case '\n': *out += "\\n"; break;
        case '\t': *out += "\\t"; break;
        case '\r': *out += "\\r"; break;
        case '\b': *out += "\\b"; break;
        case '\f': *out += "\\f"; break;
        default:
          if (static_cast<uint8_t>(c) < 0x20) {
            AppendCodeUnitEscape(static_cast<uint8_t>(c), out);
          } else {
            *out += c;
          }
      }
    }
  }
  *out += '"';
}

bool IsIdField(const FieldDescriptor* f) {
  return f->name() == "trace_id" || f->name() == "span_id" || f->name() == "parent_span_id";
}

void WriteMessage(const Message& m, const JsonOptions& o, int depth, std::string* out);

void Newline(const JsonOptions& o, int depth, std::string* out) {
  if (!o.whitespace) return;
  *out += '\n';
  out->append(2 * depth, ' ');
}

void WriteValue(const Message& m, const FieldDescriptor* f, int index, const JsonOptions& o,
                int depth, std::string* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  auto int64_text = [&](std::string text) {
    if (o.int64_as_numbers) {
      *out += text;
    } else {
      *out += '"' + text + '"';
    }
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      *out += std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      *out += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      int64_text(std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f)));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      int64_text(std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%.17g",
                    rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      *out += buf;
      break;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%.9g",
                    rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      *out += buf;
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      *out += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      int value = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* ev = f->enum_type()->FindValueByNumber(value);
      if (o.enum_names && ev != nullptr) {
        WriteJsonString(ev->name(), o, out);
      } else {
        *out += std::to_string(value);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() != FieldDescriptor::TYPE_BYTES) {
        WriteJsonString(value, o, out);
      } else if (IsIdField(f)) {
        std::string hex = Hex(value);
        if (o.uppercase_hex) {
          for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        WriteJsonString(hex, o, out);
      } else {
        WriteJsonString(absl::Base64Escape(value), o, out);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      WriteMessage(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), o, depth, out);
      break;
  }
}

void WriteMessage(const Message& m, const JsonOptions& o, int depth, std::string* out) {
  std::vector<const FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  *out += '{';
  bool first = true;
  for (const FieldDescriptor* f : fields) {
    if (!first) *out += ',';
    first = false;
    Newline(o, depth + 1, out);
    WriteJsonString(o.snake_case_keys ? f->name() : f->json_name(), o, out);
    *out += o.whitespace ? ": " : ":";
    if (f->is_repeated()) {
      *out += '[';
      int n = m.GetReflection()->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) *out += ',';
        Newline(o, depth + 2, out);
        WriteValue(m, f, i, o, depth + 2, out);
      }
      Newline(o, depth + 1, out);
      *out += ']';
    } else {
      WriteValue(m, f, -1, o, depth + 1, out);
    }
  }
  Newline(o, depth, out);
  *out += '}';
}

}  // namespace

std::string ToOtlpJson(const Message& message, const JsonOptions& options) {
  std::string out;
  WriteMessage(message, options, 0, &out);
  return out;
}

// ---------------------------------------------------------------------------
// Owned results and the reference decoder.

void PrintTo(const OwnedSpan& s, std::ostream* os) {
  *os << "{trace=" << s.trace_id.ToHex() << " span=" << s.span_id.ToHex()
      << " parent=" << s.parent_span_id.ToHex() << " service='" << s.service_name << "' name='"
      << s.name << "' kind=" << static_cast<int>(s.kind)
      << " status=" << static_cast<int>(s.status) << " start=" << s.start_unix_nano
      << " end=" << s.end_unix_nano << " links=[";
  for (const auto& [t, p] : s.links) *os << t.ToHex() << "/" << p.ToHex() << " ";
  *os << "] traceparents=[";
  for (const auto& t : s.traceparents) *os << "'" << t << "' ";
  *os << "] destination='" << s.destination << "' peer.service='" << s.peer_service
      << "' server.address='" << s.server_address << "' server.port=" << s.server_port
      << " messaging.destination.name='" << s.messaging_destination << "'}";
}

void PrintTo(const OwnedRejected& r, std::ostream* os) {
  *os << "{service='" << r.service_name << "' error=" << propwatch::SpanContextErrorName(r.error)
      << " count=" << r.count << "}";
}

void PrintTo(const OwnedResult& r, std::ostream* os) {
  *os << "\n spans:";
  for (const auto& s : r.spans) {
    *os << "\n  ";
    PrintTo(s, os);
  }
  *os << "\n rejected (" << r.rejected_span_count << "):";
  for (const auto& x : r.rejected) {
    *os << "\n  ";
    PrintTo(x, os);
  }
}

OwnedResult Own(const DecodedTraces& decoded) {
  OwnedResult result;
  for (const propwatch::SpanRecord& r : decoded.spans()) {
    OwnedSpan s;
    s.trace_id = r.trace_id;
    s.span_id = r.span_id;
    s.parent_span_id = r.parent_span_id;
    s.service_name = std::string(r.service_name);
    s.name = std::string(r.name);
    s.kind = r.kind;
    s.status = r.status;
    s.start_unix_nano = r.start_unix_nano;
    s.end_unix_nano = r.end_unix_nano;
    for (const propwatch::SpanLink& l : r.links) s.links.emplace_back(l.trace_id, l.span_id);
    for (std::string_view t : r.captured_traceparents) s.traceparents.emplace_back(t);
    s.destination = std::string(r.destination);
    s.peer_service = std::string(r.peer_service);
    s.server_address = std::string(r.server_address);
    s.server_port = r.server_port;
    s.messaging_destination = std::string(r.messaging_destination);
    result.spans.push_back(std::move(s));
  }
  for (const RejectedSpan& r : decoded.rejected()) {
    result.rejected.push_back({std::string(r.service_name), r.error, r.count});
  }
  result.rejected_span_count = decoded.rejected_span_count();
  return result;
}

namespace {

bool IsString(const pb::KeyValue& kv) {
  return kv.value().value_case() == pb::AnyValue::kStringValue;
}

}  // namespace

OwnedResult ReferenceDecode(const pb::ExportTraceServiceRequest& request) {
  OwnedResult result;
  for (const pb::ResourceSpans& rs : request.resource_spans()) {
    std::string service;
    for (const pb::KeyValue& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name" && IsString(kv)) {
        service = kv.value().string_value();
        break;
      }
    }
    const size_t rejected_begin = result.rejected.size();
    for (const pb::ScopeSpans& ss : rs.scope_spans()) {
      for (const pb::Span& span : ss.spans()) {
        propwatch::SpanContextCheck check =
            propwatch::CheckSpanContext(span.trace_id(), span.span_id(), span.parent_span_id());
        if (!check.ok) {
          ++result.rejected_span_count;
          if (result.rejected.size() > rejected_begin &&
              result.rejected.back().error == check.error) {
            ++result.rejected.back().count;
          } else {
            result.rejected.push_back({service, check.error, 1});
          }
          continue;
        }
        OwnedSpan s;
        s.trace_id = check.trace_id;
        s.span_id = check.span_id;
        s.parent_span_id = check.parent_span_id;
        s.service_name = service;
        s.name = span.name();
        s.kind = propwatch::SpanKindFromInt(span.kind());
        switch (span.status().code()) {
          case 1: s.status = propwatch::StatusCode::kOk; break;
          case 2: s.status = propwatch::StatusCode::kError; break;
          default: s.status = propwatch::StatusCode::kUnset; break;
        }
        s.start_unix_nano = span.start_time_unix_nano();
        s.end_unix_nano = span.end_time_unix_nano();
        for (const auto& link : span.links()) {
          propwatch::SpanContextCheck c =
              propwatch::CheckSpanContext(link.trace_id(), link.span_id(), "");
          if (c.ok) s.links.emplace_back(c.trace_id, c.span_id);
        }
        for (const pb::KeyValue& kv : span.attributes()) {
          if (kv.key() != "http.request.header.traceparent") continue;
          if (IsString(kv)) s.traceparents.push_back(kv.value().string_value());
          if (kv.value().value_case() == pb::AnyValue::kArrayValue) {
            for (const pb::AnyValue& e : kv.value().array_value().values()) {
              if (e.value_case() == pb::AnyValue::kStringValue) {
                s.traceparents.push_back(e.string_value());
              }
            }
          }
        }
        for (const char* key : {"peer.service", "server.address", "messaging.destination.name"}) {
          for (const pb::KeyValue& kv : span.attributes()) {
            if (kv.key() == key && IsString(kv) && !kv.value().string_value().empty()) {
              s.destination = kv.value().string_value();
              break;
            }
          }
          if (!s.destination.empty()) break;
        }
        // Each raw destination attribute: its first non-empty string value.
        for (const auto& [key, field] :
             {std::pair<const char*, std::string*>{"peer.service", &s.peer_service},
              {"server.address", &s.server_address},
              {"messaging.destination.name", &s.messaging_destination}}) {
          for (const pb::KeyValue& kv : span.attributes()) {
            if (kv.key() == key && IsString(kv) && !kv.value().string_value().empty()) {
              *field = kv.value().string_value();
              break;
            }
          }
        }
        // server.port: the last occurrence wins; only an int in 1..65535 is a port.
        for (const pb::KeyValue& kv : span.attributes()) {
          if (kv.key() != "server.port") continue;
          const bool is_int = kv.value().value_case() == pb::AnyValue::kIntValue;
          const int64_t v = is_int ? kv.value().int_value() : 0;
          s.server_port = v >= 1 && v <= 65535 ? static_cast<uint32_t>(v) : 0;
        }
        result.spans.push_back(std::move(s));
      }
    }
  }
  return result;
}

// ---------------------------------------------------------------------------
// Random requests.

namespace {

class Gen {
 public:
  explicit Gen(std::mt19937_64& rng) : rng_(rng) {}

  uint64_t U64() { return rng_(); }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(0, 99) < percent; }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Int(0, N - 1)];
  }

  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(Int(0, 255));
    return s;
  }

  // Mostly valid; sometimes empty, zero or the wrong length.
  std::string Id(size_t size) {
    int r = Int(0, 99);
    if (r < 85) {
      std::string id = Bytes(size);
      id[0] = static_cast<char>(Int(1, 255));  // never accidentally zero
      return id;
    }
    if (r < 90) return "";
    if (r < 95) return std::string(size, '\0');
    return Bytes(Chance(50) ? size - 1 : size + 1);
  }

  std::string Text() {
    static const char* const kPieces[] = {
        "GET /users", "é", "日本", "\xF0\x9F\x98\x80", "\"quoted\"", "back\\slash", "new\nline",
        "tab\t",      "\x01", "/", "plain", "", "a", "traceparent",
    };
    std::string s;
    for (int i = Int(0, 3); i > 0; --i) s += Pick(kPieces);
    return s;
  }

  void AnyValueNoise(pb::AnyValue* v, int depth = 0) {
    switch (Int(0, depth > 1 ? 4 : 6)) {
      case 0: v->set_string_value(Text()); break;
      case 1: v->set_bool_value(Chance(50)); break;
      case 2: v->set_int_value(static_cast<int64_t>(U64())); break;
      case 3: v->set_double_value(Int(-1000, 1000) / 8.0); break;
      case 4: v->set_bytes_value(Bytes(Int(0, 5))); break;
      case 5:
        for (int i = Int(0, 2); i > 0; --i) {
          AnyValueNoise(v->mutable_array_value()->add_values(), depth + 1);
        }
        break;
      case 6:
        for (int i = Int(0, 2); i > 0; --i) {
          pb::KeyValue* kv = v->mutable_kvlist_value()->add_values();
          kv->set_key(Text());
          AnyValueNoise(kv->mutable_value(), depth + 1);
        }
        break;
    }
  }

  void NoiseAttrs(google::protobuf::RepeatedPtrField<pb::KeyValue>* attrs) {
    static const char* const kKeys[] = {"http.method", "foo", "service.namespace", "peer",
                                        "server.port", "traceparent", ""};
    for (int i = Int(0, 2); i > 0; --i) {
      pb::KeyValue* kv = attrs->Add();
      kv->set_key(Pick(kKeys));
      if (Chance(90)) AnyValueNoise(kv->mutable_value());
    }
  }

  std::string Traceparent() {
    static const char* const kValues[] = {
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00", "garbage", "", " 00-x "};
    return Pick(kValues);
  }

  void SpanAttrs(pb::Span* span) {
    auto* attrs = span->mutable_attributes();
    static const char* const kDest[] = {"peer.service", "server.address",
                                        "messaging.destination.name"};
    for (int i = Int(0, 6); i > 0; --i) {
      switch (Int(0, 6)) {
        case 0:
          NoiseAttrs(attrs);
          break;
        case 1: {  // traceparent as a string
          AddStringAttr(attrs, "http.request.header.traceparent", Traceparent());
          break;
        }
        case 2: {  // traceparent as an array, possibly with non-strings
          pb::KeyValue* kv = attrs->Add();
          kv->set_key("http.request.header.traceparent");
          auto* array = kv->mutable_value()->mutable_array_value();
          for (int k = Int(0, 3); k > 0; --k) {
            if (Chance(75)) {
              array->add_values()->set_string_value(Traceparent());
            } else {
              AnyValueNoise(array->add_values(), 2);
            }
          }
          break;
        }
        case 3: {  // traceparent with a non-string value
          pb::KeyValue* kv = attrs->Add();
          kv->set_key("http.request.header.traceparent");
          kv->mutable_value()->set_int_value(7);
          break;
        }
        case 4: {  // server.port: in range, out of range, negative, or not an int
          pb::KeyValue* kv = attrs->Add();
          kv->set_key("server.port");
          static const int64_t kPorts[] = {443, 8080, 0, 65535, 65536, -1, 1LL << 40};
          if (Chance(80)) {
            kv->mutable_value()->set_int_value(kPorts[Int(0, 6)]);
          } else {
            kv->mutable_value()->set_string_value("8080");
          }
          break;
        }
        default: {  // a destination candidate
          pb::KeyValue* kv = attrs->Add();
          kv->set_key(Pick(kDest));
          if (Chance(80)) {
            kv->mutable_value()->set_string_value(Chance(15) ? "" : Text() + "svc");
          } else {
            kv->mutable_value()->set_int_value(443);
          }
          break;
        }
      }
    }
  }

  void FillSpan(pb::Span* span) {
    span->set_trace_id(Id(16));
    span->set_span_id(Id(8));
    switch (Int(0, 9)) {
      case 0: case 1: case 2: break;  // root
      case 3: span->set_parent_span_id(std::string(8, '\0')); break;
      case 4: span->set_parent_span_id(Bytes(7)); break;
      default: span->set_parent_span_id(Id(8)); break;
    }
    if (Chance(80)) span->set_name(Text());
    static const int kKinds[] = {0, 1, 2, 3, 4, 5, 7, -1};
    span->set_kind(static_cast<pb::Span::SpanKind>(Pick(kKinds)));
    static const uint64_t kTimes[] = {0, 1, 1'700'000'000'123'456'789ull, (1ull << 53) + 1,
                                      ~0ull};
    span->set_start_time_unix_nano(Chance(50) ? Pick(kTimes) : U64());
    span->set_end_time_unix_nano(Chance(50) ? Pick(kTimes) : U64());
    if (Chance(30)) span->set_trace_state("congo=t61rcWkgMzE");
    if (Chance(30)) span->set_flags(static_cast<uint32_t>(Int(0, 0x3FF)));
    if (Chance(20)) span->set_dropped_attributes_count(Int(1, 9));
    SpanAttrs(span);
    for (int i = Int(0, 2); i > 0; --i) {
      auto* event = span->add_events();
      event->set_name(Text());
      event->set_time_unix_nano(U64());
      NoiseAttrs(event->mutable_attributes());
      // An event may even carry a traceparent-looking attribute: not ours.
      if (Chance(30)) AddStringAttr(event->mutable_attributes(), "peer.service", "not-this");
    }
    for (int i = Int(0, 3); i > 0; --i) {
      auto* link = span->add_links();
      link->set_trace_id(Id(16));
      link->set_span_id(Id(8));
      if (Chance(30)) link->set_trace_state("a=b");
      if (Chance(30)) link->set_flags(1);
      if (Chance(30)) AddStringAttr(link->mutable_attributes(), "peer.service", "not-this");
    }
    if (Chance(70)) {
      static const int kCodes[] = {0, 1, 2, 9};
      span->mutable_status()->set_code(static_cast<pb::Status::StatusCode>(Pick(kCodes)));
      if (Chance(50)) span->mutable_status()->set_message(Text());
    }
  }

  void FillResource(pb::ResourceSpans* rs) {
    if (Chance(85)) {
      auto* attrs = rs->mutable_resource()->mutable_attributes();
      NoiseAttrs(attrs);
      int r = Int(0, 9);
      if (r < 6) {
        AddStringAttr(attrs, "service.name", Chance(90) ? "svc-" + Text() : "");
      } else if (r < 7) {
        AddIntAttr(attrs, "service.name", 5);  // not a string: ignored
        AddStringAttr(attrs, "service.name", "second");
      }
      NoiseAttrs(attrs);
      if (Chance(20)) rs->mutable_resource()->set_dropped_attributes_count(3);
    }
    if (Chance(30)) rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    for (int i = Int(0, 3); i > 0; --i) {
      pb::ScopeSpans* ss = rs->add_scope_spans();
      if (Chance(60)) {
        ss->mutable_scope()->set_name("io.opentelemetry.test");
        ss->mutable_scope()->set_version("1.0");
        AddStringAttr(ss->mutable_scope()->mutable_attributes(), "service.name", "scope-not-this");
      }
      for (int k = Int(0, 6); k > 0; --k) FillSpan(ss->add_spans());
    }
  }

 private:
  std::mt19937_64& rng_;
};

}  // namespace

pb::ExportTraceServiceRequest RandomRequest(std::mt19937_64& rng) {
  Gen gen(rng);
  pb::ExportTraceServiceRequest request;
  for (int i = gen.Int(0, 3); i > 0; --i) gen.FillResource(request.add_resource_spans());
  return request;
}

// ---------------------------------------------------------------------------

namespace wire {

std::string Varint(uint64_t value) {
  std::string out;
  do {
    uint8_t b = value & 0x7F;
    value >>= 7;
    if (value != 0) b |= 0x80;
    out += static_cast<char>(b);
  } while (value != 0);
  return out;
}

std::string Tag(uint32_t field, uint32_t wire_type) {
  return Varint(static_cast<uint64_t>(field) << 3 | wire_type);
}

std::string Len(uint32_t field, std::string_view payload) {
  return Tag(field, 2) + Varint(payload.size()) + std::string(payload);
}

std::string VarintField(uint32_t field, uint64_t value) { return Tag(field, 0) + Varint(value); }

std::string Fixed64Field(uint32_t field, uint64_t value) {
  std::string out = Tag(field, 1);
  for (int i = 0; i < 8; ++i) out += static_cast<char>(value >> (8 * i));
  return out;
}

std::string Fixed32Field(uint32_t field, uint32_t value) {
  std::string out = Tag(field, 5);
  for (int i = 0; i < 4; ++i) out += static_cast<char>(value >> (8 * i));
  return out;
}

}  // namespace wire

}  // namespace propwatch::otlp::test_util
