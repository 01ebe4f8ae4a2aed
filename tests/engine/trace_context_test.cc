// Tests for W3C Trace Context validation. Each test pins the exact reason, as
// the reasons are metric label values. Spec rules are quoted in
// engine/src/trace_context.cc.

#include "propwatch/trace_context.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>

namespace propwatch {
namespace {

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kParentId = "00f067aa0ba902b7";
constexpr std::string_view kZeroTraceId = "00000000000000000000000000000000";
constexpr std::string_view kZeroParentId = "0000000000000000";

std::string Make(std::string_view version, std::string_view trace_id, std::string_view parent_id,
                 std::string_view flags) {
  std::string s;
  s.append(version).append("-").append(trace_id).append("-").append(parent_id).append("-");
  s.append(flags);
  return s;
}

std::string Valid(std::string_view flags = "01") { return Make("00", kTraceId, kParentId, flags); }

// Asserts that `header` is rejected for exactly `want`.
void ExpectTraceparentError(std::string_view header, TraceparentError want) {
  TraceparentParse got = ParseTraceparent(header);
  EXPECT_FALSE(got.ok) << "accepted: \"" << header << "\"";
  if (!got.ok) {
    EXPECT_EQ(TraceparentErrorName(got.error), TraceparentErrorName(want))
        << "input: \"" << header << "\"";
  }
}

void ExpectTracestateError(std::string_view header, TracestateError want) {
  TracestateParse got = ParseTracestate(header);
  EXPECT_FALSE(got.ok) << "accepted: \"" << header << "\"";
  if (!got.ok) {
    EXPECT_EQ(TracestateErrorName(got.error), TracestateErrorName(want))
        << "input: \"" << header << "\"";
  }
}

void ExpectTracestateOk(std::string_view header, int members) {
  TracestateParse got = ParseTracestate(header);
  EXPECT_TRUE(got.ok) << "rejected (" << TracestateErrorName(got.error) << "): \"" << header
                      << "\"";
  EXPECT_EQ(got.members, members) << "input: \"" << header << "\"";
}

// Replaces the character at `pos`.
std::string With(std::string s, size_t pos, char c) {
  s[pos] = c;
  return s;
}

// --- traceparent: valid values -------------------------------------------

TEST(TraceparentTest, ValidVersion00Sampled) {
  TraceparentParse p = ParseTraceparent(Valid("01"));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.value.version, 0);
  EXPECT_EQ(p.value.trace_id.ToHex(), kTraceId);
  EXPECT_EQ(p.value.parent_id.ToHex(), kParentId);
  EXPECT_EQ(p.value.flags, 0x01);
  EXPECT_TRUE(p.value.sampled());
}

TEST(TraceparentTest, ValidVersion00NotSampled) {
  TraceparentParse p = ParseTraceparent(Valid("00"));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.value.flags, 0x00);
  EXPECT_FALSE(p.value.sampled());
}

TEST(TraceparentTest, IdBytesAreDecodedInOrder) {
  TraceparentParse p = ParseTraceparent(Valid());
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.value.trace_id.bytes[0], 0x4b);
  EXPECT_EQ(p.value.trace_id.bytes[15], 0x36);
  EXPECT_EQ(p.value.parent_id.bytes[0], 0x00);
  EXPECT_EQ(p.value.parent_id.bytes[7], 0xb7);
}

// Unknown flag bits are reserved for senders; a receiver must not reject them.
TEST(TraceparentTest, UnknownFlagBitsAreKeptNotRejected) {
  struct Case {
    std::string_view flags;
    uint8_t value;
    bool sampled;
  };
  for (const Case& c : {Case{"02", 0x02, false}, Case{"09", 0x09, true}, Case{"fe", 0xfe, false},
                        Case{"ff", 0xff, true}, Case{"80", 0x80, false}}) {
    TraceparentParse p = ParseTraceparent(Valid(c.flags));
    ASSERT_TRUE(p.ok) << c.flags;
    EXPECT_EQ(p.value.flags, c.value) << c.flags;
    EXPECT_EQ(p.value.sampled(), c.sampled) << c.flags;
  }
}

// --- traceparent: version ------------------------------------------------

TEST(TraceparentTest, VersionFfIsForbidden) {
  ExpectTraceparentError(Make("ff", kTraceId, kParentId, "01"), TraceparentError::kVersionFf);
  // Reported even when the rest is also bad or short.
  ExpectTraceparentError("ff-xyz", TraceparentError::kVersionFf);
}

TEST(TraceparentTest, UppercaseVersionIsRejected) {
  ExpectTraceparentError(Make("0A", kTraceId, kParentId, "01"), TraceparentError::kVersion);
  ExpectTraceparentError(Make("A0", kTraceId, kParentId, "01"), TraceparentError::kVersion);
  // Not the forbidden "ff": just not lowercase hex.
  ExpectTraceparentError(Make("FF", kTraceId, kParentId, "01"), TraceparentError::kVersion);
}

TEST(TraceparentTest, NonHexVersionIsRejected) {
  ExpectTraceparentError(Make(".0", kTraceId, kParentId, "01"), TraceparentError::kVersion);
  ExpectTraceparentError(Make("0.", kTraceId, kParentId, "01"), TraceparentError::kVersion);
  ExpectTraceparentError(Make("g0", kTraceId, kParentId, "01"), TraceparentError::kVersion);
  ExpectTraceparentError("x", TraceparentError::kVersion);
}

TEST(TraceparentTest, VersionTooShortIsRejected) {
  // "0-" is not two hex digits.
  ExpectTraceparentError(Make("0", kTraceId, kParentId, "01"), TraceparentError::kVersion);
}

TEST(TraceparentTest, VersionTooLongHasNoDashAfterTwoDigits) {
  ExpectTraceparentError(Make("000", kTraceId, kParentId, "01"), TraceparentError::kDelimiter);
  ExpectTraceparentError(Make("0000", kTraceId, kParentId, "01"), TraceparentError::kDelimiter);
}

// --- traceparent: trace-id -----------------------------------------------

TEST(TraceparentTest, UppercaseTraceIdIsRejected) {
  ExpectTraceparentError(Make("00", "4BF92F3577B34DA6A3CE929D0E0E4736", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
  // A single uppercase digit, first and last.
  ExpectTraceparentError(Make("00", "Abf92f3577b34da6a3ce929d0e0e4736", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
  ExpectTraceparentError(Make("00", "4bf92f3577b34da6a3ce929d0e0e473F", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
}

TEST(TraceparentTest, NonHexTraceIdIsRejected) {
  ExpectTraceparentError(Make("00", ".2345678901234567890123456789012", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
  ExpectTraceparentError(Make("00", "1234567890123456789012345678901.", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
  ExpectTraceparentError(Make("00", "4bf92f3577b34da6g3ce929d0e0e4736", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
}

TEST(TraceparentTest, AllZeroTraceIdIsRejected) {
  ExpectTraceparentError(Make("00", kZeroTraceId, kParentId, "01"), TraceparentError::kTraceIdZero);
  // Left to right: the trace-id is reported before the parent-id.
  ExpectTraceparentError(Make("00", kZeroTraceId, kZeroParentId, "01"),
                         TraceparentError::kTraceIdZero);
}

// --- traceparent: parent-id ----------------------------------------------

TEST(TraceparentTest, UppercaseParentIdIsRejected) {
  ExpectTraceparentError(Make("00", kTraceId, "00F067AA0BA902B7", "01"),
                         TraceparentError::kParentIdFormat);
  ExpectTraceparentError(Make("00", kTraceId, "00f067aa0ba902bB", "01"),
                         TraceparentError::kParentIdFormat);
}

TEST(TraceparentTest, NonHexParentIdIsRejected) {
  ExpectTraceparentError(Make("00", kTraceId, ".234567890123456", "01"),
                         TraceparentError::kParentIdFormat);
  ExpectTraceparentError(Make("00", kTraceId, "123456789012345.", "01"),
                         TraceparentError::kParentIdFormat);
  ExpectTraceparentError(Make("00", kTraceId, "00f067aa0bz902b7", "01"),
                         TraceparentError::kParentIdFormat);
}

TEST(TraceparentTest, AllZeroParentIdIsRejected) {
  ExpectTraceparentError(Make("00", kTraceId, kZeroParentId, "01"),
                         TraceparentError::kParentIdZero);
}

// --- traceparent: trace-flags --------------------------------------------

TEST(TraceparentTest, UppercaseFlagsAreRejected) {
  ExpectTraceparentError(Valid("0A"), TraceparentError::kFlagsFormat);
  ExpectTraceparentError(Valid("F0"), TraceparentError::kFlagsFormat);
}

TEST(TraceparentTest, NonHexFlagsAreRejected) {
  ExpectTraceparentError(Valid(".0"), TraceparentError::kFlagsFormat);
  ExpectTraceparentError(Valid("0."), TraceparentError::kFlagsFormat);
  ExpectTraceparentError(Valid("0g"), TraceparentError::kFlagsFormat);
}

// --- traceparent: length -------------------------------------------------

TEST(TraceparentTest, Version00MustBeExactly55Chars) {
  ASSERT_EQ(Valid().size(), 55u);
  const std::string short54 = Valid("1");
  const std::string long56 = Valid("001");
  ASSERT_EQ(short54.size(), 54u);
  ASSERT_EQ(long56.size(), 56u);
  ExpectTraceparentError(short54, TraceparentError::kLength);
  ExpectTraceparentError(long56, TraceparentError::kLength);
  // Field-length errors change the total length, so they are length errors.
  ExpectTraceparentError(Make("00", "123456789012345678901234567890123", kParentId, "01"),
                         TraceparentError::kLength);
  ExpectTraceparentError(Make("00", "1234567890123456789012345678901", kParentId, "01"),
                         TraceparentError::kLength);
  ExpectTraceparentError(Make("00", kTraceId, "12345678901234567", "01"),
                         TraceparentError::kLength);
  ExpectTraceparentError(Make("00", kTraceId, "123456789012345", "01"), TraceparentError::kLength);
  ExpectTraceparentError("00", TraceparentError::kLength);
  ExpectTraceparentError("00-", TraceparentError::kLength);
}

// Unlike a higher version, version 00 may not carry extra fields.
TEST(TraceparentTest, Version00RejectsExtensions) {
  ExpectTraceparentError(Valid() + "-what-the-future-will-be-like", TraceparentError::kLength);
  ExpectTraceparentError(Valid() + ".", TraceparentError::kLength);
  ExpectTraceparentError(Valid() + "-", TraceparentError::kLength);
}

// --- traceparent: delimiters ---------------------------------------------

TEST(TraceparentTest, MissingDashesAreRejected) {
  const std::string v = Valid();
  ExpectTraceparentError(With(v, 2, '_'), TraceparentError::kDelimiter);
  ExpectTraceparentError(With(v, 35, '_'), TraceparentError::kDelimiter);
  ExpectTraceparentError(With(v, 52, '_'), TraceparentError::kDelimiter);
  // A hex digit in a dash position: every field is still well-formed.
  ExpectTraceparentError(With(v, 35, 'a'), TraceparentError::kDelimiter);
  ExpectTraceparentError(With(v, 52, '0'), TraceparentError::kDelimiter);
  // Spaces instead of every dash.
  ExpectTraceparentError("00 " + std::string(kTraceId) + " " + std::string(kParentId) + " 01",
                         TraceparentError::kDelimiter);
  // No dashes at all: the version prefix ("2 hex followed by a dash") is
  // checked before the length, as in the spec's parsing steps.
  ExpectTraceparentError(std::string("00") + std::string(kTraceId) + std::string(kParentId) + "01",
                         TraceparentError::kDelimiter);
}

TEST(TraceparentTest, MisplacedDashesAreRejected) {
  // The dash moves into the trace-id window (31 + 17 digits, still 55 chars).
  ExpectTraceparentError(Make("00", "4bf92f3577b34da6a3ce929d0e0e473", "600f067aa0ba902b7", "01"),
                         TraceparentError::kTraceIdFormat);
  // The dash moves into the parent-id window (15 + 3 digits of flags).
  ExpectTraceparentError(Make("00", kTraceId, "00f067aa0ba902b", "701"),
                         TraceparentError::kParentIdFormat);
  // The dash moves right past the trace-id (33 + 15 digits).
  ExpectTraceparentError(Make("00", "4bf92f3577b34da6a3ce929d0e0e47360", "0f067aa0ba902b7", "01"),
                         TraceparentError::kDelimiter);
  // Doubled dash in place of the first flag digit.
  ExpectTraceparentError(Make("00", kTraceId, kParentId, "-1"), TraceparentError::kFlagsFormat);
}

// --- traceparent: future versions ----------------------------------------

TEST(TraceparentTest, FutureVersionWithVersion00LayoutIsValid) {
  TraceparentParse p = ParseTraceparent(Make("cc", kTraceId, kParentId, "01"));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.value.version, 0xcc);
  EXPECT_EQ(p.value.trace_id.ToHex(), kTraceId);
  EXPECT_EQ(p.value.parent_id.ToHex(), kParentId);
  EXPECT_TRUE(p.value.sampled());
  EXPECT_TRUE(ParseTraceparent(Make("01", kTraceId, kParentId, "00")).ok);
  EXPECT_TRUE(ParseTraceparent(Make("fe", kTraceId, kParentId, "00")).ok);
}

TEST(TraceparentTest, FutureVersionLongerWithDashExtensionIsValid) {
  TraceparentParse p =
      ParseTraceparent(Make("cc", kTraceId, kParentId, "01") + "-what-the-future-will-be-like");
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.value.version, 0xcc);
  EXPECT_EQ(p.value.trace_id.ToHex(), kTraceId);
  EXPECT_EQ(p.value.flags, 0x01);
  // A bare trailing dash ends the known fields too.
  EXPECT_TRUE(ParseTraceparent(Make("cc", kTraceId, kParentId, "01") + "-").ok);
  // A long extension is fine: only prohibitively large headers may be refused.
  EXPECT_TRUE(
      ParseTraceparent(Make("cc", kTraceId, kParentId, "01") + "-" + std::string(4096, 'x')).ok);
}

// Fields after the flags are not interpreted, so their content cannot make
// the value invalid: not even non-hex, uppercase or non-ASCII bytes.
TEST(TraceparentTest, FutureVersionExtensionIsNotInterpreted) {
  const std::string base = Make("cc", kTraceId, kParentId, "01");
  EXPECT_TRUE(ParseTraceparent(base + "-ZZZ").ok);
  EXPECT_TRUE(ParseTraceparent(base + "-not hex, at all!").ok);
  EXPECT_TRUE(ParseTraceparent(base + "--").ok);
  EXPECT_TRUE(ParseTraceparent(base + "-\x01\x80\xff").ok);
}

TEST(TraceparentTest, FutureVersionFollowedByNonDashIsRejected) {
  const std::string base = Make("cc", kTraceId, kParentId, "01");
  ExpectTraceparentError(base + ".what-the-future-will-be-like", TraceparentError::kDelimiter);
  ExpectTraceparentError(base + "0", TraceparentError::kDelimiter);
  ExpectTraceparentError(base + " -x", TraceparentError::kDelimiter);
}

TEST(TraceparentTest, FutureVersionShorterThan55IsRejected) {
  ExpectTraceparentError(Make("cc", kTraceId, kParentId, "1"), TraceparentError::kLength);
  ExpectTraceparentError("cc-", TraceparentError::kLength);
  ExpectTraceparentError("cc", TraceparentError::kLength);
}

// The version-00 fields of a future version obey the version-00 rules.
TEST(TraceparentTest, FutureVersionFieldsAreStillValidated) {
  ExpectTraceparentError(Make("cc", kZeroTraceId, kParentId, "01") + "-x",
                         TraceparentError::kTraceIdZero);
  ExpectTraceparentError(Make("cc", kTraceId, kZeroParentId, "01"),
                         TraceparentError::kParentIdZero);
  ExpectTraceparentError(Make("cc", "4BF92F3577B34DA6A3CE929D0E0E4736", kParentId, "01"),
                         TraceparentError::kTraceIdFormat);
  ExpectTraceparentError(Make("cc", kTraceId, kParentId, "0A") + "-x",
                         TraceparentError::kFlagsFormat);
  ExpectTraceparentError(With(Make("cc", kTraceId, kParentId, "01") + "-x", 35, '+'),
                         TraceparentError::kDelimiter);
}

// --- traceparent: whitespace and empty -----------------------------------

TEST(TraceparentTest, LeadingAndTrailingOwsIsTrimmed) {
  for (const std::string& h : {" " + Valid(), "\t" + Valid(), Valid() + " ", Valid() + "\t",
                               "\t " + Valid() + " \t", "   " + Valid() + "   "}) {
    TraceparentParse p = ParseTraceparent(h);
    ASSERT_TRUE(p.ok) << "\"" << h << "\"";
    EXPECT_EQ(p.value.trace_id.ToHex(), kTraceId);
  }
  EXPECT_TRUE(ParseTraceparent(" " + Make("cc", kTraceId, kParentId, "01") + "-x\t").ok);
}

// OWS is SP / HTAB only; and whitespace inside the value is never trimmed.
TEST(TraceparentTest, OtherWhitespaceIsNotTrimmed) {
  ExpectTraceparentError("\n" + Valid(), TraceparentError::kVersion);
  ExpectTraceparentError(Valid() + "\r", TraceparentError::kLength);
  ExpectTraceparentError(Valid() + "\n", TraceparentError::kLength);
  ExpectTraceparentError(With(Valid(), 2, ' '), TraceparentError::kDelimiter);
  ExpectTraceparentError(Make("00", kTraceId, kParentId, " 1"), TraceparentError::kFlagsFormat);
}

TEST(TraceparentTest, EmptyIsRejected) {
  ExpectTraceparentError("", TraceparentError::kEmpty);
  ExpectTraceparentError(" ", TraceparentError::kEmpty);
  ExpectTraceparentError(" \t \t", TraceparentError::kEmpty);
}

// A combined duplicate header ("a,b") is not one valid value.
TEST(TraceparentTest, CombinedDuplicateHeaderIsRejected) {
  ExpectTraceparentError(Valid() + "," + Valid(), TraceparentError::kLength);
}

// --- error names ---------------------------------------------------------

bool IsSnakeCase(std::string_view s) {
  if (s.empty() || s.front() == '_' || s.back() == '_') return false;
  if (!(s.front() >= 'a' && s.front() <= 'z')) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
    if (c == '_' && i > 0 && s[i - 1] == '_') return false;
  }
  return true;
}

TEST(TraceparentErrorNameTest, EveryReasonHasADistinctSnakeCaseName) {
  std::set<std::string_view> seen;
  for (int i = 0; i < kNumTraceparentErrors; ++i) {
    const std::string_view name = TraceparentErrorName(static_cast<TraceparentError>(i));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(IsSnakeCase(name)) << i << ": " << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kNumTraceparentErrors));
  // kCount is not a reason and must not alias one.
  EXPECT_EQ(seen.count(TraceparentErrorName(TraceparentError::kCount)), 0u);
}

// The names are label values of a metric; changing one breaks dashboards.
TEST(TraceparentErrorNameTest, NamesAreStable) {
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kEmpty), "empty");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kLength), "length");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kVersion), "version");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kVersionFf), "version_ff");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kDelimiter), "delimiter");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kTraceIdFormat), "trace_id_format");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kTraceIdZero), "trace_id_zero");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kParentIdFormat), "parent_id_format");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kParentIdZero), "parent_id_zero");
  EXPECT_EQ(TraceparentErrorName(TraceparentError::kFlagsFormat), "flags_format");
}

TEST(TracestateErrorNameTest, EveryReasonHasADistinctSnakeCaseName) {
  std::set<std::string_view> seen;
  for (int i = 0; i < kNumTracestateErrors; ++i) {
    const std::string_view name = TracestateErrorName(static_cast<TracestateError>(i));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(IsSnakeCase(name)) << i << ": " << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kNumTracestateErrors));
  EXPECT_EQ(seen.count(TracestateErrorName(TracestateError::kCount)), 0u);
}

// --- tracestate: list ----------------------------------------------------

std::string Members(int n, int first = 1) {
  std::string s;
  for (int i = first; i < first + n; ++i) {
    if (!s.empty()) s += ",";
    s += "bar" + std::to_string(i) + "=" + std::to_string(i);
  }
  return s;
}

TEST(TracestateTest, SpecExamplesAreValid) {
  ExpectTracestateOk("congo=t61rcWkgMzE", 1);
  ExpectTracestateOk("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 2);
}

TEST(TracestateTest, EmptyHeaderIsValid) {
  ExpectTracestateOk("", 0);
  ExpectTracestateOk("   ", 0);
  ExpectTracestateOk(" \t ", 0);
}

TEST(TracestateTest, ThirtyTwoMembersAreValid) { ExpectTracestateOk(Members(32), 32); }

TEST(TracestateTest, ThirtyThreeMembersAreRejected) {
  ExpectTracestateError(Members(33), TracestateError::kTooManyMembers);
  ExpectTracestateError(Members(40), TracestateError::kTooManyMembers);
}

TEST(TracestateTest, EmptyMembersAreIgnoredAndNotCounted) {
  ExpectTracestateOk(",foo=1,,  ,\t,bar=2,", 2);
  ExpectTracestateOk(",,,", 0);
  // 32 real members plus many empty ones is still within the limit.
  std::string s = ",, ," + Members(16) + ", ,,\t," + Members(16, 17) + ",,";
  ExpectTracestateOk(s, 32);
  ExpectTracestateError(s + ",bar33=33", TracestateError::kTooManyMembers);
}

TEST(TracestateTest, OwsAroundMembersIsIgnored) {
  ExpectTracestateOk("foo=1 \t , \t bar=2, \t baz=3", 3);
  ExpectTracestateOk("foo=1\t \t,\t \tbar=2,\t \tbaz=3", 3);
  ExpectTracestateOk(" foo=1", 1);
  ExpectTracestateOk("\tfoo=1", 1);
  ExpectTracestateOk("foo=1 ", 1);
  ExpectTracestateOk("foo=1\t", 1);
  ExpectTracestateOk("\t foo=1 \t", 1);
}

TEST(TracestateTest, MemberWithoutEqualsIsRejected) {
  ExpectTracestateError("foo", TracestateError::kMissingEquals);
  ExpectTracestateError("foo=1,bar", TracestateError::kMissingEquals);
  ExpectTracestateError("foo=1, \tbar\t ,baz=2", TracestateError::kMissingEquals);
}

// --- tracestate: keys (Level 1 grammar; see trace_context.cc) -------------

TEST(TracestateTest, SimpleKeyMaxLengthIs256) {
  ExpectTracestateOk(std::string(256, 'z') + "=1", 1);
  ExpectTracestateError(std::string(257, 'z') + "=1", TracestateError::kKeyFormat);
  ExpectTracestateOk("a=1", 1);
}

TEST(TracestateTest, SimpleKeyAcceptsEveryAllowedChar) {
  ExpectTracestateOk("abcdefghijklmnopqrstuvwxyz0123456789_-*/=1", 1);
}

TEST(TracestateTest, SimpleKeyMustStartWithLowercaseLetter) {
  // Level 1 allows a leading digit only in a tenant-id (Level 2 would accept).
  ExpectTracestateError("1abc=1", TracestateError::kKeyFormat);
  ExpectTracestateError("_foo=1", TracestateError::kKeyFormat);
  ExpectTracestateError("-foo=1", TracestateError::kKeyFormat);
  ExpectTracestateError("*foo=1", TracestateError::kKeyFormat);
  ExpectTracestateError("/foo=1", TracestateError::kKeyFormat);
}

TEST(TracestateTest, KeyWithIllegalCharsIsRejected) {
  ExpectTracestateError("FOO=1", TracestateError::kKeyFormat);
  ExpectTracestateError("fOo=1", TracestateError::kKeyFormat);
  ExpectTracestateError("foo.bar=1", TracestateError::kKeyFormat);
  ExpectTracestateError("foo =1", TracestateError::kKeyFormat);  // no OWS before "="
  ExpectTracestateError("fo\to=1", TracestateError::kKeyFormat);
  ExpectTracestateError("f\xc3\xa9=1", TracestateError::kKeyFormat);
  ExpectTracestateError("=1", TracestateError::kKeyFormat);
}

TEST(TracestateTest, MultiTenantKeyLengths) {
  // tenant-id 1..241, system-id 1..14: together at most 256 characters.
  ExpectTracestateOk(std::string(241, 't') + "@" + std::string(14, 'v') + "=1", 1);
  ExpectTracestateError(std::string(242, 't') + "@v=1", TracestateError::kKeyFormat);
  ExpectTracestateError("t@" + std::string(15, 'v') + "=1", TracestateError::kKeyFormat);
  ExpectTracestateOk("t@v=1", 1);
}

TEST(TracestateTest, MultiTenantKeyCharsets) {
  ExpectTracestateOk("fw529a3039@dt=1", 1);
  ExpectTracestateOk("1tenant@vendor=1", 1);  // tenant-id may start with a digit
  ExpectTracestateOk("abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/=1", 1);
  ExpectTracestateError("t@1v=1", TracestateError::kKeyFormat);  // system-id: lcalpha first
  ExpectTracestateError("t@_v=1", TracestateError::kKeyFormat);
  ExpectTracestateError("_t@v=1", TracestateError::kKeyFormat);
  ExpectTracestateError("T@v=1", TracestateError::kKeyFormat);
  ExpectTracestateError("t@V=1", TracestateError::kKeyFormat);
}

TEST(TracestateTest, MalformedMultiTenantKeyIsRejected) {
  ExpectTracestateError("foo@=1", TracestateError::kKeyFormat);
  ExpectTracestateError("@foo=1", TracestateError::kKeyFormat);
  ExpectTracestateError("foo@@bar=1", TracestateError::kKeyFormat);
  ExpectTracestateError("foo@bar@baz=1", TracestateError::kKeyFormat);
  ExpectTracestateError("@=1", TracestateError::kKeyFormat);
}

// --- tracestate: values --------------------------------------------------

TEST(TracestateTest, ValueMaxLengthIs256) {
  ExpectTracestateOk("foo=" + std::string(256, 'v'), 1);
  ExpectTracestateError("foo=" + std::string(257, 'v'), TracestateError::kValueFormat);
  ExpectTracestateOk("foo=v", 1);
  // Trailing spaces are OWS, not part of the value, so they do not count.
  ExpectTracestateOk("foo=" + std::string(256, 'v') + "   ", 1);
}

TEST(TracestateTest, ValueAcceptsEveryAllowedChar) {
  std::string value;
  for (int c = 0x20; c <= 0x7e; ++c) {
    if (c != ',' && c != '=') value += static_cast<char>(c);
  }
  // Starts with a space: leading spaces are part of the value.
  ExpectTracestateOk("foo=" + value, 1);
}

TEST(TracestateTest, EmptyValueIsRejected) {
  ExpectTracestateError("foo=", TracestateError::kValueFormat);
  ExpectTracestateError("foo=,bar=3", TracestateError::kValueFormat);
  // Only spaces: all of them are trailing OWS, leaving an empty value.
  ExpectTracestateError("foo=   ", TracestateError::kValueFormat);
}

TEST(TracestateTest, EqualsInValueIsRejected) {
  ExpectTracestateError("foo=bar=baz", TracestateError::kValueFormat);
  ExpectTracestateError("foo==", TracestateError::kValueFormat);
}

// "," always separates members, so a comma "in" a value leaves a member
// without "=" (or, when followed by k=v, a valid extra member).
TEST(TracestateTest, CommaInValueSplitsTheMember) {
  ExpectTracestateError("foo=a,b", TracestateError::kMissingEquals);
  ExpectTracestateOk("foo=a,b=c", 2);
}

TEST(TracestateTest, SpacesInValue) {
  ExpectTracestateOk("foo=a b", 1);  // inner space is chr
  ExpectTracestateOk("foo= a", 1);   // leading space is kept as value
  ExpectTracestateOk("foo=a ", 1);   // trailing space is OWS
  ExpectTracestateOk("foo=a  ,bar=b", 2);
}

TEST(TracestateTest, ValueWithNonPrintableIsRejected) {
  ExpectTracestateError("foo=a\tb", TracestateError::kValueFormat);  // HTAB is not chr
  ExpectTracestateError("foo=\ta", TracestateError::kValueFormat);
  ExpectTracestateError("foo=a\x7f", TracestateError::kValueFormat);
  ExpectTracestateError("foo=a\x1f", TracestateError::kValueFormat);
  ExpectTracestateError("foo=\xc3\xa9", TracestateError::kValueFormat);
  ExpectTracestateError(std::string("foo=a\0b", 7), TracestateError::kValueFormat);
}

// --- tracestate: duplicates and precedence --------------------------------

TEST(TracestateTest, DuplicateKeysAreRejected) {
  ExpectTracestateError("foo=1,foo=1", TracestateError::kDuplicateKey);
  ExpectTracestateError("foo=1,foo=2", TracestateError::kDuplicateKey);
  ExpectTracestateError("foo=1, bar=2 ,\tfoo=3", TracestateError::kDuplicateKey);
  ExpectTracestateError("t@v=1,t@v=2", TracestateError::kDuplicateKey);
  ExpectTracestateError(Members(31) + ",bar1=x", TracestateError::kDuplicateKey);
}

TEST(TracestateTest, SimilarKeysAreNotDuplicates) {
  ExpectTracestateOk("a=1,ab=2,b=3", 3);
  ExpectTracestateOk("t@v=1,t@w=1,tv=1", 3);
}

// Members are checked left to right; the first bad one decides the reason.
TEST(TracestateTest, FirstFailureWins) {
  ExpectTracestateError("FOO=1,bar", TracestateError::kKeyFormat);
  ExpectTracestateError("bar,FOO=1", TracestateError::kMissingEquals);
  ExpectTracestateError("foo=1,foo=1,BAR=2", TracestateError::kDuplicateKey);
  // A malformed 33rd member is reported as malformed, a well-formed one as
  // one too many.
  ExpectTracestateError(Members(32) + ",BAD=1", TracestateError::kKeyFormat);
  ExpectTracestateError(Members(32) + ",bar1=1", TracestateError::kTooManyMembers);
}

// --- independence --------------------------------------------------------

// "failure to parse tracestate MUST NOT affect the parsing of traceparent":
// the two are separate functions with no shared state, so a caller can always
// use a good traceparent whatever the tracestate.
TEST(TraceContextTest, BadTracestateDoesNotAffectTraceparent) {
  const std::string traceparent = Valid("01");
  const TraceparentParse before = ParseTraceparent(traceparent);
  ASSERT_TRUE(before.ok);

  for (std::string_view bad : {"foo=1,foo=2", "FOO=1", "foo", "foo=bar=baz"}) {
    const TracestateParse ts = ParseTracestate(bad);
    EXPECT_FALSE(ts.ok) << bad;
    const TraceparentParse after = ParseTraceparent(traceparent);
    ASSERT_TRUE(after.ok) << bad;
    EXPECT_EQ(after.value.version, before.value.version);
    EXPECT_EQ(after.value.trace_id, before.value.trace_id);
    EXPECT_EQ(after.value.parent_id, before.value.parent_id);
    EXPECT_EQ(after.value.flags, before.value.flags);
  }
  ExpectTracestateError(Members(33), TracestateError::kTooManyMembers);
  EXPECT_TRUE(ParseTraceparent(traceparent).ok);
}

}  // namespace
}  // namespace propwatch
