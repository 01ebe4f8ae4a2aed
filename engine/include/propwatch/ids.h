// Trace and span identifiers as fixed-size byte arrays.
//
// TraceId is 16 bytes and SpanId is 8 bytes, exactly as on the OTLP wire and in
// W3C `traceparent` (where they appear as 32 and 16 lowercase hex digits).
// An all-zero id is the W3C/OTLP "invalid" value; an all-zero parent span id
// marks a root span.
//
// Value types: trivially copyable, thread-compatible, no allocation.
// Every function here is O(size of the id).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace propwatch {

template <size_t N>
struct ByteId {
  static constexpr size_t kSize = N;
  std::array<uint8_t, N> bytes{};

  // True when every byte is zero (the invalid id).
  bool IsZero() const {
    for (uint8_t b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }

  // Copies `raw` into an id. Returns nullopt when raw.size() != N.
  static std::optional<ByteId> FromBytes(std::string_view raw) {
    if (raw.size() != N) return std::nullopt;
    ByteId id;
    std::memcpy(id.bytes.data(), raw.data(), N);
    return id;
  }

  // Parses exactly 2*N lowercase hex digits (the W3C and OTLP/JSON form).
  // Uppercase is rejected because W3C Trace Context rejects it.
  static std::optional<ByteId> FromLowerHex(std::string_view hex) {
    if (hex.size() != 2 * N) return std::nullopt;
    ByteId id;
    for (size_t i = 0; i < N; ++i) {
      int hi = LowerHexValue(hex[2 * i]);
      int lo = LowerHexValue(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return id;
  }

  std::string ToHex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(2 * N, '0');
    for (size_t i = 0; i < N; ++i) {
      out[2 * i] = kDigits[bytes[i] >> 4];
      out[2 * i + 1] = kDigits[bytes[i] & 0xf];
    }
    return out;
  }

  // The first and last 8 bytes as integers (host order); used for hashing and
  // for compact storage. For N == 8 both halves are the same word.
  uint64_t Low64() const {
    uint64_t v;
    std::memcpy(&v, bytes.data() + (N - 8), 8);
    return v;
  }
  uint64_t High64() const {
    uint64_t v;
    std::memcpy(&v, bytes.data(), 8);
    return v;
  }

  // memcmp with a constant size compiles to word compares; std::array's ==
  // calls memcmp out of line (measured: the trace store's top frame).
  friend bool operator==(const ByteId& a, const ByteId& b) {
    return std::memcmp(a.bytes.data(), b.bytes.data(), N) == 0;
  }
  friend bool operator!=(const ByteId& a, const ByteId& b) { return !(a == b); }

  template <typename H>
  friend H AbslHashValue(H h, const ByteId& id) {
    return H::combine_contiguous(std::move(h), id.bytes.data(), N);
  }

 private:
  static int LowerHexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
};

using TraceId = ByteId<16>;
using SpanId = ByteId<8>;

}  // namespace propwatch
