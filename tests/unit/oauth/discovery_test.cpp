#include <gtest/gtest.h>

#include "fakes.hpp"
#include "oauth/discovery.hpp"

namespace devicelogin::oauth {
namespace {

using devicelogin::testing::FakeHttpClient;

TEST(Discovery, MetadataUrls) {
  EXPECT_EQ(metadata_urls("https://id.example.com").first, "https://id.example.com/.well-known/openid-configuration");
  EXPECT_EQ(metadata_urls("https://id.example.com/").second, "https://id.example.com/.well-known/oauth-authorization-server");
  // RFC 8414 §3.1 inserts the well-known segment before the path; OIDC appends it.
  auto [oidc, rfc] = metadata_urls("https://kc.example.com/realms/dev");
  EXPECT_EQ(oidc, "https://kc.example.com/realms/dev/.well-known/openid-configuration");
  EXPECT_EQ(rfc, "https://kc.example.com/.well-known/oauth-authorization-server/realms/dev");
}

TEST(Discovery, ReadsEndpoints) {
  FakeHttpClient http;
  http.reply(200, R"({"issuer":"https://id.example.com","device_authorization_endpoint":"https://id.example.com/device",
    "token_endpoint":"https://id.example.com/token","revocation_endpoint":"https://id.example.com/revoke",
    "userinfo_endpoint":"https://id.example.com/me","jwks_uri":"https://id.example.com/jwks"})");
  auto metadata = discover(http, "https://id.example.com");
  ASSERT_TRUE(metadata.has_value()) << metadata.error().message;
  EXPECT_EQ(metadata->endpoints.device_authorization, "https://id.example.com/device");
  EXPECT_EQ(metadata->endpoints.token, "https://id.example.com/token");
  EXPECT_EQ(metadata->endpoints.revocation, "https://id.example.com/revoke");
  EXPECT_EQ(metadata->endpoints.userinfo, "https://id.example.com/me");
  EXPECT_EQ(metadata->endpoints.jwks, "https://id.example.com/jwks");
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].method, "GET");
  EXPECT_EQ(http.requests[0].header("accept"), "application/json");
}

TEST(Discovery, FallsBackToRfc8414) {
  FakeHttpClient http;
  http.reply(404, "not found");
  http.reply(200, R"({"issuer":"https://as.example.com/tenant","token_endpoint":"https://as.example.com/t"})");
  auto metadata = discover(http, "https://as.example.com/tenant");
  ASSERT_TRUE(metadata.has_value());
  ASSERT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(http.requests[1].url, "https://as.example.com/.well-known/oauth-authorization-server/tenant");
}

TEST(Discovery, RefusesIssuerMismatch) {
  FakeHttpClient http;
  http.reply(200, R"({"issuer":"https://evil.example.com","token_endpoint":"https://evil.example.com/t"})");
  auto metadata = discover(http, "https://id.example.com");
  ASSERT_FALSE(metadata.has_value());
  EXPECT_EQ(metadata.error().code, ErrorCode::kConfig);
  EXPECT_NE(metadata.error().message.find("evil.example.com"), std::string::npos);
}

// RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the authorization server's
// issuer identifier value into which the well-known URI string was inserted"; OpenID Connect
// Discovery §4.3 says the same. Identical: a trailing '/' is a difference, in either direction.
TEST(Discovery, IssuerMustBeIdenticalEvenInItsTrailingSlash) {
  struct Case {
    const char* requested;
    const char* named;
  };
  for (const Case& c : {Case{"https://tenant.auth0.com", "https://tenant.auth0.com/"},
                        Case{"https://id.example.com/realms/x/", "https://id.example.com/realms/x"}}) {
    SCOPED_TRACE(c.requested);
    FakeHttpClient http;
    http.reply(200, std::string(R"({"issuer":")") + c.named + R"(","token_endpoint":"https://t.example/t"})");
    auto metadata = discover(http, c.requested);
    ASSERT_FALSE(metadata.has_value());
    EXPECT_EQ(metadata.error().code, ErrorCode::kConfig);
    EXPECT_NE(metadata.error().message.find("including a trailing '/'"), std::string::npos) << metadata.error().message;
  }
  FakeHttpClient http;  // Auth0 issuers end with '/': asked that way, it matches
  http.reply(200, R"({"issuer":"https://tenant.auth0.com/","token_endpoint":"https://tenant.auth0.com/oauth/token"})");
  auto metadata = discover(http, "https://tenant.auth0.com/");
  ASSERT_TRUE(metadata.has_value()) << metadata.error().message;
  EXPECT_EQ(metadata->issuer, "https://tenant.auth0.com/");
  // RFC 8414 §3.1 / OIDC Discovery §4: the terminating '/' is removed before the well-known part.
  EXPECT_EQ(http.requests[0].url, "https://tenant.auth0.com/.well-known/openid-configuration");
}

TEST(Discovery, Errors) {
  {
    FakeHttpClient http;
    http.reply(404, "");
    http.reply(404, "");
    EXPECT_EQ(discover(http, "https://id.example.com").error().code, ErrorCode::kConfig);
  }
  {
    FakeHttpClient http;
    http.reply(200, "not json");
    EXPECT_EQ(discover(http, "https://id.example.com").error().code, ErrorCode::kServer);
  }
  {
    FakeHttpClient http;
    http.fail_transport();
    EXPECT_EQ(discover(http, "https://id.example.com").error().code, ErrorCode::kNetwork);
  }
  {
    FakeHttpClient http;  // refused before anything is sent
    EXPECT_EQ(discover(http, "http://id.example.com").error().code, ErrorCode::kConfig);
    EXPECT_TRUE(http.requests.empty());
  }
}

}  // namespace
}  // namespace devicelogin::oauth
