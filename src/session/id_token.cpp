#include "session/id_token.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "core/encoding.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"
#include "oauth/jwt.hpp"
#include "oauth/providers.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::session {
namespace {

// The clock skew tolerated on exp, nbf and iat (OIDC Core §3.1.3.7 items 9-10 leave it to us).
constexpr long long kIdTokenClockSkewSeconds = 120;


struct FetchedJwks {
  std::string document;
  long long max_age = 0;
};

// GETs the JWKS (OIDC Discovery §3 jwks_uri) and checks it is a JWK Set before it is used or cached.
Result<FetchedJwks> fetch_jwks(HttpClient& http, const std::string& url) {
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
  if (auto keys = oauth::parse_jwks(response->body); !keys) {
    return fail(ErrorCode::kServer, "the JWKS at " + url + " is not a JSON key set ({\"keys\":[...]})", "", response->status);
  }
  return FetchedJwks{std::move(response->body), jwks_max_age(response->header("cache-control"))};
}

}  // namespace

long long jwks_max_age(std::string_view cache_control) {
  std::optional<long long> max_age;
  std::string lower = core::ascii_lower(cache_control);
  std::string_view rest = lower;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view directive = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!directive.empty() && (directive.front() == ' ' || directive.front() == '\t')) directive.remove_prefix(1);
    while (!directive.empty() && (directive.back() == ' ' || directive.back() == '\t')) directive.remove_suffix(1);
    // RFC 9111 §5.2.2: no-store and no-cache forbid reuse without revalidation.
    if (directive == "no-store" || directive == "no-cache") return 0;
    if (!directive.starts_with("max-age=")) continue;
    std::string_view value = directive.substr(8);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return 0;  // malformed: RFC 9111 §4.2.1 says treat as stale
    }
    // Digits beyond the ceiling's length only make it larger: no overflow.
    max_age = value.size() > 9 ? kJwksMaxAgeSeconds : std::min(std::stoll(std::string(value)), kJwksMaxAgeSeconds);
  }
  return max_age.value_or(kJwksDefaultMaxAgeSeconds);
}

Result<void> check_id_token(const Profile& profile, HttpClient& http, TokenSet& tokens, long long now,
                            std::string& jwks_cache, long long& jwks_cache_expires_at, std::string_view nonce) {
  if (tokens.id_token.empty()) return {};
  if (profile.endpoints.jwks.empty()) {
    return fail(ErrorCode::kConfig, "the server returned an ID token but advertises no jwks_uri");
  }
  oauth::IdTokenExpectations expected;
  expected.issuer = profile.issuer;
  expected.client_id = profile.client_id;
  expected.clock_skew_seconds = kIdTokenClockSkewSeconds;
  expected.nonce = std::string(nonce);
  if (profile.provider == "microsoft" && oauth::is_entra_tenant_alias(profile.tenant)) {
    expected.entra_tenant_alias = core::ascii_lower(profile.tenant);
  }

  std::string jwks = jwks_cache;
  long long expires_at = jwks_cache_expires_at;
  bool fetched = false;
  auto fetch = [&]() -> Result<void> {
    auto document = fetch_jwks(http, profile.endpoints.jwks);
    if (!document) return std::unexpected(document.error());
    jwks = std::move(document->document);
    expires_at = now + document->max_age;
    fetched = true;
    return {};
  };
  if (jwks.empty() || now >= jwks_cache_expires_at) {
    if (auto got = fetch(); !got) return got;
  }
  auto claims = oauth::validate_id_token(tokens.id_token.reveal(), jwks, expected, now);
  // The issuer rotated or withdrew keys since the JWKS was cached (a new kid, or a kid reused for
  // a new key), or the cache is unreadable: fetch it again, once, so that a token cannot make us
  // fetch in a loop.
  if (!claims && !fetched) {
    switch (claims.error().problem) {
      case oauth::JwtProblem::kUnknownKid:
      case oauth::JwtProblem::kBadJwks:
      case oauth::JwtProblem::kBadSignature:
      case oauth::JwtProblem::kKeyMismatch:
      case oauth::JwtProblem::kBadKey:
        if (auto got = fetch(); !got) return got;
        claims = oauth::validate_id_token(tokens.id_token.reveal(), jwks, expected, now);
        break;
      default: break;
    }
  }
  if (!claims) return fail(ErrorCode::kServer, "the ID token is invalid: " + claims.error().message);

  // Stored and shown as wire.cpp does for unverified subjects: control characters removed.
  tokens.subject = sanitize_text(claims->sub);
  jwks_cache = std::move(jwks);
  jwks_cache_expires_at = expires_at;
  return {};
}

}  // namespace devicelogin::session
