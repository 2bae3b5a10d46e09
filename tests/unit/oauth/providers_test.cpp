// Presets give the right endpoints and keep their quirks when endpoint flags override URLs.
#include <gtest/gtest.h>

#include "devicelogin/session.hpp"
#include "fakes.hpp"
#include "oauth/providers.hpp"

namespace devicelogin {
namespace {

using testing::FakeHttpClient;

TEST(Providers, PresetsFillEndpoints) {
  FakeHttpClient http;
  struct Expect {
    const char* provider;
    const char* device;
    const char* token;
  };
  for (const Expect& e : {Expect{"github", "https://github.com/login/device/code", "https://github.com/login/oauth/access_token"},
                          Expect{"google", "https://oauth2.googleapis.com/device/code", "https://oauth2.googleapis.com/token"},
                          Expect{"microsoft", "https://login.microsoftonline.com/organizations/oauth2/v2.0/devicecode",
                                 "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"},
                          Expect{"workos", "https://api.workos.com/user_management/authorize/device",
                                 "https://api.workos.com/user_management/authenticate"}}) {
    LoginSettings settings;
    settings.provider = e.provider;
    settings.client_id = "client";
    auto profile = prepare_profile(settings, http);
    ASSERT_TRUE(profile.has_value()) << e.provider << ": " << profile.error().message;
    EXPECT_EQ(profile->endpoints.device_authorization, e.device) << e.provider;
    EXPECT_EQ(profile->endpoints.token, e.token) << e.provider;
  }
  EXPECT_TRUE(http.requests.empty());  // presets with fixed endpoints need no discovery
}

TEST(Providers, MicrosoftTenant) {
  FakeHttpClient http;
  // Microsoft's answer for a tenant named by domain: its issuer carries the tenant id.
  http.reply(200, R"({"issuer":"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
    "token_endpoint":"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"})");
  LoginSettings settings;
  settings.provider = "microsoft";
  settings.tenant = "contoso.onmicrosoft.com";
  settings.client_id = "c";
  auto profile = prepare_profile(settings, http);
  ASSERT_TRUE(profile.has_value()) << profile.error().message;
  EXPECT_EQ(profile->endpoints.token, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  // The ID token's iss will be checked against the tenant id's issuer, not the domain's.
  EXPECT_EQ(profile->issuer, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration");
  settings.provider = "github";
  EXPECT_EQ(prepare_profile(settings, http).error().code, ErrorCode::kUsage);
}

TEST(Providers, MicrosoftTenantIdsAndAliasesNeedNoLookup) {
  FakeHttpClient http;
  LoginSettings settings;
  settings.provider = "microsoft";
  settings.client_id = "c";
  for (const char* tenant : {"", "common", "Organizations", "consumers", "72F988BF-86F1-41AF-91AB-2D7CD011DB47"}) {
    settings.tenant = tenant;
    auto profile = prepare_profile(settings, http);
    ASSERT_TRUE(profile.has_value()) << tenant << ": " << profile.error().message;
  }
  EXPECT_TRUE(http.requests.empty());
  // Endpoint flags (a local server standing in for Microsoft): no lookup either.
  settings.tenant = "contoso.com";
  settings.endpoints.device_authorization = "http://127.0.0.1:9/device";
  settings.endpoints.token = "http://127.0.0.1:9/token";
  ASSERT_TRUE(prepare_profile(settings, http).has_value());
  EXPECT_TRUE(http.requests.empty());
}

TEST(Providers, MicrosoftTenantIdsAreLowerCasedAndOddTenantsRefused) {
  FakeHttpClient http;
  LoginSettings settings;
  settings.provider = "microsoft";
  settings.client_id = "c";
  settings.tenant = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
  auto profile = prepare_profile(settings, http);
  ASSERT_TRUE(profile.has_value()) << profile.error().message;
  // Entra's iss names the tenant id in lower case.
  EXPECT_EQ(profile->issuer, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0");
  for (const char* odd : {"contoso.com/../x", "a b", "contoso.com?x=1", "x#y"}) {
    settings.tenant = odd;
    auto refused = prepare_profile(settings, http);
    ASSERT_FALSE(refused.has_value()) << odd;
    EXPECT_EQ(refused.error().code, ErrorCode::kUsage) << odd;
  }
  EXPECT_TRUE(http.requests.empty());
}

TEST(Providers, MicrosoftTenantLookupFailuresAreClear) {
  LoginSettings settings;
  settings.provider = "microsoft";
  settings.tenant = "contoso.com";
  settings.client_id = "c";
  {
    FakeHttpClient http;  // an unknown tenant: Microsoft answers 400
    http.reply(400, R"({"error":"invalid_tenant"})");
    auto profile = prepare_profile(settings, http);
    ASSERT_FALSE(profile.has_value());
    EXPECT_EQ(profile.error().code, ErrorCode::kConfig);
    EXPECT_NE(profile.error().message.find("does not know the tenant \"contoso.com\""), std::string::npos);
  }
  for (const char* issuer : {"https://login.microsoftonline.com/contoso.com/v2.0",
                             "https://evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
                             "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/x"}) {
    FakeHttpClient http;
    http.reply(200, std::string(R"({"issuer":")") + issuer + "\"}");
    auto profile = prepare_profile(settings, http);
    ASSERT_FALSE(profile.has_value()) << issuer;
    EXPECT_EQ(profile.error().code, ErrorCode::kConfig) << issuer;
  }
  {
    FakeHttpClient http;
    http.fail_transport();
    auto profile = prepare_profile(settings, http);
    ASSERT_FALSE(profile.has_value());
    EXPECT_EQ(profile.error().code, ErrorCode::kNetwork);
    EXPECT_NE(profile.error().message.find("Microsoft tenant contoso.com"), std::string::npos);
  }
}

TEST(Providers, OverridesKeepQuirks) {
  FakeHttpClient http;
  LoginSettings settings;
  settings.provider = "google";
  settings.client_id = "c";
  settings.endpoints.device_authorization = "http://127.0.0.1:9/device";
  settings.endpoints.token = "http://127.0.0.1:9/token";
  auto profile = prepare_profile(settings, http);
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->endpoints.token, "http://127.0.0.1:9/token");
  EXPECT_EQ(profile->provider, "google");
  EXPECT_TRUE(oauth::quirks_for(profile->provider).requires_client_secret);
}

TEST(Providers, DiscoveryPresetsNeedIssuer) {
  FakeHttpClient http;
  LoginSettings settings;
  settings.provider = "auth0";
  settings.client_id = "c";
  EXPECT_EQ(prepare_profile(settings, http).error().code, ErrorCode::kUsage);
  settings.issuer = "https://tenant.auth0.com/";
  settings.audience = "https://api.example.com";
  http.reply(200, R"({"issuer":"https://tenant.auth0.com/","device_authorization_endpoint":"https://tenant.auth0.com/oauth/device/code",
    "token_endpoint":"https://tenant.auth0.com/oauth/token","revocation_endpoint":"https://tenant.auth0.com/oauth/revoke"})");
  auto profile = prepare_profile(settings, http);
  ASSERT_TRUE(profile.has_value()) << profile.error().message;
  EXPECT_EQ(profile->audience, "https://api.example.com");
  EXPECT_EQ(profile->endpoints.revocation, "https://tenant.auth0.com/oauth/revoke");
}

// Discovery compares issuers exactly (RFC 8414 §3.3); the presets know their provider's one form,
// so a user may type an Auth0 issuer without its '/' or an Okta/Keycloak one with a '/'. The
// form is fixed before discovery (the URL asked for and the issuer kept), not by a lenient match.
TEST(Providers, DiscoveryPresetsBringTheIssuerToTheProvidersForm) {
  struct Case {
    const char* provider;
    const char* typed;
    const char* issuer;  // what the provider's metadata says, and what the profile keeps
    const char* discovery_url;
  };
  for (const Case& c : {
           Case{"auth0", "https://tenant.auth0.com", "https://tenant.auth0.com/",
                "https://tenant.auth0.com/.well-known/openid-configuration"},
           Case{"auth0", "https://tenant.auth0.com/", "https://tenant.auth0.com/",
                "https://tenant.auth0.com/.well-known/openid-configuration"},
           Case{"okta", "https://org.okta.com/oauth2/default/", "https://org.okta.com/oauth2/default",
                "https://org.okta.com/oauth2/default/.well-known/openid-configuration"},
           Case{"keycloak", "https://kc.example.com/realms/dev/", "https://kc.example.com/realms/dev",
                "https://kc.example.com/realms/dev/.well-known/openid-configuration"},
       }) {
    SCOPED_TRACE(std::string(c.provider) + " " + c.typed);
    FakeHttpClient http;
    LoginSettings settings;
    settings.provider = c.provider;
    settings.client_id = "c";
    settings.issuer = c.typed;
    http.reply(200, std::string(R"({"issuer":")") + c.issuer + R"(","device_authorization_endpoint":"https://as.example.com/d",
      "token_endpoint":"https://as.example.com/t"})");
    auto profile = prepare_profile(settings, http);
    ASSERT_TRUE(profile.has_value()) << profile.error().message;
    EXPECT_EQ(profile->issuer, c.issuer);
    ASSERT_EQ(http.requests.size(), 1u);
    EXPECT_EQ(http.requests[0].url, c.discovery_url);
  }
  // A generic server gets no such help: its issuer is used exactly as typed.
  FakeHttpClient http;
  LoginSettings settings;
  settings.client_id = "c";
  settings.issuer = "https://id.example.com";
  http.reply(200, R"({"issuer":"https://id.example.com/","device_authorization_endpoint":"https://id.example.com/d",
    "token_endpoint":"https://id.example.com/t"})");
  auto profile = prepare_profile(settings, http);
  ASSERT_FALSE(profile.has_value());
  EXPECT_EQ(profile.error().code, ErrorCode::kConfig);
}

TEST(Providers, BadInput) {
  FakeHttpClient http;
  LoginSettings settings;
  settings.client_id = "c";
  settings.provider = "nope";
  EXPECT_EQ(prepare_profile(settings, http).error().code, ErrorCode::kUsage);
  settings.provider = "github";
  settings.profile = "../etc";
  EXPECT_EQ(prepare_profile(settings, http).error().code, ErrorCode::kUsage);
  settings.profile = "default";
  settings.endpoints.token = "http://evil.example.com/token";
  EXPECT_EQ(prepare_profile(settings, http).error().code, ErrorCode::kConfig);
  settings = LoginSettings{};
  settings.client_id = "c";
  EXPECT_EQ(prepare_profile(settings, http).error().code, ErrorCode::kUsage);  // neither issuer nor provider
}

}  // namespace
}  // namespace devicelogin
