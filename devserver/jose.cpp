#include "devicelogin/advanced/error_builders.hpp"
#include "jose.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/encoding.hpp"

namespace devicelogin::devserver {

namespace {

constexpr int kCoordinateBytes = 32;  // P-256 coordinates and ECDSA r, s (RFC 7518 §3.4)

std::string big_endian(const BIGNUM* number) {
  std::string out(kCoordinateBytes, '\0');
  BN_bn2binpad(number, reinterpret_cast<unsigned char*>(out.data()), kCoordinateBytes);
  return out;
}

}  // namespace

Result<std::string> random_bytes(std::size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return fail(ErrorCode::kInternal, "the random number generator failed");
  }
  return out;
}

Result<std::string> random_token(std::size_t count) {
  auto bytes = random_bytes(count);
  if (!bytes) return std::unexpected(bytes.error());
  return core::base64url_encode(*bytes);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<SigningKey> SigningKey::generate() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (raw == nullptr) return fail(ErrorCode::kInternal, "cannot generate the P-256 signing key");
  SigningKey key;
  key.key_ = std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);

  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  bool ok = EVP_PKEY_get_bn_param(raw, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
            EVP_PKEY_get_bn_param(raw, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1;
  std::string x_b64 = ok ? core::base64url_encode(big_endian(x)) : std::string{};
  std::string y_b64 = ok ? core::base64url_encode(big_endian(y)) : std::string{};
  BN_free(x);
  BN_free(y);
  if (!ok) return fail(ErrorCode::kInternal, "cannot read the signing key's public point");

  // RFC 7638 §3.2: the thumbprint hashes the required members in lexicographic order.
  std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + x_b64 + R"(","y":")" + y_b64 + R"("})";
  key.kid_ = core::base64url_encode(sha256(canonical));
  key.jwk_ = {{"kty", "EC"}, {"crv", "P-256"}, {"x", x_b64},      {"y", y_b64},
              {"kid", key.kid_}, {"use", "sig"},  {"alg", "ES256"}};
  return key;
}

Result<std::string> SigningKey::sign(std::string_view typ, const nlohmann::json& claims) const {
  nlohmann::json header = {{"alg", "ES256"}, {"typ", std::string(typ)}, {"kid", kid_}};
  std::string input = core::base64url_encode(dump_json(header)) + "." + core::base64url_encode(dump_json(claims));

  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return fail(ErrorCode::kInternal, "out of memory while signing");
  std::string der(128, '\0');
  std::size_t der_length = der.size();
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
            EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &der_length,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return fail(ErrorCode::kInternal, "ES256 signing failed");

  // RFC 7518 §3.4: the JWS signature is R || S, each 32 bytes, not the DER sequence OpenSSL emits.
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* signature = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_length));
  if (signature == nullptr) return fail(ErrorCode::kInternal, "cannot decode the ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(signature, &r, &s);
  std::string raw = big_endian(r) + big_endian(s);
  ECDSA_SIG_free(signature);
  return input + "." + core::base64url_encode(raw);
}

}  // namespace devicelogin::devserver
