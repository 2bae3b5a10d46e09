#pragma once
// JWS compact serialization (RFC 7515), JWK/JWKS (RFC 7517, RFC 7518 §6, RFC 8037) and OpenID
// Connect ID token validation (OIDC Core §3.1.3.7), with signatures checked by OpenSSL 3 EVP.
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin::oauth {

// What exactly is wrong with a token or key set. A typed problem rather than a bare Error so that
// callers (and tests) can act on it: kUnknownKid is the one case where refetching the JWKS helps.
enum class JwtProblem {
  kMalformed,              // not a compact JWS with JSON object header and payload, a bad claim type, or typ at+jwt
  kUnsupportedAlgorithm,   // alg is none, HS*, or anything but RS256, PS256, ES256, EdDSA; or crit is present
  kUnknownKid,             // no key in the JWKS has the token's kid (or, without kid, none fits the alg)
  kAmbiguousKey,           // the token names no kid and more than one key fits its alg
  kKeyMismatch,            // the selected key's kty/crv/alg/use does not fit the token's alg
  kBadKey,                 // the selected key's parameters are invalid (bad encoding, off-curve, RSA < 2048 bits)
  kBadJwks,                // the JWKS is not {"keys":[...]}
  kBadSignature,           // the signature does not verify
  kWrongIssuer,            // iss differs from the expected issuer
  kWrongAudience,          // aud does not contain the client id
  kExpired,                // exp is in the past beyond the clock skew
  kNotYetValid,            // nbf is in the future beyond the clock skew
  kIssuedInFuture,         // iat is in the future beyond the clock skew
  kWrongAuthorizedParty,   // azp is present and is not the client id
  kWrongNonce,             // a nonce was expected and the token's differs
  kMissingClaim,           // a required claim (iss, sub, aud, exp, iat) is absent
};

// A problem and a one-line message naming it. The message never contains the token.
struct JwtError {
  JwtProblem problem = JwtProblem::kMalformed;
  std::string message;
};

template <class T>
using JwtResult = std::expected<T, JwtError>;

// Stable short name of a problem ("unknown_kid", "bad_signature", ...), for tests and logs.
[[nodiscard]] const char* jwt_problem_name(JwtProblem problem) noexcept;

// The parts of a compact JWS. The signing input and signature are what make a token usable by
// someone else, so they are Secrets; the header and payload are only claims.
struct CompactJws {
  std::string header_json;   // decoded protected header
  std::string payload_json;  // decoded payload
  std::string alg;           // header "alg"
  std::string kid;           // header "kid", empty when absent
  std::string typ;           // header "typ", empty when absent
  Secret signing_input;      // ASCII(BASE64URL(header) || '.' || BASE64URL(payload)), RFC 7515 §5.2
  Secret signature;          // decoded signature bytes
};

// Splits and decodes a compact JWS (RFC 7515 §7.1). kMalformed unless there are exactly three
// strict base64url segments whose first two decode to JSON objects and the header has a string
// alg; kUnsupportedAlgorithm when the header carries `crit` (RFC 7515 §4.1.11: we understand no
// extension). The algorithm itself is checked by verify_jws_signature.
[[nodiscard]] JwtResult<CompactJws> parse_compact_jws(std::string_view token);

// One public key from a JWKS; key material stays in its base64url text form until it is used.
struct Jwk {
  std::string kty;
  std::string kid;
  std::string use;
  std::string alg;
  std::string crv;
  std::vector<std::string> key_ops;
  std::string n, e;  // RSA (RFC 7518 §6.3.1)
  std::string x, y;  // EC (RFC 7518 §6.2.1) and OKP (RFC 8037 §2; x only)
};

// The keys of a JWK Set (RFC 7517 §5). Members that are not objects or lack a string kty are
// skipped (§5: unknown key types are ignored); kBadJwks when the text is not {"keys":[...]}.
[[nodiscard]] JwtResult<std::vector<Jwk>> parse_jwks(std::string_view jwks_json);

// The key to verify a token with `alg` and `kid`: the key with that kid (kUnknownKid when none;
// kKeyMismatch when it cannot verify alg), or, when kid is empty, the single key that fits alg
// (kUnknownKid when none, kAmbiguousKey when several).
[[nodiscard]] JwtResult<Jwk> select_jwk(const std::vector<Jwk>& keys, std::string_view alg, std::string_view kid);

// Checks the signature of `jws` with `key` (RFC 7518 §3.3 RS256, §3.5 PS256, §3.4 ES256,
// RFC 8037 §3.1 EdDSA with Ed25519). kUnsupportedAlgorithm for any other alg (none and HS* in
// particular), kKeyMismatch when the key cannot be used with alg, kBadKey when its parameters are
// invalid, kBadSignature when it does not verify.
[[nodiscard]] JwtResult<void> verify_jws_signature(const CompactJws& jws, const Jwk& key);

// What the relying party expects of an ID token.
struct IdTokenExpectations {
  std::string issuer;     // exact iss (OIDC Core §3.1.3.7 item 2)
  std::string client_id;  // must be in aud and, when azp is present, equal it
  std::string nonce;      // when non-empty, the token's nonce must equal it (item 11)
  long long clock_skew_seconds = 120;  // clamped to [0, kMaxClockSkewSeconds]
  // Microsoft Entra multi-tenant alias of the profile ("common", "organizations" or "consumers"),
  // empty otherwise. See validate_id_token for the issuer rule it enables.
  std::string entra_tenant_alias;
};

inline constexpr long long kMaxClockSkewSeconds = 600;
// Tokens longer than this are refused as malformed before any decoding.
inline constexpr std::size_t kMaxJwtBytes = 64 * 1024;

// The claims of a validated ID token (OIDC Core §2, §5.1). Optional claims are empty when absent.
struct IdTokenClaims {
  std::string iss;
  std::string sub;
  std::vector<std::string> aud;
  long long exp = 0;
  long long iat = 0;
  std::optional<long long> nbf;
  std::string azp;
  std::string nonce;
  std::string name;
  std::string preferred_username;
  std::string email;
  std::string tid;  // Microsoft Entra tenant id
};

// True for a Microsoft tenant id: 8-4-4-4-12 hexadecimal digits.
[[nodiscard]] bool guid_shaped(std::string_view text);

// Verifies `token`'s signature with the matching key of `jwks_json` and applies OIDC Core
// §3.1.3.7 at unix time `now`: iss, aud, azp, exp, iat (and nbf, nonce when present or expected).
// Returns the claims, or the first problem found. With `entra_tenant_alias` set, iss must instead be
// https://login.microsoftonline.com/{tid}/v2.0 where {tid} is the token's own tid claim.
[[nodiscard]] JwtResult<IdTokenClaims> validate_id_token(std::string_view token, std::string_view jwks_json,
                                                         const IdTokenExpectations& expected, long long now);

}  // namespace devicelogin::oauth
