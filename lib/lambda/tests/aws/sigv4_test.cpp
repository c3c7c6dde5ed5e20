#include "tap/aws/sigv4.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace tap::sigv4 {
namespace {

using std::chrono::system_clock;

const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const system_clock::time_point kSuiteTime = system_clock::from_time_t(1440938160);  // 20150830T123600Z

TEST(Sigv4Primitives, DigestsMatchPublishedVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(std::string("\x00\xff\x10", 3)), "00ff10");
}

TEST(Sigv4Primitives, UriEncodingKeepsOnlyUnreserved) {
  EXPECT_EQ(uri_encode("aZ09-_.~", false), "aZ09-_.~");
  EXPECT_EQ(uri_encode("a b/c+d=é", false), "a%20b%2Fc%2Bd%3D%C3%A9");
  EXPECT_EQ(uri_encode("/a b/", true), "/a%20b/");
  EXPECT_EQ(uri_decode("a%20b%2fc%C3%A9+"), "a b/cé+");
  EXPECT_EQ(uri_decode("100%"), "100%");
  EXPECT_EQ(uri_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(uri_decode("%G1%1G"), "%G1%1G");
}

TEST(Sigv4Primitives, PathNormalisation) {
  EXPECT_EQ(normalize_path(""), "/");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("//"), "/");
  EXPECT_EQ(normalize_path("//example//"), "/example/");
  EXPECT_EQ(normalize_path("/a/./b/../c/"), "/a/c/");
  EXPECT_EQ(normalize_path("/example1/example2/../.."), "/");
  EXPECT_EQ(normalize_path("/../x"), "/x");
  EXPECT_EQ(normalize_path("a/b"), "a/b");
  // Non-S3 services: the wire path (already encoded) is encoded again.
  EXPECT_EQ(canonical_uri("/a%20b/./c"), "/a%2520b/c");
}

TEST(Sigv4Primitives, QueryIsSortedByNameThenValueAndCanonicallyEncoded) {
  EXPECT_EQ(canonical_query(""), "");
  EXPECT_EQ(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
  EXPECT_EQ(canonical_query("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
            "%E1%88%B4=Value1&Param=Value2&Param-3=Value3");
  EXPECT_EQ(canonical_query("k=a b&k=%2f&=x&"), "=&=x&k=%2F&k=a%20b");
}

TEST(Sigv4Primitives, DateTrimAndSkippedHeaders) {
  EXPECT_EQ(amz_date(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(trim_all("  a   b\t\tc \n   d  "), "a b c d");
  EXPECT_EQ(trim_all(" \t "), "");
  EXPECT_TRUE(is_unsigned_header("user-agent"));
  EXPECT_TRUE(is_unsigned_header("x-amzn-trace-id"));
  EXPECT_FALSE(is_unsigned_header("x-amz-target"));
}

HttpRequest vanilla() {
  HttpRequest r;
  r.endpoint = "https://example.amazonaws.com";
  r.method = "GET";
  r.headers = {{"Host", "example.amazonaws.com"}};
  return r;
}

TEST(Sigv4Signer, SignsTheSuitesVanillaRequest) {
  HttpRequest r = vanilla();
  Signer signer("us-east-1", "service");
  const Signature sig = signer.sign(r, kSuite, kSuiteTime);
  EXPECT_EQ(sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(*r.header("X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(*r.header("Authorization"), sig.authorization);
  EXPECT_EQ(r.header("X-Amz-Security-Token"), nullptr);
  EXPECT_EQ(signer.region(), "us-east-1");
  EXPECT_EQ(signer.service(), "service");
}

TEST(Sigv4Signer, SignsTheSessionToken) {
  HttpRequest r = vanilla();
  Credentials creds = kSuite;
  creds.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  const Signature sig = Signer("us-east-1", "service").sign(r, creds, kSuiteTime);
  EXPECT_NE(sig.authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
                                   "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
            std::string::npos);
  EXPECT_EQ(*r.header("x-amz-security-token"), creds.session_token);
}

TEST(Sigv4Signer, ResigningReplacesAuthorizationAndDateAndAddsHost) {
  HttpRequest r;
  r.endpoint = "http://127.0.0.1:5000";
  r.headers = {{"User-Agent", "x"}, {"X-Amz-Date", "old"}, {"Authorization", "old"}};
  Signer signer("eu-west-1", "dynamodb");
  signer.sign(r, kSuite, kSuiteTime);
  const Signature sig = signer.sign(r, kSuite, kSuiteTime + std::chrono::seconds(1),
                                    SignOptions{.add_content_sha256_header = true});
  EXPECT_EQ(*r.header("Host"), "127.0.0.1:5000");
  EXPECT_EQ(*r.header("X-Amz-Date"), "20150830T123601Z");
  int authorizations = 0;
  for (const auto& h : r.headers) authorizations += h.first == "Authorization" ? 1 : 0;
  EXPECT_EQ(authorizations, 1);
  EXPECT_EQ(*r.header("x-amz-content-sha256"), sha256_hex(""));
  EXPECT_NE(sig.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), std::string::npos);
  EXPECT_NE(sig.canonical_request.find("\nhost:127.0.0.1:5000\n"), std::string::npos);
  EXPECT_EQ(sig.canonical_request.find("user-agent"), std::string::npos);
  EXPECT_EQ(signer.key_derivations(), 1U);  // same day, same secret: the derived key is reused
  signer.sign(r, kSuite, kSuiteTime + std::chrono::hours(24));
  EXPECT_EQ(signer.key_derivations(), 2U);
  Credentials rotated = kSuite;
  rotated.secret_access_key = "other";
  signer.sign(r, rotated, kSuiteTime + std::chrono::hours(24));
  EXPECT_EQ(signer.key_derivations(), 3U);
}

TEST(Sigv4Signer, RepeatedHeadersAreJoinedInOrderAndWithoutAnEndpointNoHostIsInvented) {
  HttpRequest r;
  r.endpoint = "not a url";
  r.headers = {{"My-Header1", "value4"}, {"my-header1", " value1  x "}, {"My-Header1", "value3"}};
  const Signature sig = Signer("us-east-1", "service").sign(r, kSuite, kSuiteTime);
  EXPECT_NE(sig.canonical_request.find("my-header1:value4,value1 x,value3\n"), std::string::npos);
  EXPECT_EQ(r.header("Host"), nullptr);
}

TEST(Sigv4Primitives, HexAndUriEncodingOfEveryByteMatchTheirDefinition) {
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    char lower_hex[3], upper_escape[4];
    std::snprintf(lower_hex, sizeof lower_hex, "%02x", b);
    std::snprintf(upper_escape, sizeof upper_escape, "%%%02X", b);
    EXPECT_EQ(hex(byte), lower_hex) << b;
    const bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
                            b == '-' || b == '_' || b == '.' || b == '~';
    EXPECT_EQ(uri_encode(byte, false), unreserved ? byte : std::string(upper_escape)) << b;
    EXPECT_EQ(uri_encode(byte, true), unreserved || b == '/' ? byte : std::string(upper_escape)) << b;
    EXPECT_EQ(uri_decode(upper_escape), byte) << b;
    EXPECT_EQ(uri_decode(std::string("%") + lower_hex), byte) << b;
  }
}

// A decode reads only its view: an escape cut by the end of the view stays literal, whatever follows.
TEST(Sigv4Primitives, AnEscapeCutByTheEndOfTheViewIsNotCompletedFromBeyondIt) {
  const std::string_view full = "a%41";
  EXPECT_EQ(uri_decode(full), "aA");
  EXPECT_EQ(uri_decode(full.substr(0, 3)), "a%4");
  EXPECT_EQ(uri_decode(full.substr(0, 2)), "a%");
  EXPECT_EQ(uri_decode("%41%"), "A%");
}

TEST(Sigv4Primitives, AllFifteenSkippedHeadersAndNoOthersAreLeftUnsigned) {
  const char* const skipped[] = {"authorization",
                                 "baggage",
                                 "connection",
                                 "expect",
                                 "keep-alive",
                                 "proxy-authenticate",
                                 "proxy-authorization",
                                 "te",
                                 "traceparent",
                                 "tracestate",
                                 "trailer",
                                 "transfer-encoding",
                                 "upgrade",
                                 "user-agent",
                                 "x-amzn-trace-id"};
  for (const char* name : skipped) EXPECT_TRUE(is_unsigned_header(name)) << name;
  for (const char* name :
       {"host", "x-amz-date", "content-type", "x-amz-target", "", "tes", "Te", "user-agents"}) {
    EXPECT_FALSE(is_unsigned_header(name)) << name;
  }
  HttpRequest r;
  r.endpoint = "https://example.amazonaws.com";
  for (const char* name : skipped) r.headers.emplace_back(name, "v");
  r.headers.emplace_back("X-Amz-Target", "t");
  const Signature sig = Signer("us-east-1", "service").sign(r, kSuite, kSuiteTime);
  EXPECT_NE(sig.authorization.find("SignedHeaders=host;x-amz-date;x-amz-target, "), std::string::npos)
      << sig.authorization;
}

TEST(Sigv4Primitives, HeaderNamesAreLowerCasedOnlyFromAToZ) {
  HttpRequest r;
  r.headers = {{"AZ-Hdr[@]", "v"}};
  const Signature sig = Signer("us-east-1", "service").sign(r, kSuite, kSuiteTime);
  EXPECT_NE(sig.canonical_request.find("\naz-hdr[@]:v\n"), std::string::npos) << sig.canonical_request;
}

TEST(Sigv4Primitives, EveryWhitespaceCharacterIsTrimmedAndRunsCollapseToOneSpace) {
  EXPECT_EQ(trim_all("\va\fb\rc\nd\te  f "), "a b c d e f");
  EXPECT_EQ(trim_all("x"), "x");
  EXPECT_EQ(trim_all("x\x01y"), "x\x01y");
}

TEST(Sigv4Primitives, AWordAfterASpaceKeepsItsLettersTogether) {
  // The space before "bc" is written once; the letters after it are not split again.
  EXPECT_EQ(trim_all("a bc"), "a bc");
  EXPECT_EQ(trim_all(" ab  cd ef "), "ab cd ef");
}

TEST(Sigv4Primitives, ASlashInAQueryNameIsEncodedLikeOneInItsValue) {
  // Only the path keeps '/' literal; in the query both the name and the value encode it as %2F.
  EXPECT_EQ(canonical_query("a/b=c/d"), "a%2Fb=c%2Fd");
  EXPECT_EQ(canonical_query("prefix%2fkey=1"), "prefix%2Fkey=1");
}

TEST(Sigv4Primitives, PathSegmentsAreJoinedBySingleSlashes) {
  EXPECT_EQ(normalize_path("/a/b/c"), "/a/b/c");
  EXPECT_EQ(normalize_path("/a/b/c/"), "/a/b/c/");
  EXPECT_EQ(normalize_path("a"), "a");
  EXPECT_EQ(normalize_path("/a/.."), "/");
  EXPECT_EQ(normalize_path("/.."), "/");
  EXPECT_EQ(normalize_path("/a/../"), "/");
}

TEST(Sigv4Primitives, QueryPairsSplitAtTheFirstEqualsSign) {
  EXPECT_EQ(canonical_query("a=b=c"), "a=b%3Dc");
  EXPECT_EQ(canonical_query("z=1&y"), "y=&z=1");
  EXPECT_EQ(canonical_query("&"), "=&=");
  EXPECT_EQ(canonical_query("b=1&a=2"), "a=2&b=1");
}

TEST(Sigv4Primitives, TheDateIsTheSixteenCharacterBasicFormat) {
  EXPECT_EQ(amz_date(system_clock::from_time_t(0)), "19700101T000000Z");
  EXPECT_EQ(amz_date(system_clock::from_time_t(4102444799)), "20991231T235959Z");
}

}  // namespace
}  // namespace tap::sigv4
