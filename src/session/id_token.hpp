#pragma once
// ID token validation for the session facade: fetches and caches the issuer's JWKS.
#include <string>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin {

// Validates `tokens.id_token` (when there is one) against the profile's issuer, client id and JWKS
// at unix time `now` (OIDC Core §3.1.3.7, 120 s clock skew), then sets `tokens.subject` to its `sub`.
// `jwks_cache` holds the JWKS document (JSON text) last used, or is empty: it is used first, refetched
// from `profile.endpoints.jwks` once when it lacks the token's key, and on success replaced by the
// document that verified the token (unchanged on failure). An empty id_token returns {} untouched.
// Fails with kConfig when the profile has no JWKS URI, kNetwork when the fetch fails, kServer when
// the JWKS or the token is invalid ("the ID token is invalid: <reason>"); never names the token.
[[nodiscard]] Result<void> check_id_token(const Profile& profile, HttpClient& http, TokenSet& tokens, long long now,
                                          std::string& jwks_cache);

}  // namespace devicelogin
