#include <gtest/gtest.h>

#include <set>

#include "core/encoding.hpp"
#include "oauth/authorization_code.hpp"

namespace devicelogin::oauth {
namespace {

TEST(Pkce, S256ChallengeOfTheRfc7636AppendixBVerifier) {
  // RFC 7636 Appendix B.
  EXPECT_EQ(pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Pkce, RandomValuesAre43Base64urlCharactersAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 32; ++i) {
    auto value = random_base64url(32);
    ASSERT_TRUE(value.has_value());
    // RFC 7636 §4.1: 43..128 characters of [A-Za-z0-9-._~].
    ASSERT_EQ(value->size(), 43u);
    for (char c : value->reveal()) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
    }
    seen.insert(std::string(value->reveal()));
  }
  EXPECT_EQ(seen.size(), 32u);
}

Profile browser_profile(std::string authorization) {
  Profile profile;
  profile.client_id = "cli app";
  profile.scope = "openid offline_access";
  profile.endpoints.authorization = std::move(authorization);
  return profile;
}

TEST(AuthorizationUrl, CarriesCodeFlowAndPkceParameters) {
  const AuthorizationRequest request{"http://127.0.0.1:4242/callback", "st", "no", "ch", ""};
  EXPECT_EQ(authorization_url(browser_profile("https://id.example.com/authorize"), request),
            "https://id.example.com/authorize?response_type=code&client_id=cli%20app&redirect_uri="
            "http%3A%2F%2F127.0.0.1%3A4242%2Fcallback&scope=openid%20offline_access&state=st&nonce=no&"
            "code_challenge=ch&code_challenge_method=S256");
}

TEST(AuthorizationUrl, KeepsTheEndpointsQueryAndAddsDpopJkt) {
  const AuthorizationRequest request{"http://[::1]:1/callback", "s", "", "c", "jkt"};
  const std::string url = authorization_url(browser_profile("https://id.example.com/authorize?tenant=x"), request);
  EXPECT_TRUE(url.starts_with("https://id.example.com/authorize?tenant=x&response_type=code&")) << url;
  EXPECT_TRUE(url.ends_with("&code_challenge_method=S256&dpop_jkt=jkt")) << url;
  EXPECT_EQ(url.find("nonce="), std::string::npos);
}

struct CallbackCase {
  const char* name;
  const char* method;
  const char* target;
  CallbackVerdict::Kind kind;
};

class Callback : public ::testing::TestWithParam<CallbackCase> {};

TEST_P(Callback, IsJudged) {
  const Secret state("the-state");
  const CallbackCase& c = GetParam();
  const CallbackVerdict verdict = judge_callback(c.method, c.target, "/callback", state);
  EXPECT_EQ(verdict.kind, c.kind) << c.name << ": " << verdict.reason;
  if (verdict.kind == CallbackVerdict::Kind::kCode) {
    EXPECT_EQ(verdict.code.reveal(), "a code/+");
  }
  if (verdict.kind == CallbackVerdict::Kind::kRejected) {
    EXPECT_FALSE(verdict.reason.empty());
    // The reason never repeats the request's text (it may hold the code).
    EXPECT_EQ(verdict.reason.find("code/"), std::string::npos);
  }
}

using K = CallbackVerdict::Kind;
INSTANTIATE_TEST_SUITE_P(
    Cases, Callback,
    ::testing::Values(
        CallbackCase{"good", "GET", "/callback?code=a+code%2F%2B&state=the-state", K::kCode},
        CallbackCase{"good, extra parameters", "GET", "/callback?state=the-state&iss=x&code=a%20code/%2B&session_state=1", K::kCode},
        CallbackCase{"error", "GET", "/callback?error=access_denied&state=the-state", K::kError},
        CallbackCase{"wrong state", "GET", "/callback?code=a+code%2F%2B&state=other", K::kRejected},
        CallbackCase{"state prefix", "GET", "/callback?code=x&state=the-stat", K::kRejected},
        CallbackCase{"no state", "GET", "/callback?code=x", K::kRejected},
        CallbackCase{"empty state", "GET", "/callback?code=x&state=", K::kRejected},
        CallbackCase{"two states", "GET", "/callback?code=x&state=the-state&state=the-state", K::kRejected},
        CallbackCase{"two codes", "GET", "/callback?code=x&code=y&state=the-state", K::kRejected},
        CallbackCase{"no code", "GET", "/callback?state=the-state", K::kRejected},
        CallbackCase{"empty code", "GET", "/callback?code=&state=the-state", K::kRejected},
        CallbackCase{"code and error", "GET", "/callback?code=x&error=access_denied&state=the-state", K::kRejected},
        CallbackCase{"wrong error state", "GET", "/callback?error=access_denied&state=nope", K::kRejected},
        CallbackCase{"other path", "GET", "/favicon.ico?code=x&state=the-state", K::kRejected},
        CallbackCase{"path prefix", "GET", "/callbackx?code=x&state=the-state", K::kRejected},
        CallbackCase{"sub path", "GET", "/callback/?code=x&state=the-state", K::kRejected},
        CallbackCase{"POST", "POST", "/callback?code=x&state=the-state", K::kRejected},
        CallbackCase{"no query", "GET", "/callback", K::kRejected}),
    [](const ::testing::TestParamInfo<CallbackCase>& param_info) {
      std::string name;
      for (const char* p = param_info.param.name; *p != '\0'; ++p) name.push_back(std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_');
      return name;
    });

TEST(Callback, ErrorTextIsSanitizedAndBounded) {
  const Secret state("s");
  auto verdict = judge_callback("GET", "/callback?state=s&error=access_denied&error_description=no%1b%5B31m+way", "/callback", state);
  ASSERT_EQ(verdict.kind, CallbackVerdict::Kind::kError);
  EXPECT_EQ(verdict.error.error, "access_denied");
  EXPECT_EQ(verdict.error.description.find('\x1b'), std::string::npos);
}

TEST(Callback, AnOverlongParameterIsRejected) {
  const Secret state("s");
  const std::string target = "/callback?state=s&code=" + std::string(5000, 'x');
  EXPECT_EQ(judge_callback("GET", target, "/callback", state).kind, CallbackVerdict::Kind::kRejected);
}

}  // namespace
}  // namespace devicelogin::oauth
