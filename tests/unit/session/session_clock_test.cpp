// A login and a refresh with the local clock minutes off the server's. The Session runs
// over a scripted HTTP client whose answers carry the server's Date, a fake local clock and a real
// file store; ID tokens are really signed, so their iat/exp are really judged.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <filesystem>
#include <ostream>

#include "devicelogin/advanced/profile_store.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/session.hpp"
#include "fakes.hpp"
#include "open_session.hpp"
#include "test_tokens.hpp"

namespace devicelogin {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;
using testing::kClientId;
using testing::kIssuer;
using testing::kNow;  // the server's time when the tokens are issued
using testing::signed_token;
using testing::test_jwks;
using testing::test_keys;
using json = nlohmann::json;

std::string http_date(long long unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buffer;
}

HttpHeaders dated(long long server_time) { return {{"content-type", "application/json"}, {"date", http_date(server_time)}}; }
HttpHeaders undated() { return {{"content-type", "application/json"}}; }

// A WorkOS-shaped access token: a JWT whose `exp` (server time) is its only lifetime.
std::string jwt_access_token(long long exp) {
  return testing::sign_compact(test_keys().ec, {{"alg", "ES256"}, {"kid", "ec-1"}, {"typ", "at+jwt"}},
                               {{"iss", kIssuer}, {"sub", "user-42"}, {"exp", exp}, {"iat", exp - 300}});
}

class SessionClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/devicelogin-clock-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    testing::use_state_directory(dir_);
    profile_.name = "work";
    profile_.issuer = kIssuer;
    profile_.client_id = kClientId;
    profile_.scope = "openid offline_access";
    profile_.endpoints = {"https://issuer.example/device", "https://issuer.example/token", "", "",
                          "https://issuer.example/jwks"};
    profile_.client_auth = ClientAuth::kNone;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // profile_ saved and opened, as an adopter opens it; tokens in the file store under tokens_dir().
  Session make_session(FakeHttpClient& http, FakeClock& clock) {
    auto opened = testing::open_saved_session(profile_, dir_, http, clock);
    if (!opened) ADD_FAILURE() << opened.error().message;
    return std::move(*opened);
  }
  std::string tokens_dir() const { return testing::tokens_directory(dir_); }
  std::optional<TokenSet> stored() {
    auto loaded = make_file_token_store(tokens_dir())->load("work");
    if (!loaded) ADD_FAILURE() << loaded.error().message;
    if (!loaded || !*loaded) return std::nullopt;
    return std::move(**loaded);
  }

  // Device code, one successful poll 5 s later (the server's time then is kNow) and the JWKS;
  // every answer dated by `headers_at(server time)`.
  template <class Headers>
  void script_login(FakeHttpClient& http, Headers headers_at, const std::string& token_body) {
    http.reply(200, R"({"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://issuer.example/activate",
      "expires_in":600,"interval":5})", headers_at(kNow - 5));
    http.reply(200, token_body, headers_at(kNow));
    http.reply(200, test_jwks(), headers_at(kNow));
  }
  static std::string token_body(const std::string& access_token, bool with_expires_in = true) {
    json body = {{"access_token", access_token}, {"token_type", "Bearer"}, {"refresh_token", "RT-1"},
                 {"id_token", signed_token(test_keys().ec, {{"iat", kNow}, {"exp", kNow + 3600}})}};
    if (with_expires_in) body["expires_in"] = 3600;
    return body.dump();
  }

  std::string dir_;
  Profile profile_;
};

struct Skew {
  const char* name;
  long long local_minus_server;  // how far the local clock is off
};

// Table rows print as their name (gtest would otherwise dump their bytes).
void PrintTo(const Skew& skew, std::ostream* out) { *out << skew.name; }

class SessionClockSkewTest : public SessionClockTest, public ::testing::WithParamInterface<Skew> {};

// Clocks as virtual machines, WSL and containers have them: -10 min, -3 min, +10 min and +70 min
// all sign in (-10, -3 and +70 once failed the ID token's time checks); the offset is reported and
// kept.
TEST_P(SessionClockSkewTest, LoginSucceedsJudgingTheIdTokenOnTheServersClock) {
  const long long skew = GetParam().local_minus_server;
  FakeClock clock(kNow - 5 + skew);
  FakeHttpClient http(&clock);
  script_login(http, dated, token_body("AT-1"));
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->clock_offset_s, -skew);
  EXPECT_EQ(session.profile().clock_offset_s, -skew);
  auto tokens = stored();
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->clock_offset_s, -skew);
  EXPECT_EQ(tokens->subject, "user-42");
  // expires_in stays relative to the local clock at receipt.
  EXPECT_EQ(tokens->expires_at, kNow + skew + 3600);
}

INSTANTIATE_TEST_SUITE_P(IssueTable, SessionClockSkewTest,
                         ::testing::Values(Skew{"behind_10_min", -600}, Skew{"behind_3_min", -180},
                                           Skew{"ahead_10_min", 600}, Skew{"ahead_70_min", 4200}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(SessionClockTest, WithoutDateALoginBehindFailsAsBefore) {
  FakeClock clock(kNow - 5 - 600);
  FakeHttpClient http(&clock);
  script_login(http, [](long long) { return undated(); }, token_body("AT-1"));
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_NE(info.error().message.find("in the future"), std::string::npos) << info.error().message;
  EXPECT_FALSE(stored().has_value());
}

TEST_F(SessionClockTest, AnImplausibleDateIsIgnored) {
  // Two days off: a broken header, not a clock. The login behaves as without Date.
  FakeClock clock(kNow - 5 - 600);
  FakeHttpClient http(&clock);
  script_login(http, [](long long t) { return dated(t + 2 * 86400); }, token_body("AT-1"));
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_NE(info.error().message.find("in the future"), std::string::npos) << info.error().message;
}

TEST_F(SessionClockTest, AnUndatedTokenAnswerUsesTheOffsetLearnedEarlierInTheLogin) {
  FakeClock clock(kNow - 5 - 600);
  FakeHttpClient http(&clock);
  http.reply(200, R"({"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://issuer.example/activate",
      "expires_in":600,"interval":5})", dated(kNow - 5));
  http.reply(200, token_body("AT-1"), undated());
  http.reply(200, test_jwks(), undated());
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->clock_offset_s, 600);
}

TEST_F(SessionClockTest, DiscoverysOffsetStandsWhenTheLoginsAnswersAreUndated) {
  profile_.clock_offset_s = 600;  // as prepare_profile records it from discovery
  FakeClock clock(kNow - 5 - 600);
  FakeHttpClient http(&clock);
  script_login(http, [](long long) { return undated(); }, token_body("AT-1"));
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_EQ(info->clock_offset_s, 600);
}

// WorkOS: no expires_in, the JWT's exp is on the server's clock. Stored on the local clock, the
// refresh comes when the server's token is really about to expire, whichever way the clock is off.
TEST_F(SessionClockTest, AJwtExpIsStoredOnTheLocalClockSoRefreshIsScheduledRight) {
  for (long long skew : {-600LL, 4200LL}) {
    SCOPED_TRACE(skew);
    std::filesystem::remove_all(tokens_dir());
    FakeClock clock(kNow - 5 + skew);
    FakeHttpClient http(&clock);
    script_login(http, dated, token_body(jwt_access_token(kNow + 300), false));
    Session session = make_session(http, clock);
    auto info = session.login({});
    ASSERT_TRUE(info.has_value()) << info.error().message;
    ASSERT_TRUE(stored().has_value());
    EXPECT_EQ(stored()->expires_at, kNow + 300 + skew);
    // 200 s later there are 100 s left on the server's clock: no refresh for a 60 s minimum.
    clock.advance(Seconds{200});
    auto token = session.access_token(60);
    ASSERT_TRUE(token.has_value()) << token.error().message;
    EXPECT_EQ(http.requests.size(), 3u);
    // 50 s later, 50 s left: it refreshes (and learns the offset again from the answer).
    clock.advance(Seconds{50});
    http.reply(200, json{{"access_token", jwt_access_token(kNow + 250 + 300)}, {"token_type", "Bearer"}}.dump(),
               dated(kNow + 250));
    token = session.access_token(60);
    ASSERT_TRUE(token.has_value()) << token.error().message;
    ASSERT_EQ(http.requests.size(), 4u);
    EXPECT_EQ(http.requests[3].url, "https://issuer.example/token");
    EXPECT_EQ(stored()->expires_at, kNow + 250 + 300 + skew);
    EXPECT_EQ(stored()->clock_offset_s, -skew);
  }
}

TEST_F(SessionClockTest, RefreshRelearnsTheOffsetOrKeepsTheStoredOne) {
  FakeClock clock(kNow);
  TokenSet tokens;
  tokens.access_token = Secret("AT-0");
  tokens.refresh_token = Secret("RT-0");
  tokens.expires_at = kNow + 10;
  tokens.clock_offset_s = 600;
  tokens.token_endpoint = profile_.endpoints.token;
  tokens.client_id = profile_.client_id;
  ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", tokens).has_value());
  {
    // The refresh answer has no Date: the stored offset judges its ID token (issued 10 min ahead
    // of the local clock) and stays stored.
    FakeHttpClient http(&clock);
    json body = {{"access_token", "AT-1"}, {"expires_in", 3600}, {"refresh_token", "RT-1"},
                 {"id_token", signed_token(test_keys().ec, {{"iat", kNow + 600}, {"exp", kNow + 4200}})}};
    http.reply(200, body.dump(), undated());
    http.reply(200, test_jwks(), undated());
    Session session = make_session(http, clock);
    auto info = session.refresh();
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(stored()->clock_offset_s, 600);
    EXPECT_EQ(info->clock_offset_s, 600);
  }
  {
    // The clock was fixed meanwhile: the next refresh's Date says so and the stored offset follows.
    FakeHttpClient http(&clock);
    http.reply(200, json{{"access_token", "AT-2"}, {"expires_in", 3600}}.dump(), dated(kNow));
    Session session = make_session(http, clock);
    auto info = session.refresh();
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(stored()->clock_offset_s, 0);
  }
}

TEST_F(SessionClockTest, AnApiCallsDateDoesNotMoveTheAuthorizationServersOffset) {
  FakeClock clock(kNow);
  TokenSet tokens;
  tokens.access_token = Secret("AT-0");
  tokens.expires_at = kNow + 3600;
  tokens.token_endpoint = profile_.endpoints.token;
  tokens.client_id = profile_.client_id;
  ASSERT_TRUE(make_file_token_store(tokens_dir())->save("work", tokens).has_value());
  FakeHttpClient http(&clock);
  http.reply(200, "{}", dated(kNow + 3000));  // the API's own (wrong) clock
  profile_.api_urls = {"https://api.example.com"};
  Session session = make_session(http, clock);
  HttpRequest request;
  request.method = "GET";
  request.url = "https://api.example.com/me";
  ASSERT_TRUE(session.fetch(request).has_value());
  // A login would now start from no offset at all, not the API's.
  http.reply(200, R"({"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://issuer.example/activate",
      "expires_in":600,"interval":5})", undated());
  http.reply(200, json{{"access_token", "AT-1"}, {"expires_in", 3600}}.dump(), undated());
  auto info = session.login({});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  EXPECT_FALSE(info->clock_offset_s.has_value());
}

TEST_F(SessionClockTest, TheOffsetSurvivesTheProfileAndTokenFilesAndOnlyWhenPlausible) {
  ProfileStore profiles(dir_ + "/profiles");
  profile_.clock_offset_s = -4200;
  ASSERT_TRUE(profiles.save(profile_).has_value());
  auto loaded = profiles.load("work");
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->clock_offset_s, -4200);
  profile_.clock_offset_s = 600;
  ASSERT_TRUE(profiles.save(profile_).has_value());
  EXPECT_EQ(profiles.load("work")->clock_offset_s, 600);
  profile_.clock_offset_s.reset();
  ASSERT_TRUE(profiles.save(profile_).has_value());
  EXPECT_FALSE(profiles.load("work")->clock_offset_s.has_value());

  auto store = make_file_token_store(tokens_dir());
  TokenSet tokens;
  tokens.access_token = Secret("AT-0");
  tokens.clock_offset_s = -180;
  ASSERT_TRUE(store->save("work", tokens).has_value());
  EXPECT_EQ(stored()->clock_offset_s, -180);
  // A value no Date could have given (more than a day) is not taken back from a tampered file.
  tokens.clock_offset_s = 86401;
  ASSERT_TRUE(store->save("work", tokens).has_value());
  EXPECT_FALSE(stored()->clock_offset_s.has_value());
  tokens.clock_offset_s = -86401;
  ASSERT_TRUE(store->save("work", tokens).has_value());
  EXPECT_FALSE(stored()->clock_offset_s.has_value());
}

// The claims of a DPoP proof (a compact JWS): its payload, base64url-decoded and parsed.
json proof_claims(const std::string& proof) {
  const std::size_t first = proof.find('.');
  const std::size_t second = proof.find('.', first + 1);
  if (first == std::string::npos || second == std::string::npos) return json();
  const std::string payload = proof.substr(first + 1, second - first - 1);
  std::string decoded;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : payload) {
    const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const std::size_t value = alphabet.find(c);
    if (value == std::string_view::npos) return json();
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return json::parse(decoded, nullptr, false);
}

// RFC 9449 §4.2, §5, §8 with a local clock 10 minutes ahead: the poll carries a proof whose iat is
// the server's time, a 400 use_dpop_nonce is retried once with the DPoP-Nonce it gave, and the key
// is stored with the DPoP token.
TEST_F(SessionClockTest, ADpopLoginSignsThePollsOnTheServersClockAndRetriesWithTheNonce) {
  profile_.dpop = true;
  FakeClock clock(kNow - 5 + 600);
  FakeHttpClient http(&clock);
  http.reply(200, R"({"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://issuer.example/activate",
      "expires_in":600,"interval":5})", dated(kNow - 5));
  HttpHeaders nonce_headers = dated(kNow);
  nonce_headers.emplace_back("DPoP-Nonce", "nonce-1");
  http.reply(400, R"({"error":"use_dpop_nonce"})", nonce_headers);
  json body = json::parse(token_body("AT-1"));
  body["token_type"] = "DPoP";
  http.reply(200, body.dump(), dated(kNow));
  http.reply(200, test_jwks(), dated(kNow));
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  ASSERT_GE(http.requests.size(), 3U);
  EXPECT_TRUE(http.requests[0].header("dpop").empty()) << "the device authorization request is not a token request";
  for (std::size_t i : {1U, 2U}) {
    SCOPED_TRACE(i);
    const json claims = proof_claims(http.requests[i].header("dpop"));
    ASSERT_TRUE(claims.is_object());
    EXPECT_EQ(claims.value("htm", ""), "POST");
    EXPECT_EQ(claims.value("htu", ""), "https://issuer.example/token");
    EXPECT_EQ(claims.value("iat", 0LL), kNow) << "iat is on the server's clock, not the local one";
    EXPECT_EQ(claims.contains("nonce"), i == 2U);
  }
  EXPECT_EQ(proof_claims(http.requests[2].header("dpop")).value("nonce", ""), "nonce-1");
  EXPECT_FALSE(info->jkt.empty());
  auto tokens = stored();
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(tokens->token_type, "DPoP");
  EXPECT_FALSE(tokens->dpop_key.empty());
  EXPECT_TRUE(session.profile().dpop);
}

// The credentials a caller's own HTTP client sends (the C ABI's and Python's adapters): for a DPoP
// token, "DPoP <token>" and a proof for that method and URL with ath and iat on the server's
// clock; a resource server's 401 use_dpop_nonce asks for a retry and its nonce goes into the next
// proof; a URL outside the profile's API base URLs gets nothing, before any token is read.
TEST_F(SessionClockTest, RequestCredentialsSignForTheMethodAndUrlAndLearnTheResourceServersNonce) {
  profile_.dpop = true;
  profile_.api_urls = {"https://api.example"};
  FakeClock clock(kNow - 5 + 600);
  FakeHttpClient http(&clock);
  json body = json::parse(token_body("AT-1"));
  body["token_type"] = "DPoP";
  script_login(http, dated, body.dump());
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_TRUE(info.has_value()) << info.error().message;
  const std::size_t sent = http.requests.size();

  auto credentials = session.request_credentials("PUT", "https://api.example/items/1?x=1", 60);
  ASSERT_TRUE(credentials.has_value()) << credentials.error().message;
  EXPECT_TRUE(credentials->authorization.equals(Secret("DPoP AT-1")));
  EXPECT_EQ(credentials->token_type, "DPoP");
  json claims = proof_claims(std::string(credentials->dpop_proof.reveal()));
  ASSERT_TRUE(claims.is_object());
  EXPECT_EQ(claims.value("htm", ""), "PUT");
  EXPECT_EQ(claims.value("htu", ""), "https://api.example/items/1") << "no query in htu (RFC 9449 §4.2)";
  EXPECT_EQ(claims.value("iat", 0LL), kNow) << "iat is on the server's clock, not the local one";
  EXPECT_FALSE(claims.value("ath", "").empty());
  EXPECT_FALSE(claims.contains("nonce"));
  EXPECT_EQ(http.requests.size(), sent) << "credentials are made without a request";

  HttpResponse challenge;
  challenge.status = 401;
  challenge.headers = {{"www-authenticate", R"(DPoP error="use_dpop_nonce", algs="ES256 EdDSA")"},
                       {"dpop-nonce", "api-nonce-1"}};
  auto retry = session.learn_from_response("https://api.example/items/1", challenge);
  ASSERT_TRUE(retry.has_value()) << retry.error().message;
  EXPECT_TRUE(*retry);
  auto again = session.request_credentials("PUT", "https://api.example/items/1", 60);
  ASSERT_TRUE(again.has_value());
  claims = proof_claims(std::string(again->dpop_proof.reveal()));
  EXPECT_EQ(claims.value("nonce", ""), "api-nonce-1");
  EXPECT_FALSE(again->dpop_proof.equals(credentials->dpop_proof)) << "a fresh proof (jti) each time";

  HttpResponse plain;
  plain.status = 401;
  plain.headers = {{"www-authenticate", R"(DPoP error="invalid_token")"}};
  retry = session.learn_from_response("https://api.example/items/1", plain);
  ASSERT_TRUE(retry.has_value());
  EXPECT_FALSE(*retry);
  challenge.headers.pop_back();
  retry = session.learn_from_response("https://api.example/items/1", challenge);
  ASSERT_FALSE(retry.has_value());
  EXPECT_EQ(retry.error().code, ErrorCode::kServer);

  auto refused = session.request_credentials("GET", "https://elsewhere.example/", 60);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUsage);
  EXPECT_EQ(refused.error().setting, "api_urls");
  EXPECT_FALSE(session.request_credentials("get", "https://api.example/", 60).has_value());
  EXPECT_EQ(http.requests.size(), sent);
}

// A server that answers a proof with a Bearer token did not bind it: the login fails, nothing is
// stored (a token that works without the key is not taken silently).
TEST_F(SessionClockTest, ABearerAnswerToADpopPollFailsTheLogin) {
  profile_.dpop = true;
  FakeClock clock(kNow - 5);
  FakeHttpClient http(&clock);
  script_login(http, dated, token_body("AT-1"));
  Session session = make_session(http, clock);
  auto info = session.login({});
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kServer);
  EXPECT_NE(info.error().message.find("answered a DPoP request with a Bearer token"), std::string::npos)
      << info.error().message;
  EXPECT_FALSE(stored().has_value());
}

TEST_F(SessionClockTest, TheDpopChoiceAndKeySurviveTheProfileAndTokenFiles) {
  ProfileStore profiles(dir_ + "/profiles");
  profile_.dpop = true;
  ASSERT_TRUE(profiles.save(profile_).has_value());
  EXPECT_TRUE(profiles.load("work")->dpop);
  profile_.dpop = false;
  ASSERT_TRUE(profiles.save(profile_).has_value());
  EXPECT_FALSE(profiles.load("work")->dpop);

  auto store = make_file_token_store(tokens_dir());
  TokenSet tokens;
  tokens.access_token = Secret("AT-0");
  tokens.token_type = "DPoP";
  tokens.dpop_key = Secret(R"({"kty":"EC","crv":"P-256","x":"X","y":"Y","d":"KEY-CANARY"})");
  ASSERT_TRUE(store->save("work", tokens).has_value());
  auto loaded = stored();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->token_type, "DPoP");
  EXPECT_TRUE(loaded->dpop_key.equals(tokens.dpop_key));
  // A set without a key stays without one.
  tokens.dpop_key = Secret();
  ASSERT_TRUE(store->save("work", tokens).has_value());
  EXPECT_TRUE(stored()->dpop_key.empty());
}

}  // namespace
}  // namespace devicelogin
