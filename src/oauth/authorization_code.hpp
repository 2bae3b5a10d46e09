#pragma once
// The authorization code grant for native apps (RFC 6749 §4.1, RFC 8252): PKCE (RFC 7636), the
// authorization request URL, and the judgement of the redirect that comes back to the loopback
// listener. Pure: no I/O beyond the CSPRNG.
#include <string>
#include <string_view>

#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::oauth {

// `bytes` bytes from OpenSSL's CSPRNG, base64url without padding (32 bytes: 43 characters).
// kInternal when the generator fails.
[[nodiscard]] Result<Secret> random_base64url(std::size_t bytes);

// RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))).
[[nodiscard]] std::string pkce_s256_challenge(std::string_view code_verifier);

// What one authorization request carries besides the profile's client, scope and audience.
struct AuthorizationRequest {
  std::string redirect_uri;
  std::string state;           // RFC 6749 §10.12: ties the callback to this request
  std::string nonce;           // OIDC Core §3.1.2.1: ties the ID token to this request
  std::string code_challenge;  // RFC 7636 §4.3, method S256
  std::string dpop_jkt;        // RFC 9449 §10: the DPoP key's thumbprint, or empty
};

// The URL the browser opens: the profile's authorization endpoint with response_type=code and the
// request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3), appended to any query it already has.
[[nodiscard]] std::string authorization_url(const Profile& profile, const AuthorizationRequest& request);

// What a request that reached the loopback listener means.
struct CallbackVerdict {
  enum class Kind {
    kRejected,  // not the callback of this request (wrong path, method or state, no code): answer 400, go on waiting
    kCode,      // the authorization code of this request
    kError,     // this request's error response (RFC 6749 §4.1.2.1), e.g. access_denied
  };
  Kind kind = Kind::kRejected;
  std::string reason;  // kRejected: why, for the 400 page (never the request's own text)
  Secret code;         // kCode
  OAuthError error;    // kError: sanitized
};

// Judges an HTTP request line's method and target against the expected path and state: only a GET
// of exactly `path` whose single `state` parameter equals `state` (compared in constant time) is
// this request's answer; then a `code` makes kCode and an `error` kError (an answer with both, or
// neither, or two codes is rejected).
[[nodiscard]] CallbackVerdict judge_callback(std::string_view method, std::string_view target, std::string_view path,
                                             const Secret& state);

}  // namespace devicelogin::oauth
