// Where the user approves (the verification URI's host), which hosts a provider preset accepts,
// and the answers that say device-code sign-in is turned off, from recorded server answers.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "devicelogin/session.hpp"
#include "fakes.hpp"
#include "open_session.hpp"
#include "oauth/oauth_client.hpp"
#include "oauth/verification.hpp"
#include "oauth/wire.hpp"

namespace devicelogin {
namespace {

using oauth::check_verification_host;
using oauth::punycode_encode;
using oauth::url_host;
using testing::FakeClock;
using testing::FakeHttpClient;

TEST(UrlHost, TheHostABrowserReaches) {
  struct Case {
    const char* url;
    const char* host;  // nullptr: no host that can be named
  };
  const Case cases[] = {
      {"https://microsoft.com/devicelogin", "microsoft.com"},
      {"https://Login.Example.COM:8443/device?user_code=AB", "login.example.com"},
      {"https://github.com./login/device", "github.com"},               // the trailing dot names the same host
      {"https://github.com\\@evil.example/x", "github.com"},            // a browser ends the authority at '\'
      {"https://github.com#@evil.example", "github.com"},
      {"https://github.com?@evil.example", "github.com"},
      {"http://127.0.0.1:40997/device", "127.0.0.1"},
      {"http://[::1]:8080/device", "[::1]"},
      {"https://%6Cogin.example.com/", "login.example.com"},           // percent escapes decoded
      {"https://m\xC3\xBCnchen.example/device", "xn--mnchen-3ya.example"},
      {"https://github.com@evil.example/", nullptr},                  // userinfo: refused, never guessed
      {"https://user:pw@github.com/", nullptr},
      {"https:///device", nullptr},
      {"https://:443/device", nullptr},
      {"github.com/login/device", nullptr},
      {"https://evil.example%2F@github.com/", nullptr},
      {"https://a..b/", nullptr},
      {"https://bad\xC3host/", nullptr},                               // malformed UTF-8
      {"https://sp ace.example/", nullptr},
      {"https://[::1/", nullptr},
      {"https://%zz.example/", nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    auto host = url_host(c.url);
    if (c.host == nullptr) {
      EXPECT_FALSE(host.has_value()) << host->ascii;
    } else {
      ASSERT_TRUE(host.has_value());
      EXPECT_EQ(host->ascii, c.host);
    }
  }
}

// The Cyrillic "аррӏе.com" that reads as apple.com is shown as what it is.
TEST(UrlHost, AnInternationalisedHostIsShownInItsAsciiForm) {
  auto host = url_host("https://\u0430\u0440\u0440\u04CF\u0435.com/device");
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->ascii, "xn--80ak6aa92e.com");
  EXPECT_EQ(host->unicode, "\u0430\u0440\u0440\u04CF\u0435.com");
  EXPECT_TRUE(host->internationalized);
  EXPECT_FALSE(url_host("https://apple.com/")->internationalized);
}

// RFC 3492 §7.1 sample strings.
TEST(Punycode, EncodesTheRfcSamples) {
  EXPECT_EQ(punycode_encode(U"b\u00FCcher"), "bcher-kva");
  EXPECT_EQ(punycode_encode(U"\u4ED6\u4EEC\u4E3A\u4EC0\u4E48\u4E0D\u8BF4\u4E2D\u6587"), "ihqwcrb4cv8a8dqg056pqjye");
  EXPECT_EQ(punycode_encode(U"\u0644\u064A\u0647\u0645\u0627\u0628\u062A\u0643\u0644\u0645\u0648\u0634\u0639\u0631"
                            U"\u0628\u064A\u061F"),
            "egbpdaj6bu4bxfgehfvwxn");
  EXPECT_EQ(punycode_encode(U"3\u5E74B\u7D44\u91D1\u516B\u5148\u751F"), "3B-ww4c5e180e575a65lsy2b");
  EXPECT_EQ(punycode_encode(U"abc"), "abc-");
}

Profile preset_profile(const std::string& provider) {
  FakeHttpClient http;
  LoginSettings settings;
  settings.provider = provider;
  settings.client_id = "client";
  auto profile = prepare_profile(settings, http);
  EXPECT_TRUE(profile.has_value()) << provider;
  return profile.value_or(Profile{});
}

// Each preset accepts the page its provider really sends (recorded answers) and refuses any other
// host: one line that names the host, and nothing to show.
TEST(VerificationHost, EachPresetAcceptsItsProvidersPageAndRefusesAForeignOne) {
  struct Case {
    const char* provider;
    const char* real_page;
  };
  for (const Case& c : {Case{"microsoft", "https://microsoft.com/devicelogin"},
                        Case{"microsoft", "https://login.microsoft.com/device"},
                        Case{"microsoft", "https://www.microsoft.com/devicelogin"},
                        Case{"github", "https://github.com/login/device"},
                        Case{"google", "https://www.google.com/device"},
                        Case{"google", "https://google.com/device"},
                        Case{"workos", "https://brave-lion-42.authkit.app/device"}}) {
    SCOPED_TRACE(std::string(c.provider) + " " + c.real_page);
    const Profile profile = preset_profile(c.provider);
    auto accepted = check_verification_host(profile, c.real_page, "");
    ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
    EXPECT_EQ(accepted->warning, "");
    for (const char* foreign : {"https://microsoft-devicelogin.example/devicelogin", "https://evil.example/login/device",
                                "https://www.google.com.evil.example/device", "https://authkit.app.evil.example/device",
                                "https://\u0433oogle.com/device"}) {
      SCOPED_TRACE(foreign);
      auto refused = check_verification_host(profile, foreign, "");
      ASSERT_FALSE(refused.has_value());
      EXPECT_EQ(refused.error().code, ErrorCode::kServer);
      EXPECT_EQ(exit_code_for(refused.error().code), 6);
      EXPECT_NE(refused.error().message.find("refusing to show its code"), std::string::npos) << refused.error().message;
      EXPECT_EQ(refused.error().message.find('\n'), std::string::npos);
    }
  }
  // The bare suffix is no AuthKit subdomain.
  EXPECT_FALSE(check_verification_host(preset_profile("workos"), "https://authkit.app/device", "").has_value());
  EXPECT_FALSE(check_verification_host(preset_profile("workos"), "https://.authkit.app/device", "").has_value());
  // Another provider's page is foreign too.
  EXPECT_FALSE(check_verification_host(preset_profile("github"), "https://microsoft.com/devicelogin", "").has_value());
}

// A preset pointed at another server (a WorkOS custom domain as its issuer, a local server through
// the endpoint flags) accepts that server's own page.
TEST(VerificationHost, APresetAcceptsThePageOfTheServerItsProfileNames) {
  Profile workos = preset_profile("workos");
  workos.issuer = "https://auth.example.com";
  EXPECT_TRUE(check_verification_host(workos, "https://auth.example.com/device", "").has_value());
  Profile github = preset_profile("github");
  github.endpoints.device_authorization = "http://127.0.0.1:4000/login/device/code";
  auto local = check_verification_host(github, "http://127.0.0.1:4000/device", "http://127.0.0.1:4000/device?user_code=A");
  ASSERT_TRUE(local.has_value()) << local.error().message;
  EXPECT_EQ(local->host, "127.0.0.1");
}

TEST(VerificationHost, APlainIssuerWarnsWhenThePageIsElsewhere) {
  Profile profile;
  profile.issuer = "https://id.example.com";
  profile.endpoints.device_authorization = "https://id.example.com/device";
  auto same = check_verification_host(profile, "https://ID.example.com/activate", "https://id.example.com/activate?c=1");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->host, "id.example.com");
  EXPECT_EQ(same->warning, "");
  auto elsewhere = check_verification_host(profile, "https://login.other.example/activate", "");
  ASSERT_TRUE(elsewhere.has_value());
  EXPECT_EQ(elsewhere->host, "login.other.example");
  EXPECT_EQ(elsewhere->warning,
            "the verification page is on login.other.example, not on id.example.com (the authorization server's host); "
            "approve only if you know that login.other.example belongs to your sign-in provider");
  // The discovery presets (Auth0, Okta, Keycloak) are plain issuers here.
  profile.provider = "okta";
  EXPECT_NE(check_verification_host(profile, "https://login.other.example/activate", "")->warning, "");
  // An internationalised host is shown in its xn-- form, with a warning, even on the issuer's host.
  profile.provider.clear();
  profile.issuer = "https://\u0430\u0440\u0440\u04CF\u0435.com";
  auto idn = check_verification_host(profile, "https://\u0430\u0440\u0440\u04CF\u0435.com/device", "");
  ASSERT_TRUE(idn.has_value());
  EXPECT_EQ(idn->host, "xn--80ak6aa92e.com");
  EXPECT_NE(idn->warning.find("internationalised name"), std::string::npos) << idn->warning;
}

TEST(VerificationHost, ACompleteUriOnAnotherHostOrNoHostIsRefused) {
  Profile profile;
  profile.issuer = "https://id.example.com";
  auto split = check_verification_host(profile, "https://id.example.com/activate", "https://evil.example/activate?c=1");
  ASSERT_FALSE(split.has_value());
  EXPECT_EQ(split.error().code, ErrorCode::kServer);
  EXPECT_FALSE(check_verification_host(profile, "https://id.example.com@evil.example/", "").has_value());
}

class VerificationSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/devicelogin-verification-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Session make_session(Profile profile, FakeHttpClient& http) {
    profile.name = "work";
    profile.store = "file";
    devicelogin::testing::use_state_directory(dir_);
    auto session = devicelogin::testing::open_saved_session(profile, dir_, http, clock_);
    EXPECT_TRUE(session.has_value()) << session.error().message;
    return std::move(*session);
  }
  std::string dir_;
  FakeClock clock_{1'800'000'000};
};

// Through the facade: a Microsoft login whose server names a page elsewhere shows no code and
// polls nothing; the real page is shown with its host.
TEST_F(VerificationSessionTest, AForeignPageShowsNoCodeAndTheRealOneItsHost) {
  {
    FakeHttpClient http(&clock_);
    http.reply(200, R"({"user_code":"FBQ5X2MPQ","device_code":"FAQABAAEAAAD","verification_uri":"https://micros0ft-login.example/devicelogin",
      "expires_in":"900","interval":"5","message":"To sign in, use a web browser to open the page https://micros0ft-login.example/devicelogin and enter the code FBQ5X2MPQ to authenticate."})");
    Session session = make_session(preset_profile("microsoft"), http);
    bool shown = false;
    auto info = session.login({.on_code = [&](const DeviceCodePrompt&) { shown = true; }, .on_waiting = {}});
    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().code, ErrorCode::kServer);
    EXPECT_NE(info.error().message.find("micros0ft-login.example"), std::string::npos) << info.error().message;
    EXPECT_FALSE(shown);
    EXPECT_EQ(http.requests.size(), 1u);
  }
  {
    FakeHttpClient http(&clock_);
    // Entra's recorded answer, with a zero-width space and a bidi override planted in its URI.
    http.reply(200, R"({"user_code":"FBQ5X2MPQ","device_code":"FAQABAAEAAAD","verification_uri":"https://micro\u200bsoft.com/device\u202elogin",
      "expires_in":"900","interval":"5","message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FBQ5X2MPQ to authenticate."})");
    http.reply(400, R"({"error":"authorization_declined","error_description":"AADSTS70000: declined"})");
    Session session = make_session(preset_profile("microsoft"), http);
    DeviceCodePrompt prompt;
    auto info = session.login({.on_code = [&](const DeviceCodePrompt& p) { prompt = p; }, .on_waiting = {}});
    EXPECT_EQ(prompt.verification_uri, "https://microsoft.com/devicelogin");
    EXPECT_EQ(prompt.verification_host, "microsoft.com");
    EXPECT_EQ(prompt.host_warning, "");
    EXPECT_EQ(prompt.user_code, "FBQ5X2MPQ");
    ASSERT_FALSE(info.has_value());
    EXPECT_EQ(info.error().code, ErrorCode::kAccessDenied);
  }
}

// Recorded answers of servers whose administrator turned device-code sign-in off.
// Entra, when a Conditional Access policy blocks the device code flow: the user signs in, and the
// poll is answered with AADSTS53003.
constexpr const char* kEntra53003 =
    R"({"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies. )"
    R"(The access policy does not allow token issuance. Trace ID: 0b2e7c4a-6f0d-4c39-9a57-1d2a4d6f8b00 Correlation ID: )"
    R"(5d8f3a21-9c4e-4b7a-8e12-6a0c3f9d2b11 Timestamp: 2026-12-07 16:04:12Z","error_codes":[53003],)"
    R"("timestamp":"2026-12-07 16:04:12Z","trace_id":"0b2e7c4a-6f0d-4c39-9a57-1d2a4d6f8b00",)"
    R"("correlation_id":"5d8f3a21-9c4e-4b7a-8e12-6a0c3f9d2b11","error_uri":"https://login.microsoftonline.com/error?code=53003",)"
    R"("suberror":"message_only","claims":"{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"4d1b9c7e-2f3a-4e6b-9d8c-7a5e1f0b3c2d\"]}}}"})";
// GitHub, for an app whose "Enable Device Flow" is off: the device code request, with HTTP 200.
constexpr const char* kGithubDisabledJson =
    R"({"error":"device_flow_disabled","error_description":"Device flow must be explicitly enabled for this App",)"
    R"("error_uri":"https://docs.github.com/developers/apps/authorizing-oauth-apps#device-flow"})";
constexpr const char* kGithubDisabledForm =
    "error=device_flow_disabled&error_description=Device+flow+must+be+explicitly+enabled+for+this+App&error_uri="
    "https%3A%2F%2Fdocs.github.com%2Fdevelopers%2Fapps%2Fauthorizing-oauth-apps%23device-flow";
// Okta, for an app without the Device Authorization grant: RFC 6749's unauthorized_client.
constexpr const char* kOktaUnauthorized =
    R"({"error":"unauthorized_client","error_description":"The client is not authorized to use the provided grant type. )"
    R"(Configured grant types: [authorization_code, refresh_token]."})";

HttpResponse answer(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = Secret(std::move(body));
  response.headers = {{"content-type", "application/json"}};
  return response;
}

TEST(BlockedDeviceFlow, TheDeviceAuthorizationEndpointsRefusalsAreNamed) {
  struct Case {
    const char* name;
    int status;
    const char* body;
    const char* error;
    const char* message;
  };
  for (const Case& c : {Case{"github json", 200, kGithubDisabledJson, "device_flow_disabled",
                             "your administrator has turned off device-code sign-in for this app (the server answered "
                             "device_flow_disabled)"},
                        Case{"github form", 200, kGithubDisabledForm, "device_flow_disabled",
                             "your administrator has turned off device-code sign-in for this app (the server answered "
                             "device_flow_disabled)"},
                        Case{"okta", 400, kOktaUnauthorized, "unauthorized_client",
                             "your administrator has not allowed device-code sign-in for this app (the server answered "
                             "unauthorized_client)"},
                        Case{"entra", 400, kEntra53003, "invalid_grant",
                             "your administrator has turned off device-code sign-in for this app (a Conditional Access "
                             "policy, AADSTS53003)"}}) {
    SCOPED_TRACE(c.name);
    auto parsed = oauth::parse_device_authorization(answer(c.status, c.body));
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code, ErrorCode::kProtocol);
    EXPECT_EQ(parsed.error().remedy, Remedy::kUseBrowserFlow);
    EXPECT_EQ(parsed.error().oauth_error, c.error);
    EXPECT_EQ(parsed.error().message, c.message);
  }
}

// Entra's unauthorized_client is about the application itself (AADSTS700016: not found in the
// directory), and other refusals stay what they are.
TEST(BlockedDeviceFlow, OtherRefusalsAreNotCalledABlock) {
  for (const char* body :
       {R"({"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier 'x' was not found in the directory 'contoso'.","error_codes":[700016]})",
        R"({"error":"invalid_client","error_description":"unknown client"})",
        R"({"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials","error_codes":[50126]})"}) {
    SCOPED_TRACE(body);
    auto parsed = oauth::parse_device_authorization(answer(400, body));
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().remedy, Remedy::kNone);
    EXPECT_NE(parsed.error().message.find("device authorization refused"), std::string::npos);
  }
}

// The Conditional Access block arrives as the answer to a poll: the login ends with it, named.
TEST_F(VerificationSessionTest, AnEntraPolicyBlockAtThePollEndsTheLoginNamed) {
  FakeHttpClient http(&clock_);
  http.reply(200, R"({"user_code":"FBQ5X2MPQ","device_code":"FAQABAAEAAAD","verification_uri":"https://microsoft.com/devicelogin",
      "expires_in":"900","interval":"5","message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FBQ5X2MPQ to authenticate."})");
  http.reply(400, R"({"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.","error_codes":[70016]})");
  http.reply(400, kEntra53003);
  Session session = make_session(preset_profile("microsoft"), http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kProtocol);
  EXPECT_EQ(info.error().remedy, Remedy::kUseBrowserFlow);
  EXPECT_EQ(info.error().message,
            "your administrator has turned off device-code sign-in for this app (a Conditional Access policy, AADSTS53003)");
  EXPECT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(http.remaining(), 0u);
}

TEST_F(VerificationSessionTest, AnUnauthorizedClientAtThePollEndsTheLoginNamed) {
  FakeHttpClient http(&clock_);
  Profile profile;
  profile.issuer = "https://dev.okta.example";
  profile.client_id = "client";
  profile.client_auth = ClientAuth::kNone;
  profile.endpoints = {"https://dev.okta.example/oauth2/v1/device/authorize", "https://dev.okta.example/oauth2/v1/token", "", "", ""};
  http.reply(200, R"({"device_code":"D","user_code":"ABCD-EFGH","verification_uri":"https://dev.okta.example/activate","expires_in":600,"interval":5})");
  http.reply(400, kOktaUnauthorized);
  Session session = make_session(profile, http);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().remedy, Remedy::kUseBrowserFlow);
  EXPECT_EQ(info.error().oauth_error, "unauthorized_client");
}

}  // namespace
}  // namespace devicelogin
