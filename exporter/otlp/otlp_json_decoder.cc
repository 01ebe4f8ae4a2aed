// OTLP/JSON decoder for ExportTraceServiceRequest, on top of JsonReader.
//
// Mapping (OTLP spec "JSON Protobuf Encoding" plus proto3 JSON leniencies):
//   - keys: lowerCamelCase; the original snake_case names are accepted too;
//     unknown keys are skipped.
//   - traceId / spanId / parentSpanId: hex, either case. Empty, odd-length,
//     non-hex or over-long values make the id invalid, so the span is
//     rejected with the length reason of that id (empty parentSpanId = root).
//   - enums: integers; enum names are accepted too (unknown names map to the
//     zero value, as unknown integers do).
//   - 64-bit integers: numbers or decimal strings; exponents are fine as long
//     as the value is an exact integer.
//   - null for any field means "absent"; null as an array element is an
//     error. A known field with the wrong JSON type fails the request.
// JSON keys and values can come in any order: the resource's service.name is
// applied when its ResourceSpans closes, and a KeyValue's value is captured
// and interpreted once its key is known.
#include <cstdint>
#include <limits>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "exporter/otlp/json_reader.h"
#include "exporter/otlp/otlp_decoder.h"
#include "exporter/otlp/traces_builder.h"

namespace propwatch::otlp {
namespace {

using internal::AttrRole;
using internal::TracesBuilder;

bool KeyIs(const JsonString& key, std::string_view camel) { return JsonStringEquals(key, camel); }
bool KeyIs(const JsonString& key, std::string_view camel, std::string_view snake) {
  return JsonStringEquals(key, camel) || JsonStringEquals(key, snake);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decoded bytes of a hex id. An undecodable id becomes one byte: no OTLP id
// has that length, so CheckSpanContext reports the id's length reason.
struct HexId {
  char bytes[16];
  size_t size = 0;

  std::string_view view() const { return std::string_view(bytes, size); }

  void Decode(std::string_view hex) {
    size = 0;
    if (hex.empty()) return;
    if (hex.size() % 2 != 0 || hex.size() > 2 * sizeof(bytes)) return MarkInvalid();
    for (size_t i = 0; i < hex.size(); i += 2) {
      int hi = HexValue(hex[i]);
      int lo = HexValue(hex[i + 1]);
      if (hi < 0 || lo < 0) return MarkInvalid();
      bytes[i / 2] = static_cast<char>(hi << 4 | lo);
    }
    size = hex.size() / 2;
  }

  void MarkInvalid() {
    bytes[0] = 0;
    size = 1;
  }
};

enum class IntParse { kOk, kSyntax, kNotInteger, kOutOfRange };

// Parses a JSON number (RFC 8259 grammar) that must denote an exact integer,
// e.g. "12", "1.2e1", "120e-1". Returns the magnitude and sign.
IntParse ParseJsonInteger(std::string_view text, uint64_t* magnitude, bool* negative) {
  size_t i = 0;
  const size_t n = text.size();
  *negative = i < n && text[i] == '-';
  if (*negative) ++i;
  auto digits_from = [&](size_t from) {
    size_t j = from;
    while (j < n && text[j] >= '0' && text[j] <= '9') ++j;
    return j;
  };
  const size_t int_begin = i;
  const size_t int_end = digits_from(i);
  if (int_end == int_begin) return IntParse::kSyntax;
  if (text[int_begin] == '0' && int_end - int_begin > 1) return IntParse::kSyntax;
  i = int_end;
  size_t frac_begin = i, frac_end = i;
  if (i < n && text[i] == '.') {
    frac_begin = i + 1;
    frac_end = digits_from(frac_begin);
    if (frac_end == frac_begin) return IntParse::kSyntax;
    i = frac_end;
  }
  int64_t exponent = 0;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    const size_t exp_end = digits_from(i);
    if (exp_end == i) return IntParse::kSyntax;
    for (; i < exp_end; ++i) {
      // Saturate: anything this large is out of range or not an integer.
      exponent = std::min<int64_t>(exponent * 10 + (text[i] - '0'), 1'000'000);
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != n) return IntParse::kSyntax;

  // Digits d = int digits followed by fraction digits; value = d * 10^scale.
  const size_t int_len = int_end - int_begin;
  const size_t frac_len = frac_end - frac_begin;
  const size_t total = int_len + frac_len;
  auto digit = [&](size_t k) {
    return k < int_len ? text[int_begin + k] - '0' : text[frac_begin + (k - int_len)] - '0';
  };
  const int64_t scale = exponent - static_cast<int64_t>(frac_len);
  size_t keep = total;
  if (scale < 0) {
    // The dropped low digits must all be zero.
    const uint64_t drop = static_cast<uint64_t>(-scale);
    keep = drop >= total ? 0 : total - static_cast<size_t>(drop);
    for (size_t k = keep; k < total; ++k) {
      if (digit(k) != 0) return IntParse::kNotInteger;
    }
  }
  uint64_t v = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (size_t k = 0; k < keep; ++k) {
    const uint64_t d = static_cast<uint64_t>(digit(k));
    if (v > (kMax - d) / 10) return IntParse::kOutOfRange;
    v = v * 10 + d;
  }
  if (v != 0) {
    for (int64_t s = 0; s < scale; ++s) {
      if (v > kMax / 10) return IntParse::kOutOfRange;
      v *= 10;
    }
  }
  *magnitude = v;
  if (v == 0) *negative = false;
  return IntParse::kOk;
}

constexpr std::string_view kSpanKindNames[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",      "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};
constexpr std::string_view kStatusCodeNames[] = {
    "STATUS_CODE_UNSET",
    "STATUS_CODE_OK",
    "STATUS_CODE_ERROR",
};

class JsonDecoder {
 public:
  JsonDecoder(std::string_view body, DecodedTraces* out)
      : body_size_(body.size()), reader_(body), builder_(out) {}

  absl::Status Run() {
    if (!DecodeRequest(reader_) || !reader_.ExpectEnd()) {
      builder_.Abort();
      return absl::InvalidArgumentError(absl::StrCat("OTLP/", reader_.status().message()));
    }
    builder_.Finish();
    return absl::OkStatus();
  }

 private:
  // Calls member(reader, key) for each member of an object; null is an
  // absent object when allow_null.
  template <typename Fn>
  static bool ReadObject(JsonReader& r, std::string_view what, bool allow_null, Fn member) {
    JsonType type;
    if (!r.PeekType(&type)) return false;
    if (type == JsonType::kNull && allow_null) return r.ReadNull();
    if (type != JsonType::kObject) return r.Fail(what);
    if (!r.BeginObject()) return false;
    JsonString key;
    while (r.NextMember(&key)) {
      if (!member(key)) return false;
    }
    return r.ok();
  }

  // Calls element(reader) for each element of an array (null: no elements).
  template <typename Fn>
  static bool ReadArray(JsonReader& r, std::string_view what, Fn element) {
    JsonType type;
    if (!r.PeekType(&type)) return false;
    if (type == JsonType::kNull) return r.ReadNull();
    if (type != JsonType::kArray) return r.Fail(what);
    if (!r.BeginArray()) return false;
    while (r.NextElement()) {
      if (!element()) return false;
    }
    return r.ok();
  }

  // A string field kept in the output: a view into the body, or unescaped
  // into the output's storage.
  bool ReadKeptString(JsonReader& r, std::string_view what, std::string_view* out) {
    JsonType type;
    if (!r.PeekType(&type)) return false;
    if (type == JsonType::kNull) {
      *out = {};
      return r.ReadNull();
    }
    if (type != JsonType::kString) return r.Fail(what);
    JsonString s;
    if (!r.ReadString(&s)) return false;
    if (!s.has_escapes) {
      *out = s.raw;
      return true;
    }
    builder_.PrepareUnescapeStorage(body_size_);
    // Cannot happen (each input string is unescaped at most once and never
    // grows), but never write past the storage.
    if (builder_.UnescapeRoom() < s.raw.size()) return r.Fail("internal: unescape storage full");
    *out = builder_.CommitUnescaped(UnescapeJsonString(s, builder_.UnescapeTail()));
    return true;
  }

  bool ReadId(JsonReader& r, std::string_view what, HexId* id) {
    JsonType type;
    if (!r.PeekType(&type)) return false;
    id->size = 0;
    if (type == JsonType::kNull) return r.ReadNull();
    if (type != JsonType::kString) return r.Fail(what);
    JsonString s;
    if (!r.ReadString(&s)) return false;
    if (!s.has_escapes) {
      id->Decode(s.raw);
      return true;
    }
    // Escaped hex is odd but valid JSON. Each escape is at most 6 bytes per
    // decoded byte, so anything longer cannot be a 32-digit id.
    char buf[6 * 2 * sizeof(id->bytes)];
    if (s.raw.size() > sizeof(buf)) {
      id->MarkInvalid();
      return true;
    }
    id->Decode(std::string_view(buf, UnescapeJsonString(s, buf)));
    return true;
  }

  bool ReadUint64(JsonReader& r, std::string_view what, uint64_t* value) {
    JsonType type;
    if (!r.PeekType(&type)) return false;
    std::string_view text;
    char buf[64];
    switch (type) {
      case JsonType::kNull:
        *value = 0;
        return r.ReadNull();
      case JsonType::kNumber:
        if (!r.ReadNumber(&text)) return false;
        break;
      case JsonType::kString: {
        JsonString s;
        if (!r.ReadString(&s)) return false;
        if (!s.has_escapes) {
          text = s.raw;
        } else if (s.raw.size() <= sizeof(buf)) {
          text = std::string_view(buf, UnescapeJsonString(s, buf));
        } else {
          return r.Fail(what);
        }
        break;
      }
      default:
        return r.Fail(what);
    }
    uint64_t magnitude;
    bool negative;
    if (ParseJsonInteger(text, &magnitude, &negative) != IntParse::kOk || negative) {
      return r.Fail(what);
    }
    *value = magnitude;
    return true;
  }

  // An enum: an integer (OTLP) or one of `names` (proto3 JSON).
  template <size_t N>
  bool ReadEnum(JsonReader& r, std::string_view what, const std::string_view (&names)[N],
                int64_t* value) {
    JsonType type;
    if (!r.PeekType(&type)) return false;
    *value = 0;
    if (type == JsonType::kNull) return r.ReadNull();
    std::string_view text;
    if (type == JsonType::kString) {
      JsonString s;
      if (!r.ReadString(&s)) return false;
      for (size_t i = 0; i < N; ++i) {
        if (JsonStringEquals(s, names[i])) {
          *value = static_cast<int64_t>(i);
          return true;
        }
      }
      // Unknown names read as the zero value; a quoted integer as its value.
      if (s.has_escapes) return true;
      text = s.raw;
    } else if (type == JsonType::kNumber) {
      if (!r.ReadNumber(&text)) return false;
    } else {
      return r.Fail(what);
    }
    uint64_t magnitude;
    bool negative;
    IntParse parsed = ParseJsonInteger(text, &magnitude, &negative);
    if (parsed == IntParse::kSyntax && type == JsonType::kString) return true;
    // Enums are int32 in the schema.
    if (parsed != IntParse::kOk || magnitude > (negative ? 0x80000000u : 0x7FFFFFFFu)) {
      return r.Fail(what);
    }
    *value = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
    return true;
  }

  bool DecodeRequest(JsonReader& r) {
    return ReadObject(r, "request: expected an object", false, [&](const JsonString& key) {
      if (KeyIs(key, "resourceSpans", "resource_spans")) {
        return ReadArray(r, "resourceSpans: expected an array",
                         [&] { return DecodeResourceSpans(r); });
      }
      return r.SkipValue();
    });
  }

  bool DecodeResourceSpans(JsonReader& r) {
    builder_.BeginResource();
    auto member = [&](const JsonString& key) {
      if (KeyIs(key, "resource")) return DecodeResource(r);
      if (KeyIs(key, "scopeSpans", "scope_spans")) {
        return ReadArray(r, "scopeSpans: expected an array", [&] { return DecodeScopeSpans(r); });
      }
      return r.SkipValue();
    };
    bool ok = ReadObject(r, "resourceSpans[]: expected an object", false, member);
    if (!ok) return false;
    builder_.EndResource();
    return true;
  }

  bool DecodeResource(JsonReader& r) {
    return ReadObject(r, "resource: expected an object", true, [&](const JsonString& key) {
      if (KeyIs(key, "attributes")) {
        return ReadArray(r, "resource.attributes: expected an array",
                         [&] { return DecodeAttribute(r, /*resource=*/true); });
      }
      return r.SkipValue();
    });
  }

  bool DecodeScopeSpans(JsonReader& r) {
    return ReadObject(r, "scopeSpans[]: expected an object", false, [&](const JsonString& key) {
      if (KeyIs(key, "spans")) {
        return ReadArray(r, "spans: expected an array", [&] { return DecodeSpan(r); });
      }
      return r.SkipValue();
    });
  }

  bool DecodeSpan(JsonReader& r) {
    internal::PendingSpan& span = builder_.BeginSpan();
    bool ok = ReadObject(r, "spans[]: expected an object", false, [&](const JsonString& key) {
      if (KeyIs(key, "traceId", "trace_id")) {
        if (!ReadId(r, "traceId: expected a hex string", &trace_id_)) return false;
        span.trace_id = trace_id_.view();
        return true;
      }
      if (KeyIs(key, "spanId", "span_id")) {
        if (!ReadId(r, "spanId: expected a hex string", &span_id_)) return false;
        span.span_id = span_id_.view();
        return true;
      }
      if (KeyIs(key, "parentSpanId", "parent_span_id")) {
        if (!ReadId(r, "parentSpanId: expected a hex string", &parent_span_id_)) return false;
        span.parent_span_id = parent_span_id_.view();
        return true;
      }
      if (KeyIs(key, "name")) return ReadKeptString(r, "name: expected a string", &span.name);
      if (KeyIs(key, "kind")) {
        int64_t kind;
        if (!ReadEnum(r, "kind: expected an enum", kSpanKindNames, &kind)) return false;
        span.kind = propwatch::SpanKindFromInt(kind);
        return true;
      }
      if (KeyIs(key, "startTimeUnixNano", "start_time_unix_nano")) {
        return ReadUint64(r, "startTimeUnixNano: expected an unsigned 64-bit integer",
                          &span.start_unix_nano);
      }
      if (KeyIs(key, "endTimeUnixNano", "end_time_unix_nano")) {
        return ReadUint64(r, "endTimeUnixNano: expected an unsigned 64-bit integer",
                          &span.end_unix_nano);
      }
      if (KeyIs(key, "attributes")) {
        return ReadArray(r, "attributes: expected an array",
                         [&] { return DecodeAttribute(r, /*resource=*/false); });
      }
      if (KeyIs(key, "links")) {
        return ReadArray(r, "links: expected an array", [&] { return DecodeLink(r); });
      }
      if (KeyIs(key, "status")) {
        return ReadObject(r, "status: expected an object", true, [&](const JsonString& k) {
          if (!KeyIs(k, "code")) return r.SkipValue();
          int64_t code;
          if (!ReadEnum(r, "status.code: expected an enum", kStatusCodeNames, &code)) return false;
          span.status = internal::StatusCodeFromInt(code);
          return true;
        });
      }
      return r.SkipValue();
    });
    if (!ok) return false;
    builder_.EndSpan();
    return true;
  }

  bool DecodeLink(JsonReader& r) {
    HexId trace_id, span_id;
    bool ok = ReadObject(r, "links[]: expected an object", false, [&](const JsonString& key) {
      if (KeyIs(key, "traceId", "trace_id")) {
        return ReadId(r, "links[].traceId: expected a hex string", &trace_id);
      }
      if (KeyIs(key, "spanId", "span_id")) {
        return ReadId(r, "links[].spanId: expected a hex string", &span_id);
      }
      return r.SkipValue();
    });
    if (!ok) return false;
    builder_.AddLink(trace_id.view(), span_id.view());
    return true;
  }

  // A KeyValue. Its "value" may come before "key", so the value's text is
  // captured (validated, not interpreted) and read once the key is known.
  bool DecodeAttribute(JsonReader& r, bool resource) {
    JsonString attr_key;
    std::string_view value_text;
    bool has_value = false;
    bool ok = ReadObject(r, "attributes[]: expected an object", false, [&](const JsonString& key) {
      if (KeyIs(key, "key")) {
        JsonType type;
        if (!r.PeekType(&type)) return false;
        if (type == JsonType::kNull) {
          attr_key = {};
          return r.ReadNull();
        }
        if (type != JsonType::kString) return r.Fail("attributes[].key: expected a string");
        return r.ReadString(&attr_key);
      }
      if (KeyIs(key, "value")) {
        has_value = true;
        return r.CaptureValue(&value_text);
      }
      return r.SkipValue();
    });
    if (!ok || !has_value) return ok;

    if (resource) {
      if (!JsonStringEquals(attr_key, internal::kServiceNameKey)) return true;
      JsonReader sub = r.SubReader(value_text);
      std::string_view name;
      bool is_string = false;
      if (!ReadStringAnyValue(sub, &name, &is_string)) return r.AdoptFailure(sub);
      if (is_string) builder_.OfferServiceName(name);
      return true;
    }
    AttrRole role = ClassifyKey(attr_key);
    if (role == AttrRole::kNone) return true;
    JsonReader sub = r.SubReader(value_text);
    if (role == AttrRole::kTraceparent) {
      if (!ReadTraceparentAnyValue(sub)) return r.AdoptFailure(sub);
      return true;
    }
    if (role == AttrRole::kServerPort) {
      uint64_t port = 0;
      bool is_int = false;
      if (!ReadPortAnyValue(sub, &port, &is_int)) return r.AdoptFailure(sub);
      builder_.OfferServerPort(port, is_int);
      return true;
    }
    std::string_view text;
    bool is_string = false;
    if (!ReadStringAnyValue(sub, &text, &is_string)) return r.AdoptFailure(sub);
    if (is_string) builder_.OfferDestination(role, text);
    return true;
  }

  // `server.port`: an AnyValue read for its intValue (a number or a quoted
  // integer); the last member wins. A value that is not a non-negative
  // integer leaves *is_int false rather than failing the request: the
  // attribute only feeds edge attribution.
  bool ReadPortAnyValue(JsonReader& r, uint64_t* port, bool* is_int) {
    *is_int = false;
    return ReadObject(r, "AnyValue: expected an object", true, [&](const JsonString& key) {
      Member member = AnyValueMember(key);
      if (member == Member::kOther || IsNull(r)) return r.SkipValue();
      *is_int = false;
      if (!KeyIs(key, "intValue", "int_value")) return r.SkipValue();
      JsonType type;
      if (!r.PeekType(&type)) return false;
      std::string_view text;
      if (type == JsonType::kNumber) {
        if (!r.ReadNumber(&text)) return false;
      } else if (type == JsonType::kString) {
        JsonString s;
        if (!r.ReadString(&s)) return false;
        if (s.has_escapes) return true;
        text = s.raw;
      } else {
        return r.SkipValue();
      }
      uint64_t magnitude;
      bool negative;
      if (ParseJsonInteger(text, &magnitude, &negative) == IntParse::kOk && !negative) {
        *port = magnitude;
        *is_int = true;
      }
      return true;
    });
  }

  static AttrRole ClassifyKey(const JsonString& key) {
    if (!key.has_escapes) return internal::ClassifySpanAttribute(key.raw);
    // Escapes shrink when decoded; a raw key this long may still match.
    char buf[6 * internal::kMaxInterestingKeySize];
    if (key.raw.size() > sizeof(buf)) return AttrRole::kNone;
    return internal::ClassifySpanAttribute(std::string_view(buf, UnescapeJsonString(key, buf)));
  }

  enum class Member { kOther, kString, kArray, kNonString };

  static Member AnyValueMember(const JsonString& key) {
    if (KeyIs(key, "stringValue", "string_value")) return Member::kString;
    if (KeyIs(key, "arrayValue", "array_value")) return Member::kArray;
    if (KeyIs(key, "boolValue", "bool_value") || KeyIs(key, "intValue", "int_value") ||
        KeyIs(key, "doubleValue", "double_value") || KeyIs(key, "kvlistValue", "kvlist_value") ||
        KeyIs(key, "bytesValue", "bytes_value")) {
      return Member::kNonString;
    }
    return Member::kOther;
  }

  static bool IsNull(JsonReader& r) {
    JsonType type;
    return r.PeekType(&type) && type == JsonType::kNull;
  }

  // An AnyValue read for its string_value; the last oneof member wins.
  bool ReadStringAnyValue(JsonReader& r, std::string_view* text, bool* is_string) {
    *is_string = false;
    return ReadObject(r, "AnyValue: expected an object", true, [&](const JsonString& key) {
      Member member = AnyValueMember(key);
      if (member == Member::kOther || IsNull(r)) return r.SkipValue();
      *is_string = member == Member::kString;
      if (member == Member::kString) {
        return ReadKeptString(r, "stringValue: expected a string", text);
      }
      return r.SkipValue();
    });
  }

  // The traceparent attribute value: a string, or an array of strings.
  bool ReadTraceparentAnyValue(JsonReader& r) {
    const size_t mark = builder_.TraceparentMark();
    Member last = Member::kOther;
    return ReadObject(r, "AnyValue: expected an object", true, [&](const JsonString& key) {
      Member member = AnyValueMember(key);
      if (member == Member::kOther || IsNull(r)) return r.SkipValue();
      if (member != Member::kArray || last != Member::kArray) builder_.RollbackTraceparents(mark);
      last = member;
      if (member == Member::kString) {
        std::string_view text;
        if (!ReadKeptString(r, "stringValue: expected a string", &text)) return false;
        builder_.AddTraceparent(text);
        return true;
      }
      if (member == Member::kArray) {
        return ReadObject(r, "arrayValue: expected an object", true, [&](const JsonString& k) {
          if (!KeyIs(k, "values")) return r.SkipValue();
          return ReadArray(r, "arrayValue.values: expected an array", [&] {
            std::string_view text;
            bool is_string = false;
            if (IsNull(r)) return r.Fail("arrayValue.values[]: expected an object");
            if (!ReadStringAnyValue(r, &text, &is_string)) return false;
            if (is_string) builder_.AddTraceparent(text);
            return true;
          });
        });
      }
      return r.SkipValue();
    });
  }

  const size_t body_size_;
  JsonReader reader_;
  TracesBuilder builder_;
  HexId trace_id_, span_id_, parent_span_id_;
};

}  // namespace

absl::Status DecodeTraceRequestJson(std::string_view body, DecodedTraces* out) {
  if (body.size() > std::numeric_limits<uint32_t>::max()) {
    out->Clear();
    return absl::InvalidArgumentError("OTLP/JSON: request larger than 4 GiB");
  }
  return JsonDecoder(body, out).Run();
}

}  // namespace propwatch::otlp
