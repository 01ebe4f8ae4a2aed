// Hand-written protobuf wire-format decoder for ExportTraceServiceRequest.
//
// Reads only what the engine needs straight from the bytes; every other field
// (and every field whose wire type does not match the schema, which protobuf
// parsers also treat as unknown) is skipped by its wire type or length.
// Message nesting is fixed by the schema (request > resource_spans > ... >
// span > attribute > AnyValue > ArrayValue > AnyValue), so there is no
// recursion on input-controlled depth.
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "exporter/otlp/otlp_decoder.h"
#include "exporter/otlp/traces_builder.h"

namespace propwatch::otlp {
namespace {

using internal::AttrRole;
using internal::TracesBuilder;

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// Field numbers, from opentelemetry/proto (see proto/ next to this file).
namespace field {
// ExportTraceServiceRequest
constexpr uint32_t kResourceSpans = 1;
// ResourceSpans
constexpr uint32_t kResource = 1;
constexpr uint32_t kScopeSpans = 2;
// Resource
constexpr uint32_t kResourceAttributes = 1;
// ScopeSpans
constexpr uint32_t kSpans = 2;
// Span
constexpr uint32_t kTraceId = 1;
constexpr uint32_t kSpanId = 2;
constexpr uint32_t kParentSpanId = 4;
constexpr uint32_t kName = 5;
constexpr uint32_t kKind = 6;
constexpr uint32_t kStartTime = 7;
constexpr uint32_t kEndTime = 8;
constexpr uint32_t kAttributes = 9;
constexpr uint32_t kLinks = 13;
constexpr uint32_t kStatus = 15;
// Span.Link
constexpr uint32_t kLinkTraceId = 1;
constexpr uint32_t kLinkSpanId = 2;
// Status
constexpr uint32_t kStatusCode = 3;
// KeyValue
constexpr uint32_t kKey = 1;
constexpr uint32_t kValue = 2;
// AnyValue (oneof value)
constexpr uint32_t kStringValue = 1;
constexpr uint32_t kBoolValue = 2;
constexpr uint32_t kIntValue = 3;
constexpr uint32_t kDoubleValue = 4;
constexpr uint32_t kArrayValue = 5;
constexpr uint32_t kKvlistValue = 6;
constexpr uint32_t kBytesValue = 7;
// ArrayValue
constexpr uint32_t kArrayValues = 1;
}  // namespace field

// The wire type each AnyValue oneof member must have to count as that member.
constexpr bool IsAnyValueMember(uint32_t number, uint32_t wire_type) {
  switch (number) {
    case field::kStringValue:
    case field::kArrayValue:
    case field::kKvlistValue:
    case field::kBytesValue:
      return wire_type == kLen;
    case field::kBoolValue:
    case field::kIntValue:
      return wire_type == kVarint;
    case field::kDoubleValue:
      return wire_type == kFixed64;
    default:
      return false;
  }
}

// The wire type of the Span fields the decoder reads; kNotRead for the rest.
// A field with another wire type is unknown to protobuf parsers too.
constexpr uint32_t kNotRead = 0xFF;
constexpr uint32_t SpanFieldWireType(uint32_t number) {
  switch (number) {
    case field::kTraceId:
    case field::kSpanId:
    case field::kParentSpanId:
    case field::kName:
    case field::kAttributes:
    case field::kLinks:
    case field::kStatus:
      return kLen;
    case field::kKind:
      return kVarint;
    case field::kStartTime:
    case field::kEndTime:
      return kFixed64;
    default:
      return kNotRead;
  }
}

class ProtoDecoder {
 public:
  ProtoDecoder(std::string_view body, DecodedTraces* out) : body_(body), builder_(out) {}

  absl::Status Run() {
    if (!DecodeRequest(body_)) {
      builder_.Abort();
      return absl::InvalidArgumentError(absl::StrCat(
          "OTLP protobuf: ", error_, " at byte ", error_at_ - body_.data(), " of ", body_.size()));
    }
    builder_.Finish();
    return absl::OkStatus();
  }

 private:
  // A position inside one (sub)message.
  struct Cursor {
    const char* p;
    const char* end;
    explicit Cursor(std::string_view m) : p(m.data()), end(m.data() + m.size()) {}
    bool done() const { return p >= end; }
  };

  bool Fail(const char* message, const char* at) {
    error_ = message;
    error_at_ = at;
    return false;
  }

  bool ReadVarint(Cursor& c, uint64_t* value) {
    const char* start = c.p;
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (c.p >= c.end) return Fail("truncated varint", start);
      uint8_t b = static_cast<uint8_t>(*c.p++);
      if (shift == 63 && b > 1) return Fail("varint overflows 64 bits", start);
      result |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (b < 0x80) {
        *value = result;
        return true;
      }
    }
    return Fail("varint longer than 10 bytes", start);
  }

  bool ReadTag(Cursor& c, uint32_t* number, uint32_t* wire_type) {
    const char* start = c.p;
    uint64_t tag;
    if (!ReadVarint(c, &tag)) return false;
    if (tag > std::numeric_limits<uint32_t>::max()) return Fail("field tag out of range", start);
    *wire_type = static_cast<uint32_t>(tag & 7);
    *number = static_cast<uint32_t>(tag >> 3);
    if (*number == 0) return Fail("field number 0", start);
    if (*wire_type == kStartGroup || *wire_type == kEndGroup) {
      return Fail("group wire type is not supported", start);
    }
    if (*wire_type > kFixed32) return Fail("invalid wire type", start);
    return true;
  }

  bool ReadLen(Cursor& c, std::string_view* out) {
    const char* start = c.p;
    uint64_t size;
    if (!ReadVarint(c, &size)) return false;
    if (size > static_cast<uint64_t>(c.end - c.p)) {
      return Fail("length-delimited field extends past the end of its message", start);
    }
    *out = std::string_view(c.p, size);
    c.p += size;
    return true;
  }

  bool ReadFixed64(Cursor& c, uint64_t* value) {
    if (c.end - c.p < 8) return Fail("truncated fixed64", c.p);
    uint64_t v = 0;
    // Little-endian on the wire, whatever the host order.
    for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(c.p[i]);
    c.p += 8;
    *value = v;
    return true;
  }

  bool Skip(Cursor& c, uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: {
        uint64_t ignored;
        return ReadVarint(c, &ignored);
      }
      case kFixed64:
        if (c.end - c.p < 8) return Fail("truncated fixed64", c.p);
        c.p += 8;
        return true;
      case kLen: {
        std::string_view ignored;
        return ReadLen(c, &ignored);
      }
      case kFixed32:
        if (c.end - c.p < 4) return Fail("truncated fixed32", c.p);
        c.p += 4;
        return true;
      default:  // rejected by ReadTag
        return Fail("invalid wire type", c.p);
    }
  }

  bool DecodeRequest(std::string_view message) {
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kResourceSpans && wire_type == kLen) {
        std::string_view sub;
        if (!ReadLen(c, &sub) || !DecodeResourceSpans(sub)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  bool DecodeResourceSpans(std::string_view message) {
    builder_.BeginResource();
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      std::string_view sub;
      if (number == field::kResource && wire_type == kLen) {
        if (!ReadLen(c, &sub) || !DecodeResource(sub)) return false;
      } else if (number == field::kScopeSpans && wire_type == kLen) {
        if (!ReadLen(c, &sub) || !DecodeScopeSpans(sub)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    builder_.EndResource();
    return true;
  }

  bool DecodeResource(std::string_view message) {
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kResourceAttributes && wire_type == kLen) {
        if (!DecodeResourceAttribute(c)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  bool DecodeScopeSpans(std::string_view message) {
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kSpans && wire_type == kLen) {
        std::string_view sub;
        if (!ReadLen(c, &sub) || !DecodeSpan(sub)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  bool DecodeSpan(std::string_view message) {
    internal::PendingSpan& span = builder_.BeginSpan();
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (wire_type != SpanFieldWireType(number)) {
        if (!Skip(c, wire_type)) return false;
        continue;
      }
      bool ok = true;
      switch (number) {
        case field::kTraceId:
          ok = ReadLen(c, &span.trace_id);
          break;
        case field::kSpanId:
          ok = ReadLen(c, &span.span_id);
          break;
        case field::kParentSpanId:
          ok = ReadLen(c, &span.parent_span_id);
          break;
        case field::kName:
          ok = ReadLen(c, &span.name);
          break;
        case field::kKind: {
          uint64_t v = 0;
          ok = ReadVarint(c, &v);
          // An enum is an int32 on the wire; negative values are sign-extended.
          span.kind = propwatch::SpanKindFromInt(static_cast<int32_t>(v));
          break;
        }
        case field::kStartTime:
          ok = ReadFixed64(c, &span.start_unix_nano);
          break;
        case field::kEndTime:
          ok = ReadFixed64(c, &span.end_unix_nano);
          break;
        case field::kAttributes:
          ok = DecodeSpanAttribute(c);
          break;
        case field::kLinks:
          ok = DecodeLink(c);
          break;
        case field::kStatus:
          ok = DecodeStatus(c, &span);
          break;
      }
      if (!ok) return false;
    }
    builder_.EndSpan();
    return true;
  }

  bool DecodeStatus(Cursor& outer, internal::PendingSpan* span) {
    std::string_view message;
    if (!ReadLen(outer, &message)) return false;
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kStatusCode && wire_type == kVarint) {
        uint64_t v;
        if (!ReadVarint(c, &v)) return false;
        span->status = internal::StatusCodeFromInt(static_cast<int32_t>(v));
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  bool DecodeLink(Cursor& outer) {
    std::string_view message;
    if (!ReadLen(outer, &message)) return false;
    std::string_view trace_id, span_id;
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kLinkTraceId && wire_type == kLen) {
        if (!ReadLen(c, &trace_id)) return false;
      } else if (number == field::kLinkSpanId && wire_type == kLen) {
        if (!ReadLen(c, &span_id)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    builder_.AddLink(trace_id, span_id);
    return true;
  }

  // Reads one length-delimited KeyValue from `outer`: returns its payload and
  // its key (the last one, as protobuf would keep). The value may precede
  // the key on the wire, so values are interpreted in a second walk
  // (ForEachValue), and only for the few keys that matter.
  bool ReadKeyValue(Cursor& outer, std::string_view* message, std::string_view* key) {
    if (!ReadLen(outer, message)) return false;
    *key = {};
    Cursor c(*message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kKey && wire_type == kLen) {
        if (!ReadLen(c, key)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  // Calls fn(payload) for each `value` field of a KeyValue, in wire order.
  // Protobuf merges repeated occurrences of a message field, which for
  // AnyValue equals reading the payloads one after another with the same
  // oneof state, so the state machines below simply carry over.
  template <typename Fn>
  bool ForEachValue(std::string_view key_value, Fn fn) {
    Cursor c(key_value);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kValue && wire_type == kLen) {
        std::string_view payload;
        if (!ReadLen(c, &payload) || !fn(payload)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  // Oneof state of an AnyValue read for its string_value or int_value.
  struct StringValue {
    uint32_t last_member = 0;
    std::string_view text;
    uint64_t integer = 0;
    bool is_string() const { return last_member == field::kStringValue; }
    bool is_int() const { return last_member == field::kIntValue; }
  };

  bool FeedStringValue(std::string_view payload, StringValue* state) {
    Cursor c(payload);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (!IsAnyValueMember(number, wire_type)) {
        if (!Skip(c, wire_type)) return false;
        continue;
      }
      state->last_member = number;
      if (number == field::kStringValue) {
        if (!ReadLen(c, &state->text)) return false;
      } else if (number == field::kIntValue) {
        if (!ReadVarint(c, &state->integer)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  // Reads a KeyValue's value as a string; *is_string is false when the value
  // is absent or another oneof member.
  bool ReadStringValue(std::string_view key_value, std::string_view* text, bool* is_string) {
    StringValue state;
    if (!ForEachValue(key_value, [&](std::string_view payload) {
          return FeedStringValue(payload, &state);
        })) {
      return false;
    }
    *is_string = state.is_string();
    *text = state.text;
    return true;
  }

  bool DecodeResourceAttribute(Cursor& c) {
    std::string_view key_value, key;
    if (!ReadKeyValue(c, &key_value, &key)) return false;
    if (key != internal::kServiceNameKey) return true;
    std::string_view name;
    bool is_string;
    if (!ReadStringValue(key_value, &name, &is_string)) return false;
    if (is_string) builder_.OfferServiceName(name);
    return true;
  }

  bool DecodeSpanAttribute(Cursor& c) {
    std::string_view key_value, key;
    if (!ReadKeyValue(c, &key_value, &key)) return false;
    AttrRole role = internal::ClassifySpanAttribute(key);
    if (role == AttrRole::kNone) return true;
    if (role == AttrRole::kTraceparent) {
      TraceparentValue state{builder_.TraceparentMark()};
      return ForEachValue(key_value, [&](std::string_view payload) {
        return FeedTraceparentValue(payload, &state);
      });
    }
    if (role == AttrRole::kServerPort) {
      // The last oneof member wins; only an int_value is a port.
      StringValue state;
      if (!ForEachValue(key_value, [&](std::string_view payload) {
            return FeedStringValue(payload, &state);
          })) {
        return false;
      }
      builder_.OfferServerPort(state.integer, state.is_int());
      return true;
    }
    std::string_view text;
    bool is_string;
    if (!ReadStringValue(key_value, &text, &is_string)) return false;
    if (is_string) builder_.OfferDestination(role, text);
    return true;
  }

  // Oneof state of the traceparent attribute value: a string, or an array
  // whose string elements are each a captured value. The last member wins
  // (earlier captures are rolled back); consecutive array_value occurrences
  // merge, i.e. append.
  struct TraceparentValue {
    size_t mark;
    uint32_t last_member = 0;
  };

  bool FeedTraceparentValue(std::string_view payload, TraceparentValue* state) {
    Cursor c(payload);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (!IsAnyValueMember(number, wire_type)) {
        if (!Skip(c, wire_type)) return false;
        continue;
      }
      if (number != field::kArrayValue || state->last_member != field::kArrayValue) {
        builder_.RollbackTraceparents(state->mark);
      }
      state->last_member = number;
      if (number == field::kStringValue) {
        std::string_view text;
        if (!ReadLen(c, &text)) return false;
        builder_.AddTraceparent(text);
      } else if (number == field::kArrayValue) {
        std::string_view array;
        if (!ReadLen(c, &array) || !ReadTraceparentArray(array)) return false;
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  bool ReadTraceparentArray(std::string_view message) {
    Cursor c(message);
    while (!c.done()) {
      uint32_t number, wire_type;
      if (!ReadTag(c, &number, &wire_type)) return false;
      if (number == field::kArrayValues && wire_type == kLen) {
        // Each element is its own AnyValue; only string elements count.
        std::string_view element;
        StringValue state;
        if (!ReadLen(c, &element) || !FeedStringValue(element, &state)) return false;
        if (state.is_string()) builder_.AddTraceparent(state.text);
      } else if (!Skip(c, wire_type)) {
        return false;
      }
    }
    return true;
  }

  std::string_view body_;
  TracesBuilder builder_;
  const char* error_ = "";
  const char* error_at_ = nullptr;
};

}  // namespace

absl::Status DecodeTraceRequestProto(std::string_view body, DecodedTraces* out) {
  if (body.size() > std::numeric_limits<uint32_t>::max()) {
    out->Clear();
    return absl::InvalidArgumentError("OTLP protobuf: request larger than 4 GiB");
  }
  return ProtoDecoder(body, out).Run();
}

}  // namespace propwatch::otlp
