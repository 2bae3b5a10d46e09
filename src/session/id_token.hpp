#pragma once
// ID token validation for the session facade: fetches and caches the issuer's JWKS.
#include <string>
#include <string_view>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin::session {

// Validates `tokens.id_token` (when there is one) against the profile's issuer, client id and JWKS
// at unix time `now` (OIDC Core §3.1.3.7, 120 s clock skew), then sets `tokens.subject` to its `sub`.
// `jwks_cache` holds the JWKS document (JSON text) last used, or is empty; it is used first while
// `now` < `jwks_cache_expires_at`, else fetched from `profile.endpoints.jwks`. A cached document
// that lacks the token's key or whose key does not verify the signature is fetched again, once.
// On success the cache becomes the document that verified the token, and a fetched document
// expires after its Cache-Control max-age (at most kJwksMaxAgeSeconds; kJwksDefaultMaxAgeSeconds
// without one); on failure both are unchanged. An empty id_token returns {} untouched.
// `nonce`: when not empty, the nonce the authorization request sent, which the token must carry
// (OIDC Core §3.1.3.7 item 11).
// Fails with kConfig when the profile has no JWKS URI, kNetwork when the fetch fails, kServer when
// the JWKS or the token is invalid ("the ID token is invalid: <reason>"); never names the token.
[[nodiscard]] Result<void> check_id_token(const Profile& profile, HttpClient& http, TokenSet& tokens, long long now,
                                          std::string& jwks_cache, long long& jwks_cache_expires_at,
                                          std::string_view nonce = {});

// How long a fetched JWKS is trusted: its Cache-Control max-age, capped, so that a key the issuer
// withdrew is dropped within a day; an hour when the server says nothing (or sends no-store/no-cache:
// then not at all).
inline constexpr long long kJwksMaxAgeSeconds = 24 * 3600;
inline constexpr long long kJwksDefaultMaxAgeSeconds = 3600;

// The seconds a response with this Cache-Control value may be reused, by the rules above.
[[nodiscard]] long long jwks_max_age(std::string_view cache_control);

}  // namespace devicelogin::session
