// Status: the engine's error value (an OK value, or a code and a message).
//
// The public API returns this instead of absl::Status so that an embedder
// needs no particular abseil build (Debian's abseil, for one, has its own
// string_view, so its Status is not ABI-compatible with another build's).
// Errors are values at this boundary; the engine throws nothing on purpose
// (std::bad_alloc from the standard library aside).
//
// Value type, thread-compatible. Header-only, O(message length) to copy.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace propwatch {

class Status {
 public:
  enum class Code : uint8_t {
    kOk = 0,
    kInvalidArgument = 1,  // an option or argument is out of its documented range
    kInternal = 2,         // a broken invariant or an exhausted resource
  };

  // OK.
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  static Status Internal(std::string message) {
    return Status(Code::kInternal, std::move(message));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // Empty when ok(); otherwise says which input was wrong and why.
  const std::string& message() const { return message_; }
  // "OK", or "INVALID_ARGUMENT: <message>" / "INTERNAL: <message>".
  std::string ToString() const {
    switch (code_) {
      case Code::kOk:
        return "OK";
      case Code::kInvalidArgument:
        return "INVALID_ARGUMENT: " + message_;
      case Code::kInternal:
        return "INTERNAL: " + message_;
    }
    return "UNKNOWN: " + message_;
  }

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace propwatch
