#include "test_signer.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <unistd.h>

#include <cstdio>
#include <stdexcept>

#include "core/encoding.hpp"

namespace devicelogin::testing {
namespace {

// Test setup failures are bugs in the test, so they abort loudly.
void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test signer: ") + what);
}

TestKey wrap(EVP_PKEY* raw, std::string alg, std::string kid) {
  require(raw != nullptr, "key generation failed");
  return TestKey{std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free), std::move(alg), std::move(kid)};
}

std::string bignum_param(EVP_PKEY* key, const char* name) {
  BIGNUM* value = nullptr;
  require(EVP_PKEY_get_bn_param(key, name, &value) == 1, "get_bn_param");
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(value)), '\0');
  BN_bn2bin(value, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(value);
  return bytes;
}

}  // namespace

std::vector<std::shared_ptr<EVP_PKEY>> load_or_generate_shared_keys(const std::string& cache_path) {
  const char* const kTypes[] = {"RSA", "RSA", "EC", "ED25519"};
  std::vector<std::shared_ptr<EVP_PKEY>> keys;
  if (BIO* in = BIO_new_file(cache_path.c_str(), "r")) {
    while (EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr)) {
      keys.emplace_back(key, EVP_PKEY_free);
    }
    BIO_free(in);
  }
  bool usable = keys.size() == std::size(kTypes);
  for (std::size_t i = 0; usable && i < keys.size(); ++i) usable = EVP_PKEY_is_a(keys[i].get(), kTypes[i]) == 1;
  if (usable) return keys;

  keys = {make_rsa_key("").pkey, make_rsa_key("").pkey, make_p256_key("").pkey, make_ed25519_key("").pkey};
  const std::string temporary = cache_path + ".tmp." + std::to_string(getpid());
  if (BIO* out = BIO_new_file(temporary.c_str(), "w")) {
    bool written = true;
    for (const auto& key : keys) {
      written = written && PEM_write_bio_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    }
    BIO_free(out);
    if (!written || std::rename(temporary.c_str(), cache_path.c_str()) != 0) std::remove(temporary.c_str());
  }
  return keys;
}

std::string b64url(std::string_view bytes) { return core::base64url_encode(bytes); }

TestKey make_rsa_key(std::string kid, int bits) {
  return wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)), "RS256", std::move(kid));
}
TestKey make_p256_key(std::string kid) {
  return wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "ES256", std::move(kid));
}
TestKey make_ed25519_key(std::string kid) {
  return wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), "EdDSA", std::move(kid));
}

TestKey TestKey::with_alg(std::string other_alg) const { return TestKey{pkey, std::move(other_alg), kid}; }

nlohmann::json TestKey::public_jwk() const {
  nlohmann::json jwk = {{"kid", kid}, {"use", "sig"}};
  if (alg == "RS256" || alg == "PS256") {
    jwk["kty"] = "RSA";
    jwk["n"] = b64url(bignum_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N));
    jwk["e"] = b64url(bignum_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E));
  } else if (alg == "ES256") {
    unsigned char point[65];
    std::size_t size = 0;
    require(EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &size) == 1 &&
                size == 65 && point[0] == 0x04,
            "EC public point");
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] = b64url(std::string_view(reinterpret_cast<const char*>(point + 1), 32));
    jwk["y"] = b64url(std::string_view(reinterpret_cast<const char*>(point + 33), 32));
  } else {
    unsigned char raw[32];
    std::size_t size = sizeof raw;
    require(EVP_PKEY_get_raw_public_key(pkey.get(), raw, &size) == 1 && size == 32, "Ed25519 public key");
    jwk["kty"] = "OKP";
    jwk["crv"] = "Ed25519";
    jwk["x"] = b64url(std::string_view(reinterpret_cast<const char*>(raw), 32));
  }
  return jwk;
}

std::string TestKey::public_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  require(bio != nullptr && PEM_write_bio_PUBKEY(bio, pkey.get()) == 1, "PEM export");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

std::string sign_bytes(const TestKey& key, std::string_view signing_input) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_PKEY_CTX* key_context = nullptr;
  const EVP_MD* digest = key.alg == "EdDSA" ? nullptr : EVP_sha256();
  require(EVP_DigestSignInit(context, &key_context, digest, nullptr, key.pkey.get()) == 1, "DigestSignInit");
  if (key.alg == "PS256") {
    require(EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) == 1 &&
                EVP_PKEY_CTX_set_rsa_mgf1_md(key_context, EVP_sha256()) == 1 &&
                EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) == 1,
            "PSS parameters");
  }
  std::size_t size = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  require(EVP_DigestSign(context, nullptr, &size, input, signing_input.size()) == 1, "DigestSign size");
  std::string signature(size, '\0');
  require(EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &size, input, signing_input.size()) == 1,
          "DigestSign");
  signature.resize(size);
  EVP_MD_CTX_free(context);
  if (key.alg != "ES256") return signature;
  // DER ECDSA-Sig-Value -> R || S, each left-padded to 32 bytes (RFC 7518 §3.4).
  const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
  require(parsed != nullptr, "ECDSA DER");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(parsed);
  return raw;
}

std::string hmac_sha256(std::string_view secret, std::string_view signing_input) {
  unsigned char out[32];
  std::size_t size = 0;
  require(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                    reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), out, sizeof out,
                    &size) != nullptr,
          "HMAC");
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string sign_compact_raw(const TestKey& key, const std::string& header_json, const std::string& payload_bytes) {
  std::string input = b64url(header_json) + "." + b64url(payload_bytes);
  return input + "." + b64url(sign_bytes(key, input));
}

std::string sign_compact(const TestKey& key, const nlohmann::json& header, const nlohmann::json& payload) {
  return sign_compact_raw(key, header.dump(), payload.dump());
}

}  // namespace devicelogin::testing
