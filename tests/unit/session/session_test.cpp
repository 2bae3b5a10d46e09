// The Session facade end to end over a scripted HTTP client, a fake clock and a real file store:
// exact bytes sent, polling times, what is stored.
#include <gtest/gtest.h>

#include <limits>
#include <stdlib.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "fakes.hpp"
#include "open_session.hpp"
#include "session/engine.hpp"
#include "free_quarantine.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/session.hpp"

namespace devicelogin {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/devicelogin-session-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    testing::use_state_directory(dir_);
    profile_.name = "work";
    profile_.issuer = "https://id.example.com";
    profile_.client_id = "cli app";
    profile_.scope = "openid offline_access";
    profile_.endpoints = {"https://id.example.com/device", "https://id.example.com/token", "https://id.example.com/revoke", "", ""};
    profile_.client_auth = ClientAuth::kNone;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // profile_ saved and opened, as an adopter opens it; tokens in the file store under tokens_dir().
  Session make_session(FakeHttpClient& http) {
    auto opened = testing::open_saved_session(profile_, dir_, http, clock_);
    if (!opened) ADD_FAILURE() << opened.error().message;
    return std::move(*opened);
  }
  std::string tokens_dir() const { return testing::tokens_directory(dir_); }
  long long rel(SystemTime t) const { return to_unix(t) - start_; }

  void script_device_code(FakeHttpClient& http, int interval = 5, int expires_in = 600) {
    http.reply(200, R"({"device_code":"DEVCODE-1","user_code":"ABCD-EFGH","verification_uri":"https://id.example.com/activate",
      "expires_in":)" + std::to_string(expires_in) + R"(,"interval":)" + std::to_string(interval) + "}");
  }

  std::string dir_;
  Profile profile_;
  FakeClock clock_{1'800'000'000};
  long long start_ = 1'800'000'000;
};

TEST_F(SessionTest, LoginPollsAtTheRightTimesAndStores) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.reply(400, R"({"error":"authorization_pending"})");
  http.reply(400, R"({"error":"slow_down"})");
  http.reply(400, R"({"error":"authorization_pending"})");
  http.reply(200, R"({"access_token":"AT-1","token_type":"Bearer","expires_in":3600,"refresh_token":"RT-1","scope":"openid offline_access"})");
  Session session = make_session(http);
  DeviceCodePrompt shown;
  auto info = session.login({.on_code = [&](const DeviceCodePrompt& p) { shown = p; }, .on_waiting = {}});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(shown.user_code, "ABCD-EFGH");
  ASSERT_EQ(http.requests.size(), 5u);
  EXPECT_EQ(http.requests[0].body, "scope=openid%20offline_access&client_id=cli%20app");
  EXPECT_EQ(http.requests[1].body,
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=DEVCODE-1&client_id=cli%20app");
  EXPECT_EQ(http.requests[1].header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(http.requests[1].header("accept"), "application/json");
  // Polls at 5 (interval), 10 (pending), 20 (slow_down: 5 + 5), 30.
  EXPECT_EQ(rel(http.requests[1].at), 5);
  EXPECT_EQ(rel(http.requests[2].at), 10);
  EXPECT_EQ(rel(http.requests[3].at), 20);
  EXPECT_EQ(rel(http.requests[4].at), 30);
  auto stored = make_file_token_store(tokens_dir())->load("work");
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->access_token.reveal(), "AT-1");
  EXPECT_EQ((*stored)->refresh_token.reveal(), "RT-1");
  EXPECT_EQ((*stored)->expires_at, start_ + 30 + 3600);
}

// The browser flow's deadline is the clock plus the timeout: one outside a day is refused before
// anything is sent (it could overflow the deadline), as the CLI and the C ABI refuse it.
TEST_F(SessionTest, ABrowserTimeoutOutsideADayIsRefusedBeforeAnyRequest) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  for (const long long timeout : {0LL, -1LL, 86401LL, std::numeric_limits<long long>::max()}) {
    LoginSettings settings;
    settings.browser_timeout_s = timeout;
    auto info = session.login(settings, LoginObserver{});
    ASSERT_FALSE(info.has_value()) << timeout;
    EXPECT_EQ(info.error().code, ErrorCode::kUsage) << timeout;
    EXPECT_NE(info.error().message.find("from 1 to 86400 seconds"), std::string::npos) << info.error().message;
  }
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(SessionTest, DeniedStoresNothing) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.reply(400, R"({"error":"access_denied"})");
  Session session = make_session(http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kAccessDenied);
  EXPECT_EQ(exit_code_for(info.error().code), 3);
  EXPECT_FALSE(std::filesystem::exists(tokens_dir() + "/work.json"));
}

TEST_F(SessionTest, DeadlineEndsPendingForever) {
  FakeHttpClient http(&clock_);
  script_device_code(http, 5, 12);
  http.reply(400, R"({"error":"authorization_pending"})");
  http.reply(400, R"({"error":"authorization_pending"})");
  http.reply(400, R"({"error":"authorization_pending"})");
  Session session = make_session(http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kExpiredToken);
  // code + polls at 5 and 10, and one last at 11 (1 s before the deadline); none at 15 > 12
  ASSERT_EQ(http.requests.size(), 4u);
  EXPECT_EQ(rel(http.requests[3].at), 11);
  EXPECT_EQ(http.remaining(), 0u);
}

TEST_F(SessionTest, NetworkFailuresBackOffThenSucceed) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.fail_transport();
  http.reply(503, "down", {{"retry-after", "30"}});
  http.reply(200, R"({"access_token":"AT","expires_in":60})");
  Session session = make_session(http);
  ASSERT_TRUE(session.login({}).has_value());
  EXPECT_EQ(rel(http.requests[1].at), 5);
  EXPECT_EQ(rel(http.requests[2].at), 10);  // backoff 5 after the first failure
  EXPECT_EQ(rel(http.requests[3].at), 40);  // Retry-After 30 beats the 10 s backoff
}

TEST_F(SessionTest, OtherErrorStopsWithServerText) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.reply(401, R"({"error":"invalid_client","error_description":"client \u001b[31mdisabled"})");
  Session session = make_session(http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kProtocol);
  EXPECT_EQ(info.error().oauth_error, "invalid_client");
  EXPECT_NE(info.error().message.find("client [31mdisabled"), std::string::npos);
}

TEST_F(SessionTest, InsecureVerificationUriRefused) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"device_code":"D","user_code":"U","verification_uri":"http://phish.example.com/","expires_in":60})");
  Session session = make_session(http);
  bool shown = false;
  auto info = session.login({.on_code = [&](const DeviceCodePrompt&) { shown = true; }, .on_waiting = {}});
  ASSERT_FALSE(info.has_value());
  EXPECT_FALSE(shown);
  EXPECT_EQ(http.requests.size(), 1u);
}

TEST_F(SessionTest, LoopbackVerificationUriFromARemoteServerRefused) {
  for (const char* uri : {"http://127.0.0.1:8080/approve", "https://localhost/x", "http://[::1]/"}) {
    for (const char* field : {"verification_uri", "verification_uri_complete"}) {
      SCOPED_TRACE(std::string(field) + " " + uri);
      std::string other = std::string(field) == "verification_uri" ? "verification_uri_complete" : "verification_uri";
      FakeHttpClient http(&clock_);
      http.reply(200, std::string(R"({"device_code":"D","user_code":"U","expires_in":60,")") + field + R"(":")" + uri +
                          R"(",")" + other + R"(":"https://id.example.com/activate"})");
      Session session = make_session(http);
      bool shown = false;
      auto info = session.login({.on_code = [&](const DeviceCodePrompt&) { shown = true; }, .on_waiting = {}});
      ASSERT_FALSE(info.has_value());
      EXPECT_EQ(info.error().code, ErrorCode::kServer);
      EXPECT_NE(info.error().message.find("loopback"), std::string::npos) << info.error().message;
      EXPECT_FALSE(shown);
      EXPECT_EQ(http.requests.size(), 1u);
    }
  }
}

TEST_F(SessionTest, LoopbackVerificationUriFromALoopbackServerShown) {
  profile_.issuer = "http://127.0.0.1:9000";
  profile_.endpoints = {"http://127.0.0.1:9000/device", "http://127.0.0.1:9000/token", "", "", ""};
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"device_code":"D","user_code":"U","verification_uri":"http://127.0.0.1:9000/approve","expires_in":60})");
  http.reply(400, R"({"error":"access_denied"})");
  Session session = make_session(http);
  bool shown = false;
  auto info = session.login({.on_code = [&](const DeviceCodePrompt&) { shown = true; }, .on_waiting = {}});
  EXPECT_TRUE(shown);
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kAccessDenied);
}

TEST_F(SessionTest, ClientSecretBasicAndPost) {
  ::setenv("DEVICELOGIN_TEST_SECRET", "s3cr&t", 1);
  profile_.client_secret_env = "DEVICELOGIN_TEST_SECRET";
  profile_.client_auth = ClientAuth::kBasic;
  {
    FakeHttpClient http(&clock_);
    script_device_code(http);
    Session session = make_session(http);
    (void)session.login({});
    // RFC 6749 §2.3.1: id and secret are encoded with Appendix B's form-urlencoding, where a space
    // is '+' and '&' is %26: "cli+app" ":" "s3cr%26t", then base64 (RFC 7617), which is
    // "Y2xpK2FwcDpzM2NyJTI2dA==" (echo -n 'cli+app:s3cr%26t' | base64).
    EXPECT_EQ(http.requests[0].header("authorization"), "Basic Y2xpK2FwcDpzM2NyJTI2dA==");
    EXPECT_EQ(http.requests[0].body.find("client_secret"), std::string::npos);
  }
  profile_.client_auth = ClientAuth::kPost;
  {
    FakeHttpClient http(&clock_);
    script_device_code(http);
    Session session = make_session(http);
    (void)session.login({});
    EXPECT_EQ(http.requests[0].body, "scope=openid%20offline_access&client_id=cli%20app&client_secret=s3cr%26t");
    EXPECT_EQ(http.requests[0].header("authorization"), "");
  }
  ::unsetenv("DEVICELOGIN_TEST_SECRET");
}

class LoggedInSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    store_old_set();
  }
  void store_old_set() {
    TokenSet tokens;
    tokens.access_token = Secret("AT-OLD");
    tokens.refresh_token = Secret("RT-OLD");
    tokens.expires_at = start_ + 30;  // expires within the default 60 s
    tokens.subject = "alice";
    tokens.scope = "openid";
    ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", tokens).has_value());
  }
  std::optional<TokenSet> stored() {
    auto loaded = make_file_token_store(tokens_dir())->load("work");
    return loaded ? std::move(*loaded) : std::nullopt;
  }
};

// The credential-host rule (the facade's, for every caller: CLI, C ABI, Python): the token goes only
// to the origins (RFC 6454: scheme, host, port) of the profile's API base URLs and userinfo
// endpoint, and a refused URL gets no request at all.
TEST_F(LoggedInSessionTest, TheTokenGoesOnlyToTheProfilesApiOriginsAndUserinfo) {
  profile_.api_urls = {"https://api.example.com/v1", "http://127.0.0.1:8080"};
  profile_.endpoints.userinfo = "https://id.example.com/userinfo";
  struct Case {
    const char* url;
    bool allowed;
  };
  const Case cases[] = {
      {"https://api.example.com/v1/me", true},
      {"https://api.example.com/other/path?x=1", true},  // the origin, not the path, is the credential host
      {"https://API.Example.COM:443/me", true},          // host case and the default port do not matter
      {"http://127.0.0.1:8080/status", true},
      {"https://id.example.com/userinfo", true},
      {"https://id.example.com/elsewhere", true},  // same origin as the userinfo endpoint
      {"https://api.example.com:8443/me", false},  // another port is another origin
      {"http://api.example.com/me", false},        // another scheme
      {"https://api.example.com.evil.test/me", false},
      {"https://evil.test/?next=https://api.example.com/", false},
      {"https://user:pw@api.example.com/me", false},  // a user name in the URL is refused, and not shown
      {"http://127.0.0.1:8081/status", false},
      {"ftp://api.example.com/me", false},
      {"not a url", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    FakeHttpClient http(&clock_);
    http.reply(200, "{}");  // a refresh (the stored token expires within 60 s) or the API call
    http.reply(200, "{}");
    Session session = make_session(http);
    EXPECT_EQ(session.check_token_destination(c.url).has_value(), c.allowed);
    HttpRequest request;
    request.method = "GET";
    request.url = c.url;
    auto response = session.fetch(request, 0);
    if (c.allowed) {
      ASSERT_TRUE(response.has_value()) << response.error().message;
      ASSERT_EQ(http.requests.size(), 1U);
      EXPECT_EQ(http.requests[0].url, c.url);
    } else {
      ASSERT_FALSE(response.has_value());
      EXPECT_TRUE(http.requests.empty()) << "a refused URL got a request";
      EXPECT_EQ(response.error().code, ErrorCode::kUsage);
      EXPECT_EQ(response.error().remedy, Remedy::kAddSettings);
      EXPECT_EQ(response.error().setting, "api_urls");
      EXPECT_EQ(response.error().profile, "work");
      EXPECT_NE(response.error().message.find("refusing to send the token of profile \"work\" to "), std::string::npos);
      EXPECT_EQ(response.error().message.find("pw@"), std::string::npos) << response.error().message;
      EXPECT_EQ(response.error().message.find("devicelogin "), std::string::npos) << "names the CLI";
    }
  }
}

// Headers that decide where or as whom the token goes are the library's alone (Host
// moved the token to another virtual host of an allowed address; the C ABI sent a caller's
// Authorization next to ours), and a caller's malformed request is the caller's mistake (kUsage),
// found before any token is read or request sent.
TEST_F(LoggedInSessionTest, ACallersRequestMayNotSteerTheTokenAndItsMistakesAreUsageErrors) {
  profile_.api_urls = {"https://api.example.com"};
  struct Case {
    const char* what;
    std::string method;
    HttpHeaders headers;
    std::string body;
    const char* message_part;
  };
  const Case cases[] = {
      {"Host", "GET", {{"Host", "other.example.com"}}, "", "request header Host cannot be set"},
      {"host in any case", "GET", {{"hOsT", "other.example.com"}}, "", "request header hOsT cannot be set"},
      {"a second Authorization", "GET", {{"Authorization", "Basic eDp5"}}, "", "request header Authorization"},
      {"Proxy-Authorization", "GET", {{"Proxy-Authorization", "Basic eDp5"}}, "", "Proxy-Authorization"},
      {"Cookie", "GET", {{"Cookie", "session=1"}}, "", "request header Cookie"},
      {"DPoP", "POST", {{"DPoP", "eyJ..."}}, "{}", "request header DPoP"},
      {"a lower-case method", "get", {}, "", "invalid HTTP method \"get\""},
      {"a method with a space", "GET /x", {}, "", "invalid HTTP method"},
      {"an empty method", "", {}, "", "invalid HTTP method"},
      {"GET with a body", "GET", {}, "data", "a GET request cannot carry a body"},
      {"a header name with a colon", "GET", {{"X-A: b", "c"}}, "", "invalid request header name"},
      {"an empty header name", "GET", {{"", "c"}}, "", "invalid request header name"},
      {"a line break in a value", "GET", {{"X-A", "b\r\nHost: other.example.com"}}, "", "holds a line break or NUL"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    FakeHttpClient http(&clock_);
    http.reply(200, "{}");
    http.reply(200, "{}");
    Session session = make_session(http);
    HttpRequest request;
    request.method = c.method;
    request.url = "https://api.example.com/me";
    request.headers = c.headers;
    request.body = Secret(c.body);
    auto response = session.fetch(request, 0);
    ASSERT_FALSE(response.has_value());
    EXPECT_TRUE(http.requests.empty()) << "a refused request was sent (or the token refreshed)";
    EXPECT_EQ(response.error().code, ErrorCode::kUsage);
    EXPECT_NE(response.error().message.find(c.message_part), std::string::npos) << response.error().message;
    EXPECT_EQ(response.error().message.find('\n'), std::string::npos) << "one line";
  }
  // Other headers pass, and the one Authorization sent is the library's.
  FakeHttpClient http(&clock_);
  http.reply(200, "{}");
  Session session = make_session(http);
  HttpRequest request;
  request.method = "POST";
  request.url = "https://api.example.com/me";
  request.headers = {{"X-Request-Id", "1"}, {"Content-Type", "application/json"}};
  request.body = Secret(std::string_view("{}"));
  ASSERT_TRUE(session.fetch(request, 0).has_value());
  ASSERT_EQ(http.requests.size(), 1U);
  int authorizations = 0;
  for (const auto& [name, value] : http.requests[0].headers) authorizations += name == "Authorization" ? 1 : 0;
  EXPECT_EQ(authorizations, 1);
}

TEST_F(LoggedInSessionTest, ARefusedOriginIsNamedAsAnOrigin) {
  profile_.api_urls = {"https://api.example.com"};
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto refused = session.check_token_destination("https://Other.Example:8443/path?code=secret");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message,
            "refusing to send the token of profile \"work\" to https://other.example:8443: not one of its API base "
            "URLs or its userinfo endpoint");
  // Plain http to a remote host is named by its origin too (the old CLI text), and an IPv6 zone is
  // part of the origin: another zone is another link.
  auto plain = session.check_token_destination("http://API.example.com/x?token=1");
  ASSERT_FALSE(plain.has_value());
  EXPECT_NE(plain.error().message.find(" to http://api.example.com:80: not one of"), std::string::npos)
      << plain.error().message;
  profile_.api_urls = {"https://[fe80::1%25eth0]:8443/v1"};
  Session zoned = make_session(http);
  EXPECT_TRUE(zoned.check_token_destination("https://[fe80::1%25eth0]:8443/other").has_value());
  EXPECT_FALSE(zoned.check_token_destination("https://[fe80::1%25eth1]:8443/v1").has_value());
  EXPECT_FALSE(zoned.check_token_destination("https://[fe80::1]:8443/v1").has_value());
  // Without API base URLs or a userinfo endpoint nothing may carry the token.
  profile_.api_urls.clear();
  Session bare = make_session(http);
  EXPECT_FALSE(bare.check_token_destination("https://api.example.com/").has_value());
}

TEST_F(SessionTest, AFetchOfAProfileThatWasNeverSavedSaysNotLoggedInNotRefused) {
  auto opened = Session::open("never-saved", SessionOptions{.profile_directory = dir_ + "/profiles"});
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  auto response = opened->get("https://api.example.com/me");
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kNotLoggedIn) << response.error().message;
}

TEST_F(LoggedInSessionTest, FreshTokenNeedsNoNetwork) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto token = session.access_token(10);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->reveal(), "AT-OLD");
  EXPECT_TRUE(http.requests.empty());
}

// The token comes with its type and expiry (no second read of the store to learn them), and
// fetch() sends it with its type's scheme, as `token --header` does (it once hard-coded "Bearer ").
TEST_F(LoggedInSessionTest, TheTokenComesWithItsTypeAndExpiryAndFetchUsesItsScheme) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto token = session.access_token(10);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->token_type, "Bearer");
  ASSERT_TRUE(token->expires_at.has_value());
  EXPECT_EQ(*token->expires_at, start_ + 30);
  EXPECT_EQ(token->authorization().reveal(), "Bearer AT-OLD");
  struct Case {
    const char* stored_type;
    const char* sent;
  };
  for (const Case c : {Case{"bearer", "Bearer AT-T"}, Case{"N_A", "N_A AT-T"},
                       Case{"", "Bearer AT-T"}, Case{"bad type\r\nX: y", "Bearer AT-T"}}) {
    SCOPED_TRACE(c.stored_type);
    TokenSet tokens;
    tokens.access_token = Secret(std::string_view("AT-T"));
    tokens.token_type = c.stored_type;
    tokens.expires_at = start_ + 3600;
    ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", tokens).has_value());
    profile_.api_urls = {"https://api.example.com"};
    FakeHttpClient api(&clock_);
    api.reply(200, "{}");
    Session typed = make_session(api);
    auto got = typed.access_token(60);
    ASSERT_TRUE(got.has_value());
    if (std::string_view(c.stored_type).find('\r') == std::string_view::npos) {
      EXPECT_EQ(got->token_type, c.stored_type);
    }
    EXPECT_EQ(got->expires_at, std::optional<long long>(start_ + 3600));
    ASSERT_TRUE(typed.get("https://api.example.com/me").has_value());
    ASSERT_EQ(api.requests.size(), 1U);
    EXPECT_EQ(api.requests[0].header("authorization"), c.sent);
  }
  // A DPoP token goes only with a proof of its key: without a stored key, nothing is sent (never
  // the token as Bearer), and a new sign-in is what helps.
  TokenSet keyless;
  keyless.access_token = Secret(std::string_view("AT-T"));
  keyless.token_type = "DPoP";
  keyless.expires_at = start_ + 3600;
  ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", keyless).has_value());
  FakeHttpClient api(&clock_);
  Session typed = make_session(api);
  auto sent = typed.get("https://api.example.com/me");
  ASSERT_FALSE(sent.has_value());
  EXPECT_EQ(sent.error().code, ErrorCode::kReloginRequired);
  EXPECT_TRUE(api.requests.empty());
}

TEST_F(LoggedInSessionTest, ExpiringTokenRefreshesWithRotation) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600,"refresh_token":"RT-NEW"})");
  Session session = make_session(http);
  auto token = session.access_token(60);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->reveal(), "AT-NEW");
  EXPECT_EQ(http.requests[0].body, "grant_type=refresh_token&refresh_token=RT-OLD&client_id=cli%20app");
  auto saved = stored();
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(saved->refresh_token.reveal(), "RT-NEW");
  EXPECT_EQ(saved->subject, "alice");  // kept from the login
  EXPECT_EQ(saved->scope, "openid");
}

TEST_F(LoggedInSessionTest, RefreshWithoutRotationKeepsTheRefreshToken) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600})");
  Session session = make_session(http);
  ASSERT_TRUE(session.refresh().has_value());
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
}

TEST_F(LoggedInSessionTest, RejectedRefreshNeedsReloginAndDropsTheRefreshToken) {
  FakeHttpClient http(&clock_);
  http.reply(400, R"({"error":"invalid_grant"})");
  Session session = make_session(http);
  auto token = session.access_token(60);
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kReloginRequired);
  EXPECT_EQ(exit_code_for(token.error().code), 5);
  // The remedy, for the program to render in its own words; the library names no command.
  EXPECT_EQ(token.error().remedy, Remedy::kSignIn);
  EXPECT_EQ(token.error().profile, "work");
  EXPECT_EQ(token.error().message.find("devicelogin"), std::string::npos) << token.error().message;
  auto saved = stored();
  ASSERT_TRUE(saved.has_value());
  EXPECT_TRUE(saved->refresh_token.empty());
  // The next call does not send the dead refresh token again.
  FakeHttpClient quiet(&clock_);
  Session again = make_session(quiet);
  EXPECT_EQ(again.access_token(60).error().code, ErrorCode::kReloginRequired);
  EXPECT_TRUE(quiet.requests.empty());
}

TEST_F(LoggedInSessionTest, RefreshServerErrorIsExit6AndKeepsTokens) {
  FakeHttpClient http(&clock_);
  http.reply(503, "");
  Session session = make_session(http);
  auto info = session.refresh();
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(exit_code_for(info.error().code), 6);
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
}

// Glewlwyd answers a revoked refresh token with a 400 or 401 and no OAuth error body.
// That is "sign in again" (exit 5), not a server failure (exit 6); the stored set is kept whole,
// and status() says that a new sign-in is needed until a refresh or a login succeeds.
TEST_F(LoggedInSessionTest, ARefreshRefusedWithoutAnOAuthErrorNeedsReloginKeepsTheSetAndStatusSaysSo) {
  for (int refused_with : {400, 401}) {
    SCOPED_TRACE(refused_with);
    store_old_set();
    FakeHttpClient http(&clock_);
    http.reply(refused_with, "", {{"content-type", "text/html"}});
    Session session = make_session(http);
    auto token = session.access_token(60);
    ASSERT_FALSE(token.has_value());
    EXPECT_EQ(token.error().code, ErrorCode::kReloginRequired) << token.error().message;
    EXPECT_EQ(exit_code_for(token.error().code), 5);
    EXPECT_EQ(token.error().remedy, Remedy::kSignIn);
    EXPECT_NE(token.error().message.find("refused the refresh token (HTTP " + std::to_string(refused_with)),
              std::string::npos)
        << token.error().message;
    auto saved = stored();
    ASSERT_TRUE(saved.has_value());
    EXPECT_EQ(saved->refresh_token.reveal(), "RT-OLD") << "the stored set was changed";
    EXPECT_EQ(saved->access_token.reveal(), "AT-OLD");
    auto status = session.status();
    ASSERT_TRUE(status.has_value());
    EXPECT_FALSE(status->logged_in());
    EXPECT_TRUE(status->relogin_required);
    EXPECT_NE(status->relogin_reason.find("refused the refresh token"), std::string::npos) << status->relogin_reason;
    // A later refresh that the server takes again ends it.
    FakeHttpClient recovered(&clock_);
    recovered.reply(200, R"({"access_token":"AT-NEW","token_type":"Bearer","expires_in":3600})");
    Session again = make_session(recovered);
    auto fresh = again.access_token(60);
    ASSERT_TRUE(fresh.has_value()) << fresh.error().message;
    EXPECT_EQ(fresh->reveal(), "AT-NEW");
    auto after = again.status();
    ASSERT_TRUE(after.has_value());
    EXPECT_TRUE(after->logged_in());
    EXPECT_FALSE(after->relogin_required);
  }
}

// A bare 401 that asks for Basic authentication is about the client's credentials: a new sign-in
// would not help, so it is a configuration error, and nothing is recorded as refused.
TEST_F(LoggedInSessionTest, ARefresh401AskingForBasicIsTheClientsCredentialsNotASignIn) {
  FakeHttpClient http(&clock_);
  http.reply(401, "", {{"www-authenticate", "Basic realm=\"token\""}});
  Session session = make_session(http);
  auto token = session.access_token(60);
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kConfig) << token.error().message;
  EXPECT_NE(token.error().message.find("client's credentials"), std::string::npos) << token.error().message;
  auto status = session.status();
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->relogin_required);
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
}

TEST_F(LoggedInSessionTest, RefreshRejectedWithInvalidGrantMakesStatusAskForASignIn) {
  FakeHttpClient http(&clock_);
  http.reply(400, R"({"error":"invalid_grant"})");
  Session session = make_session(http);
  ASSERT_FALSE(session.access_token(60).has_value());
  auto status = session.status();
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->logged_in());
  EXPECT_TRUE(status->relogin_required);
  EXPECT_NE(status->relogin_reason.find("invalid_grant"), std::string::npos) << status->relogin_reason;
}

// WorkOS, from the shapes of its API reference (/user_management/authenticate,
// /user_management/sessions/logout).
class WorkosSessionTest : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    profile_.provider = "workos";
    profile_.issuer = "https://api.workos.com";
    profile_.client_id = "client_01";
    profile_.endpoints = {"https://api.workos.com/user_management/authorize/device",
                          "https://api.workos.com/user_management/authenticate", "", "", ""};
    profile_.client_auth = ClientAuth::kNone;
  }
  void store(std::string_view access_token) {
    TokenSet tokens;
    tokens.access_token = Secret(access_token);
    tokens.refresh_token = Secret(std::string_view("RT-WORKOS"));
    tokens.expires_at = start_ + 3600;
    ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", tokens).has_value());
  }
  // A WorkOS access token (a JWT) whose claims name session session_01HQAB; and one without sid.
  static constexpr std::string_view kWithSid =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzaWQiOiJzZXNzaW9uXzAxSFFBQiIsInN1YiI6InVzZXJfMDEiLCJleHAiOjE4MDAwMDM2MDB9."
      "c2lnbmF0dXJl";
  static constexpr std::string_view kWithoutSid =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ1c2VyXzAxIiwiZXhwIjoxODAwMDAzNjAwfQ.c2lnbmF0dXJl";
};

TEST_F(WorkosSessionTest, LogoutEndsTheWorkosSessionAndReportsRevokedOnlyWhenItAnswered) {
  struct Case {
    int status;
    bool revoked;
  };
  for (const Case c : {Case{302, true}, Case{200, true}, Case{404, false}, Case{500, false}}) {
    SCOPED_TRACE(c.status);
    store(kWithSid);
    FakeHttpClient http(&clock_);
    http.reply(c.status, "", {{"location", "https://app.example.com/"}});
    Session session = make_session(http);
    auto outcome = session.logout();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    ASSERT_EQ(http.requests.size(), 1U);
    EXPECT_EQ(http.requests[0].method, "GET");
    EXPECT_EQ(http.requests[0].url, "https://api.workos.com/user_management/sessions/logout?session_id=session_01HQAB");
    EXPECT_EQ(http.requests[0].header("authorization"), "") << "the token is not sent to end the session";
    EXPECT_EQ(outcome->revoked, c.revoked) << outcome->revocation_problem;
    if (!c.revoked) {
      EXPECT_NE(outcome->revocation_problem.find(std::to_string(c.status)), std::string::npos);
    }
    EXPECT_TRUE(outcome->deleted);
  }
  // No sid claim: nothing to name, nothing sent, not revoked; deleted all the same.
  store(kWithoutSid);
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto outcome = session.logout();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(http.requests.empty());
  EXPECT_FALSE(outcome->revoked);
  EXPECT_NE(outcome->revocation_problem.find("sid"), std::string::npos) << outcome->revocation_problem;
  EXPECT_TRUE(outcome->deleted);
}

TEST_F(WorkosSessionTest, OrganizationSelectionRequiredIsNamedWithItsRemedyAndItsTokenIsNeverKeptOrShown) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"device_code":"DEVCODE-1","user_code":"ABCD-EFGH","verification_uri":"https://brave-lion-42.authkit.app/device",
    "expires_in":300,"interval":5})");
  http.reply(400, R"({"error":"authorization_pending"})");
  http.reply(403, R"({"code":"organization_selection_required","message":"The user must choose an organization.",
    "pending_authentication_token":"PAT-workos-0123456789abcdef","user":{"id":"user_01"},
    "organizations":[{"id":"org_01","name":"Alpha"},{"id":"org_02","name":"Beta"}]})");
  Session session = make_session(http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  const Error& error = info.error();
  EXPECT_EQ(error.code, ErrorCode::kAccessDenied) << error.message;
  EXPECT_EQ(error.oauth_error, "organization_selection_required");
  EXPECT_EQ(error.http_status, 403);
  EXPECT_NE(error.message.find("more than one WorkOS organization"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("sign in as a user of a single organization"), std::string::npos) << error.message;
  EXPECT_EQ(error.message.find('\n'), std::string::npos);
  EXPECT_EQ(error.message.find("PAT-workos"), std::string::npos) << "the pending token is shown";
  EXPECT_EQ(http.requests.size(), 3U) << "nothing was sent after the refusal";
  auto loaded = make_file_token_store(tokens_dir())->load("work");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_FALSE(loaded->has_value()) << "something was stored";
}

TEST_F(LoggedInSessionTest, LogoutRevokesRefreshThenAccessThenDeletes) {
  FakeHttpClient http(&clock_);
  http.reply(200, "");
  http.reply(200, "");
  Session session = make_session(http);
  auto outcome = session.logout();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->revoked);
  EXPECT_TRUE(outcome->deleted);
  ASSERT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(http.requests[0].url, "https://id.example.com/revoke");
  EXPECT_EQ(http.requests[0].body, "token=RT-OLD&token_type_hint=refresh_token&client_id=cli%20app");
  EXPECT_EQ(http.requests[1].body, "token=AT-OLD&token_type_hint=access_token&client_id=cli%20app");
  EXPECT_FALSE(stored().has_value());
}

TEST_F(LoggedInSessionTest, LogoutDeletesEvenWhenRevocationFails) {
  FakeHttpClient http(&clock_);
  http.fail_transport();
  http.fail_transport();
  Session session = make_session(http);
  auto outcome = session.logout();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->revoked);
  EXPECT_TRUE(outcome->deleted);
  EXPECT_FALSE(outcome->revocation_problem.empty());
  EXPECT_FALSE(stored().has_value());
}

TEST_F(SessionTest, NothingStoredIsNotLoggedIn) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto token = session.access_token(60);
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kNotLoggedIn);
  EXPECT_EQ(exit_code_for(token.error().code), 5);
}

}  // namespace
}  // namespace devicelogin

namespace devicelogin {
namespace {

TEST_F(SessionTest, InvalidIdTokenStoresNothing) {
  profile_.endpoints.jwks = "https://id.example.com/jwks";
  FakeHttpClient http(&clock_);
  script_device_code(http);
  // An unsigned token claiming to be alice: header alg none.
  http.reply(200, R"({"access_token":"AT","expires_in":60,"id_token":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."})");
  http.reply(200, R"({"keys":[]})");
  Session session = make_session(http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kServer);
  EXPECT_NE(info.error().message.find("ID token is invalid"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tokens_dir() + "/work.json"));
}

}  // namespace
}  // namespace devicelogin

namespace devicelogin {
namespace {

TEST_F(LoggedInSessionTest, LogoutDeletesAnUnreadableTokenFile) {
  ASSERT_EQ(::chmod((tokens_dir() + "/work.json").c_str(), 0644), 0);
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto outcome = session.logout();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->deleted);
  EXPECT_FALSE(outcome->revoked);
  EXPECT_TRUE(http.requests.empty());
  EXPECT_FALSE(std::filesystem::exists(tokens_dir() + "/work.json"));
}

}  // namespace
}  // namespace devicelogin

namespace devicelogin {
namespace {

// Tokens remember the token endpoint and client they were issued to, and are never sent to
// another: a re-login that saved its tokens but not its profile must not leak them.
TEST_F(SessionTest, LoginAndRefreshBindTheTokensToTheirServerAndClient) {
  FakeHttpClient http(&clock_);
  script_device_code(http, 1);
  http.reply(200, R"({"access_token":"AT-1","expires_in":30,"refresh_token":"RT-1"})");
  http.reply(200, R"({"access_token":"AT-2","expires_in":3600,"refresh_token":"RT-2"})");
  Session session = make_session(http);
  ASSERT_TRUE(session.login({}).has_value());
  auto stored = make_file_token_store(tokens_dir())->load("work");
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->token_endpoint, "https://id.example.com/token");
  EXPECT_EQ((*stored)->client_id, "cli app");
  auto token = session.access_token(60);
  ASSERT_TRUE(token.has_value()) << token.error().message;
  EXPECT_EQ(token->reveal(), "AT-2");
  stored = make_file_token_store(tokens_dir())->load("work");
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->refresh_token.reveal(), "RT-2");
  EXPECT_EQ((*stored)->token_endpoint, "https://id.example.com/token");
  EXPECT_EQ((*stored)->client_id, "cli app");
}

TEST_F(LoggedInSessionTest, UnboundTokensAreBoundByTheirFirstRefresh) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600})");
  Session session = make_session(http);
  ASSERT_TRUE(session.refresh().has_value());
  EXPECT_EQ(stored()->token_endpoint, "https://id.example.com/token");
  EXPECT_EQ(stored()->client_id, "cli app");
}

class ForeignTokensTest : public LoggedInSessionTest {
 protected:
  void SetUp() override {
    LoggedInSessionTest::SetUp();
    TokenSet tokens = *stored();
    tokens.token_endpoint = "https://old.example.org/token";
    tokens.client_id = "cli app";
    ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", tokens).has_value());
  }
};

TEST_F(ForeignTokensTest, RefreshRefusesToSendThemToAnotherServer) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto token = session.access_token(60);
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kReloginRequired);
  EXPECT_NE(token.error().message.find("https://old.example.org/token"), std::string::npos);
  // The remedy, for the program to render in its own words; the library names no command.
  EXPECT_EQ(token.error().remedy, Remedy::kSignIn);
  EXPECT_EQ(token.error().profile, "work");
  EXPECT_EQ(token.error().message.find("devicelogin"), std::string::npos) << token.error().message;
  EXPECT_EQ(token.error().message.find("RT-OLD"), std::string::npos);
  EXPECT_TRUE(http.requests.empty());
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");  // kept: they may still be revoked at home
}

TEST_F(ForeignTokensTest, RefreshRefusesToSendThemForAnotherClient) {
  // The profile now names the server the tokens came from, but another client.
  profile_.endpoints.token = "https://old.example.org/token";
  profile_.client_id = "another app";
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto refreshed = session.refresh();
  ASSERT_FALSE(refreshed.has_value());
  EXPECT_EQ(refreshed.error().code, ErrorCode::kReloginRequired);
  EXPECT_TRUE(http.requests.empty());
  // The same server and client as the tokens: the refresh goes out.
  profile_.client_id = "cli app";
  FakeHttpClient home(&clock_);
  home.reply(200, R"({"access_token":"AT-NEW","expires_in":3600})");
  Session at_home = make_session(home);
  ASSERT_TRUE(at_home.refresh().has_value());
  ASSERT_EQ(home.requests.size(), 1u);
  EXPECT_EQ(home.requests[0].url, "https://old.example.org/token");
}

TEST_F(ForeignTokensTest, AFreshAccessTokenIsNotHandedOutEither) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto token = session.access_token(0);  // AT-OLD is valid for 30 s more
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kReloginRequired);
  EXPECT_EQ(token.error().message.find("AT-OLD"), std::string::npos);
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(ForeignTokensTest, LogoutDeletesThemWithoutSendingThem) {
  FakeHttpClient http(&clock_);
  Session session = make_session(http);
  auto outcome = session.logout();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->deleted);
  EXPECT_FALSE(outcome->revoked);
  EXPECT_NE(outcome->revocation_problem.find("not sent"), std::string::npos);
  EXPECT_TRUE(http.requests.empty());
  EXPECT_FALSE(stored().has_value());
}

}  // namespace
}  // namespace devicelogin

// No orphaned credentials: a full store is found out before any request that makes tokens; tokens
// issued but not stored are revoked; a re-login revokes the set it replaces.
namespace devicelogin {
namespace {

// The real file store, with check_capacity and save made to fail on demand.
class FaultyStore final : public TokenStore {
 public:
  FaultyStore(std::unique_ptr<TokenStore> inner, bool no_room, bool save_fails)
      : inner_(std::move(inner)), no_room_(no_room), save_fails_(save_fails) {}
  Result<std::optional<TokenSet>> load(const std::string& profile) override { return inner_->load(profile); }
  Result<void> save(const std::string& profile, const TokenSet& tokens) override {
    if (save_fails_) return fail(ErrorCode::kStorage, "cannot save: disk I/O error");
    return inner_->save(profile, tokens);
  }
  Result<bool> remove(const std::string& profile) override { return inner_->remove(profile); }
  Result<void> check_capacity(const std::string&) override {
    if (no_room_) return fail(ErrorCode::kStorage, "the test store has no room for a token set");
    return {};
  }
  std::string name() const override { return "faulty"; }
  std::string location(const std::string& profile) const override { return inner_->location(profile); }
  Result<StoreLock> lock(const std::string& profile, std::chrono::milliseconds timeout) override {
    return inner_->lock(profile, timeout);
  }

 private:
  std::unique_ptr<TokenStore> inner_;
  bool no_room_;
  bool save_fails_;
};

class CapacityTest : public LoggedInSessionTest {
 protected:
  // A store cannot be injected through Session::open: the session's engine (what Session calls
  // through to, one call for one) over the faulty store, the test's client and clock.
  std::unique_ptr<session::Engine> faulty_session(FakeHttpClient& http, bool no_room, bool save_fails) {
    SessionOptions options = testing::session_options(dir_, http, clock_);
    return std::make_unique<session::Engine>(
        profile_, std::make_unique<FaultyStore>(make_file_token_store(tokens_dir()), no_room, save_fails), options.http,
        options.clock, ProfileStore(options.profile_directory), options, true);
  }
};

TEST_F(CapacityTest, LoginWithoutRoomSendsNothing) {
  FakeHttpClient http(&clock_);
  auto session = faulty_session(http, true, false);
  bool shown = false;
  auto info = session->login({.on_code = [&](const DeviceCodePrompt&) { shown = true; }, .on_waiting = {}, .on_replaced = {}});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kStorage);
  EXPECT_TRUE(http.requests.empty()) << "no device code may be requested";
  EXPECT_FALSE(shown);
}

TEST_F(CapacityTest, RefreshWithoutRoomSendsNothingAndKeepsTheSet) {
  FakeHttpClient http(&clock_);
  auto session = faulty_session(http, true, false);
  auto info = session->refresh();
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kStorage);
  EXPECT_TRUE(http.requests.empty()) << "no refresh may be sent";
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
  EXPECT_EQ(stored()->access_token.reveal(), "AT-OLD");
}

TEST_F(CapacityTest, LoginWhoseSaveFailsRevokesTheNewTokensAndKeepsTheOldSet) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600,"refresh_token":"RT-NEW"})");
  http.reply(200, "");
  http.reply(200, "");
  auto session = faulty_session(http, false, true);
  auto info = session->login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kStorage);
  EXPECT_NE(info.error().message.find("the new tokens were revoked at the server, nothing was stored"), std::string::npos)
      << info.error().message;
  ASSERT_EQ(http.requests.size(), 4u);
  EXPECT_EQ(http.requests[2].body, "token=RT-NEW&token_type_hint=refresh_token&client_id=cli%20app");
  EXPECT_EQ(http.requests[3].body, "token=AT-NEW&token_type_hint=access_token&client_id=cli%20app");
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
}

TEST_F(CapacityTest, RotatedRefreshWhoseSaveFailsRevokesTheNewTokensAndSaysRelogin) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600,"refresh_token":"RT-NEW"})");
  http.reply(200, "");
  http.reply(200, "");
  auto session = faulty_session(http, false, true);
  auto info = session->refresh();
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kStorage);
  EXPECT_NE(info.error().message.find("the refreshed tokens were revoked at the server"), std::string::npos);
  EXPECT_NE(info.error().message.find("re-login required"), std::string::npos) << info.error().message;
  ASSERT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.requests[1].body, "token=RT-NEW&token_type_hint=refresh_token&client_id=cli%20app");
  EXPECT_EQ(http.requests[2].body, "token=AT-NEW&token_type_hint=access_token&client_id=cli%20app");
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
  EXPECT_EQ(stored()->access_token.reveal(), "AT-OLD");
}

TEST_F(CapacityTest, UnrotatedRefreshWhoseSaveFailsNeverRevokesTheKeptRefreshToken) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600})");
  http.reply(200, "");
  auto session = faulty_session(http, false, true);
  auto info = session->refresh();
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().message.find("re-login required"), std::string::npos) << info.error().message;
  ASSERT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(http.requests[1].body, "token=AT-NEW&token_type_hint=access_token&client_id=cli%20app");
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-OLD");
}

TEST_F(CapacityTest, ReloginRevokesTheReplacedSetAfterSavingTheNewOne) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600,"refresh_token":"RT-NEW"})");
  http.reply(200, "");
  http.reply(200, "");
  Session session = make_session(http);
  std::optional<LogoutOutcome> replaced;
  std::string stored_when_revoked;
  auto info = session.login({.on_code = {}, .on_waiting = {}, .on_replaced = [&](const LogoutOutcome& outcome) {
                               replaced = outcome;
                               stored_when_revoked = stored()->refresh_token.reveal();
                             }});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  ASSERT_TRUE(replaced.has_value());
  EXPECT_TRUE(replaced->revoked);
  EXPECT_EQ(stored_when_revoked, "RT-NEW") << "the new set is saved before the old one is revoked";
  ASSERT_EQ(http.requests.size(), 4u);
  EXPECT_EQ(http.requests[2].body, "token=RT-OLD&token_type_hint=refresh_token&client_id=cli%20app");
  EXPECT_EQ(http.requests[3].body, "token=AT-OLD&token_type_hint=access_token&client_id=cli%20app");
}

TEST_F(CapacityTest, ReloginSucceedsWhenTheReplacedSetCannotBeRevoked) {
  FakeHttpClient http(&clock_);
  script_device_code(http);
  http.reply(200, R"({"access_token":"AT-NEW","expires_in":3600,"refresh_token":"RT-NEW"})");
  http.fail_transport();
  http.fail_transport();
  Session session = make_session(http);
  std::optional<LogoutOutcome> replaced;
  auto info = session.login(
      {.on_code = {}, .on_waiting = {}, .on_replaced = [&](const LogoutOutcome& outcome) { replaced = outcome; }});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  ASSERT_TRUE(replaced.has_value());
  EXPECT_FALSE(replaced->revoked);
  EXPECT_FALSE(replaced->revocation_problem.empty());
  EXPECT_EQ(stored()->refresh_token.reveal(), "RT-NEW");
}

}  // namespace
}  // namespace devicelogin

namespace devicelogin {
namespace {

// The canary is kept only in shifted form (each byte + 1), so that the needle held by the test
// is not itself a match.
struct ShiftedNeedle {
  std::string shifted;
  [[nodiscard]] bool matches_at(const char* data) const {
    for (std::size_t i = 0; i < shifted.size(); ++i) {
      if (data[i] != static_cast<char>(shifted[i] - 1)) return false;
    }
    return true;
  }
};

// Counts the occurrences of the needle in this process's writable memory, read through
// /proc/self/mem (readable regions only, never freed pointers), into a scratch mapping that is
// skipped and wiped after each chunk.
// `where`, if given, receives the addresses of the matches.
std::size_t occurrences_in_own_memory(const ShiftedNeedle& needle, std::vector<std::uintptr_t>* where = nullptr) {
  constexpr std::size_t kChunk = 1 << 20;
  const std::size_t overlap = needle.shifted.size();
  void* mapped = ::mmap(nullptr, kChunk + overlap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return ~std::size_t{0};
  char* scratch = static_cast<char*>(mapped);
  const auto scratch_begin = reinterpret_cast<std::uintptr_t>(scratch);
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> regions;
  {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
      std::istringstream fields(line);
      std::string range, perms;
      fields >> range >> perms;
      if (perms.size() < 2 || perms[0] != 'r' || perms[1] != 'w') continue;
      if (line.find("[vvar]") != std::string::npos || line.find("[vsyscall]") != std::string::npos) continue;
      auto dash = range.find('-');
      regions.emplace_back(std::stoull(range.substr(0, dash), nullptr, 16), std::stoull(range.substr(dash + 1), nullptr, 16));
    }
  }
  int mem = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  std::size_t found = 0;
  for (auto [begin, end] : regions) {
    // Regions over 1 GiB are sanitizer shadow memory (reserved, not heap): reading them takes minutes.
    if (begin == scratch_begin || mem < 0 || end - begin > (std::uintptr_t{1} << 30)) continue;
    for (std::uintptr_t at = begin; at < end; at += kChunk) {
      const std::size_t want = std::min<std::uintptr_t>(kChunk + overlap, end - at);
      ssize_t got = ::pread(mem, scratch, want, static_cast<off_t>(at));
      if (got <= 0) break;
      for (std::size_t i = 0; i + overlap <= static_cast<std::size_t>(got) && i < kChunk; ++i) {
        if (needle.matches_at(scratch + i)) {
          ++found;
          if (where != nullptr) where->push_back(at + i);
        }
      }
      explicit_bzero(scratch, kChunk + overlap);
    }
  }
  if (mem >= 0) ::close(mem);
  ::munmap(mapped, kChunk + overlap);
  return found;
}

// Says, for each address, which heap block holds it and where that block was allocated and freed
// (under ASan, whose quarantine keeps freed blocks intact, so an unwiped copy stays findable). Only
// addresses and offsets are printed, never the bytes.
void describe_heap_blocks(const std::vector<std::uintptr_t>& addresses) {
  for (std::uintptr_t address : addresses) {
    std::fprintf(stderr, "token copy at %#zx\n", static_cast<std::size_t>(address));
#if defined(__SANITIZE_ADDRESS__)
    __asan_describe_address(reinterpret_cast<void*>(address));
#endif
  }
}

// After a login, once the Session (and the scripted responses) are gone, the access
// token is nowhere in this process's memory: every copy the library made was wiped.
TEST_F(SessionTest, TheTokenIsGoneFromMemoryAfterTheSessionIsDestroyed) {
  ShiftedNeedle needle;
  // Blocks freed from here on stay intact until the scan is done (as under ASan).
  testing::FreeQuarantine quarantine;
  {
    FakeHttpClient http(&clock_);
    script_device_code(http);
    // The canary is built in place inside the reply body (reserved once, so nothing reallocates):
    // no other copy of it exists in the test.
    // The token is the last string of the body: after parsing, a JSON lexer's token buffer still
    // holds it whole (with nlohmann::json, that buffer is a std::string freed unwiped).
    const std::string_view head = R"({"token_type":"Bearer","expires_in":3600,"access_token":")";
    const std::string_view tail = R"("})";
    std::string body;
    // The needle is the token without its first 16 bytes: a copy that starts a heap block keeps
    // its tail when freed, while glibc's free writes its free-list links over the block's first
    // 16 bytes (a whole-token needle would miss every such copy in a build without ASan).
    constexpr int kTokenLength = 56;
    constexpr int kSkipped = 16;
    body.reserve(head.size() + kTokenLength + tail.size());
    body.append(head);
    std::random_device random;
    for (int i = 0; i < kTokenLength; ++i) {
      const char c = "abcdefghijklmnopqrstuvwxyz0123456789"[random() % 36];
      body.push_back(c);
      if (i >= kSkipped) needle.shifted.push_back(static_cast<char>(c + 1));
    }
    body.append(tail);
    http.reply(200, std::move(body));  // Secret(std::string&&) wipes `body`
    ASSERT_GE(occurrences_in_own_memory(needle), 1u) << "premise: the scan finds the scripted token";
    {
      Session session = make_session(http);
      auto info = session.login({.on_code = {}, .on_waiting = {}});
      ASSERT_TRUE(info.has_value()) << info.error().message;
      auto token = session.access_token(0);
      ASSERT_TRUE(token.has_value());
      ASSERT_GE(occurrences_in_own_memory(needle), 1u) << "premise: the scan finds the live token";
    }
  }
  std::vector<std::uintptr_t> where;
  EXPECT_EQ(occurrences_in_own_memory(needle, &where), 0u) << "copies of the access token outlived the Session";
  describe_heap_blocks(where);
}

}  // namespace
}  // namespace devicelogin
