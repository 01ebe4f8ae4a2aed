#include "exporter/otlp/json_reader.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace propwatch::otlp {
namespace {

using ::testing::HasSubstr;

// Walks any document, rendering it compactly (strings unescaped), so tests
// can check both acceptance and what was read.
bool Render(JsonReader& r, std::string* out) {
  JsonType type;
  if (!r.PeekType(&type)) return false;
  switch (type) {
    case JsonType::kNull:
      *out += "null";
      return r.ReadNull();
    case JsonType::kBool: {
      bool b;
      if (!r.ReadBool(&b)) return false;
      *out += b ? "true" : "false";
      return true;
    }
    case JsonType::kNumber: {
      std::string_view text;
      if (!r.ReadNumber(&text)) return false;
      *out += text;
      return true;
    }
    case JsonType::kString: {
      JsonString s;
      if (!r.ReadString(&s)) return false;
      std::string buf(s.raw.size(), '\0');
      buf.resize(UnescapeJsonString(s, buf.data()));
      *out += "<" + buf + ">";
      return true;
    }
    case JsonType::kArray: {
      if (!r.BeginArray()) return false;
      *out += "[";
      bool first = true;
      while (r.NextElement()) {
        if (!first) *out += ",";
        first = false;
        if (!Render(r, out)) return false;
      }
      *out += "]";
      return r.ok();
    }
    case JsonType::kObject: {
      if (!r.BeginObject()) return false;
      *out += "{";
      JsonString key;
      bool first = true;
      while (r.NextMember(&key)) {
        if (!first) *out += ",";
        first = false;
        std::string buf(key.raw.size(), '\0');
        buf.resize(UnescapeJsonString(key, buf.data()));
        *out += buf + ":";
        if (!Render(r, out)) return false;
      }
      *out += "}";
      return r.ok();
    }
  }
  return false;
}

// Renders `json` as a whole document; "ERROR: <status>" on failure.
std::string Parse(std::string_view json, int max_depth = JsonReader::kDefaultMaxDepth) {
  JsonReader r(json, max_depth);
  std::string out;
  if (Render(r, &out) && r.ExpectEnd()) return out;
  return "ERROR: " + std::string(r.status().message());
}

bool Valid(std::string_view json, int max_depth = JsonReader::kDefaultMaxDepth) {
  return Parse(json, max_depth).rfind("ERROR", 0) != 0;
}

// SkipValue must accept exactly what Render accepts.
bool SkipValid(std::string_view json) {
  JsonReader r(json);
  return r.SkipValue() && r.ExpectEnd();
}

TEST(JsonReaderTest, Scalars) {
  EXPECT_EQ(Parse("null"), "null");
  EXPECT_EQ(Parse("true"), "true");
  EXPECT_EQ(Parse(" false "), "false");
  EXPECT_EQ(Parse("\"abc\""), "<abc>");
  EXPECT_EQ(Parse("\"\""), "<>");
  for (std::string_view n : {"0", "-0", "1", "-1", "123", "1.5", "-0.25", "1e5", "1E+5", "1e-5",
                             "2.5E-3", "18446744073709551616", "1e999"}) {
    EXPECT_EQ(Parse(n), n);
  }
}

TEST(JsonReaderTest, InvalidNumbers) {
  for (std::string_view n : {"01", "-", "+1", "1.", ".1", "1e", "1e+", "--1", "0x10", "1.e5",
                             "NaN", "Infinity", "-Infinity", "1_000", "00"}) {
    EXPECT_FALSE(Valid(n)) << n;
    EXPECT_FALSE(SkipValid(n)) << n;
  }
}

TEST(JsonReaderTest, InvalidLiterals) {
  for (std::string_view s : {"tru", "nul", "falsey", "True", "NULL", "n", "t"}) {
    EXPECT_FALSE(Valid(s)) << s;
  }
}

TEST(JsonReaderTest, Containers) {
  EXPECT_EQ(Parse("[]"), "[]");
  EXPECT_EQ(Parse("{}"), "{}");
  EXPECT_EQ(Parse(" [ 1 , [ ] , { } , \"x\" ] "), "[1,[],{},<x>]");
  EXPECT_EQ(Parse(R"({"a":1,"b":[true,null],"c":{"d":"e"}})"), "{a:1,b:[true,null],c:{d:<e>}}");
  EXPECT_EQ(Parse("{\"a\" : \t\r\n 1}"), "{a:1}");
  // Duplicate keys are the caller's business.
  EXPECT_EQ(Parse(R"({"a":1,"a":2})"), "{a:1,a:2}");
}

TEST(JsonReaderTest, MalformedContainers) {
  for (std::string_view s :
       {"[", "]", "{", "}", "[1,]", "[,1]", "[1 2]", "[1,,2]", "{\"a\":1,}", "{,}", "{\"a\"}",
        "{\"a\":}", "{\"a\" 1}", "{a:1}", "{1:1}", "{'a':1}", "[1}", "{\"a\":1]", "[[]", "[]]",
        "{\"a\":1 \"b\":2}"}) {
    EXPECT_FALSE(Valid(s)) << s;
    EXPECT_FALSE(SkipValid(s)) << s;
  }
}

TEST(JsonReaderTest, DocumentBoundaries) {
  EXPECT_FALSE(Valid(""));
  EXPECT_FALSE(Valid("   "));
  EXPECT_FALSE(Valid("1 2"));
  EXPECT_FALSE(Valid("{} {}"));
  EXPECT_FALSE(Valid("{}x"));
  EXPECT_FALSE(Valid("\xEF\xBB\xBF{}"));  // byte order mark
  EXPECT_FALSE(Valid("/* c */ {}"));
  EXPECT_FALSE(Valid("{}\f"));  // form feed is not JSON whitespace
  EXPECT_TRUE(Valid(" \t\r\n{}\n"));
}

TEST(JsonReaderTest, StringEscapes) {
  EXPECT_EQ(Parse(R"("\"\\\/\b\f\n\r\t")"), "<\"\\/\b\f\n\r\t>");
  EXPECT_EQ(Parse(R"("\u0041\u00e9\u00E9\u65e5")"), "<A\xC3\xA9\xC3\xA9\xE6\x97\xA5>");
  EXPECT_EQ(Parse(R"("\ud83d\ude00")"), "<\xF0\x9F\x98\x80>");  // surrogate pair
  EXPECT_EQ(Parse(R"("\uDBFF\uDFFF")"), "<\xF4\x8F\xBF\xBF>");  // U+10FFFF
  EXPECT_EQ(Parse(R"("\u0000")"), std::string("<\0>", 3));
  EXPECT_EQ(Parse(R"("\u007f\u0080\u07ff\u0800\uffff")"),
            "<\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF>");
}

TEST(JsonReaderTest, InvalidEscapes) {
  for (std::string_view s : {
           R"("\x")", R"("\a")", R"("\U0041")", R"("\u004")", R"("\u004g")", R"("\)",
           R"("\ud83d")",          // lone high surrogate
           R"("\ud83dx")",         // high surrogate then text
           R"("\ud83d\u0041")",    // high surrogate then non-low
           R"("\ud83d\ud83d")",    // two highs
           R"("\ude00")",          // lone low surrogate
           R"("\ude00\ud83d")",    // reversed pair
       }) {
    EXPECT_FALSE(Valid(s)) << s;
    EXPECT_FALSE(SkipValid(s)) << s;
  }
}

TEST(JsonReaderTest, RawStringContent) {
  EXPECT_EQ(Parse("\"\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80\""),
            "<\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80>");
  EXPECT_EQ(Parse("\"\x7F\""), "<\x7F>");  // DEL is allowed raw
  for (std::string_view s : {
           std::string_view("\"a\nb\""), std::string_view("\"\t\""),
           std::string_view("\"\x01\""), std::string_view("\"\0\"", 3),  // control characters
           std::string_view("\"\x80\""),                  // stray continuation byte
           std::string_view("\"\xC3\""),                  // truncated 2-byte sequence
           std::string_view("\"\xC0\x80\""),              // overlong NUL
           std::string_view("\"\xC1\xBF\""),              // overlong
           std::string_view("\"\xE0\x80\x80\""),          // overlong 3-byte
           std::string_view("\"\xED\xA0\x80\""),          // UTF-16 surrogate in UTF-8
           std::string_view("\"\xF0\x80\x80\x80\""),      // overlong 4-byte
           std::string_view("\"\xF4\x90\x80\x80\""),      // above U+10FFFF
           std::string_view("\"\xF5\x80\x80\x80\""),      // invalid lead byte
           std::string_view("\"\xFF\""),                  //
           std::string_view("\"\xE6\x97\""),              // truncated 3-byte
           std::string_view("\"abc"),                     // unterminated
       }) {
    EXPECT_FALSE(Valid(s)) << ::testing::PrintToString(std::string(s));
    EXPECT_FALSE(SkipValid(s)) << ::testing::PrintToString(std::string(s));
  }
}

TEST(JsonReaderTest, JsonStringEquals) {
  auto string_of = [](std::string_view json) {
    JsonReader r(json);
    JsonString s;
    EXPECT_TRUE(r.ReadString(&s));
    return s;
  };
  EXPECT_TRUE(JsonStringEquals(string_of(R"("abc")"), "abc"));
  EXPECT_FALSE(JsonStringEquals(string_of(R"("abc")"), "abcd"));
  EXPECT_FALSE(JsonStringEquals(string_of(R"("abc")"), "ab"));
  EXPECT_TRUE(JsonStringEquals(string_of(R"("\u0061b\u0063")"), "abc"));
  EXPECT_FALSE(JsonStringEquals(string_of(R"("\u0061b\u0063")"), "abd"));
  EXPECT_FALSE(JsonStringEquals(string_of(R"("\u0061b\u0063")"), "ab"));
  EXPECT_FALSE(JsonStringEquals(string_of(R"("\u0061b")"), "abc"));
  EXPECT_TRUE(JsonStringEquals(string_of(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80"));
  EXPECT_TRUE(JsonStringEquals(string_of(R"("")"), ""));
  JsonString s = string_of(R"("a\nb")");
  EXPECT_TRUE(s.has_escapes);
  EXPECT_EQ(s.raw, "a\\nb");
  EXPECT_FALSE(string_of(R"("ab")").has_escapes);
}

TEST(JsonReaderTest, DepthLimit) {
  auto nested = [](int depth, char open, char close) {
    return std::string(depth, open) + std::string(depth, close);
  };
  EXPECT_TRUE(Valid(nested(64, '[', ']')));
  EXPECT_TRUE(SkipValid(nested(64, '[', ']')));
  EXPECT_THAT(Parse(nested(65, '[', ']')), HasSubstr("maximum depth at byte 64"));
  EXPECT_FALSE(SkipValid(nested(65, '[', ']')));
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += "{\"a\":";
  objects += "1" + std::string(65, '}');
  EXPECT_FALSE(Valid(objects));
  EXPECT_FALSE(SkipValid(objects));
  EXPECT_TRUE(Valid(objects.substr(5, objects.size() - 6)));  // 64 levels
  // Configurable, and siblings do not accumulate depth.
  EXPECT_TRUE(Valid("[[],[],[[]]]"));
  EXPECT_FALSE(Valid("[[],[],[[]]]", 2));
  EXPECT_TRUE(Valid("[[],[],[]]", 2));
  // Far beyond the limit: fails quickly, no deep recursion.
  EXPECT_FALSE(SkipValid(nested(1'000'000, '[', ']')));
}

TEST(JsonReaderTest, ErrorsAreStickyAndReportTheOffset) {
  JsonReader r(R"({"a": tru})");
  ASSERT_TRUE(r.BeginObject());
  JsonString key;
  ASSERT_TRUE(r.NextMember(&key));
  EXPECT_FALSE(r.SkipValue());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "JSON: invalid literal at byte 6");
  EXPECT_FALSE(r.NextMember(&key));
  EXPECT_FALSE(r.ExpectEnd());
  EXPECT_EQ(r.status().message(), "JSON: invalid literal at byte 6");  // first error kept
}

TEST(JsonReaderTest, CallerFailuresUseTheCurrentOffset) {
  JsonReader r(R"({"a": 5})");
  ASSERT_TRUE(r.BeginObject());
  JsonString key;
  ASSERT_TRUE(r.NextMember(&key));
  JsonType type;
  ASSERT_TRUE(r.PeekType(&type));
  EXPECT_EQ(type, JsonType::kNumber);
  EXPECT_FALSE(r.Fail("a: expected a string"));
  EXPECT_EQ(r.status().message(), "JSON: a: expected a string at byte 6");
}

TEST(JsonReaderTest, CaptureValueAndSubReader) {
  const std::string json = R"({"v": {"x": [1, "s"]}, "k": "key"})";
  JsonReader r(json);
  ASSERT_TRUE(r.BeginObject());
  JsonString key;
  ASSERT_TRUE(r.NextMember(&key));
  std::string_view raw;
  ASSERT_TRUE(r.CaptureValue(&raw));
  EXPECT_EQ(raw, R"({"x": [1, "s"]})");
  ASSERT_TRUE(r.NextMember(&key));
  ASSERT_TRUE(r.SkipValue());
  EXPECT_FALSE(r.NextMember(&key));
  EXPECT_TRUE(r.ExpectEnd());

  JsonReader sub = r.SubReader(raw);
  std::string out;
  ASSERT_TRUE(Render(sub, &out));
  EXPECT_EQ(out, "{x:[1,<s>]}");
  // Offsets of a sub-reader's errors are relative to the whole input.
  JsonReader sub2 = r.SubReader(raw);
  ASSERT_TRUE(sub2.BeginObject());
  EXPECT_FALSE(sub2.Fail("schema"));
  EXPECT_EQ(sub2.status().message(), "JSON: schema at byte 7");
  EXPECT_FALSE(r.AdoptFailure(sub2));
  EXPECT_EQ(r.status().message(), "JSON: schema at byte 7");
}

TEST(JsonReaderTest, TypeMismatchesFail) {
  {
    JsonReader r("[1]");
    JsonString s;
    EXPECT_FALSE(r.ReadString(&s));
  }
  {
    JsonReader r("\"x\"");
    EXPECT_FALSE(r.BeginObject());
  }
  {
    JsonReader r("{}");
    EXPECT_FALSE(r.BeginArray());
  }
  {
    JsonReader r("1");
    bool b;
    EXPECT_FALSE(r.ReadBool(&b));
  }
}

TEST(JsonReaderTest, TruncatedDocumentsFail) {
  const std::string json =
      R"({"a":[1,-2.5e3,true,false,null,"x\u00e9\n",{"b":{}}],"c":"\ud83d\ude00"})";
  ASSERT_TRUE(Valid(json));
  for (size_t k = 0; k < json.size(); ++k) {
    std::string prefix = json.substr(0, k);
    EXPECT_FALSE(Valid(prefix)) << prefix;
    EXPECT_FALSE(SkipValid(prefix)) << prefix;
  }
}

}  // namespace
}  // namespace propwatch::otlp
