#include "tap/core/json_text.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <limits>

namespace tap::json {
namespace {

std::string as_json(std::string_view text) {
  std::string out;
  append_string(out, text);
  return out;
}

// Parses `json` (a JSON string literal) back with simdjson, which also validates UTF-8.
std::string parse_string(const std::string& json) {
  simdjson::dom::parser parser;
  std::string_view value;
  EXPECT_EQ(parser.parse(json).get_string().get(value), simdjson::SUCCESS) << json;
  return std::string(value);
}

TEST(JsonText, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(as_json("plain"), R"("plain")");
  EXPECT_EQ(as_json("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(as_json("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(as_json(std::string_view("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(as_json("\x7f/"), "\"\x7f/\"");
  const std::string all_ascii = [] {
    std::string s;
    for (int c = 0; c < 128; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  EXPECT_EQ(parse_string(as_json(all_ascii)), all_ascii);
}

TEST(JsonText, KeepsValidUtf8) {
  const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xED\x9F\xBF \xF0\x9F\x93\x88 \xF4\x8F\xBF\xBF";
  EXPECT_EQ(as_json(text), "\"" + text + "\"");
  EXPECT_EQ(parse_string(as_json(text)), text);
}

TEST(JsonText, ReplacesIllFormedUtf8WithReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(as_json("\xC0\xAF"), "\"" + r + r + "\"");                  // overlong, invalid lead byte
  EXPECT_EQ(as_json("\xE0\x80\xAF"), "\"" + r + r + r + "\"");          // overlong 3-byte
  EXPECT_EQ(as_json("\xED\xA0\x80"), "\"" + r + r + r + "\"");          // UTF-16 surrogate
  EXPECT_EQ(as_json("\xF0\x80\x80\xAF"), "\"" + r + r + r + r + "\"");  // overlong 4-byte
  EXPECT_EQ(as_json("\xF4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // above U+10FFFF
  EXPECT_EQ(as_json("a\xC3"), "\"a" + r + "\"");                        // truncated 2-byte
  EXPECT_EQ(as_json("\xE2\x82"), "\"" + r + r + "\"");                  // truncated 3-byte
  EXPECT_EQ(as_json("\xF0\x9F\x93"), "\"" + r + r + r + "\"");          // truncated 4-byte
  EXPECT_EQ(as_json("\xC3("), "\"" + r + "(\"");                        // bad continuation
  EXPECT_EQ(as_json("\xFF"), "\"" + r + "\"");
  EXPECT_EQ(parse_string(as_json("\xFF\xC3\xE2\x82 ok")), r + r + r + r + " ok");
}

TEST(JsonText, NumbersInShortestRoundTripForm) {
  std::string out;
  append_number(out, 189.25);
  out.push_back(' ');
  append_number(out, 0.1);
  out.push_back(' ');
  append_number(out, std::int64_t{-9007199254740993});
  out.push_back(' ');
  append_number(out, std::numeric_limits<double>::infinity());
  out.push_back(' ');
  append_number(out, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(out, "189.25 0.1 -9007199254740993 null null");
}

TEST(JsonText, ControlCharactersAndUnsignedNumbers) {
  std::string out;
  append_string(out, std::string("a\"b\\c\r\t\x1f\x7f", 9));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\r\\t\\u001f\x7f\"");
  out.clear();
  append_number(out, 1e21);
  out += ' ';
  append_number(out, std::uint64_t{18446744073709551615ULL});
  EXPECT_EQ(out, "1e+21 18446744073709551615");
}

}  // namespace
}  // namespace tap::json
