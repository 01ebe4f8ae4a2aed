#include "exporter/otlp/json_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace propwatch::otlp {
namespace {

// SkipValue recurses once per nesting level; keep that bounded whatever the
// caller asks for.
constexpr int kMaxSupportedDepth = 1024;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads 4 hex digits at raw[i..i+4); -1 if any is not hex or out of range.
int32_t Hex4(std::string_view raw, size_t i) {
  if (i + 4 > raw.size()) return -1;
  int32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    int d = HexDigit(raw[i + k]);
    if (d < 0) return -1;
    v = v << 4 | d;
  }
  return v;
}

size_t EncodeUtf8(uint32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | cp >> 6);
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | cp >> 12);
    out[1] = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | cp >> 18);
  out[1] = static_cast<char>(0x80 | (cp >> 12 & 0x3F));
  out[2] = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

// Decodes the unit starting at raw[*i] (a plain byte or one escape, a
// surrogate pair counting as one) into out[0..4); advances *i. `raw` is
// already validated, so no error paths.
size_t DecodeUnit(std::string_view raw, size_t* i, char* out) {
  char c = raw[*i];
  if (c != '\\') {
    out[0] = c;
    ++*i;
    return 1;
  }
  char e = raw[*i + 1];
  *i += 2;
  switch (e) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': {
      uint32_t cp = static_cast<uint32_t>(Hex4(raw, *i));
      *i += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo = static_cast<uint32_t>(Hex4(raw, *i + 2));
        *i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      return EncodeUtf8(cp, out);
    }
    default:  // '"', '\\', '/'
      out[0] = e;
      return 1;
  }
}

// Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0
// when it is invalid (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) -> int {
    return i + k < s.size() ? static_cast<uint8_t>(s[i + k]) : -1;
  };
  auto cont = [&](size_t k, int lo = 0x80, int hi = 0xBF) {
    int b = byte(k);
    return b >= lo && b <= hi;
  };
  int b0 = byte(0);
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

size_t UnescapeJsonString(const JsonString& s, char* out) {
  if (!s.has_escapes) {
    std::memcpy(out, s.raw.data(), s.raw.size());
    return s.raw.size();
  }
  size_t n = 0;
  for (size_t i = 0; i < s.raw.size();) n += DecodeUnit(s.raw, &i, out + n);
  return n;
}

bool JsonStringEquals(const JsonString& s, std::string_view text) {
  if (!s.has_escapes) return s.raw == text;
  size_t n = 0;
  char unit[4];
  for (size_t i = 0; i < s.raw.size();) {
    size_t len = DecodeUnit(s.raw, &i, unit);
    if (n + len > text.size() || std::memcmp(text.data() + n, unit, len) != 0) return false;
    n += len;
  }
  return n == text.size();
}

JsonReader JsonReader::SubReader(std::string_view raw) const {
  size_t start = static_cast<size_t>(raw.data() - input_.data());
  return JsonReader(raw, std::max(max_depth_ - depth_, 0), base_offset_ + start);
}

absl::Status JsonReader::status() const {
  if (!failed_) return absl::OkStatus();
  // Debian's Abseil has its own string_view type.
  return absl::InvalidArgumentError(absl::StrCat(
      "JSON: ", absl::string_view(error_.data(), error_.size()), " at byte ", error_offset_));
}

bool JsonReader::FailAt(size_t pos, std::string_view message) {
  if (!failed_) {
    failed_ = true;
    error_ = message;
    error_offset_ = base_offset_ + pos;
  }
  return false;
}

bool JsonReader::Fail(std::string_view message) { return FailAt(pos_, message); }

bool JsonReader::AdoptFailure(const JsonReader& sub) {
  if (!failed_ && sub.failed_) {
    failed_ = true;
    error_ = sub.error_;
    error_offset_ = sub.error_offset_;
  }
  return false;
}

void JsonReader::SkipWhitespace() {
  while (pos_ < input_.size()) {
    char c = input_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
    ++pos_;
  }
}

bool JsonReader::PeekType(JsonType* type) {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ >= input_.size()) return FailAt(pos_, "unexpected end of input, expected a value");
  char c = input_[pos_];
  switch (c) {
    case '{': *type = JsonType::kObject; return true;
    case '[': *type = JsonType::kArray; return true;
    case '"': *type = JsonType::kString; return true;
    case 't':
    case 'f': *type = JsonType::kBool; return true;
    case 'n': *type = JsonType::kNull; return true;
    default:
      if (c == '-' || IsDigit(c)) {
        *type = JsonType::kNumber;
        return true;
      }
      return FailAt(pos_, "unexpected character, expected a value");
  }
}

bool JsonReader::Literal(std::string_view word) {
  if (input_.substr(pos_, word.size()) != word) return FailAt(pos_, "invalid literal");
  pos_ += word.size();
  return true;
}

bool JsonReader::ReadNull() {
  if (failed_) return false;
  SkipWhitespace();
  return Literal("null");
}

bool JsonReader::ReadBool(bool* value) {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ < input_.size() && input_[pos_] == 't') {
    *value = true;
    return Literal("true");
  }
  *value = false;
  return Literal("false");
}

bool JsonReader::ScanNumber() {
  const size_t n = input_.size();
  if (pos_ < n && input_[pos_] == '-') ++pos_;
  if (pos_ >= n || !IsDigit(input_[pos_])) return FailAt(pos_, "invalid number");
  if (input_[pos_] == '0') {
    ++pos_;
    if (pos_ < n && IsDigit(input_[pos_])) return FailAt(pos_, "leading zero in number");
  } else {
    while (pos_ < n && IsDigit(input_[pos_])) ++pos_;
  }
  if (pos_ < n && input_[pos_] == '.') {
    ++pos_;
    if (pos_ >= n || !IsDigit(input_[pos_])) return FailAt(pos_, "invalid number fraction");
    while (pos_ < n && IsDigit(input_[pos_])) ++pos_;
  }
  if (pos_ < n && (input_[pos_] == 'e' || input_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < n && (input_[pos_] == '+' || input_[pos_] == '-')) ++pos_;
    if (pos_ >= n || !IsDigit(input_[pos_])) return FailAt(pos_, "invalid number exponent");
    while (pos_ < n && IsDigit(input_[pos_])) ++pos_;
  }
  return true;
}

bool JsonReader::ReadNumber(std::string_view* text) {
  if (failed_) return false;
  SkipWhitespace();
  size_t start = pos_;
  if (!ScanNumber()) return false;
  *text = input_.substr(start, pos_ - start);
  return true;
}

bool JsonReader::ScanString(JsonString* value) {
  // Precondition: input_[pos_] == '"'.
  const size_t start = ++pos_;
  const size_t n = input_.size();
  bool escapes = false;
  while (true) {
    // Fast path over plain ASCII.
    while (pos_ < n) {
      uint8_t c = static_cast<uint8_t>(input_[pos_]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++pos_;
    }
    if (pos_ >= n) return FailAt(start - 1, "unterminated string");
    uint8_t c = static_cast<uint8_t>(input_[pos_]);
    if (c == '"') break;
    if (c < 0x20) return FailAt(pos_, "unescaped control character in string");
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(input_, pos_);
      if (len == 0) return FailAt(pos_, "invalid UTF-8 in string");
      pos_ += len;
      continue;
    }
    // Backslash.
    escapes = true;
    if (pos_ + 1 >= n) return FailAt(pos_, "unterminated escape");
    char e = input_[pos_ + 1];
    switch (e) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        pos_ += 2;
        break;
      case 'u': {
        int32_t cp = Hex4(input_, pos_ + 2);
        if (cp < 0) return FailAt(pos_, "invalid \\u escape");
        if (cp >= 0xDC00 && cp <= 0xDFFF) return FailAt(pos_, "unpaired low surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          int32_t lo = -1;
          if (pos_ + 7 < n && input_[pos_ + 6] == '\\' && input_[pos_ + 7] == 'u') {
            lo = Hex4(input_, pos_ + 8);
          }
          if (lo < 0xDC00 || lo > 0xDFFF) return FailAt(pos_, "unpaired high surrogate escape");
          pos_ += 12;
        } else {
          pos_ += 6;
        }
        break;
      }
      default:
        return FailAt(pos_, "invalid escape character");
    }
  }
  value->raw = input_.substr(start, pos_ - start);
  value->has_escapes = escapes;
  ++pos_;  // closing quote
  return true;
}

bool JsonReader::ReadString(JsonString* value) {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ >= input_.size() || input_[pos_] != '"') return FailAt(pos_, "expected a string");
  return ScanString(value);
}

bool JsonReader::Enter() {
  if (depth_ >= std::min(max_depth_, kMaxSupportedDepth)) {
    return FailAt(pos_, "nesting exceeds the maximum depth");
  }
  ++depth_;
  ++pos_;
  just_opened_ = true;
  return true;
}

bool JsonReader::BeginObject() {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ >= input_.size() || input_[pos_] != '{') return FailAt(pos_, "expected an object");
  return Enter();
}

bool JsonReader::BeginArray() {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ >= input_.size() || input_[pos_] != '[') return FailAt(pos_, "expected an array");
  return Enter();
}

bool JsonReader::NextMember(JsonString* key) {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ >= input_.size()) return FailAt(pos_, "unterminated object");
  const bool first = just_opened_;
  just_opened_ = false;
  if (input_[pos_] == '}') {
    ++pos_;
    --depth_;
    return false;
  }
  if (!first) {
    if (input_[pos_] != ',') return FailAt(pos_, "expected ',' or '}' in object");
    ++pos_;
    SkipWhitespace();
  }
  if (pos_ >= input_.size() || input_[pos_] != '"') return FailAt(pos_, "expected a member name");
  if (!ScanString(key)) return false;
  SkipWhitespace();
  if (pos_ >= input_.size() || input_[pos_] != ':') return FailAt(pos_, "expected ':'");
  ++pos_;
  return true;
}

bool JsonReader::NextElement() {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ >= input_.size()) return FailAt(pos_, "unterminated array");
  const bool first = just_opened_;
  just_opened_ = false;
  if (input_[pos_] == ']') {
    ++pos_;
    --depth_;
    return false;
  }
  if (!first) {
    if (input_[pos_] != ',') return FailAt(pos_, "expected ',' or ']' in array");
    ++pos_;
  }
  return true;
}

bool JsonReader::SkipValue() {
  JsonType type;
  if (!PeekType(&type)) return false;
  switch (type) {
    case JsonType::kObject: {
      if (!BeginObject()) return false;
      JsonString key;
      while (NextMember(&key)) {
        if (!SkipValue()) return false;
      }
      return ok();
    }
    case JsonType::kArray: {
      if (!BeginArray()) return false;
      while (NextElement()) {
        if (!SkipValue()) return false;
      }
      return ok();
    }
    case JsonType::kString: {
      JsonString s;
      return ReadString(&s);
    }
    case JsonType::kNumber: {
      std::string_view text;
      return ReadNumber(&text);
    }
    case JsonType::kBool: {
      bool b;
      return ReadBool(&b);
    }
    case JsonType::kNull:
      return ReadNull();
  }
  return false;
}

bool JsonReader::CaptureValue(std::string_view* raw) {
  if (failed_) return false;
  SkipWhitespace();
  size_t start = pos_;
  if (!SkipValue()) return false;
  *raw = input_.substr(start, pos_ - start);
  return true;
}

bool JsonReader::ExpectEnd() {
  if (failed_) return false;
  SkipWhitespace();
  if (pos_ != input_.size()) return FailAt(pos_, "unexpected data after the JSON value");
  return true;
}

}  // namespace propwatch::otlp
