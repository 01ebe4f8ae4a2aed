// W3C Trace Context validation. Rules follow the Level 1 Recommendation
// (https://www.w3.org/TR/trace-context-1/, 2021-11-23). Where Level 2
// (https://www.w3.org/TR/trace-context-2/, Candidate Recommendation Draft)
// differs, the difference and the choice made are noted here:
//
// - tracestate key: Level 1 is
//     key              = simple-key / multi-tenant-key
//     simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//     multi-tenant-key = tenant-id "@" system-id
//     tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//     system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//   Level 2 collapses this to `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`
//   with "@" as an ordinary keychar. Level 2 is a strict superset: it also
//   accepts "1abc", "foo@", "a@b@c", a tenant longer than 241 or a system-id
//   longer than 14 characters. We implement Level 1: it is the Recommendation,
//   the W3C test suite (test/test.py) still rejects those keys, and the
//   public header documents kKeyFormat as the simple/multi-tenant grammar.
//   IsValidKey() is the single place to change to adopt Level 2.
// - trace-flags: Level 2 defines bit 0x02 (random trace-id); Level 1 only
//   0x01 (sampled). In both, other bits are reserved and "MUST" be zero only
//   for senders, so a receiver accepts all 256 values and we keep the raw byte.
// - OWS: Level 1 cites RFC 7230 §3.2.3, Level 2 RFC 9110 §5.6.3; both are
//   *( SP / HTAB ).
// - traceparent grammar and the future-version parsing rules are the same.
//
// All checks use lowercase hex (HEXDIGLC), also for future versions: their
// prose only says "hex", but the version-00 fields they reuse are HEXDIGLC.

#include "propwatch/trace_context.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace propwatch {
namespace {

// Layout of the version-00 prefix "<version>-<32 hex>-<16 hex>-<flags>",
// which every version shares.
constexpr size_t kVersionDash = 2;
constexpr size_t kTraceIdBegin = 3;
constexpr size_t kTraceIdHexLen = 2 * TraceId::kSize;            // 32
constexpr size_t kTraceIdDash = kTraceIdBegin + kTraceIdHexLen;  // 35
constexpr size_t kParentIdBegin = kTraceIdDash + 1;
constexpr size_t kParentIdHexLen = 2 * SpanId::kSize;               // 16
constexpr size_t kParentIdDash = kParentIdBegin + kParentIdHexLen;  // 52
constexpr size_t kFlagsBegin = kParentIdDash + 1;
constexpr size_t kV00Length = kFlagsBegin + 2;  // 55

constexpr int kForbiddenVersion = 0xff;

constexpr int kMaxListMembers = 32;
constexpr size_t kMaxSimpleKeyLen = 256;
constexpr size_t kMaxTenantIdLen = 241;
constexpr size_t kMaxSystemIdLen = 14;
constexpr size_t kMaxValueLen = 256;

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

int LowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Two HEXDIGLC as a byte, or -1.
int ParseHexByte(char hi, char lo) {
  int h = LowerHexValue(hi);
  int l = LowerHexValue(lo);
  if (h < 0 || l < 0) return -1;
  return h << 4 | l;
}

TraceparentParse TraceparentFailure(TraceparentError error) {
  TraceparentParse parse;
  parse.error = error;
  return parse;
}

TracestateParse TracestateFailure(TracestateError error) {
  TracestateParse parse;
  parse.error = error;
  return parse;
}

bool IsLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// lcalpha / DIGIT / "_" / "-" / "*" / "/"
bool IsKeyTailChar(char c) {
  return IsLcAlpha(c) || IsDigit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

// One key part: a first character, then up to max_len - 1 tail characters.
bool IsKeyPart(std::string_view part, size_t max_len, bool digit_first) {
  if (part.empty() || part.size() > max_len) return false;
  if (!IsLcAlpha(part[0]) && !(digit_first && IsDigit(part[0]))) return false;
  for (size_t i = 1; i < part.size(); ++i) {
    if (!IsKeyTailChar(part[i])) return false;
  }
  return true;
}

// Level 1 key grammar (see the top of this file for Level 2).
bool IsValidKey(std::string_view key) {
  size_t at = key.find('@');
  if (at == std::string_view::npos) {
    return IsKeyPart(key, kMaxSimpleKeyLen, /*digit_first=*/false);
  }
  // A second "@" fails IsKeyPart on the system-id, as "@" is no tail char.
  return IsKeyPart(key.substr(0, at), kMaxTenantIdLen, /*digit_first=*/true) &&
         IsKeyPart(key.substr(at + 1), kMaxSystemIdLen, /*digit_first=*/false);
}

// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
bool IsNblkChr(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e && c != ',' && c != '=';
}

// value = 0*255(chr) nblk-chr ; chr = %x20 / nblk-chr
bool IsValidValue(std::string_view value) {
  if (value.empty() || value.size() > kMaxValueLen) return false;
  for (char c : value) {
    if (c != ' ' && !IsNblkChr(c)) return false;
  }
  return value.back() != ' ';
}

}  // namespace

std::string_view TraceparentErrorName(TraceparentError error) {
  switch (error) {
    case TraceparentError::kEmpty:
      return "empty";
    case TraceparentError::kLength:
      return "length";
    case TraceparentError::kVersion:
      return "version";
    case TraceparentError::kVersionFf:
      return "version_ff";
    case TraceparentError::kDelimiter:
      return "delimiter";
    case TraceparentError::kTraceIdFormat:
      return "trace_id_format";
    case TraceparentError::kTraceIdZero:
      return "trace_id_zero";
    case TraceparentError::kParentIdFormat:
      return "parent_id_format";
    case TraceparentError::kParentIdZero:
      return "parent_id_zero";
    case TraceparentError::kFlagsFormat:
      return "flags_format";
    case TraceparentError::kCount:
      break;
  }
  return "unknown";
}

std::string_view TracestateErrorName(TracestateError error) {
  switch (error) {
    case TracestateError::kTooManyMembers:
      return "too_many_members";
    case TracestateError::kKeyFormat:
      return "key_format";
    case TracestateError::kValueFormat:
      return "value_format";
    case TracestateError::kMissingEquals:
      return "missing_equals";
    case TracestateError::kDuplicateKey:
      return "duplicate_key";
    case TracestateError::kCount:
      break;
  }
  return "unknown";
}

// Checks run in the order of the spec's parsing steps (version prefix, then
// length, then each field left to right with its zero check, then the dash
// after it), and the first failure is reported, so every input maps to
// exactly one reason.
TraceparentParse ParseTraceparent(std::string_view header) {
  const std::string_view s = TrimOws(header);
  if (s.empty()) return TraceparentFailure(TraceparentError::kEmpty);

  const int version = s.size() >= 2 ? ParseHexByte(s[0], s[1]) : -1;
  if (version < 0) return TraceparentFailure(TraceparentError::kVersion);
  if (version == kForbiddenVersion) return TraceparentFailure(TraceparentError::kVersionFf);
  // "2 hex characters followed by a dash" is the version prefix; a truncated
  // value ("00") is reported as a length problem instead.
  if (s.size() > kVersionDash && s[kVersionDash] != '-') {
    return TraceparentFailure(TraceparentError::kDelimiter);
  }
  // Version 00 is exactly its ABNF; a higher version may append fields.
  if (s.size() < kV00Length || (version == 0 && s.size() != kV00Length)) {
    return TraceparentFailure(TraceparentError::kLength);
  }

  const std::optional<TraceId> trace_id =
      TraceId::FromLowerHex(s.substr(kTraceIdBegin, kTraceIdHexLen));
  if (!trace_id) return TraceparentFailure(TraceparentError::kTraceIdFormat);
  if (trace_id->IsZero()) return TraceparentFailure(TraceparentError::kTraceIdZero);
  if (s[kTraceIdDash] != '-') return TraceparentFailure(TraceparentError::kDelimiter);

  const std::optional<SpanId> parent_id =
      SpanId::FromLowerHex(s.substr(kParentIdBegin, kParentIdHexLen));
  if (!parent_id) return TraceparentFailure(TraceparentError::kParentIdFormat);
  if (parent_id->IsZero()) return TraceparentFailure(TraceparentError::kParentIdZero);
  if (s[kParentIdDash] != '-') return TraceparentFailure(TraceparentError::kDelimiter);

  // Any flag bits are valid on receipt; unknown ones are kept, not rejected.
  const int flags = ParseHexByte(s[kFlagsBegin], s[kFlagsBegin + 1]);
  if (flags < 0) return TraceparentFailure(TraceparentError::kFlagsFormat);
  // Future versions: the flags end the value or are followed by "-"; what
  // comes after that dash is not interpreted (the spec forbids assuming
  // anything about unknown fields), so it cannot make the value invalid.
  if (s.size() > kV00Length && s[kV00Length] != '-') {
    return TraceparentFailure(TraceparentError::kDelimiter);
  }

  TraceparentParse parse;
  parse.ok = true;
  parse.value.version = static_cast<uint8_t>(version);
  parse.value.trace_id = *trace_id;
  parse.value.parent_id = *parent_id;
  parse.value.flags = static_cast<uint8_t>(flags);
  return parse;
}

// One pass over the comma-separated members. Only key=value members count
// toward the limit of 32: the spec allows empty members because combining
// several tracestate fields produces them, and they carry nothing. (Its ABNF
// `list-member 0*31( OWS "," OWS list-member )` with `list-member = OWS`
// would, read literally, count them too.)
// Per member the order is: "=", key, value, member limit, duplicate; members
// are checked left to right and the first failure is reported. Duplicate
// detection compares against at most 31 earlier keys of at most 256 chars
// each, so the whole pass stays linear in the input without allocating.
TracestateParse ParseTracestate(std::string_view header) {
  std::array<std::string_view, kMaxListMembers> keys;
  int members = 0;
  size_t begin = 0;
  while (true) {
    const size_t comma = header.find(',', begin);
    const size_t end = comma == std::string_view::npos ? header.size() : comma;
    // Trailing OWS is trimmed before the value is checked: the spec treats
    // trailing spaces as optional whitespace, not part of the value.
    const std::string_view member = TrimOws(header.substr(begin, end - begin));
    if (!member.empty()) {
      const size_t eq = member.find('=');
      if (eq == std::string_view::npos) {
        return TracestateFailure(TracestateError::kMissingEquals);
      }
      const std::string_view key = member.substr(0, eq);
      if (!IsValidKey(key)) return TracestateFailure(TracestateError::kKeyFormat);
      // A second "=" lands in the value, where it is not allowed.
      if (!IsValidValue(member.substr(eq + 1))) {
        return TracestateFailure(TracestateError::kValueFormat);
      }
      if (members == kMaxListMembers) {
        return TracestateFailure(TracestateError::kTooManyMembers);
      }
      for (int i = 0; i < members; ++i) {
        if (keys[i] == key) return TracestateFailure(TracestateError::kDuplicateKey);
      }
      keys[members++] = key;
    }
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  TracestateParse parse;
  parse.ok = true;
  parse.members = members;
  return parse;
}

}  // namespace propwatch
