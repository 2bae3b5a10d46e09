#pragma once
// Wire formats of RFC 8628 and RFC 6749: responses (JSON, or form-encoded as GitHub sends them)
// turned into structs, every field checked as data.
#include <optional>
#include <string>
#include <vector>

#include "devicelogin/http_client.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin::oauth {

// A public document (discovery metadata, a JWKS): its body is plain text, not a Secret, so that
// reveal() keeps marking the places where a secret leaves its box.
struct PublicDocument {
  int status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;
  // The first header with this (case-insensitive) name, or empty.
  [[nodiscard]] std::string header(std::string_view name) const;
};

// GETs a public JSON document (metadata, a JWKS) with `Accept: application/json`. Only for
// unauthenticated GETs of public documents: the body leaves the response's Secret here.
[[nodiscard]] Result<PublicDocument> get_json(HttpClient& http, const std::string& url);

// RFC 8628 §3.2 device authorization response. Text fields are sanitized server text.
struct DeviceAuthorization {
  Secret device_code;
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;  // empty when absent
  std::string message;                    // Entra's ready-made instructions, empty when absent
  long long expires_in = 0;
  long long interval = 5;                 // RFC 8628 §3.2: default 5 s when absent
};

// An RFC 6749 §5.2 error response.
struct OAuthError {
  std::string error;
  std::string description;  // sanitized, may be empty
  std::optional<long long> interval;  // a slow_down may carry the new interval
  std::vector<long long> error_codes;  // Entra's numeric AADSTS codes ("error_codes":[53003]), if any
};

// What one answer of the token endpoint means.
struct TokenReply {
  enum class Kind { kTokens, kError, kTransient };
  Kind kind = Kind::kTransient;
  TokenSet tokens;               // kTokens
  OAuthError error;              // kError
  std::optional<long long> retry_after;  // kTransient: seconds from Retry-After
  int http_status = 0;
  // kTokens: tokens.expires_at is the access token's JWT `exp` claim (no expires_in was given),
  // a time on the server's clock rather than the local one.
  bool expires_at_from_jwt = false;
};

// Parses a device authorization response; kServer naming the missing or bad field, kProtocol
// for an OAuth error answer.
[[nodiscard]] Result<DeviceAuthorization> parse_device_authorization(const HttpResponse& response);

// Classifies and parses a token endpoint answer (device_code or refresh_token grant): tokens,
// an OAuth error (HTTP 200 as GitHub sends them, or 4xx), or a transient failure (5xx, 429).
// kServer for answers that are none of these (3xx, a 4xx without error, a success without
// access_token). `now` (unix seconds) turns expires_in into expires_at.
[[nodiscard]] Result<TokenReply> parse_token_reply(const HttpResponse& response, long long now);

// The claims object of a JWT, without any verification (for `exp`/`sub` hints only), or nullopt
// when `token` is not a JWS compact serialisation with a JSON payload.
[[nodiscard]] std::optional<std::string> unverified_jwt_claims_json(std::string_view token);

// The error for an answer that says device-code sign-in is turned off for this client by the
// server's administrator: Entra's Conditional Access block (AADSTS53003, in error_codes or the
// description), GitHub's device_flow_disabled, or unauthorized_client (RFC 6749 §5.2: the client
// may not use this grant) from a server that gives no Entra code (Entra's unauthorized_client
// also means an unknown application). kProtocol with Remedy::kUseBrowserFlow, the OAuth error
// and the status; nullopt for any other error.
[[nodiscard]] std::optional<Error> device_flow_blocked(const OAuthError& error, int http_status);

// A message for an OAuth error that ends an operation: "server said <error>: <description>".
[[nodiscard]] std::string describe_oauth_error(const OAuthError& error);

}  // namespace devicelogin::oauth
