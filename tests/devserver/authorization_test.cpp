// The pure rules of the authorization code grant: loopback redirect matching (RFC 8252 §7.3,
// §8.3), PKCE S256 (RFC 7636), the redirect back to the client, the config's redirect_uris, and
// the one-time, expiring code store with injected time. No HTTP, no sleeping.
#include <gtest/gtest.h>

#include "authorization.hpp"
#include "config.hpp"
#include "state.hpp"

namespace devicelogin::devserver {
namespace {

using std::chrono::seconds;
using Kind = AuthCodeOutcome::Kind;

const std::vector<std::string> kRegistered = {"http://127.0.0.1/callback", "http://[::1]/callback"};

struct RedirectCase {
  const char* uri;
  bool accepted;
};

// A stable, unique name for each case (ctest names the tests after it; the default print is the
// address of the text): letters, digits, '.' and '-' as they are, ':' and '/' as '_', any other
// byte as xHH.
void PrintTo(const RedirectCase& c, std::ostream* os) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  *os << (c.accepted ? "accepted_" : "refused_");
  for (const char* p = c.uri; *p != '\0'; ++p) {
    char ch = *p;
    auto byte = static_cast<unsigned char>(ch);
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-') {
      *os << ch;
    } else if (ch == ':' || ch == '/') {
      *os << '_';
    } else {
      *os << 'x' << kHex[byte >> 4] << kHex[byte & 0xf];
    }
  }
}

class RedirectMatching : public ::testing::TestWithParam<RedirectCase> {};

TEST_P(RedirectMatching, ExactExceptThePort) {
  EXPECT_EQ(redirect_uri_registered(GetParam().uri, kRegistered), GetParam().accepted) << GetParam().uri;
}

INSTANTIATE_TEST_SUITE_P(
    DevServerAuthorization, RedirectMatching,
    ::testing::Values(
        // Any port, or none, with a registered host and path.
        RedirectCase{"http://127.0.0.1:49152/callback", true}, RedirectCase{"http://127.0.0.1:1/callback", true},
        RedirectCase{"http://127.0.0.1:65535/callback", true}, RedirectCase{"http://127.0.0.1/callback", true},
        RedirectCase{"http://[::1]:50000/callback", true},
        // RFC 8252 §8.3: localhost is not a loopback redirect; nor is another host or 127.x address.
        RedirectCase{"http://localhost:50000/callback", false}, RedirectCase{"http://127.0.0.2:50000/callback", false},
        RedirectCase{"http://evil.example:50000/callback", false},
        RedirectCase{"http://127.0.0.1.evil.example/callback", false},
        RedirectCase{"http://127.0.0.1@evil.example/callback", false},
        RedirectCase{"http://user@127.0.0.1:5000/callback", false},
        RedirectCase{"https://127.0.0.1:50000/callback", false}, RedirectCase{"HTTP://127.0.0.1:5000/callback", false},
        RedirectCase{"http://[0:0:0:0:0:0:0:1]:5000/callback", false},
        // The path exactly: no other path, prefix, suffix, query, fragment or case.
        RedirectCase{"http://127.0.0.1:50000/other", false}, RedirectCase{"http://127.0.0.1:50000/callback/", false},
        RedirectCase{"http://127.0.0.1:50000/callbackx", false}, RedirectCase{"http://127.0.0.1:50000/Callback", false},
        RedirectCase{"http://127.0.0.1:50000/callback?x=1", false},
        RedirectCase{"http://127.0.0.1:50000/callback#frag", false},
        RedirectCase{"http://127.0.0.1:50000/callback/../callback", false},
        RedirectCase{"http://127.0.0.1:50000", false}, RedirectCase{"http://127.0.0.1:50000?x", false},
        // Ports: canonical 1-65535 only.
        RedirectCase{"http://127.0.0.1:0/callback", false}, RedirectCase{"http://127.0.0.1:65536/callback", false},
        RedirectCase{"http://127.0.0.1:080/callback", false}, RedirectCase{"http://127.0.0.1:/callback", false},
        RedirectCase{"http://127.0.0.1:99999999999/callback", false},
        // Nothing a browser might read differently.
        RedirectCase{"http://127.0.0.1:5000/call back", false}, RedirectCase{"http://127.0.0.1:5000/call\\back", false},
        RedirectCase{"http://127.0.0.1:5000/callback\n", false}, RedirectCase{"", false}));

TEST(DevServerAuthorization, RedirectParsingKeepsTheOriginAndDropsThePort) {
  auto v4 = parse_loopback_redirect("http://127.0.0.1:43210/cb?app=1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->without_port, "http://127.0.0.1/cb?app=1");
  EXPECT_EQ(v4->origin, "http://127.0.0.1:43210");
  auto v6 = parse_loopback_redirect("http://[::1]/cb");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->origin, "http://[::1]");
  // A registered query is part of the exact match.
  EXPECT_TRUE(redirect_uri_registered("http://127.0.0.1:1234/cb?app=1", {"http://127.0.0.1/cb?app=1"}));
  EXPECT_FALSE(redirect_uri_registered("http://127.0.0.1:1234/cb?app=2", {"http://127.0.0.1/cb?app=1"}));
  // A registered port does not pin the port either; an unregistered client matches nothing.
  EXPECT_TRUE(redirect_uri_registered("http://127.0.0.1:1234/cb", {"http://127.0.0.1:8080/cb"}));
  EXPECT_FALSE(redirect_uri_registered("http://127.0.0.1:1234/cb", {}));
  EXPECT_FALSE(parse_loopback_redirect("http://127.0.0.1:5000/" + std::string(2100, 'a')));
}

TEST(DevServerAuthorization, PkceS256) {
  // The challenge computed outside this project (Python's hashlib and base64).
  const std::string verifier = "dBjftJeZ4CVP-mJ92K9-bZqRqkG3p_cSa0bwb8qEr64f0vQ";
  const std::string challenge = "8bikqtPQIyBcnqehx-jUXpulsXm--PFV4uFX93119fI";
  EXPECT_EQ(s256_challenge("dBjftJeZ4CVP-mJ92K9-bZqRqkG3p_cSa0bwb8qEr64"), challenge);
  EXPECT_TRUE(pkce_s256_verifies("dBjftJeZ4CVP-mJ92K9-bZqRqkG3p_cSa0bwb8qEr64", challenge));
  EXPECT_FALSE(pkce_s256_verifies(verifier, challenge)) << "another verifier";
  // "plain": the challenge is the verifier itself; S256 never accepts that.
  EXPECT_FALSE(pkce_s256_verifies("dBjftJeZ4CVP-mJ92K9-bZqRqkG3p_cSa0bwb8qEr64",
                                  "dBjftJeZ4CVP-mJ92K9-bZqRqkG3p_cSa0bwb8qEr64"));
  // RFC 7636 §4.1: 43-128 unreserved characters.
  EXPECT_FALSE(valid_code_verifier(std::string(42, 'a')));
  EXPECT_TRUE(valid_code_verifier(std::string(43, 'a')));
  EXPECT_TRUE(valid_code_verifier(std::string(128, '~')));
  EXPECT_FALSE(valid_code_verifier(std::string(129, 'a')));
  EXPECT_FALSE(valid_code_verifier(std::string(42, 'a') + "+"));
  EXPECT_FALSE(valid_code_verifier(std::string(42, 'a') + "="));
  EXPECT_FALSE(pkce_s256_verifies(std::string(42, 'a'), s256_challenge(std::string(42, 'a'))))
      << "a short verifier fails even with its own challenge";
  EXPECT_TRUE(valid_s256_challenge(challenge));
  EXPECT_FALSE(valid_s256_challenge(challenge + "A"));
  EXPECT_FALSE(valid_s256_challenge(challenge.substr(1) + "="));
  EXPECT_FALSE(valid_s256_challenge(challenge.substr(1) + "+"));
}

TEST(DevServerAuthorization, RedirectWithEncodesTheParameters) {
  EXPECT_EQ(redirect_with("http://127.0.0.1:5/cb", {{"code", "abc"}, {"state", "a b&c=d/é"}}),
            "http://127.0.0.1:5/cb?code=abc&state=a%20b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(redirect_with("http://127.0.0.1:5/cb?app=1", {{"error", "access_denied"}}),
            "http://127.0.0.1:5/cb?app=1&error=access_denied");
}

TEST(DevServerAuthorization, ConfigRedirectUrisAreLoopbackOnly) {
  auto ok = parse_config(R"({"clients":[{"client_id":"a","redirect_uris":["http://127.0.0.1/cb","http://[::1]:8080/cb"]}]})");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->clients.at(0).redirect_uris, (std::vector<std::string>{"http://127.0.0.1/cb", "http://[::1]:8080/cb"}));
  for (const char* bad : {R"(["http://localhost/cb"])", R"(["https://example.com/cb"])", R"(["http://127.0.0.1"])",
                          R"("http://127.0.0.1/cb")", R"([1])"}) {
    auto refused = parse_config(std::string(R"({"clients":[{"client_id":"a","redirect_uris":)") + bad + "}]}");
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().message.find("redirect_uris"), std::string::npos) << refused.error().message;
  }
}

const TimePoint kStart = TimePoint{} + seconds(1'700'000'000);
const std::string kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

AuthCode code_for(TimePoint now, long long ttl = 60) {
  AuthCode code;
  code.client_id = "cli";
  code.redirect_uri = "http://127.0.0.1:5000/callback";
  code.code_challenge = kChallenge;
  code.scope = "openid offline_access";
  code.nonce = "n-1";
  code.username = "alice";
  code.auth_time = now;
  code.expires = now + seconds(ttl);
  return code;
}

AuthCodePresentation presented(std::string client = "cli", std::string redirect = "http://127.0.0.1:5000/callback",
                               std::string challenge = kChallenge) {
  return {std::move(client), std::move(redirect), std::move(challenge)};
}

TEST(DevServerAuthCodes, RedeemedOnceThenReuseRevokesItsTokens) {
  State state{StateSettings{}};
  ASSERT_TRUE(state.add_auth_code("k", code_for(kStart), kStart));
  AuthCodeOutcome first = state.redeem_auth_code("k", presented(), kStart + seconds(1), "jkt-1");
  ASSERT_EQ(first.kind, Kind::kOk);
  EXPECT_EQ(first.grant.username, "alice");
  EXPECT_EQ(first.grant.scope, "openid offline_access");
  EXPECT_EQ(first.grant.jkt, "jkt-1");
  EXPECT_EQ(first.nonce, "n-1");
  state.add_token("access", TokenKind::kAccess, first.grant.grant_id, "jti", kStart, kStart + seconds(3600));
  state.add_token("refresh", TokenKind::kRefresh, first.grant.grant_id, {}, kStart, kStart + seconds(86400));
  ASSERT_TRUE(state.lookup("access", kStart + seconds(2)));

  EXPECT_EQ(state.redeem_auth_code("k", presented(), kStart + seconds(2)).kind, Kind::kReused);
  EXPECT_FALSE(state.lookup("access", kStart + seconds(3))) << "the first redemption's access token is revoked";
  EXPECT_FALSE(state.lookup("refresh", kStart + seconds(3))) << "and its refresh token";
  EXPECT_EQ(state.redeem_auth_code("nope", presented(), kStart).kind, Kind::kUnknown);
}

TEST(DevServerAuthCodes, ExpiryWithInjectedTime) {
  State state{StateSettings{}};
  ASSERT_TRUE(state.add_auth_code("live", code_for(kStart), kStart));
  ASSERT_TRUE(state.add_auth_code("late", code_for(kStart), kStart));
  EXPECT_EQ(state.redeem_auth_code("live", presented(), kStart + seconds(59)).kind, Kind::kOk);
  EXPECT_EQ(state.redeem_auth_code("late", presented(), kStart + seconds(60)).kind, Kind::kExpired);
  // Spent and expired codes are remembered for the grace period (replays still detected), then
  // forgotten by the sweeper.
  state.sweep(kStart + seconds(60) + std::chrono::minutes(5) - seconds(1));
  EXPECT_EQ(state.auth_code_count(), 2u);
  EXPECT_EQ(state.redeem_auth_code("live", presented(), kStart + seconds(61)).kind, Kind::kReused);
  state.sweep(kStart + seconds(60) + std::chrono::minutes(5));
  EXPECT_EQ(state.auth_code_count(), 0u);
  EXPECT_EQ(state.redeem_auth_code("live", presented(), kStart + seconds(400)).kind, Kind::kUnknown);
}

TEST(DevServerAuthCodes, BindingsAreCheckedAndAnyPresentationSpendsTheCode) {
  State state{StateSettings{}};
  struct Case {
    AuthCodePresentation presentation;
    Kind expected;
  };
  const Case cases[] = {
      {presented("other"), Kind::kClientMismatch},
      {presented("cli", "http://127.0.0.1:5001/callback"), Kind::kRedirectMismatch},
      {presented("cli", "http://127.0.0.1:5000/callback", "wrong-challenge"), Kind::kVerifierMismatch},
  };
  int index = 0;
  for (const auto& c : cases) {
    std::string key = "k" + std::to_string(index++);
    ASSERT_TRUE(state.add_auth_code(key, code_for(kStart), kStart));
    EXPECT_EQ(state.redeem_auth_code(key, c.presentation, kStart).kind, c.expected) << key;
    // The right presentation afterwards finds the code spent.
    EXPECT_EQ(state.redeem_auth_code(key, presented(), kStart).kind, Kind::kReused) << key;
  }
}

TEST(DevServerAuthCodes, APendingRequestIsTakenOnce) {
  State state{StateSettings{}};
  BrowserSession session;
  session.expires = kStart + seconds(900);
  session.auth_request = AuthRequest{"id-1", "cli", "http://127.0.0.1:5000/callback", "st", kChallenge, "openid", {}, kStart};
  state.put_session("s", session);
  EXPECT_FALSE(state.take_auth_request("s", "id-2")) << "another request's id";
  EXPECT_FALSE(state.take_auth_request("other", "id-1")) << "another session";
  auto taken = state.take_auth_request("s", "id-1");
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->state, "st");
  EXPECT_FALSE(state.take_auth_request("s", "id-1")) << "one decision per request";
  EXPECT_FALSE(state.session("s", kStart)->auth_request);
}

TEST(DevServerAuthCodes, TheStoreIsBounded) {
  StateSettings settings;
  settings.max_codes = 2;
  State state{settings};
  ASSERT_TRUE(state.add_auth_code("a", code_for(kStart), kStart));
  ASSERT_TRUE(state.add_auth_code("b", code_for(kStart), kStart));
  EXPECT_FALSE(state.add_auth_code("c", code_for(kStart), kStart));
  // Once the first two are past expiry and the grace, a full store makes room.
  EXPECT_TRUE(state.add_auth_code("c", code_for(kStart), kStart + seconds(60) + std::chrono::minutes(5)));
}

}  // namespace
}  // namespace devicelogin::devserver
