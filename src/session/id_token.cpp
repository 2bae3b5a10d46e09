#include "session/id_token.hpp"

#include "core/encoding.hpp"
#include "devicelogin/sanitize.hpp"
#include "oauth/jwt.hpp"
#include "oauth/providers.hpp"
#include "oauth/wire.hpp"

namespace devicelogin {
namespace {

// The clock skew tolerated on exp, nbf and iat (OIDC Core §3.1.3.7 items 9-10 leave it to us).
constexpr long long kIdTokenClockSkewSeconds = 120;


// GETs the JWKS (OIDC Discovery §3 jwks_uri) and checks it is a JWK Set before it is used or cached.
Result<std::string> fetch_jwks(HttpClient& http, const std::string& url) {
  if (auto policy = check_url_policy(url, "the JWKS URI"); !policy) return std::unexpected(policy.error());
  auto response = oauth::get_json(http, url);
  if (!response) {
    Error error = response.error();
    error.message = "cannot fetch the JWKS from " + url + ": " + error.message;
    return std::unexpected(std::move(error));
  }
  if (response->status != 200) {
    return fail(ErrorCode::kServer, "the JWKS URI " + url + " answered HTTP " + std::to_string(response->status), "",
                response->status);
  }
  if (auto keys = oauth::parse_jwks(response->body.reveal()); !keys) {
    return fail(ErrorCode::kServer, "the JWKS at " + url + " is not a JSON key set ({\"keys\":[...]})", "", response->status);
  }
  return std::string(response->body.reveal());
}

}  // namespace

Result<void> check_id_token(const Profile& profile, HttpClient& http, TokenSet& tokens, long long now,
                            std::string& jwks_cache) {
  if (tokens.id_token.empty()) return {};
  if (profile.endpoints.jwks.empty()) {
    return fail(ErrorCode::kConfig, "the server returned an ID token but advertises no jwks_uri");
  }
  oauth::IdTokenExpectations expected;
  expected.issuer = profile.issuer;
  expected.client_id = profile.client_id;
  expected.clock_skew_seconds = kIdTokenClockSkewSeconds;
  if (profile.provider == "microsoft" && oauth::is_entra_tenant_alias(profile.tenant)) {
    expected.entra_tenant_alias = ascii_lower(profile.tenant);
  }

  std::string jwks = jwks_cache;
  bool fetched = false;
  if (jwks.empty()) {
    auto document = fetch_jwks(http, profile.endpoints.jwks);
    if (!document) return std::unexpected(document.error());
    jwks = std::move(*document);
    fetched = true;
  }
  auto claims = oauth::validate_id_token(tokens.id_token.reveal(), jwks, expected, now);
  // The issuer rotated its keys since the JWKS was cached (or the cache is unreadable): fetch it
  // again, once, so that a token cannot make us fetch in a loop.
  if (!claims && !fetched &&
      (claims.error().problem == oauth::JwtProblem::kUnknownKid || claims.error().problem == oauth::JwtProblem::kBadJwks)) {
    auto document = fetch_jwks(http, profile.endpoints.jwks);
    if (!document) return std::unexpected(document.error());
    jwks = std::move(*document);
    claims = oauth::validate_id_token(tokens.id_token.reveal(), jwks, expected, now);
  }
  if (!claims) return fail(ErrorCode::kServer, "the ID token is invalid: " + claims.error().message);

  // Stored and shown as wire.cpp does for unverified subjects: control characters removed.
  tokens.subject = sanitize_text(claims->sub);
  jwks_cache = std::move(jwks);
  return {};
}

}  // namespace devicelogin
