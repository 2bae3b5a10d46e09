#include "devicelogin/advanced/error_builders.hpp"
#include "jose.hpp"

#include <optional>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
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

// A JWK string member decoded from base64url, or nullopt when absent, not a string or not the
// canonical unpadded base64url of exactly `size` bytes: one key has one spelling, so the
// thumbprint a client computes from its JWK is the one we compute.
std::optional<std::string> coordinate(const nlohmann::json& jwk, const char* name, std::size_t size) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  const std::string& text = it->get_ref<const std::string&>();
  for (char c : text) {
    bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!url_safe) return std::nullopt;
  }
  auto bytes = core::base64url_decode(text);
  if (!bytes || bytes->size() != size || core::base64url_encode(*bytes) != text) return std::nullopt;
  return bytes;
}

EVP_PKEY* p256_public_key(const std::string& x, const std::string& y) {
  std::string point = "\x04" + x + y;  // SEC 1 uncompressed point
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  if (builder == nullptr) return nullptr;
  OSSL_PARAM* params = nullptr;
  EVP_PKEY_CTX* context = nullptr;
  EVP_PKEY* key = nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(builder)) != nullptr &&
      (context = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)) != nullptr &&
      EVP_PKEY_fromdata_init(context) == 1) {
    // Decoding the point checks that it is on the curve; a point off it fails here.
    if (EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = nullptr;
  }
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  return key;
}

}  // namespace

std::expected<PublicJwk, std::string> PublicJwk::parse(const nlohmann::json& jwk, std::string_view alg) {
  if (!jwk.is_object()) return std::unexpected("jwk must be a JSON object");
  // RFC 9449 §4.3 point 7: the jwk must not contain a private key. These are every private
  // member RFC 7518 §6 defines (EC and OKP "d", RSA's CRT members, a symmetric "k").
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(member)) return std::unexpected("jwk contains a private key member");
  }
  auto member = [&](const char* name) {
    auto it = jwk.find(name);
    return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  PublicJwk result;
  std::string canonical;
  if (alg == "ES256") {
    if (member("kty") != "EC" || member("crv") != "P-256") return std::unexpected("ES256 needs an EC P-256 jwk");
    auto x = coordinate(jwk, "x", kCoordinateBytes);
    auto y = coordinate(jwk, "y", kCoordinateBytes);
    if (!x || !y) return std::unexpected("jwk x and y must be 32-byte base64url values");
    EVP_PKEY* key = p256_public_key(*x, *y);
    if (key == nullptr) return std::unexpected("jwk is not a point on P-256");
    result.key_ = std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
    result.ecdsa_ = true;
    // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    canonical = R"({"crv":"P-256","kty":"EC","x":")" + core::base64url_encode(*x) + R"(","y":")" +
                core::base64url_encode(*y) + R"("})";
  } else if (alg == "EdDSA") {
    if (member("kty") != "OKP" || member("crv") != "Ed25519") return std::unexpected("EdDSA needs an OKP Ed25519 jwk");
    auto x = coordinate(jwk, "x", 32);
    if (!x) return std::unexpected("jwk x must be a 32-byte base64url value");
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(x->data()), x->size());
    if (key == nullptr) return std::unexpected("jwk is not an Ed25519 public key");
    result.key_ = std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
    // RFC 8037 §2: an OKP thumbprint hashes crv, kty and x.
    canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + core::base64url_encode(*x) + R"("})";
  } else {
    return std::unexpected("unsupported algorithm");
  }
  result.thumbprint_ = core::base64url_encode(sha256(canonical));
  return result;
}

bool PublicJwk::verify(std::string_view input, std::string_view signature) const {
  constexpr std::size_t kSignatureBytes = 64;  // ES256: R || S (RFC 7518 §3.4); Ed25519: 64 (RFC 8032)
  if (key_ == nullptr || signature.size() != kSignatureBytes) return false;
  std::string der;
  if (ecdsa_) {
    // OpenSSL verifies DER-encoded ECDSA signatures; JWS carries the raw pair.
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* pair = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(raw, kCoordinateBytes, nullptr);
    BIGNUM* s = BN_bin2bn(raw + kCoordinateBytes, kCoordinateBytes, nullptr);
    if (pair == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(pair, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(pair);
      return false;
    }
    unsigned char* encoded = nullptr;
    int length = i2d_ECDSA_SIG(pair, &encoded);
    ECDSA_SIG_free(pair);  // frees r and s
    if (length <= 0) return false;
    der.assign(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(length));
    OPENSSL_free(encoded);
    signature = der;
  }
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  if (context == nullptr) return false;
  // Ed25519 hashes internally: no digest is named for it.
  bool ok = EVP_DigestVerifyInit(context, nullptr, ecdsa_ ? EVP_sha256() : nullptr, nullptr, key_.get()) == 1 &&
            EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(context);
  return ok;
}

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
