#include "core/encoding.hpp"

#include <gtest/gtest.h>

namespace devicelogin {
namespace {

TEST(Encoding, UrlEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(core::url_encode(""), "");
  EXPECT_EQ(core::url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(core::url_encode("a b+c&d=e/f?g#h%"), "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25");
  EXPECT_EQ(core::url_encode("openid offline_access"), "openid%20offline_access");
  EXPECT_EQ(core::url_encode("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(core::url_encode(std::string_view("\0\n", 2)), "%00%0A");
}

// RFC 6749 Appendix B's own example: the six code points U+0020 U+0025 U+0026 U+002B U+00A3 U+20AC
// are the UTF-8 octets 20 25 26 2B C2 A3 E2 82 AC, "represented in the payload as
// +%25%26%2B%C2%A3%E2%82%AC".
TEST(Encoding, FormUrlencodeValueFollowsRfc6749AppendixB) {
  EXPECT_EQ(core::form_urlencode_value(" %&+\xC2\xA3\xE2\x82\xAC"), "+%25%26%2B%C2%A3%E2%82%AC");
  EXPECT_EQ(core::form_urlencode_value("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(core::form_urlencode_value("cli app"), "cli+app");
  EXPECT_EQ(core::url_decode(core::form_urlencode_value("a b+c")), "a b+c");
}

TEST(Encoding, FormEncodeBuildsABody) {
  EXPECT_EQ(core::form_encode({}), "");
  EXPECT_EQ(core::form_encode({{"client_id", "abc"}, {"scope", "openid profile"}}),
            "client_id=abc&scope=openid%20profile");
  EXPECT_EQ(core::form_encode({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"}}),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code");
}

TEST(Encoding, FormRoundTrips) {
  const core::FormFields cases[] = {
      {},
      {{"a", "1"}},
      {{"client_id", "x y"}, {"scope", "openid email"}, {"empty", ""}},
      {{"k&=%+", "v&=%+\xE2\x9C\x93"}, {"second", "two"}},
      {{"dup", "1"}, {"dup", "2"}},
  };
  for (const auto& fields : cases) {
    SCOPED_TRACE(core::form_encode(fields));
    EXPECT_EQ(core::form_decode(core::form_encode(fields)), fields);
  }
}

TEST(Encoding, FormDecodeHandlesPlusMissingValuesAndEmptyPairs) {
  EXPECT_EQ(core::form_decode("a=b+c&&flag&x="), (core::FormFields{{"a", "b c"}, {"flag", ""}, {"x", ""}}));
  EXPECT_EQ(core::form_decode(""), core::FormFields{});
  EXPECT_EQ(core::form_decode("error=authorization_pending&error_description=wait%20a%20bit"),
            (core::FormFields{{"error", "authorization_pending"}, {"error_description", "wait a bit"}}));
  EXPECT_EQ(core::form_decode("a=1=2"), (core::FormFields{{"a", "1=2"}}));
}

TEST(Encoding, UrlDecodeKeepsBadEscapesLiterally) {
  EXPECT_EQ(core::url_decode("%41%62"), "Ab");
  EXPECT_EQ(core::url_decode("%4"), "%4");
  EXPECT_EQ(core::url_decode("%"), "%");
  EXPECT_EQ(core::url_decode("%zz"), "%zz");
  EXPECT_EQ(core::url_decode("%G1x"), "%G1x");
  EXPECT_EQ(core::url_decode("100%"), "100%");
  EXPECT_EQ(core::url_decode("a+b"), "a b");
  EXPECT_EQ(core::url_decode("%2B"), "+");
  EXPECT_EQ(core::url_decode("%00"), std::string(1, '\0'));
}

TEST(Encoding, Base64UrlRoundTripsAllLengths) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
    auto encoded = core::base64url_encode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    auto decoded = core::base64url_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Encoding, Base64KnownVectors) {
  // RFC 4648 §10.
  EXPECT_EQ(core::base64_encode(""), "");
  EXPECT_EQ(core::base64_encode("f"), "Zg==");
  EXPECT_EQ(core::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(core::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(core::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(core::base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(core::base64url_decode("-_8"), std::optional<std::string>("\xfb\xff"));
  EXPECT_EQ(core::base64url_decode("Zm9vYmFy"), std::optional<std::string>("foobar"));
  EXPECT_EQ(core::base64url_decode("Zg"), std::optional<std::string>("f"));
  EXPECT_EQ(core::base64url_decode("Zg=="), std::optional<std::string>("f"));  // padding tolerated
}

TEST(Encoding, Base64UrlRejectsInvalidInput) {
  for (const char* bad : {"Zm9v!", "Zm 9v", "Z", "Zm9vY", "a.b", "\xC3\xA9", "Zm9v\n", "Zm=9", "Zg!", "Zm9!", "Zm9v=Zg"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(core::base64url_decode(bad).has_value());
  }
}

TEST(Encoding, AsciiLowerTouchesOnlyAscii) {
  EXPECT_EQ(core::ascii_lower("Content-Type"), "content-type");
  EXPECT_EQ(core::ascii_lower("\xC3\x89X"), "\xC3\x89x");
}

}  // namespace
}  // namespace devicelogin
