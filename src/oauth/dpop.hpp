#pragma once
// DPoP (RFC 9449), the client's building blocks: a proof-of-possession key (ES256 or EdDSA with
// Ed25519), its public JWK and RFC 7638 thumbprint, proof JWTs (§4.2), the server's nonces (§8,
// §9) and the DPoP authentication challenge (§7.1). Free of I/O and of the clock: the caller
// gives the time (on the server's clock) and the responses.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "devicelogin/http_client.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"

// OpenSSL's EVP_PKEY, declared here so that this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace devicelogin::oauth {

// The JWS algorithms a DPoP key can sign with (RFC 9449 §4.2: asymmetric only).
enum class DpopAlgorithm {
  kEs256,  // ECDSA on P-256 with SHA-256 (RFC 7518 §3.4)
  kEdDsa,  // Ed25519 (RFC 8037 §3.1)
};

// The JWS "alg" name: "ES256" or "EdDSA".
[[nodiscard]] const char* dpop_algorithm_name(DpopAlgorithm algorithm) noexcept;

// The algorithm for a server that lists `server_algs` (discovery's
// dpop_signing_alg_values_supported, or a DPoP challenge's algs): EdDSA when offered, else ES256.
// An empty list means the server did not say, and gets ES256 (the one every server supports in
// practice). kConfig when the list names neither.
[[nodiscard]] Result<DpopAlgorithm> choose_dpop_algorithm(const std::vector<std::string>& server_algs);

// The public half of a DPoP key as a JWK with only the members RFC 7638 §3.2 requires
// (kty, crv, x and, for EC, y): what goes into a proof's header.
struct DpopPublicJwk {
  std::string kty;  // "EC" or "OKP"
  std::string crv;  // "P-256" or "Ed25519"
  std::string x;
  std::string y;    // empty for OKP
};

// The RFC 7638 canonical JSON of a public JWK: its required members in lexicographic order, no
// whitespace (§3.3). For EC {"crv","kty","x","y"}; for OKP {"crv","kty","x"} (RFC 8037 §2).
[[nodiscard]] std::string jwk_thumbprint_input(const DpopPublicJwk& jwk);
// The RFC 7638 SHA-256 thumbprint of `jwk`, base64url without padding: RFC 9449's `jkt`.
[[nodiscard]] std::string jwk_thumbprint_sha256(const DpopPublicJwk& jwk);

// A private key that signs DPoP proofs. The private key lives only inside OpenSSL's key object (or,
// for EdDSA when libsodium is installed, in a Secret that libsodium signs with) and, when asked
// for, in the Secret that serialize() returns; it never reaches a message. Move-only.
class DpopKey {
 public:
  // A fresh key for `algorithm`. kInternal when OpenSSL cannot make one.
  [[nodiscard]] static Result<DpopKey> generate(DpopAlgorithm algorithm);
  // The key from serialize()'s form. kReloginRequired (remedy: sign in) when the text is not such
  // a key, or its public part does not belong to its private part: a damaged key cannot be
  // repaired, only replaced by a new login.
  [[nodiscard]] static Result<DpopKey> load(const Secret& serialized);

  DpopKey(DpopKey&& other) noexcept;
  DpopKey& operator=(DpopKey&& other) noexcept;
  DpopKey(const DpopKey&) = delete;
  DpopKey& operator=(const DpopKey&) = delete;
  ~DpopKey();

  // The private JWK for storage (RFC 7518 §6.2.2 / RFC 8037 §2: kty, crv, x, y, d), as a Secret:
  // it is the key itself. kInternal when OpenSSL cannot export it.
  [[nodiscard]] Result<Secret> serialize() const;

  [[nodiscard]] DpopAlgorithm algorithm() const noexcept { return algorithm_; }
  [[nodiscard]] const DpopPublicJwk& public_jwk() const noexcept { return public_jwk_; }
  // The RFC 7638 SHA-256 thumbprint of the public key (`jkt`, RFC 9449 §6.1).
  [[nodiscard]] const std::string& thumbprint() const noexcept { return thumbprint_; }

  // The JWS signature of `signing_input` (ES256: R || S, 32 bytes each, RFC 7518 §3.4, not DER;
  // EdDSA: the 64-byte Ed25519 signature). kInternal when OpenSSL fails.
  [[nodiscard]] Result<std::string> sign(std::string_view signing_input) const;

 private:
  struct PkeyFree {
    void operator()(evp_pkey_st* key) const noexcept;
  };
  using PkeyPointer = std::unique_ptr<evp_pkey_st, PkeyFree>;
  DpopKey(PkeyPointer pkey, DpopAlgorithm algorithm, DpopPublicJwk public_jwk);
  DpopKey(Secret sodium_ed25519_key, DpopPublicJwk public_jwk);

  PkeyPointer pkey_;            // ES256, or EdDSA without libsodium
  Secret sodium_ed25519_key_;   // EdDSA with libsodium: its secret key (the seed, then the public key)
  DpopAlgorithm algorithm_ = DpopAlgorithm::kEs256;
  DpopPublicJwk public_jwk_;
  std::string thumbprint_;
};

// Makes EdDSA keys and SHA-256 use OpenSSL only (`disabled`), as without libsodium installed, or
// libsodium again when it is. For tests: both must give the same keys, proofs and digests.
void disable_libsodium_for_test(bool disabled) noexcept;

// The `htu` of a request to `url` (RFC 9449 §4.2: "without query and fragment parts"), in the
// normal form of RFC 3986 §6.2.2 and §6.2.3 that a server compares against (§4.3 item 9): scheme
// and host lower-cased, the default port dropped, an empty path as "/", percent-encodings
// upper-cased. kUsage when `url` is not an absolute http or https URL with a host, or carries
// user information (RFC 9110 §4.2.4: never sent).
[[nodiscard]] Result<std::string> dpop_htu(std::string_view url);
// The origin of `url` (scheme://host[:port], normalized as dpop_htu does): the key of the nonce
// cache. kUsage as dpop_htu.
[[nodiscard]] Result<std::string> dpop_origin(std::string_view url);

// What one proof is for.
struct DpopProofRequest {
  std::string_view method{};  // htm: the request's method (an RFC 9110 token, e.g. "POST")
  std::string_view url{};     // the request's URL; htu is dpop_htu(url)
  long long issued_at = 0;  // iat: now on the server's clock, in unix seconds
  // ath (§4.2): the access token the request presents, for requests to a resource server.
  const Secret* access_token = nullptr;
  std::string_view nonce{};   // the server's latest DPoP-Nonce for the origin; empty when none
};

// The longest DPoP-Nonce accepted. RFC 9449 sets no limit; nonces seen in practice are under 100
// bytes, and each one is copied into every later proof to its origin.
inline constexpr std::size_t kMaxDpopNonceBytes = 512;

// A signed DPoP proof JWT (RFC 9449 §4.2), the value of the `DPoP` request header: header
// {typ "dpop+jwt", alg, jwk}, claims {jti (fresh, 128 random bits), htm, htu, iat, and ath and
// nonce when given}. A Secret: until it expires, it lets whoever holds it (and the token) make
// that one request. kUsage for a method that is not a token, a bad URL, a malformed nonce or a
// negative iat; kInternal when OpenSSL fails.
[[nodiscard]] Result<Secret> make_dpop_proof(const DpopKey& key, const DpopProofRequest& request);

// The `ath` of an access token (RFC 9449 §4.2): base64url(SHA-256(ASCII(token))).
[[nodiscard]] std::string dpop_access_token_hash(const Secret& access_token);

// `value` when it is a valid DPoP-Nonce (RFC 9449 §8.1: nonce = 1*NQCHAR, NQCHAR = %x21 /
// %x23-5B / %x5D-7E) of at most kMaxDpopNonceBytes; kServer naming the first offending byte's
// position (never echoing the value) otherwise.
[[nodiscard]] Result<std::string> validate_dpop_nonce(std::string_view value);

// One challenge of a WWW-Authenticate header (RFC 9110 §11.6.1).
struct AuthChallenge {
  std::string scheme;   // as sent; compare case-insensitively
  std::string token68;  // the token68 form, empty when the challenge has parameters instead
  // auth-params in order: names lower-cased (they are case-insensitive, §11.2), values with
  // quoted-string quoting and escapes removed.
  std::vector<std::pair<std::string, std::string>> params;
  // The value of parameter `name` (lower-case), or nullptr.
  [[nodiscard]] const std::string* param(std::string_view name) const;
};

// The longest WWW-Authenticate value parsed.
inline constexpr std::size_t kMaxWwwAuthenticateBytes = 16 * 1024;

// The challenges of one WWW-Authenticate field value (RFC 9110 §11.6.1: `#challenge`, each an
// auth-scheme with a token68 or a list of auth-params whose values are tokens or quoted strings).
// kServer with a one-line reason (never the value) when it does not follow that grammar, repeats
// a parameter within a challenge (§11.2), holds no challenge, or exceeds kMaxWwwAuthenticateBytes.
[[nodiscard]] Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view value);

// What a DPoP challenge says (RFC 9449 §7.1, RFC 6750 §3).
struct DpopChallenge {
  std::string error;              // e.g. "invalid_token", "use_dpop_nonce"; empty when absent
  std::string error_description;  // sanitized server text, empty when absent
  std::vector<std::string> algs;  // the JWS algorithms the resource server accepts
  std::string realm;
  std::string scope;
};

// The DPoP challenge among every WWW-Authenticate header of `response`, nullopt when none is DPoP
// (a Bearer-only answer). kServer when a WWW-Authenticate header is malformed.
[[nodiscard]] Result<std::optional<DpopChallenge>> dpop_challenge(const HttpResponse& response);

// The DPoP-Nonce header of `response` when it has a valid one, nullopt when it has none; kServer
// when it is malformed (validate_dpop_nonce).
[[nodiscard]] Result<std::optional<std::string>> dpop_nonce_header(const HttpResponse& response);

// Whether `response` asks for the request again with a server nonce: an authorization server's
// 400 with the JSON error "use_dpop_nonce" (RFC 9449 §8), or a resource server's 401 whose DPoP
// challenge has error="use_dpop_nonce" (§9). The nonce to retry with when it does, nullopt when it
// does not; kServer when it does but carries no valid DPoP-Nonce header, or a malformed challenge.
[[nodiscard]] Result<std::optional<std::string>> dpop_nonce_to_retry_with(const HttpResponse& response);

// The latest nonce each origin gave (RFC 9449 §8.2: a nonce applies to the server that sent it,
// and any answer may carry a new one). Thread-safe; bounded to kMaxOrigins origins (the oldest
// entry goes first).
class DpopNonceCache {
 public:
  static constexpr std::size_t kMaxOrigins = 32;

  // The nonce to put in a proof for `url`, or nullopt when its origin gave none (or `url` has
  // no origin).
  [[nodiscard]] std::optional<std::string> nonce_for(std::string_view url) const;
  // Records the DPoP-Nonce of `response` to a request for `url`, if it has one. kServer for a
  // malformed nonce (the cached one is kept), kUsage for a bad URL.
  [[nodiscard]] Result<void> update(std::string_view url, const HttpResponse& response);
  // Records `nonce` (validated as validate_dpop_nonce does) for the origin of `url`.
  [[nodiscard]] Result<void> remember(std::string_view url, std::string_view nonce);
  // Forgets every nonce.
  void clear();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<unsigned long long, std::string>, std::less<>> nonces_;  // origin -> (age, nonce)
  unsigned long long next_age_ = 0;
};

}  // namespace devicelogin::oauth
