#include <gtest/gtest.h>

#include <string>

#include "devicelogin/http_client.hpp"

namespace devicelogin {
namespace {

TEST(UrlPolicy, AllowsHttpsAnywhereAndHttpOnlyToLoopback) {
  for (const char* url : {
           "https://x",
           "https://auth.example.com/oauth/device?x=1",
           "HTTPS://EXAMPLE.COM/",
           "http://127.0.0.1:8080/a",
           "http://127.5.6.7",
           "http://127.255.255.255/",
           "http://[::1]:9/",
           "http://[0:0:0:0:0:0:0:1]/",
           "http://localhost/",
           "http://LOCALHOST:8080/x",
           "HTTP://localhost/",
           "http://0x7f.1/",       // libcurl normalises this to 127.0.0.1, the address it connects to
           "http://2130706433/",   // likewise
           "http://127.1/",
       }) {
    SCOPED_TRACE(url);
    EXPECT_TRUE(check_url_policy(url, "token endpoint").has_value());
  }
}

TEST(UrlPolicy, RefusesEverythingElse) {
  for (const char* url : {
           "http://example.com",
           "http://example.com:80/",
           "http://127.0.0.1.evil.com",
           "http://localhost.evil.com",
           "http://evil.localhost/",        // *.localhost need not resolve to loopback
           "http://localhost./",            // trailing dot: an FQDN looked up in DNS
           "http://127.0.0.1./",
           "http://128.0.0.1/",
           "http://10.0.0.1/",
           "http://0.0.0.0/",
           "http://[::ffff:127.0.0.1]/",    // IPv4-mapped loopback: refused by design
           "http://[::2]/",
           "http://ⓛocalhost/",
           "ftp://x",
           "file:///etc/passwd",
           "ws://localhost/",
           "https://user:pw@x",
           "https://user@x",
           "https://@x",
           "http://user:pw@127.0.0.1/",
           "",
           "not a url",
           "javascript:alert(1)",
           "//example.com/",
           "example.com",
           "https://[::1",
           "https://x:99999/",
           "http://a b/",
       }) {
    SCOPED_TRACE(url);
    auto result = check_url_policy(url, "token endpoint");
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, ErrorCode::kConfig);
    EXPECT_NE(result.error().message.find("token endpoint"), std::string::npos) << result.error().message;
  }
}

TEST(UrlPolicy, MessageExplainsTheRuleAndHidesSecrets) {
  auto plain = check_url_policy("http://example.com/device?code=SECRETCODE#frag", "verification URI");
  ASSERT_FALSE(plain.has_value());
  const std::string& message = plain.error().message;
  EXPECT_NE(message.find("verification URI must use https (plain http is allowed only for loopback hosts)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("http://example.com/device"), std::string::npos) << message;
  EXPECT_EQ(message.find("SECRETCODE"), std::string::npos) << message;

  auto userinfo = check_url_policy("https://alice:PASSWORD123@example.com/", "issuer");
  ASSERT_FALSE(userinfo.has_value());
  EXPECT_NE(userinfo.error().message.find("user name or password"), std::string::npos);
  EXPECT_EQ(userinfo.error().message.find("PASSWORD123"), std::string::npos) << userinfo.error().message;
  EXPECT_EQ(userinfo.error().message.find("alice"), std::string::npos) << userinfo.error().message;

  auto garbage = check_url_policy("https://[bad\x1b[2J?access_token=TOKEN1234", "issuer");
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().message.find('\x1b'), std::string::npos);
  EXPECT_EQ(garbage.error().message.find("TOKEN1234"), std::string::npos) << garbage.error().message;

  auto empty = check_url_policy("", "token endpoint");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().message, "token endpoint is not set");
}

}  // namespace
}  // namespace devicelogin
