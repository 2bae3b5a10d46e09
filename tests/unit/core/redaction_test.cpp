#include "core/redaction.hpp"

#include <gtest/gtest.h>

namespace devicelogin {
namespace {

struct Case {
  const char* input;
  const char* expected;
};

TEST(Redaction, Form) {
  const Case cases[] = {
      {"", ""},
      {"a=1", "a=1"},
      {"device_code=xyz", "device_code=[REDACTED]"},
      {"a=1&device_code=xyz&b=2", "a=1&device_code=[REDACTED]&b=2"},
      {"code=c&access_token=a&refresh_token=r&id_token=i&client_secret=s",
       "code=[REDACTED]&access_token=[REDACTED]&refresh_token=[REDACTED]&id_token=[REDACTED]&client_secret=[REDACTED]"},
      {"grant_type=refresh_token&refresh_token=r", "grant_type=refresh_token&refresh_token=[REDACTED]"},
      {"Device_Code=xyz", "Device_Code=[REDACTED]"},
      {"device%5Fcode=xyz", "device%5Fcode=[REDACTED]"},  // encoded names are decoded first
      {"device_code", "device_code"},                       // no value, nothing to hide
      {"device_code=", "device_code=[REDACTED]"},
      {"user_code=ABCD-EFGH&client_id=c", "user_code=ABCD-EFGH&client_id=c"},
      {"&&code=x&&", "&&code=[REDACTED]&&"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(core::redact_form(c.input), c.expected);
  }
}

TEST(Redaction, Json) {
  const Case cases[] = {
      {"{}", "{}"},
      {R"({"access_token":"abc"})", R"({"access_token":"[REDACTED]"})"},
      {R"({"access_token" : "abc", "token_type":"Bearer"})", R"({"access_token" : "[REDACTED]", "token_type":"Bearer"})"},
      {"{\n  \"refresh_token\":\n\t\"r\"\n}", "{\n  \"refresh_token\":\n\t\"[REDACTED]\"\n}"},
      {R"({"id_token":"a\"b\\","x":"y"})", R"({"id_token":"[REDACTED]","x":"y"})"},
      {R"({"outer":{"inner":[{"device_code":"d"}]}})", R"({"outer":{"inner":[{"device_code":"[REDACTED]"}]}})"},
      {R"({"note":"access_token","v":"keep"})", R"({"note":"access_token","v":"keep"})"},
      // In JSON `code` is an error name (WorkOS), shown; OAuth sends an authorization
      // code in a query or form, where it stays redacted (Url and Form cases).
      {R"({"code":"organization_selection_required","user_code":"U"})",
       R"({"code":"organization_selection_required","user_code":"U"})"},
      {R"({"code":"x","pending_authentication_token":"p","sealed_session":"s"})",
       R"({"code":"x","pending_authentication_token":"[REDACTED]","sealed_session":"[REDACTED]"})"},
      {R"({"oauth_tokens":{"provider":"GoogleOAuth","access_token":"a","scopes":["x"],"n":{"k":"}"}},"user":{"id":"u"}})",
       R"({"oauth_tokens":"[REDACTED]","user":{"id":"u"}})"},
      {R"({"oauth_tokens":{"access_token":"cut)", R"({"oauth_tokens":"[REDACTED]")"},  // truncated
      {R"({"expires_in":3600,"access_token":"a"})", R"({"expires_in":3600,"access_token":"[REDACTED]"})"},
      {R"({"client_secret":"s)", R"({"client_secret":"[REDACTED]")"},  // truncated
      {R"({"access_token":)", R"({"access_token":)"},
      {R"({"access_token)", R"({"access_token)"},
      {R"({"a\"access_token":"keep"})", R"({"a\"access_token":"keep"})"},
      {R"(["access_token","x"])", R"(["access_token","x"])"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(core::redact_json(c.input), c.expected);
  }
}

TEST(Redaction, Url) {
  const Case cases[] = {
      {"https://x/token", "https://x/token"},
      {"https://x/cb?code=abc&state=s", "https://x/cb?code=[REDACTED]&state=s"},
      {"https://x/cb?state=s#access_token=t&token_type=bearer",
       "https://x/cb?state=s#access_token=[REDACTED]&token_type=bearer"},
      {"https://x/cb#id_token=t", "https://x/cb#id_token=[REDACTED]"},
      {"https://x/device?user_code=ABCD", "https://x/device?user_code=ABCD"},
      {"http://proxyuser:Pr0xyS3cret@127.0.0.1:9", "http://[REDACTED]@127.0.0.1:9"},
      {"https://u:p#ss?w@x/cb?code=c", "https://[REDACTED]@x/cb?code=[REDACTED]"},
      {"https://x/a@b", "https://x/a@b"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(core::redact_url(c.input), c.expected);
  }
}

TEST(Redaction, UserinfoAnywhereInText) {
  const Case cases[] = {
      {"Uses proxy env variable https_proxy == 'http://proxyuser:Pr0xyS3cret@127.0.0.1:9'",
       "Uses proxy env variable https_proxy == 'http://[REDACTED]@127.0.0.1:9'"},
      {"a socks5h://u:p@h:1 and http://v:q@g/x?y=@z", "a socks5h://[REDACTED]@h:1 and http://[REDACTED]@g/x?y=@z"},
      {"https://host/path and mailto:x@y", "https://host/path and mailto:x@y"},
      {"ends with http://user:pw@", "ends with http://[REDACTED]@"},
      {"://@", "://[REDACTED]@"},
      {"no url at all", "no url at all"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(core::redact_userinfo(c.input), c.expected);
  }
}

TEST(Redaction, BodyOfUnknownTypeCoversJsonAndForm) {
  EXPECT_EQ(core::redact_body(R"({"access_token":"a"})"), R"({"access_token":"[REDACTED]"})");
  EXPECT_EQ(core::redact_body("refresh_token=r&x=1"), "refresh_token=[REDACTED]&x=1");
  EXPECT_EQ(core::redact_body("plain text"), "plain text");
}

TEST(Redaction, Headers) {
  for (const char* name : {"Authorization", "authorization", "Proxy-Authorization", "Cookie", "Set-Cookie",
                           "SET-COOKIE", "DPoP"}) {
    EXPECT_TRUE(core::is_secret_header(name)) << name;
  }
  for (const char* name : {"Accept", "Content-Type", "Location", "WWW-Authenticate", "X-Authorization-Hint"}) {
    EXPECT_FALSE(core::is_secret_header(name)) << name;
  }
}

TEST(Redaction, Fields) {
  for (const char* name : {"device_code", "code", "access_token", "refresh_token", "id_token", "client_secret",
                           "ACCESS_TOKEN", "password", "token", "pending_authentication_token", "sealed_session"}) {
    EXPECT_TRUE(core::is_secret_field(name)) << name;
  }
  for (const char* name : {"user_code", "client_id", "scope", "token_type", "expires_in", "state", ""}) {
    EXPECT_FALSE(core::is_secret_field(name)) << name;
  }
}

TEST(Redaction, KnownValues) {
  Secret a(std::string_view("s3cr3t-value"));
  Secret short_one(std::string_view("abc"));
  Secret empty;
  EXPECT_EQ(core::redact_known("x s3cr3t-value y s3cr3t-value", {&a}), "x [REDACTED] y [REDACTED]");
  EXPECT_EQ(core::redact_known("abc abc", {&short_one, &empty, nullptr}), "abc abc");  // too short to match safely
  EXPECT_EQ(core::redact_known("nothing here", {&a}), "nothing here");
  // An echo in another encoding (percent-encoded in either hex case, JSON-escaped).
  Secret base64ish(std::string_view("ab+c/d=="));
  EXPECT_EQ(core::redact_known("q=ab%2Bc%2Fd%3D%3D&r=ab%2bc%2fd%3d%3d {\"t\":\"ab+c\\/d==\"} ab+c/d==", {&base64ish}),
            "q=[REDACTED]&r=[REDACTED] {\"t\":\"[REDACTED]\"} [REDACTED]");
  Secret self_similar(std::string_view("[REDACTED]"));
  EXPECT_EQ(core::redact_known("[REDACTED]", {&self_similar}), "[REDACTED]");  // terminates
}

}  // namespace
}  // namespace devicelogin
