#pragma once
// Randomness, hashing and the ES256 signing key behind the devserver's JWTs and JWKS.
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "devicelogin/result.hpp"

namespace devicelogin::devserver {

// `count` bytes from OpenSSL's DRBG (RAND_bytes); kInternal when it fails.
[[nodiscard]] Result<std::string> random_bytes(std::size_t count);
// `count` random bytes, base64url-encoded; kInternal when the DRBG fails.
[[nodiscard]] Result<std::string> random_token(std::size_t count);
// The raw 32-byte SHA-256 of `data`.
[[nodiscard]] std::string sha256(std::string_view data);
// True when `a` and `b` are equal, in time that depends on their length only (CRYPTO_memcmp).
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);
// Serialises JSON without throwing (invalid UTF-8 is replaced).
[[nodiscard]] std::string dump_json(const nlohmann::json& value);

// The JWS algorithms the server accepts from clients (DPoP proofs): asymmetric only, never
// "none" or an HMAC (RFC 9449 §4.3 point 5).
inline constexpr std::string_view kProofAlgorithms[] = {"ES256", "EdDSA"};

// A client's public key from a JWK (RFC 7517): P-256 for ES256 or Ed25519 for EdDSA.
class PublicJwk {
 public:
  // The key in `jwk` for `alg`; an explanation when the JWK is not a public key of the kind
  // `alg` needs (wrong kty/crv, bad coordinates, a point off the curve, or any private member).
  [[nodiscard]] static std::expected<PublicJwk, std::string> parse(const nlohmann::json& jwk, std::string_view alg);

  // True when `signature` (JWS form: raw R || S for ES256) signs `input` with this key.
  [[nodiscard]] bool verify(std::string_view input, std::string_view signature) const;
  // The RFC 7638 SHA-256 thumbprint, base64url.
  [[nodiscard]] const std::string& thumbprint() const { return thumbprint_; }

 private:
  std::shared_ptr<EVP_PKEY> key_;
  bool ecdsa_ = false;
  std::string thumbprint_;
};

// A P-256 key generated at start; signs JWS compact tokens with ES256 (RFC 7518 §3.4).
class SigningKey {
 public:
  // A fresh key; kInternal when OpenSSL fails.
  [[nodiscard]] static Result<SigningKey> generate();

  // header.payload.signature with {"alg":"ES256","typ":typ,"kid":kid}; kInternal on failure.
  [[nodiscard]] Result<std::string> sign(std::string_view typ, const nlohmann::json& claims) const;
  // The public key as a JWK (RFC 7517) with kid, use and alg.
  [[nodiscard]] const nlohmann::json& public_jwk() const { return jwk_; }
  [[nodiscard]] const std::string& kid() const { return kid_; }

 private:
  std::shared_ptr<EVP_PKEY> key_;  // only read after generation, so shared between threads
  nlohmann::json jwk_;
  std::string kid_;
};

}  // namespace devicelogin::devserver
