#include "tap/api/cursor.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tap/aws/sigv4.hpp"
#include "tap/core/base64.hpp"

namespace tap::api {
namespace {

using Reason = CursorRefusal::Reason;

constexpr std::int64_t kNow = 1'760'000'000;

CursorKeys keys_with(std::string id, char fill) {
  return CursorKeys{{std::move(id), std::string(32, fill)}, {}};
}

const CursorKeys kKeys = keys_with("k1", 'a');

CursorScope alice_alerts() {
  return {"alice", "GET /alerts", {{"symbol", "AAPL"}, {"from", "2026-01-02T03:04:05.000000Z"}}};
}

PagePosition by_owner_position() {
  return {{"owner", "alice"},
          {"stored_id", "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
          {"symbol", "AAPL"},
          {"timestamp", "2026-01-02T03:04:05.000000Z#r1"}};
}

std::string cursor(const PagePosition& position = by_owner_position(),
                   const CursorScope& scope = alice_alerts(), const CursorKeys& keys = kKeys,
                   std::int64_t now = kNow) {
  auto text = encode_cursor(position, scope, keys, now);
  EXPECT_TRUE(text.ok()) << (text.ok() ? "" : text.error().message);
  return text.ok() ? text.value() : std::string();
}

Reason refusal(std::string_view text, const CursorScope& scope = alice_alerts(),
               const CursorKeys& keys = kKeys, std::int64_t now = kNow) {
  const auto decoded = decode_cursor(text, scope, keys, now);
  EXPECT_FALSE(decoded.ok()) << "accepted: " << text;
  return decoded.ok() ? Reason::malformed : decoded.error().reason;
}

// A body re-signed with the key's secret, as only the key's holder can: for the structural checks that sit
// behind the MAC (a forger without the key never reaches them).
std::string signed_cursor(std::string body, const std::string& secret) {
  body += sigv4::hmac_sha256(secret, std::string("tap-cursor\0", 11) + body);
  return base64::encode_url(body);
}

std::string bytes_of(std::string_view text) { return base64::decode_url(text).value(); }

TEST(Cursor, RoundTripsThePositionInOrder) {
  const auto decoded = decode_cursor(cursor(), alice_alerts(), kKeys, kNow);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value(), by_owner_position());
  // Empty positions, empty values, binary values and the largest fields survive too.
  for (const PagePosition& position :
       {PagePosition{}, PagePosition{{"k", ""}}, PagePosition{{"b", std::string("\0\xff\x01", 3)}},
        PagePosition{{std::string(kMaxPositionNameBytes, 'n'), std::string(kMaxPositionValueBytes, 'v')}}}) {
    const auto again = decode_cursor(cursor(position), alice_alerts(), kKeys, kNow);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value(), position);
  }
}

TEST(Cursor, IsUrlSafeText) {
  const auto text = cursor();
  EXPECT_LE(text.size(), kMaxCursorLength);
  EXPECT_EQ(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(Cursor, FilterOrderDoesNotMatter) {
  CursorScope swapped = alice_alerts();
  std::swap(swapped.filters[0], swapped.filters[1]);
  EXPECT_TRUE(decode_cursor(cursor(), swapped, kKeys, kNow).ok());
}

TEST(Cursor, IsBoundToOwnerRouteAndFilters) {
  const auto text = cursor();
  std::vector<CursorScope> others;
  auto scope = alice_alerts();
  scope.owner = "bob";
  others.push_back(scope);
  scope = alice_alerts();
  scope.route = "GET /rules/{rule_id}/alerts";
  others.push_back(scope);
  scope = alice_alerts();
  scope.filters[0].second = "MSFT";  // another value
  others.push_back(scope);
  scope = alice_alerts();
  scope.filters.pop_back();  // a filter dropped
  others.push_back(scope);
  scope = alice_alerts();
  scope.filters.emplace_back("rule_id", "r1");  // a filter added
  others.push_back(scope);
  scope = alice_alerts();
  scope.filters[0].first = "rule_id";  // the same value under another name
  others.push_back(scope);
  for (const auto& other : others)
    EXPECT_EQ(refusal(text, other), Reason::foreign) << other.owner << other.route;
}

TEST(Cursor, ScopesThatConcatenateAlikeStayApart) {
  // Length prefixes: ("ab", "c") and ("a", "bc") are different lists, and so are a filter's name and value.
  const auto text = cursor({}, CursorScope{"ab", "c", {}});
  EXPECT_EQ(refusal(text, CursorScope{"a", "bc", {}}), Reason::foreign);
  const auto filtered = cursor({}, CursorScope{"o", "r", {{"ab", "c"}}});
  EXPECT_EQ(refusal(filtered, CursorScope{"o", "r", {{"a", "bc"}}}), Reason::foreign);
}

TEST(Cursor, RefusesEveryAlteredByte) {
  const auto bytes = bytes_of(cursor());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80}) {
      std::string altered = bytes;
      altered[i] = static_cast<char>(altered[i] ^ flip);
      const auto decoded = decode_cursor(base64::encode_url(altered), alice_alerts(), kKeys, kNow);
      ASSERT_FALSE(decoded.ok()) << "byte " << i;
    }
  }
  // A change in the position or in the MAC is tampering.
  std::string in_position = bytes;
  in_position[bytes.size() - 40] = 'X';
  EXPECT_EQ(refusal(base64::encode_url(in_position)), Reason::tampered);
  std::string in_mac = bytes;
  in_mac.back() = static_cast<char>(in_mac.back() ^ 1);
  EXPECT_EQ(refusal(base64::encode_url(in_mac)), Reason::tampered);
}

TEST(Cursor, RefusesEveryTruncationAndExtension) {
  const auto text = cursor();
  for (std::size_t n = 0; n < text.size(); ++n) EXPECT_EQ(refusal(text.substr(0, n)), Reason::malformed) << n;
  const auto bytes = bytes_of(text);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(refusal(base64::encode_url(bytes.substr(0, n))), Reason::malformed) << n;
  }
  EXPECT_EQ(refusal(base64::encode_url(bytes + "x")), Reason::malformed);
  EXPECT_EQ(refusal(text + "A"), Reason::malformed);
}

TEST(Cursor, RotatedKeysStillVerifyAndUnknownOnesAreRefused) {
  const auto old_cursor = cursor();
  CursorKeys rotated = keys_with("k2", 'b');
  rotated.verify_only.push_back(kKeys.current);
  // Made before the rotation, read after it: still valid; new cursors carry the new key.
  EXPECT_TRUE(decode_cursor(old_cursor, alice_alerts(), rotated, kNow).ok());
  const auto new_cursor = cursor(by_owner_position(), alice_alerts(), rotated);
  EXPECT_TRUE(decode_cursor(new_cursor, alice_alerts(), rotated, kNow).ok());
  EXPECT_EQ(refusal(new_cursor, alice_alerts(), kKeys), Reason::unknown_key);
  // Once the old key is dropped its cursors are unknown, not tampered.
  EXPECT_EQ(refusal(old_cursor, alice_alerts(), keys_with("k2", 'b')), Reason::unknown_key);
  // The same key id with another secret (another deployment's key) does not verify.
  EXPECT_EQ(refusal(old_cursor, alice_alerts(), keys_with("k1", 'c')), Reason::tampered);
}

TEST(Cursor, ExpiresAfterItsLifetime) {
  const auto text = cursor();
  EXPECT_TRUE(decode_cursor(text, alice_alerts(), kKeys, kNow + kCursorLifetimeSeconds).ok());
  EXPECT_EQ(refusal(text, alice_alerts(), kKeys, kNow + kCursorLifetimeSeconds + 1), Reason::expired);
  // A cursor from an instance whose clock runs ahead is young, not expired.
  EXPECT_TRUE(decode_cursor(text, alice_alerts(), kKeys, kNow - 3600).ok());
  EXPECT_TRUE(decode_cursor(text, alice_alerts(), kKeys, -1).ok());
}

TEST(Cursor, ChecksTheMacBeforeTheScopeAndTheAge) {
  // A forged cursor claims nothing: it is tampered whoever reads it and however old it says it is.
  std::string forged = bytes_of(cursor());
  forged[forged.size() - 1] = static_cast<char>(forged[forged.size() - 1] ^ 1);
  const auto text = base64::encode_url(forged);
  EXPECT_EQ(refusal(text, CursorScope{"bob", "GET /alerts", {}}), Reason::tampered);
  EXPECT_EQ(refusal(text, alice_alerts(), kKeys, kNow + 10 * kCursorLifetimeSeconds), Reason::tampered);
}

TEST(Cursor, RefusesAHostileCorpus) {
  const std::string too_long(kMaxCursorLength + 1, 'A');
  const std::vector<std::string> corpus = {
      "",
      too_long,
      "=",
      "AAAA====",
      "not a cursor",
      "AQJrMQ==",  // standard padding
      "+/+/",      // the standard alphabet
      std::string("AQ\0J", 4),
      "\xc3\xa9\xc3\xa9",  // UTF-8
      "\xff\xfe",          // invalid UTF-8
      "%41%42",
      "' OR '1'='1",
      "../../etc/passwd",
      "${jndi:ldap://x}",
      cursor() + "\n",
      " " + cursor(),
  };
  for (const auto& text : corpus) EXPECT_EQ(refusal(text), Reason::malformed) << text.size();
  // Random URL-safe text of every length: never accepted.
  std::mt19937 random(5);
  const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int i = 0; i < 2000; ++i) {
    std::string text(static_cast<std::size_t>(random() % 300), 'A');
    for (auto& c : text) c = alphabet[random() % alphabet.size()];
    EXPECT_FALSE(decode_cursor(text, alice_alerts(), kKeys, kNow).ok()) << text;
  }
}

TEST(Cursor, RefusesBadStructureEvenUnderAValidMac) {
  const std::string secret = kKeys.current.secret;
  // format | id length | id | issued_at | scope tag | count | fields
  const auto header = [](std::string_view id, std::uint8_t format = 1) {
    std::string out;
    out.push_back(static_cast<char>(format));
    out.push_back(static_cast<char>(id.size()));
    out += id;
    out += std::string(8, '\0');
    out += std::string(16, '\0');
    return out;
  };
  const auto field = [](std::string_view name, std::string_view value) {
    std::string out;
    out.push_back(static_cast<char>(name.size()));
    out += name;
    out.push_back(static_cast<char>(value.size() >> 8));
    out.push_back(static_cast<char>(value.size() & 0xff));
    out += value;
    return out;
  };
  const std::string one_field = std::string(1, '\x01') + field("owner", "alice");
  EXPECT_EQ(refusal(signed_cursor(header("k1", 2) + one_field, secret)), Reason::malformed);  // format 2
  EXPECT_EQ(refusal(signed_cursor(header("k1") + "\x09", secret)), Reason::malformed);        // 9 fields
  EXPECT_EQ(refusal(signed_cursor(header("k1") + "\x02" + field("owner", "a") + field("owner", "b"), secret)),
            Reason::malformed);  // a name twice
  EXPECT_EQ(refusal(signed_cursor(header("k1") + "\x01" + field("", "a"), secret)), Reason::malformed);
  EXPECT_EQ(refusal(signed_cursor(header("k1") + "\x01" + field(std::string(65, 'n'), "a"), secret)),
            Reason::malformed);
  EXPECT_EQ(refusal(signed_cursor(header("k1") + "\x01" + field("v", std::string(1025, 'v')), secret)),
            Reason::malformed);
  EXPECT_EQ(refusal(signed_cursor(header("k1") + "\x02" + field("owner", "a"), secret)), Reason::malformed);
  // A key id the keyring could never hold (characters, length) is unknown without a lookup.
  EXPECT_EQ(refusal(signed_cursor(header("k 1") + one_field, secret)), Reason::unknown_key);
  EXPECT_EQ(refusal(signed_cursor(header("") + one_field, secret)), Reason::unknown_key);
  EXPECT_EQ(refusal(signed_cursor(header(std::string(33, 'k')) + one_field, secret)), Reason::unknown_key);
  // Well formed, validly signed, but the scope tag is not this list's: foreign.
  EXPECT_EQ(refusal(signed_cursor(header("k1") + one_field, secret)), Reason::foreign);
}

TEST(Cursor, RefusesToEncodeAPositionItCouldNotRead) {
  const std::vector<PagePosition> bad = {
      PagePosition(kMaxPositionFields + 1, {"n", "v"}),
      {{"", "v"}},
      {{std::string(kMaxPositionNameBytes + 1, 'n'), "v"}},
      {{"n", std::string(kMaxPositionValueBytes + 1, 'v')}},
      {{"n", "a"}, {"n", "b"}},
      // Within each field's bounds but longer than a cursor may be.
      {{"a", std::string(1024, 'v')},
       {"b", std::string(1024, 'v')},
       {"c", std::string(1024, 'v')},
       {"d", std::string(1024, 'v')}},
  };
  for (const auto& position : bad) {
    const auto text = encode_cursor(position, alice_alerts(), kKeys, kNow);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().code, "cursor_position");
  }
}

TEST(Cursor, KeysNeedAnIdAndThirtyTwoBytes) {
  EXPECT_TRUE(valid_cursor_key({"2026-01_a", std::string(32, 's')}));
  EXPECT_FALSE(valid_cursor_key({"k1", std::string(31, 's')}));
  EXPECT_FALSE(valid_cursor_key({"", std::string(32, 's')}));
  EXPECT_FALSE(valid_cursor_key({std::string(33, 'k'), std::string(32, 's')}));
  EXPECT_FALSE(valid_cursor_key({"k/1", std::string(32, 's')}));
}

TEST(Cursor, NamesItsReasons) {
  EXPECT_EQ(reason_name(Reason::malformed), "malformed");
  EXPECT_EQ(reason_name(Reason::unknown_key), "unknown_key");
  EXPECT_EQ(reason_name(Reason::tampered), "tampered");
  EXPECT_EQ(reason_name(Reason::foreign), "foreign");
  EXPECT_EQ(reason_name(Reason::expired), "expired");
  // The detail is for people and never repeats the cursor.
  const auto text = cursor();
  const auto decoded = decode_cursor(text, CursorScope{"bob", "GET /alerts", {}}, kKeys, kNow);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.error().detail.find(text), std::string::npos);
  EXPECT_NE(decoded.error().detail.find("another list"), std::string::npos);
}

}  // namespace
}  // namespace tap::api
