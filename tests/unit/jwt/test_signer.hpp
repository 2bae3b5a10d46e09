#pragma once
// A small JWS signer for tests: keys generated with OpenSSL at test time, exported as JWKs, and
// compact tokens signed with any header and payload (including deliberately wrong ones).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace devicelogin::testing {

// A freshly generated private key with the JWS alg it signs for and its kid.
struct TestKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string alg;  // RS256, PS256, ES256 or EdDSA
  std::string kid;
  // The public JWK (kty, kid, use "sig", and n/e, crv/x/y or crv/x), without "alg".
  [[nodiscard]] nlohmann::json public_jwk() const;
  // The public key as PEM (SubjectPublicKeyInfo), the secret of the HMAC confusion attack.
  [[nodiscard]] std::string public_pem() const;
  // The same key material used for another alg (RS256 <-> PS256).
  [[nodiscard]] TestKey with_alg(std::string other_alg) const;
};

[[nodiscard]] TestKey make_rsa_key(std::string kid, int bits = 2048);
[[nodiscard]] TestKey make_p256_key(std::string kid);
[[nodiscard]] TestKey make_ed25519_key(std::string kid);

// The four keys the JWT tests share (RSA, RSA, P-256, Ed25519), generated on the first run of a
// build and kept in `cache_path` (PEM), so that each of the many ctest processes does not spend
// its time generating RSA keys. An unreadable or mismatched cache is regenerated; the file is
// written to a temporary name and renamed, so parallel processes never read half of it.
[[nodiscard]] std::vector<std::shared_ptr<EVP_PKEY>> load_or_generate_shared_keys(const std::string& cache_path);

// base64url without padding.
[[nodiscard]] std::string b64url(std::string_view bytes);

// The JWS signature of `signing_input` with `key` for `key.alg` (ES256 as raw r||s, RFC 7518 §3.4).
[[nodiscard]] std::string sign_bytes(const TestKey& key, std::string_view signing_input);
// HMAC-SHA256 of `signing_input` keyed with `secret`.
[[nodiscard]] std::string hmac_sha256(std::string_view secret, std::string_view signing_input);

// A compact JWS: header and payload serialized as given (alg/kid are NOT added automatically).
[[nodiscard]] std::string sign_compact(const TestKey& key, const nlohmann::json& header, const nlohmann::json& payload);
// Same, with a payload given as raw bytes.
[[nodiscard]] std::string sign_compact_raw(const TestKey& key, const std::string& header_json, const std::string& payload_bytes);

}  // namespace devicelogin::testing
