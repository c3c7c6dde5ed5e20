#include "tap/core/tick.hpp"

#include <gtest/gtest.h>

namespace tap {
namespace {

std::string body_error(std::string_view body) {
  auto r = parse_ticks(body);
  return r ? "ok" : r.error().code + " | " + r.error().message;
}

std::vector<std::string> reasons(std::string_view body) {
  auto r = parse_ticks(body);
  EXPECT_TRUE(r) << r.error().message;
  std::vector<std::string> out;
  if (r) {
    for (const auto& rej : r->rejects) out.push_back(std::to_string(rej.index) + " " + rej.reason);
  }
  return out;
}

using V = std::vector<std::string>;

TEST(Tick, ParsesSpecExample) {
  auto r = parse_ticks(
      R"({"symbol":"AAPL","price":189.25,"timestamp":"2026-11-25T14:30:00.123Z","volume":1200,"bid":189.24,"ask":189.26})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->ticks.size(), 1u);
  EXPECT_TRUE(r->rejects.empty());
  const Tick& t = r->ticks[0];
  EXPECT_EQ(t.symbol, "AAPL");
  EXPECT_EQ(t.price, 189.25);
  EXPECT_EQ(t.ts.text(), "2026-11-25T14:30:00.123000Z");
  EXPECT_EQ(t.volume, 1200u);
  EXPECT_EQ(t.bid, 189.24);
  EXPECT_EQ(t.ask, 189.26);
}

TEST(Tick, ArrayKeepsGoodTicksAndRejectsBadOnes) {
  auto r = parse_ticks(R"([
    {"symbol":"AAPL","price":1,"timestamp":"2026-11-25T14:30:00Z"},
    {"symbol":"MSFT","price":-1,"timestamp":"2026-11-25T14:30:00Z"},
    {"symbol":"BTC-USD","price":2,"timestamp":"2026-11-25T14:30:00Z","bid":3,"ask":2,"extra":{"a":[1,null,true]}},
    42
  ])");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->ticks.size(), 2u);
  EXPECT_EQ(r->ticks[0].symbol, "AAPL");
  EXPECT_EQ(r->ticks[1].symbol, "BTC-USD");  // crossed quote accepted
  EXPECT_FALSE(r->ticks[0].volume.has_value());
  EXPECT_EQ(r->rejects, (std::vector<Reject>{{1, "tick[1].price: must be a finite number > 0"},
                                             {3, "tick[3]: must be an object"}}));
}

TEST(Tick, FieldValidation) {
  const std::string ts = R"("timestamp":"2026-11-25T14:30:00Z")";
  EXPECT_EQ(reasons(R"({"price":1,)" + ts + "}"), V{"0 tick[0].symbol: required"});
  EXPECT_EQ(reasons(R"({"symbol":"A"})"), V{"0 tick[0].price: required; tick[0].timestamp: required"});
  EXPECT_EQ(reasons(R"({"symbol":"aapl","price":1,)" + ts + "}"),
            V{"0 tick[0].symbol: must be a string of 1..16 chars A-Z 0-9 . - / :"});
  EXPECT_EQ(reasons(R"({"symbol":"","price":1,)" + ts + "}").size(), 1u);
  EXPECT_EQ(reasons(R"({"symbol":"ABCDEFGHIJKLMNOPQ","price":1,)" + ts + "}").size(), 1u);
  EXPECT_EQ(reasons(R"({"symbol":"EUR/USD:X.1-2","price":1,)" + ts + "}"), V{});
  EXPECT_EQ(reasons(R"({"symbol":7,"price":1,)" + ts + "}"),
            V{"0 tick[0].symbol: must be a string of 1..16 chars A-Z 0-9 . - / :"});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":"1",)" + ts + "}"),
            V{"0 tick[0].price: must be a finite number > 0"});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":0,)" + ts + "}"),
            V{"0 tick[0].price: must be a finite number > 0"});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":null,)" + ts + "}"),
            V{"0 tick[0].price: must be a finite number > 0"});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1e400,)" + ts + "}"),
            V{"0 tick[0].price: must be a finite number > 0"});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"timestamp":1})"),
            V{"0 tick[0].timestamp: must be an ISO-8601 string"});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"timestamp":"1999-01-01T00:00:00Z"})"),
            V{"0 tick[0].timestamp: outside the accepted range 2000-01-01T00:00:00Z .. "
              "2100-12-31T23:59:59.999999Z"});
  const std::string vol = "0 tick[0].volume: must be an integer >= 0 (at most 2^64-1)";
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"volume":-1,)" + ts + "}"), V{vol});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"volume":1.5,)" + ts + "}"), V{vol});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"volume":"5",)" + ts + "}"), V{vol});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"volume":18446744073709551616,)" + ts + "}"), V{vol});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"bid":0,"ask":-2,)" + ts + "}"),
            V{"0 tick[0].bid: must be a finite number > 0; tick[0].ask: must be a finite number > 0"});
}

// A finite price DynamoDB cannot store would fail every write of its alert: rejected as invalid instead.
TEST(Tick, PricesWithinDynamoDbNumberRange) {
  const std::string ts = R"("timestamp":"2026-11-25T14:30:00Z")";
  const std::string range = "outside the storable range 1e-130 .. 1e126 (exclusive)";
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1e200,)" + ts + "}"), V{"0 tick[0].price: " + range});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1e126,)" + ts + "}"), V{"0 tick[0].price: " + range});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1e-131,)" + ts + "}"), V{"0 tick[0].price: " + range});
  EXPECT_EQ(reasons(R"({"symbol":"A","price":1,"bid":1e-200,"ask":1e300,)" + ts + "}"),
            V{"0 tick[0].bid: " + range + "; tick[0].ask: " + range});
  auto r = parse_ticks(R"({"symbol":"A","price":9.99999999999999e125,"bid":1e-130,)" + ts + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->ticks.size(), 1u) << r->rejects.at(0).reason;
  EXPECT_EQ(r->ticks[0].price, 9.99999999999999e125);
  EXPECT_EQ(r->ticks[0].bid, 1e-130);
}

// The reason quotes the key: characters SQS refuses in a message attribute are escaped, long keys cut.
TEST(Tick, DuplicateKeyIsQuotedSafely) {
  const std::string tail = R"(":2}])";
  EXPECT_EQ(body_error(R"([{"\u0001x":1,"\u0001x":2}])"),
            "invalid_body | body: duplicate key \"\\u0001x\" in tick[0]");
  EXPECT_EQ(body_error(R"([{"a\"b\\":1,"a\"b\\":2}])"),
            "invalid_body | body: duplicate key \"a\\u0022b\\u005c\" in tick[0]");
  EXPECT_EQ(body_error("[{\"\xef\xbf\xbf\xef\xbf\xbe\u00e9\u20ac\U0001d11e\":1,\"\xef\xbf\xbf\xef\xbf\xbe"
                       "\u00e9\u20ac\U0001d11e\":2}]"),
            "invalid_body | body: duplicate key \"\\uffff\\ufffe\u00e9\u20ac\U0001d11e\" in tick[0]");
  std::string key;
  for (int i = 0; i < 40; ++i) key += "\u00e9";  // 2 bytes each: the cut lands on a character boundary
  EXPECT_EQ(body_error("[{\"" + key + "\":1,\"" + key + tail),
            "invalid_body | body: duplicate key \"" + key.substr(0, 64) + "...\" in tick[0]");
}

TEST(Tick, VolumeRange) {
  auto r = parse_ticks(
      R"({"symbol":"A","price":1,"volume":18446744073709551615,"timestamp":"2026-11-25T14:30:00Z"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ticks.at(0).volume, 18446744073709551615ULL);
  r = parse_ticks(R"({"symbol":"A","price":1,"volume":0,"timestamp":"2026-11-25T14:30:00Z"})");
  EXPECT_EQ(r->ticks.at(0).volume, 0u);
}

// F2: `seq` (optional integer >= 0) orders ticks of one symbol with equal timestamps; absent -> 0.
TEST(Tick, SeqIsAnOptionalCount) {
  const std::string head = R"({"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00Z")";
  const auto seq_of = [&head](std::string_view field) {
    auto r = parse_ticks(head + std::string(field) + "}");
    EXPECT_TRUE(r && r->ticks.size() == 1) << field;
    return r && r->ticks.size() == 1 ? r->ticks[0].seq : 99U;
  };
  EXPECT_EQ(seq_of(""), 0U);
  EXPECT_EQ(seq_of(R"(,"seq":0)"), 0U);
  EXPECT_EQ(seq_of(R"(,"seq":-0)"), 0U);
  EXPECT_EQ(seq_of(R"(,"seq":7)"), 7U);
  EXPECT_EQ(seq_of(R"(,"seq":18446744073709551615)"), 18446744073709551615ULL);
  EXPECT_EQ(seq_of(R"(,"seq":12)"), 12U);  // an escaped key is the same key
}

TEST(Tick, AnInvalidSeqRejectsItsTickWithAPreciseReason) {
  const std::string head = R"({"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00Z","seq":)";
  const V why{"0 tick[0].seq: must be an integer >= 0 (at most 2^64-1)"};
  for (const std::string_view value :
       {"-1", "-9223372036854775808", "1.5", "1.0", "1e3", "0.0", "18446744073709551616", "1e400", "\"3\"",
        "null", "true", "[1]", "{\"n\":1}"}) {
    EXPECT_EQ(reasons(head + std::string(value) + "}"), why) << value;
  }
  // Its neighbours in the body stay valid; each bad field of the tick is named.
  auto r = parse_ticks(R"([{"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00Z","seq":1},)"
                       R"({"symbol":"A","price":0,"timestamp":"2026-11-25T14:30:00Z","seq":-2}])");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->ticks.size(), 1U);
  EXPECT_EQ(r->ticks[0].seq, 1U);
  EXPECT_EQ(
      r->rejects,
      (std::vector<Reject>{{1,
                            "tick[1].price: must be a finite number > 0; tick[1].seq: must be an integer "
                            ">= 0 (at most 2^64-1)"}}));
}

TEST(Tick, ADuplicateSeqIsADuplicateKey) {
  EXPECT_EQ(body_error(R"({"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00Z","seq":1,"seq":1})"),
            "invalid_body | body: duplicate key \"seq\" in tick[0]");
  EXPECT_EQ(body_error(R"([{"symbol":"A","seq":1,"price":1,"seq":2,"timestamp":"2026-11-25T14:30:00Z"}])"),
            "invalid_body | body: duplicate key \"seq\" in tick[0]");
  // `seq` nested in an unknown field is not the tick's seq.
  auto r =
      parse_ticks(R"({"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00Z","meta":{"seq":-1},"seq":4})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->ticks.size(), 1U);
  EXPECT_EQ(r->ticks[0].seq, 4U);
}

TEST(Tick, EscapedKeysAndUnknownFields) {
  auto r = parse_ticks(
      R"({"sym\u0062ol":"A","pr\u0069ce":2.5,"timestamp":"2026-11-25T14:30:00Z","note":"caf\u00e9 \"x\"","n":[[1]]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->ticks.size(), 1u);
  EXPECT_EQ(r->ticks[0].price, 2.5);
  // A key is compared in its unescaped form, whether it was written with escapes or without.
  EXPECT_EQ(body_error(R"([{"price":1,"pr\u0069ce":2}])"),
            "invalid_body | body: duplicate key \"price\" in tick[0]");
  EXPECT_EQ(body_error(R"([{"x":{"note":1,"n\u006fte":2}}])"),
            "invalid_body | body: duplicate key \"note\" in tick[0]");
}

// Followed by kJsonPadding zero bytes a body is parsed where it is, with the same result as a copy.
TEST(Tick, ParsesInPlaceWithPadding) {
  const std::vector<std::string> bodies = {
      R"([{"symbol":"A","price":1.5,"timestamp":"2026-11-25T14:30:00Z"},{"symbol":"B"}])",
      R"({"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00.5+01:00","bid":0.5,"ask":2})",
      R"([{"symbol":"A","price":1)",
      R"({"symbce":4)",
      "[]",
      "[1] 2",
      "",
      "{\"a\":\"\xff\"}"};
  for (const std::string& body : bodies) {
    const std::string padded = body + std::string(kJsonPadding, '\0');
    auto in_place = parse_ticks(std::string_view(padded).substr(0, body.size()), kJsonPadding);
    auto copied = parse_ticks(body);
    ASSERT_EQ(bool(in_place), bool(copied)) << body;
    if (!copied) {
      EXPECT_EQ(in_place.error().message, copied.error().message) << body;
      continue;
    }
    EXPECT_EQ(in_place->ticks, copied->ticks) << body;
    EXPECT_EQ(in_place->rejects, copied->rejects) << body;
  }
  EXPECT_EQ(parse_ticks(bodies[0], kJsonPadding - 1)->ticks.size(), 1u);  // too little padding: copied
}

// The copy's padding is zeroed each time: a truncated body gets the same error whatever came before it
// (simdjson reads the byte after a trailing number: '\0' is a number error, a space would not be).
TEST(Tick, CopiedBodyDoesNotSeeThePreviousOne) {
  const std::string fresh = body_error(R"({"symbce":4)");
  EXPECT_EQ(fresh, "invalid_json | body: invalid JSON (Problem while parsing a number)");
  EXPECT_EQ(body_error(R"({"symbce":4 ,"x":1})"), "ok");
  EXPECT_EQ(body_error(R"({"symbce":4)"), fresh);
}

TEST(Tick, BodyLevelErrors) {
  EXPECT_EQ(body_error(std::string(300000, ' ')), "body_too_large | body: 300000 bytes exceeds 262144");
  EXPECT_EQ(body_error("{\"symbol\":\"\xff\",\"price\":1}"), "invalid_utf8 | body: invalid UTF-8");
  EXPECT_EQ(body_error("{\"symbol\":\"A\",\"price\":1,}").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A"} x)").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"([{"symbol":"A"}] [1])").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A","x":[1,,2]})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A","x":tru})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A","x":nul})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A","x":"\q"})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A","price":"\q"})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"\q"})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"timestamp":"\q"})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(R"({"symbol":"A","x":1.5.5})").substr(0, 28), "invalid_json | body: invalid");
  EXPECT_EQ(body_error(""), "invalid_json | body: invalid JSON (Empty: no JSON found)");
  EXPECT_EQ(body_error("42"), "invalid_body | body: must be a tick object or an array of ticks");
  EXPECT_EQ(body_error("\"x\""), "invalid_body | body: must be a tick object or an array of ticks");
  EXPECT_EQ(body_error("[]"), "invalid_body | body: empty array (no ticks)");
  EXPECT_EQ(body_error(R"({"price":1,"price":2})"),
            "invalid_body | body: duplicate key \"price\" in tick[0]");
  EXPECT_EQ(body_error(R"([{"a":1},{"x":{"k":1,"k":2}}])"),
            "invalid_body | body: duplicate key \"k\" in tick[1]");
  EXPECT_EQ(body_error(R"({"x":{"a":{"b":{"c":1}}}})"), "ok");
  EXPECT_EQ(body_error(R"({"x":{"a":{"b":{"c":{}}}}})"), "too_deep | body: nesting deeper than 4 levels");
  EXPECT_EQ(body_error(R"([{"x":{"a":{"b":[]}}}])"), "too_deep | body: nesting deeper than 4 levels");
  EXPECT_EQ(body_error(R"([[[[[]]]]])"), "too_deep | body: nesting deeper than 4 levels");
  EXPECT_EQ(body_error(std::string(100000, '[') + std::string(100000, ']')),
            "too_deep | body: nesting deeper than 4 levels");
}

TEST(Tick, ExactlyAtSizeLimitIsParsed) {
  std::string body = R"({"symbol":"A","price":1,"timestamp":"2026-11-25T14:30:00Z"})";
  body.append(kMaxBodyBytes - body.size(), ' ');
  auto r = parse_ticks(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ticks.size(), 1u);
}

TEST(Tick, SymbolCharset) {
  EXPECT_TRUE(is_valid_symbol("BRK.B"));
  EXPECT_TRUE(is_valid_symbol("ES:F"));
  EXPECT_FALSE(is_valid_symbol("A B"));
  EXPECT_FALSE(is_valid_symbol("A|B"));
  EXPECT_FALSE(is_valid_symbol("A#B"));
}

std::string duplicate_key_reason(const std::string& key) {
  return body_error("[{\"" + key + "\":1,\"" + key + "\":2}]");
}

TEST(Tick, ASixteenCharacterSymbolIsValidAndASeventeenCharacterOneIsNot) {
  EXPECT_TRUE(is_valid_symbol("ABCDEFGHIJKLMNOP"));
  EXPECT_FALSE(is_valid_symbol("ABCDEFGHIJKLMNOPQ"));
  EXPECT_FALSE(is_valid_symbol(""));
  EXPECT_EQ(reasons(R"({"symbol":"ABCDEFGHIJKLMNOPQ","price":1,"timestamp":"2026-11-25T14:30:00Z"})"),
            V{"0 tick[0].symbol: must be a string of 1..16 chars A-Z 0-9 . - / :"});
}

TEST(Tick, SymbolCharsetEndsAreInsideAndTheirNeighboursOutside) {
  for (const char* ok : {"A", "Z", "0", "9", ".", "-", "/", ":", "AZ09.-/:"})
    EXPECT_TRUE(is_valid_symbol(ok)) << ok;
  for (const char* bad : {"@", "[", "a", "z", ",", ";", "_"}) EXPECT_FALSE(is_valid_symbol(bad)) << bad;
}

TEST(Tick, DelAndTheLastControlCharacterAreEscapedInAQuotedKeyButTildeAndSpaceAreNot) {
  EXPECT_EQ(duplicate_key_reason("a\x7f"), "invalid_body | body: duplicate key \"a\\u007f\" in tick[0]");
  EXPECT_EQ(duplicate_key_reason("\\u001f"), "invalid_body | body: duplicate key \"\\u001f\" in tick[0]");
  EXPECT_EQ(duplicate_key_reason("~ "), "invalid_body | body: duplicate key \"~ \" in tick[0]");
}

TEST(Tick, AQuotedKeyOfSixtyFourBytesIsWholeAndOneByteMoreIsCut) {
  const std::string key64(64, 'k');
  EXPECT_EQ(duplicate_key_reason(key64), "invalid_body | body: duplicate key \"" + key64 + "\" in tick[0]");
  EXPECT_EQ(duplicate_key_reason(key64 + "z"),
            "invalid_body | body: duplicate key \"" + key64 + "...\" in tick[0]");
}

// The cut never splits a character: one that starts before byte 64 is kept whole, whatever its length.
TEST(Tick, AMultiByteCharacterAcrossTheCutOfAQuotedKeyIsKeptWhole) {
  struct Case {
    const char* ch;
    std::size_t bytes;
  };
  for (const Case c : {Case{"\u00e9", 2}, Case{"\u07ff", 2}, Case{"\u0800", 3}, Case{"\u20ac", 3},
                       Case{"\uffee", 3}, Case{"\U00010000", 4}, Case{"\U0001d11e", 4}}) {
    std::string key(63, 'k');  // the character starts at byte 63
    key += c.ch;
    key += "tail";
    EXPECT_EQ(duplicate_key_reason(key),
              "invalid_body | body: duplicate key \"" + key.substr(0, 63 + c.bytes) + "...\" in tick[0]")
        << c.bytes << " bytes";
  }
}

TEST(Tick, OnlyUFFFEAndUFFFFAreEscapedAmongThreeByteCharacters) {
  EXPECT_EQ(duplicate_key_reason("\xef\xbf\xbd"),
            "invalid_body | body: duplicate key \"\xef\xbf\xbd\" in tick[0]");
  EXPECT_EQ(duplicate_key_reason("\xef\xbf\xbe"),
            "invalid_body | body: duplicate key \"\\ufffe\" in tick[0]");
  EXPECT_EQ(duplicate_key_reason("\xef\xbf\xbf"),
            "invalid_body | body: duplicate key \"\\uffff\" in tick[0]");
}

}  // namespace
}  // namespace tap
