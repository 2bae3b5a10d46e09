// check_id_token: JWKS fetching through the HttpClient, the cache, one refetch on an unknown kid,
// and the errors the session turns into a failed login.
#include "session/id_token.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include "fakes.hpp"
#include "test_tokens.hpp"

namespace devicelogin {
namespace {

using devicelogin::testing::FakeHttpClient;
using devicelogin::testing::kClientId;
using devicelogin::testing::kIssuer;
using devicelogin::testing::kNow;
using devicelogin::testing::sign_compact;
using devicelogin::testing::signed_token;
using devicelogin::testing::test_jwks;
using devicelogin::testing::test_keys;
using devicelogin::testing::valid_claims;
using json = nlohmann::json;

// Table rows print as their name (gtest would otherwise dump their bytes, padding included).
template <class Case>
  requires requires(const Case& row) { std::string(row.name); }
void PrintTo(const Case& row, std::ostream* out) {
  *out << row.name;
}

constexpr const char* kJwksUri = "https://issuer.example/jwks";

Profile test_profile() {
  Profile profile;
  profile.issuer = kIssuer;
  profile.client_id = kClientId;
  profile.endpoints.jwks = kJwksUri;
  return profile;
}

TokenSet tokens_with(const std::string& id_token) {
  TokenSet tokens;
  tokens.access_token = Secret("access");
  tokens.id_token = Secret(id_token);
  tokens.subject = "unverified-subject";
  return tokens;
}

std::string jwks_of(std::initializer_list<json> keys) { return json{{"keys", keys}}.dump(); }

// Every failure message must leave the token out, whole or in parts.
void expect_token_absent(const std::string& message, const std::string& token) {
  EXPECT_EQ(message.find(token), std::string::npos);
  EXPECT_EQ(message.find(token.substr(token.rfind('.') + 1)), std::string::npos);
  EXPECT_EQ(message.find(token.substr(0, token.find('.'))), std::string::npos);
}

TEST(CheckIdToken, NoIdTokenIsNotAnError) {
  FakeHttpClient http;
  TokenSet tokens = tokens_with("");
  std::string cache;
  long long cache_expires = kNow + 60;  // a cache still fresh
  Profile profile = test_profile();
  profile.endpoints.jwks.clear();
  EXPECT_TRUE(session::check_id_token(profile, http, tokens, kNow, cache, cache_expires).has_value());
  EXPECT_EQ(tokens.subject, "unverified-subject");
  EXPECT_TRUE(http.requests.empty());
  EXPECT_TRUE(cache.empty());
}

TEST(CheckIdToken, IdTokenWithoutJwksUriIsAConfigError) {
  FakeHttpClient http;
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  std::string cache;
  long long cache_expires = kNow + 60;  // a cache still fresh
  Profile profile = test_profile();
  profile.endpoints.jwks.clear();
  auto result = session::check_id_token(profile, http, tokens, kNow, cache, cache_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kConfig);
  EXPECT_EQ(result.error().message, "the server returned an ID token but advertises no jwks_uri");
  EXPECT_TRUE(http.requests.empty());
}

TEST(CheckIdToken, FetchesTheJwksWhenNothingIsCached) {
  FakeHttpClient http;
  http.reply(200, test_jwks());
  TokenSet tokens = tokens_with(signed_token(test_keys().ec));
  std::string cache;
  long long cache_expires = kNow + 60;  // a cache still fresh
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires).has_value());
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].method, "GET");
  EXPECT_EQ(http.requests[0].url, kJwksUri);
  EXPECT_EQ(http.requests[0].header("Accept"), "application/json");
  EXPECT_EQ(http.requests[0].body, "");
  EXPECT_EQ(tokens.subject, "user-42");
  EXPECT_EQ(cache, test_jwks());
}

TEST(CheckIdToken, UsesTheCacheWithoutFetching) {
  FakeHttpClient http;
  TokenSet tokens = tokens_with(signed_token(test_keys().ed));
  std::string cache = test_jwks();
  long long cache_expires = kNow + 60;  // a cache still fresh
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires).has_value());
  EXPECT_TRUE(http.requests.empty());
  EXPECT_EQ(tokens.subject, "user-42");
  EXPECT_EQ(cache, test_jwks());
}

TEST(CheckIdToken, UnknownKidInTheCacheRefetchesOnce) {
  FakeHttpClient http;
  const std::string rotated = jwks_of({test_keys().rsa_other.public_jwk(), test_keys().rsa.public_jwk()});
  http.reply(200, rotated);
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  std::string cache = jwks_of({test_keys().rsa_other.public_jwk()});
  long long cache_expires = kNow + 60;  // a cache still fresh
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(tokens.subject, "user-42");
  EXPECT_EQ(cache, rotated);
}

TEST(CheckIdToken, StillUnknownAfterTheRefetchFails) {
  FakeHttpClient http;
  const std::string stale = jwks_of({test_keys().rsa_other.public_jwk()});
  http.reply(200, stale);
  http.reply(200, test_jwks());  // a second fetch would succeed; it must not happen
  const std::string token = sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "gone"}}, valid_claims());
  TokenSet tokens = tokens_with(token);
  std::string cache = stale;
  long long cache_expires = kNow + 60;  // a cache still fresh
  auto result = session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(result.error().code, ErrorCode::kServer);
  EXPECT_EQ(result.error().message, "the ID token is invalid: no key in the JWKS has kid \"gone\"");
  EXPECT_EQ(tokens.subject, "unverified-subject");
  EXPECT_EQ(cache, stale);
  expect_token_absent(result.error().message, token);
}

TEST(CheckIdToken, UnknownKidAfterAFreshFetchDoesNotFetchAgain) {
  FakeHttpClient http;
  http.reply(200, jwks_of({test_keys().rsa_other.public_jwk()}));
  http.reply(200, test_jwks());
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  std::string cache;
  long long cache_expires = kNow + 60;  // a cache still fresh
  auto result = session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(result.error().message, "the ID token is invalid: no key in the JWKS has kid \"rsa-1\"");
  EXPECT_TRUE(cache.empty());
}

TEST(CheckIdToken, UnreadableCacheIsRefetched) {
  FakeHttpClient http;
  http.reply(200, test_jwks());
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  std::string cache = "{not json";
  long long cache_expires = kNow + 60;  // a cache still fresh
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(cache, test_jwks());
}

TEST(CheckIdToken, BadSignatureWithACachedKeyRefetchesOnce) {
  FakeHttpClient http;
  // The issuer replaced the key behind kid rsa-1 (or withdrew a compromised one): the cache's key
  // no longer verifies, the fetched JWKS decides.
  const std::string replaced = jwks_of({[] {
    json key = test_keys().rsa_other.public_jwk();
    key["kid"] = "rsa-1";
    return key;
  }()});
  http.reply(200, replaced);
  http.reply(200, replaced);  // a second fetch must not happen
  const std::string token = sign_compact(test_keys().rsa_other, {{"alg", "RS256"}, {"kid", "rsa-1"}}, valid_claims());
  TokenSet tokens = tokens_with(token);
  std::string cache = test_jwks();
  long long cache_expires = kNow + 60;
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(cache, replaced);

  // A forged signature: one fetch, then the failure; the cache is left as it was.
  FakeHttpClient again;
  again.reply(200, test_jwks());
  again.reply(200, test_jwks());
  const std::string forged = sign_compact(test_keys().rsa_other, {{"alg", "RS256"}, {"kid", "rsa-1"}}, valid_claims());
  TokenSet forged_tokens = tokens_with(forged);
  std::string kept = test_jwks();
  long long kept_expires = kNow + 60;
  auto result = session::check_id_token(test_profile(), again, forged_tokens, kNow, kept, kept_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(again.requests.size(), 1u);
  EXPECT_EQ(result.error().code, ErrorCode::kServer);
  EXPECT_EQ(result.error().message, "the ID token is invalid: the signature does not verify");
  EXPECT_EQ(kept, test_jwks());
  EXPECT_EQ(kept_expires, kNow + 60);
  expect_token_absent(result.error().message, forged);
}

TEST(CheckIdToken, AnExpiredCacheIsFetchedAgainAndExpiresByMaxAge) {
  FakeHttpClient http;  // the time is check_id_token's `now` (the session passes its clock's)
  http.reply(200, test_jwks(), {{"content-type", "application/json"}, {"cache-control", "public, max-age=600"}});
  http.reply(200, test_jwks(), {{"content-type", "application/json"}});
  http.reply(200, test_jwks(), {{"content-type", "application/json"}, {"cache-control", "max-age=31536000"}});
  std::string cache = test_jwks();
  long long cache_expires = kNow;  // expired just now
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(cache_expires, kNow + 600);

  // Within max-age: the cache; at its end: fetched again, no Cache-Control: the default.
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow + 599, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 1u);
  ASSERT_TRUE(session::check_id_token(test_profile(), http, tokens, kNow + 600, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 2u);
  EXPECT_EQ(cache_expires, kNow + 600 + session::kJwksDefaultMaxAgeSeconds);

  // A year of max-age is cut to the ceiling.
  const long long later = kNow + 600 + session::kJwksDefaultMaxAgeSeconds;
  json claims = valid_claims();
  claims["exp"] = later + 3600;
  TokenSet later_tokens = tokens_with(sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "rsa-1"}}, claims));
  ASSERT_TRUE(session::check_id_token(test_profile(), http, later_tokens, later, cache, cache_expires).has_value());
  EXPECT_EQ(http.requests.size(), 3u);
  EXPECT_EQ(cache_expires, later + session::kJwksMaxAgeSeconds);
}

TEST(CheckIdToken, MaxAgeFromCacheControl) {
  const struct {
    const char* header;
    long long seconds;
  } cases[] = {
      {"", session::kJwksDefaultMaxAgeSeconds},
      {"public", session::kJwksDefaultMaxAgeSeconds},
      {"max-age=0", 0},
      {"public, max-age=7200, must-revalidate", 7200},
      {"Max-Age=120", 120},
      {"max-age=\"300\"", 300},
      {"max-age=86401", session::kJwksMaxAgeSeconds},
      {"max-age=99999999999999999999999", session::kJwksMaxAgeSeconds},
      {"max-age=-5", 0},
      {"max-age=abc", 0},
      {"max-age=600, no-store", 0},
      {"no-cache", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    EXPECT_EQ(session::jwks_max_age(c.header), c.seconds);
  }
}

struct FetchFailureCase {
  const char* name;
  std::function<void(FakeHttpClient&)> script;
  ErrorCode code;
  const char* message;
};

class JwksFetchFailureTest : public ::testing::TestWithParam<FetchFailureCase> {};

TEST_P(JwksFetchFailureTest, FailsWithoutStoringAnything) {
  const FetchFailureCase& c = GetParam();
  FakeHttpClient http;
  c.script(http);
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  std::string cache;
  long long cache_expires = kNow + 60;  // a cache still fresh
  auto result = session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, c.code);
  EXPECT_EQ(result.error().message, c.message);
  EXPECT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(tokens.subject, "unverified-subject");
  EXPECT_TRUE(cache.empty());
}

const FetchFailureCase kFetchFailures[] = {
    {"Http500", [](FakeHttpClient& http) { http.reply(500, "oops"); }, ErrorCode::kServer,
     "the JWKS URI https://issuer.example/jwks answered HTTP 500"},
    {"Http404", [](FakeHttpClient& http) { http.reply(404, "{}"); }, ErrorCode::kServer,
     "the JWKS URI https://issuer.example/jwks answered HTTP 404"},
    {"NotJson", [](FakeHttpClient& http) { http.reply(200, "<html>secret body</html>"); }, ErrorCode::kServer,
     "the JWKS at https://issuer.example/jwks is not a JSON key set ({\"keys\":[...]})"},
    {"JsonWithoutKeys", [](FakeHttpClient& http) { http.reply(200, R"({"issuer":"x"})"); }, ErrorCode::kServer,
     "the JWKS at https://issuer.example/jwks is not a JSON key set ({\"keys\":[...]})"},
    {"Transport", [](FakeHttpClient& http) { http.fail_transport("connection refused"); }, ErrorCode::kNetwork,
     "cannot fetch the JWKS from https://issuer.example/jwks: connection refused"},
};

INSTANTIATE_TEST_SUITE_P(Fetch, JwksFetchFailureTest, ::testing::ValuesIn(kFetchFailures),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

TEST(CheckIdToken, JwksUriMustBeHttps) {
  FakeHttpClient http;
  Profile profile = test_profile();
  profile.endpoints.jwks = "http://issuer.example/jwks";
  TokenSet tokens = tokens_with(signed_token(test_keys().rsa));
  std::string cache;
  long long cache_expires = kNow + 60;  // a cache still fresh
  auto result = session::check_id_token(profile, http, tokens, kNow, cache, cache_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kConfig);
  EXPECT_TRUE(http.requests.empty());
}

struct InvalidTokenCase {
  const char* name;
  json patch;
  const char* reason;
};

class InvalidIdTokenTest : public ::testing::TestWithParam<InvalidTokenCase> {};

TEST_P(InvalidIdTokenTest, FailsTheLoginWithTheReason) {
  const InvalidTokenCase& c = GetParam();
  FakeHttpClient http;
  const std::string token = signed_token(test_keys().ec, c.patch);
  TokenSet tokens = tokens_with(token);
  std::string cache = test_jwks();
  long long cache_expires = kNow + 60;  // a cache still fresh
  auto result = session::check_id_token(test_profile(), http, tokens, kNow, cache, cache_expires);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kServer);
  EXPECT_EQ(result.error().message, std::string("the ID token is invalid: ") + c.reason);
  EXPECT_EQ(tokens.subject, "unverified-subject");
  EXPECT_TRUE(http.requests.empty());
  expect_token_absent(result.error().message, token);
}

const InvalidTokenCase kInvalidTokens[] = {
    {"WrongIssuer", {{"iss", "https://evil.example"}},
     "iss \"https://evil.example\" is not the expected issuer \"https://issuer.example\""},
    {"WrongAudience", {{"aud", {"a", "b"}}}, "aud does not contain the client id \"client-123\""},
    {"Expired", {{"exp", kNow - 1000}, {"iat", kNow - 5000}},
     "the token expired at 1799999000 (now 1800000000, allowed clock skew 120 s)"},
    {"IssuedInFuture", {{"iat", kNow + 1000}},
     "the token was issued at 1800001000, in the future (now 1800000000, allowed clock skew 120 s)"},
    {"WrongAzp", {{"azp", "other"}}, "azp \"other\" is not the client id \"client-123\""},
};

INSTANTIATE_TEST_SUITE_P(Claims, InvalidIdTokenTest, ::testing::ValuesIn(kInvalidTokens),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

// ---- Microsoft Entra ------------------------------------------------------------------------

constexpr const char* kTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";

Profile microsoft_profile(const std::string& tenant) {
  Profile profile;
  profile.provider = "microsoft";
  profile.tenant = tenant;
  profile.issuer = "https://login.microsoftonline.com/" + tenant + "/v2.0";
  profile.client_id = kClientId;
  profile.endpoints.jwks = "https://login.microsoftonline.com/" + tenant + "/discovery/v2.0/keys";
  return profile;
}

struct EntraProfileCase {
  const char* name;
  std::string provider;
  std::string tenant;
  bool accepted;
};

class EntraProfileTest : public ::testing::TestWithParam<EntraProfileCase> {};

TEST_P(EntraProfileTest, AcceptsTheUserTenantIssuerOnlyForMicrosoftAliases) {
  const EntraProfileCase& c = GetParam();
  Profile profile = microsoft_profile(c.tenant);
  profile.provider = c.provider;
  FakeHttpClient http;
  const std::string token =
      signed_token(test_keys().rsa, {{"iss", "https://login.microsoftonline.com/" + std::string(kTenant) + "/v2.0"},
                                     {"tid", kTenant}});
  TokenSet tokens = tokens_with(token);
  std::string cache = test_jwks();
  long long cache_expires = kNow + 60;  // a cache still fresh
  auto result = session::check_id_token(profile, http, tokens, kNow, cache, cache_expires);
  EXPECT_EQ(result.has_value(), c.accepted) << (result ? "" : result.error().message);
}

const EntraProfileCase kEntraProfiles[] = {
    {"Organizations", "microsoft", "organizations", true},
    {"Common", "microsoft", "common", true},
    {"CommonUppercase", "microsoft", "Common", true},
    {"Consumers", "microsoft", "consumers", false},  // a work tenant's token under the personal-account alias
    {"SameTenantById", "microsoft", kTenant, true},  // exact issuer match
    {"AnotherTenantById", "microsoft", "11111111-2222-3333-4444-555555555555", false},
    {"GenericProviderWithAliasIssuer", "", "organizations", false},
};

INSTANTIATE_TEST_SUITE_P(Tenants, EntraProfileTest, ::testing::ValuesIn(kEntraProfiles),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

}  // namespace
}  // namespace devicelogin
