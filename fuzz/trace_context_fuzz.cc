// libFuzzer target for W3C Trace Context validation. Feeds the same bytes to
// ParseTraceparent and ParseTracestate and checks that accepted values really
// have the accepted shape, that rejections carry a real reason, and that
// surrounding OWS and empty tracestate members never change the outcome.
//
// Build (not wired into CMake): clang++ -std=c++20 -g -O1
//   -fsanitize=fuzzer,address,undefined -Iengine/include
//   engine/src/trace_context.cc fuzz/trace_context_fuzz.cc

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "propwatch/trace_context.h"

// A plain trap: these checks must hold in release builds too.
#define PW_FUZZ_CHECK(cond)        \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

namespace propwatch {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

std::string ByteHex(uint8_t b) { return {kHexDigits[b >> 4], kHexDigits[b & 0xf]}; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool SameTraceparent(const TraceparentParse& a, const TraceparentParse& b) {
  if (a.ok != b.ok) return false;
  if (!a.ok) return a.error == b.error;
  return a.value.version == b.value.version && a.value.trace_id == b.value.trace_id &&
         a.value.parent_id == b.value.parent_id && a.value.flags == b.value.flags;
}

bool SameTracestate(const TracestateParse& a, const TracestateParse& b) {
  if (a.ok != b.ok) return false;
  return a.ok ? a.members == b.members : a.error == b.error;
}

// Non-empty members, counted independently of the parser.
int CountNonEmptyMembers(std::string_view s) {
  int n = 0;
  while (true) {
    const size_t comma = s.find(',');
    if (!TrimOws(s.substr(0, comma)).empty()) ++n;
    if (comma == std::string_view::npos) return n;
    s.remove_prefix(comma + 1);
  }
}

void CheckTraceparent(std::string_view input) {
  const TraceparentParse parse = ParseTraceparent(input);

  if (!parse.ok) {
    PW_FUZZ_CHECK(static_cast<int>(parse.error) < kNumTraceparentErrors);
    PW_FUZZ_CHECK(!TraceparentErrorName(parse.error).empty());
  } else {
    const std::string_view s = TrimOws(input);
    const Traceparent& v = parse.value;
    PW_FUZZ_CHECK(s.size() >= 55);
    PW_FUZZ_CHECK(v.version != 0xff);
    PW_FUZZ_CHECK(v.version != 0 || s.size() == 55);
    PW_FUZZ_CHECK(s.size() == 55 || s[55] == '-');
    PW_FUZZ_CHECK(s[2] == '-' && s[35] == '-' && s[52] == '-');
    // Re-serializing the parsed fields reproduces the input's fields.
    PW_FUZZ_CHECK(s.substr(0, 2) == ByteHex(v.version));
    PW_FUZZ_CHECK(s.substr(3, 32) == v.trace_id.ToHex());
    PW_FUZZ_CHECK(s.substr(36, 16) == v.parent_id.ToHex());
    PW_FUZZ_CHECK(s.substr(53, 2) == ByteHex(v.flags));
    PW_FUZZ_CHECK(!v.trace_id.IsZero() && !v.parent_id.IsZero());

    // Downgrading to version 00 (what a forwarder must do) stays valid.
    const std::string v00 =
        "00-" + v.trace_id.ToHex() + "-" + v.parent_id.ToHex() + "-" + ByteHex(v.flags);
    const TraceparentParse again = ParseTraceparent(v00);
    PW_FUZZ_CHECK(again.ok && again.value.version == 0);
    PW_FUZZ_CHECK(again.value.trace_id == v.trace_id && again.value.parent_id == v.parent_id &&
                  again.value.flags == v.flags);
  }

  // Deterministic, and blind to extra surrounding OWS.
  PW_FUZZ_CHECK(SameTraceparent(parse, ParseTraceparent(input)));
  const std::string padded = " \t" + std::string(input) + "\t ";
  PW_FUZZ_CHECK(SameTraceparent(parse, ParseTraceparent(padded)));
}

void CheckTracestate(std::string_view input) {
  const TracestateParse parse = ParseTracestate(input);

  if (!parse.ok) {
    PW_FUZZ_CHECK(static_cast<int>(parse.error) < kNumTracestateErrors);
    PW_FUZZ_CHECK(!TracestateErrorName(parse.error).empty());
  } else {
    PW_FUZZ_CHECK(parse.members >= 0 && parse.members <= 32);
    PW_FUZZ_CHECK(parse.members == CountNonEmptyMembers(input));
  }

  // Surrounding OWS and extra empty members change nothing.
  const std::string padded = " \t" + std::string(input) + "\t ";
  PW_FUZZ_CHECK(SameTracestate(parse, ParseTracestate(padded)));
  const std::string extra_empty = ", ," + std::string(input) + ",\t,";
  PW_FUZZ_CHECK(SameTracestate(parse, ParseTracestate(extra_empty)));
}

}  // namespace
}  // namespace propwatch

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const propwatch::TraceparentParse before = propwatch::ParseTraceparent(input);
  propwatch::CheckTraceparent(input);
  propwatch::CheckTracestate(input);
  // Parsing a tracestate never changes how a traceparent parses.
  PW_FUZZ_CHECK(propwatch::SameTraceparent(before, propwatch::ParseTraceparent(input)));
  return 0;
}
