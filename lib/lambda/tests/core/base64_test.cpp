#include "tap/core/base64.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <random>

namespace tap {
namespace {

TEST(Base64, EncodesTheRfcVectors) {
  // RFC 4648 section 10.
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64::encode(bytes), text);
    EXPECT_EQ(base64::decode(text), std::string(bytes));
    std::string unpadded(text.substr(0, text.find('=')));
    EXPECT_EQ(base64::encode_url(bytes), unpadded);
    EXPECT_EQ(base64::decode_url(unpadded), std::string(bytes));
  }
}

TEST(Base64, TheAlphabetsDifferInTheirLastTwoCharacters) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(base64::encode(bytes), "+/+/");
  EXPECT_EQ(base64::encode_url(bytes), "-_-_");
  EXPECT_EQ(base64::decode("-_-_"), std::nullopt);
  EXPECT_EQ(base64::decode_url("+/+/"), std::nullopt);
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  std::mt19937 random(11);
  for (std::size_t n = 0; n < 70; ++n) {
    std::string bytes(n, '\0');
    for (auto& b : bytes) b = static_cast<char>(random());
    EXPECT_EQ(base64::decode(base64::encode(bytes)), bytes);
    EXPECT_EQ(base64::decode_url(base64::encode_url(bytes)), bytes);
  }
}

TEST(Base64, RefusesEverythingNoEncodingProduces) {
  for (const std::string_view text :
       {"Zg=", "Zg", "Z===", "====", "Zh==", "Zm9=", "Zm8=Zm8=", "Zm 9v", "Zm9v\n", "=Zm9", "Zg=a"}) {
    EXPECT_EQ(base64::decode(text), std::nullopt) << text;
  }
  // Unpadded: no padding at all, no group of one character, no stray bits after the last byte.
  for (const std::string_view text : std::initializer_list<std::string_view>{
           "Zg==", "Z", "Zm9vY", "Zh", "Zm9", "Zm9v=", "Zm.v", std::string_view("Zm\0v", 4)}) {
    EXPECT_EQ(base64::decode_url(text), std::nullopt) << text;
  }
  EXPECT_EQ(base64::decode_url("Zm8"), "fo");
}

}  // namespace
}  // namespace tap
