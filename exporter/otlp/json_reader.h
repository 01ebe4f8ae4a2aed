// JsonReader: a small, strict, pull-style JSON (RFC 8259) reader for the
// OTLP/JSON decoder. It never builds a tree: the caller walks the document
// with BeginObject/NextMember, BeginArray/NextElement and the Read* calls,
// and skips what it does not need with SkipValue.
//
// Contract:
//   - Strict grammar: no comments, no trailing commas, no single quotes, no
//     NaN/Infinity, no leading zeros, no control characters inside strings;
//     strings must be valid UTF-8 and \u escapes must pair surrogates
//     correctly. Whitespace is SP, HTAB, LF, CR only.
//   - Nesting deeper than `max_depth` containers fails, so skipping and the
//     caller's own walk are bounded (SkipValue recurses at most max_depth).
//   - Errors are sticky: after the first failure every call returns false and
//     status() is InvalidArgument naming the problem and its byte offset.
//   - Strings are returned as JsonString views into the input (escapes left
//     in place); UnescapeJsonString / JsonStringEquals decode them. The
//     unescaped form is never longer than the raw form.
//
// Thread-compatible; no heap allocation (except building an error status);
// every call is O(bytes consumed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace propwatch::otlp {

enum class JsonType : uint8_t { kNull, kBool, kNumber, kString, kObject, kArray };

// A string token: the bytes between the quotes, validated, escapes intact.
struct JsonString {
  std::string_view raw;
  bool has_escapes = false;
};

// Writes the unescaped UTF-8 value of `s` to `out`, which must have room for
// s.raw.size() bytes; returns the number of bytes written.
// REQUIRES: `s` was produced by JsonReader (so it is well formed).
size_t UnescapeJsonString(const JsonString& s, char* out);

// True when the unescaped value of `s` equals `text`. No allocation.
bool JsonStringEquals(const JsonString& s, std::string_view text);

class JsonReader {
 public:
  static constexpr int kDefaultMaxDepth = 64;

  explicit JsonReader(std::string_view input, int max_depth = kDefaultMaxDepth)
      : JsonReader(input, max_depth, /*base_offset=*/0) {}

  // A reader over `raw`, a value previously returned by CaptureValue on this
  // reader: it keeps error offsets relative to the original input and allows
  // only the nesting depth left at the current position.
  JsonReader SubReader(std::string_view raw) const;

  // Type of the next value, judged by its first byte. Fails at end of input
  // or on a byte that cannot start a value. Consumes nothing.
  bool PeekType(JsonType* type);

  bool ReadNull();
  bool ReadBool(bool* value);
  // `text` is the number exactly as written (validated grammar).
  bool ReadNumber(std::string_view* text);
  bool ReadString(JsonString* value);

  // Object walk:  BeginObject(); while (NextMember(&key)) { <one value> }
  // NextMember returns false both at the closing '}' (ok() stays true) and on
  // error (ok() false). Arrays alike with BeginArray / NextElement.
  bool BeginObject();
  bool NextMember(JsonString* key);
  bool BeginArray();
  bool NextElement();

  // Consumes and validates the next value, whatever it is.
  bool SkipValue();
  // Like SkipValue, and returns the value's exact text (for SubReader).
  bool CaptureValue(std::string_view* raw);

  // Succeeds only when nothing but whitespace is left.
  bool ExpectEnd();

  // Records a caller-detected (schema) error at the current position and
  // returns false. `message` must outlive the reader (use a literal).
  bool Fail(std::string_view message);

  // Takes over the failure of a SubReader (whose offsets are already
  // relative to this reader's input) and returns false.
  bool AdoptFailure(const JsonReader& sub);

  bool ok() const { return !failed_; }
  // OK, or InvalidArgument "JSON: <problem> at byte <offset>".
  absl::Status status() const;
  size_t offset() const { return base_offset_ + pos_; }

 private:
  JsonReader(std::string_view input, int max_depth, size_t base_offset)
      : input_(input), max_depth_(max_depth), base_offset_(base_offset) {}

  void SkipWhitespace();
  bool FailAt(size_t pos, std::string_view message);
  bool Enter();
  bool ScanString(JsonString* value);
  bool ScanNumber();
  bool Literal(std::string_view word);

  std::string_view input_;
  size_t pos_ = 0;
  int depth_ = 0;
  int max_depth_;
  size_t base_offset_;
  // Set by Begin*, cleared by the next Next*: the first member/element of a
  // container takes no leading comma.
  bool just_opened_ = false;
  // A static message; the status is built lazily so the reader stays
  // allocation-free on the success path.
  bool failed_ = false;
  std::string_view error_;
  size_t error_offset_ = 0;
};

}  // namespace propwatch::otlp
