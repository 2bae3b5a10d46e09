// DPoP (RFC 9449) building blocks: proofs checked with OpenSSL against their own header's key
// (with code written here, not the library's verifier), thumbprints against the RFCs' published
// values and against node's crypto, the key's storage form, nonces, and WWW-Authenticate.
// RAND_set_rand_method, deprecated in OpenSSL 3, is the one way to see who asks OpenSSL for
// random bytes (DpopProofCost).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "oauth/dpop.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <vector>

extern char** environ;

namespace devicelogin::oauth {
namespace {

using json = nlohmann::json;

// Table rows print as their name (gtest would otherwise dump their bytes).
template <class Case>
  requires requires(const Case& row) { std::string(row.name); }
void PrintTo(const Case& row, std::ostream* out) {
  *out << row.name;
}

// Plain base64url for the test's own checks (independent of the library's encoder).
std::string b64url_decode(std::string_view text) {
  std::string padded(text);
  for (char& c : padded) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (padded.size() % 4 != 0) padded.push_back('=');
  std::string out(padded.size(), '\0');
  const int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (size < 0) return {};
  out.resize(static_cast<std::size_t>(size) - (text.size() % 4 == 2 ? 2 : text.size() % 4 == 3 ? 1 : 0));
  return out;
}

std::string b64url_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                   reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(size));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string sha256(std::string_view bytes) {
  unsigned char digest[32];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The public key a proof's header carries, built from its JWK members.
Pkey public_key_from_jwk(const json& jwk) {
  EVP_PKEY* raw = nullptr;
  if (jwk.value("kty", "") == "OKP") {
    const std::string x = b64url_decode(jwk.value("x", ""));
    raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size());
    return Pkey(raw);
  }
  const std::string point = "\x04" + b64url_decode(jwk.value("x", "")) + b64url_decode(jwk.value("y", ""));
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY_fromdata_init(context);
  EVP_PKEY_fromdata(context, &raw, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  return Pkey(raw);
}

// RFC 7518 §3.4's R || S as the DER ECDSA-Sig-Value that EVP verifies.
std::string raw_to_der(std::string_view raw) {
  ECDSA_SIG* signature = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(signature, r, s);
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(signature, &der);
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
  OPENSSL_free(der);
  ECDSA_SIG_free(signature);
  return out;
}

struct DecodedProof {
  json header;
  json claims;
  std::string signing_input;
  std::string signature;
};

DecodedProof decode(const Secret& proof) {
  const std::string text(proof.reveal());
  const auto first = text.find('.');
  const auto second = text.find('.', first + 1);
  EXPECT_NE(second, std::string::npos);
  EXPECT_EQ(text.find('.', second + 1), std::string::npos);
  DecodedProof decoded;
  decoded.header = json::parse(b64url_decode(text.substr(0, first)), nullptr, false);
  decoded.claims = json::parse(b64url_decode(text.substr(first + 1, second - first - 1)), nullptr, false);
  decoded.signing_input = text.substr(0, second);
  decoded.signature = b64url_decode(text.substr(second + 1));
  return decoded;
}

// Whether `proof`'s signature verifies with the key in its own header.
bool signature_verifies(const DecodedProof& proof) {
  Pkey key = public_key_from_jwk(proof.header["jwk"]);
  if (!key) return false;
  const bool ec = proof.header["alg"] == "ES256";
  if (ec && proof.signature.size() != 64) return false;  // JOSE form, never DER
  const std::string signature = ec ? raw_to_der(proof.signature) : proof.signature;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok = EVP_DigestVerifyInit(context, nullptr, ec ? EVP_sha256() : nullptr, nullptr, key.get()) == 1 &&
                  EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                                   reinterpret_cast<const unsigned char*>(proof.signing_input.data()),
                                   proof.signing_input.size()) == 1;
  EVP_MD_CTX_free(context);
  return ok;
}

DpopKey make_key(DpopAlgorithm algorithm) {
  auto key = DpopKey::generate(algorithm);
  if (!key) ADD_FAILURE() << key.error().message;
  return std::move(*key);
}

Secret make_proof(const DpopKey& key, const DpopProofRequest& request) {
  auto proof = make_dpop_proof(key, request);
  if (!proof) {
    ADD_FAILURE() << proof.error().message;
    return Secret();
  }
  return std::move(*proof);
}

class DpopProofTest : public ::testing::TestWithParam<DpopAlgorithm> {};

TEST_P(DpopProofTest, VerifiesAgainstItsOwnPublicJwkWithTheRfc9449HeaderAndClaims) {
  const DpopKey key = make_key(GetParam());
  const Secret proof = make_proof(key, {.method = "POST", .url = "https://AS.Example.com/token", .issued_at = 1'700'000'123});
  const DecodedProof decoded = decode(proof);
  ASSERT_TRUE(decoded.header.is_object());
  ASSERT_TRUE(decoded.claims.is_object());
  EXPECT_EQ(decoded.header["typ"], "dpop+jwt");
  EXPECT_EQ(decoded.header["alg"], GetParam() == DpopAlgorithm::kEs256 ? "ES256" : "EdDSA");
  // The public key only: kty, crv, x (and y), and nothing that could be private.
  const json& jwk = decoded.header["jwk"];
  std::set<std::string> members;
  for (const auto& [name, value] : jwk.items()) members.insert(name);
  const std::set<std::string> expected_members =
      GetParam() == DpopAlgorithm::kEs256 ? std::set<std::string>{"kty", "crv", "x", "y"} : std::set<std::string>{"kty", "crv", "x"};
  EXPECT_EQ(members, expected_members);
  EXPECT_EQ(jwk["x"], key.public_jwk().x);
  EXPECT_EQ(decoded.header.size(), 3u);

  EXPECT_EQ(decoded.claims["htm"], "POST");
  EXPECT_EQ(decoded.claims["htu"], "https://as.example.com/token");
  EXPECT_EQ(decoded.claims["iat"], 1'700'000'123);
  ASSERT_TRUE(decoded.claims["jti"].is_string());
  EXPECT_EQ(b64url_decode(decoded.claims["jti"].get<std::string>()).size(), 16u);
  EXPECT_FALSE(decoded.claims.contains("ath"));
  EXPECT_FALSE(decoded.claims.contains("nonce"));
  EXPECT_EQ(decoded.claims.size(), 4u);

  EXPECT_TRUE(signature_verifies(decoded));
  // The check can fail: a changed claim breaks the signature.
  DecodedProof tampered = decoded;
  tampered.signing_input.back() ^= 1;
  EXPECT_FALSE(signature_verifies(tampered));
}

TEST_P(DpopProofTest, CarriesAthAndNonceWhenGivenButNeverTheTokenOrThePrivateKey) {
  const DpopKey key = make_key(GetParam());
  const Secret token("canary-access-token-7f3a9c");
  const Secret proof = make_proof(key, {.method = "GET",
                                        .url = "https://rs.example.com/api/v1/items?page=2#top",
                                        .issued_at = 1'700'000'000,
                                        .access_token = &token,
                                        .nonce = "eyJ7S_zG.ljO9-Q~"});
  const DecodedProof decoded = decode(proof);
  EXPECT_EQ(decoded.claims["ath"], b64url_encode(sha256("canary-access-token-7f3a9c")));
  EXPECT_EQ(decoded.claims["nonce"], "eyJ7S_zG.ljO9-Q~");
  EXPECT_EQ(decoded.claims["htu"], "https://rs.example.com/api/v1/items");
  EXPECT_TRUE(signature_verifies(decoded));
  EXPECT_EQ(std::string(proof.reveal()).find("canary"), std::string::npos);
  const std::string header_text = decoded.header.dump();
  EXPECT_EQ(header_text.find("\"d\""), std::string::npos);
  auto stored = key.serialize();
  ASSERT_TRUE(stored.has_value());
  const std::string d = json::parse(stored->reveal())["d"];
  EXPECT_EQ(std::string(proof.reveal()).find(d), std::string::npos);
}

TEST_P(DpopProofTest, JtiIsFreshForEveryProof) {
  const DpopKey key = make_key(GetParam());
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const DecodedProof decoded = decode(make_proof(key, {.method = "POST", .url = "https://as.example.com/token", .issued_at = 1}));
    seen.insert(decoded.claims["jti"].get<std::string>());
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST_P(DpopProofTest, KeyRoundTripsThroughItsStoredForm) {
  const DpopKey key = make_key(GetParam());
  auto stored = key.serialize();
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  const json stored_json = json::parse(stored->reveal(), nullptr, false);
  ASSERT_TRUE(stored_json.is_object());
  EXPECT_TRUE(stored_json.contains("d"));
  EXPECT_EQ(stored_json["x"], key.public_jwk().x);

  auto loaded = DpopKey::load(*stored);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->algorithm(), key.algorithm());
  EXPECT_EQ(loaded->thumbprint(), key.thumbprint());
  EXPECT_EQ(loaded->public_jwk().y, key.public_jwk().y);
  // The loaded key signs for the original public key: the private half came back too.
  DecodedProof decoded = decode(make_proof(*loaded, {.method = "POST", .url = "https://as.example.com/token", .issued_at = 5}));
  json original_jwk = {{"kty", key.public_jwk().kty}, {"crv", key.public_jwk().crv}, {"x", key.public_jwk().x}};
  if (!key.public_jwk().y.empty()) original_jwk["y"] = key.public_jwk().y;
  decoded.header["jwk"] = original_jwk;
  EXPECT_TRUE(signature_verifies(decoded));
  // A different key's proof does not verify against this one's public key.
  const DpopKey other = make_key(GetParam());
  DecodedProof foreign = decode(make_proof(other, {.method = "POST", .url = "https://as.example.com/token", .issued_at = 5}));
  foreign.header["jwk"] = original_jwk;
  EXPECT_FALSE(signature_verifies(foreign));
}

TEST_P(DpopProofTest, ADamagedStoredKeyMeansSignInAgainWithoutShowingTheKey) {
  const DpopKey key = make_key(GetParam());
  const DpopKey other = make_key(GetParam());
  auto stored = key.serialize();
  ASSERT_TRUE(stored.has_value());
  const json original = json::parse(stored->reveal());
  const std::string d = original["d"];

  json mismatched = original;  // another key's public half
  mismatched["x"] = other.public_jwk().x;
  if (!other.public_jwk().y.empty()) mismatched["y"] = other.public_jwk().y;
  json bad_d = original;
  bad_d["d"] = "AAAA";
  json no_d = original;
  no_d.erase("d");
  json wrong_curve = original;
  wrong_curve["crv"] = "P-384";
  for (const std::string& text : {mismatched.dump(), bad_d.dump(), no_d.dump(), wrong_curve.dump(), std::string("{"),
                                  std::string("[]"), std::string()}) {
    auto loaded = DpopKey::load(Secret(text));
    ASSERT_FALSE(loaded.has_value()) << text.size();
    EXPECT_EQ(loaded.error().code, ErrorCode::kReloginRequired);
    EXPECT_EQ(loaded.error().remedy, Remedy::kSignIn);
    EXPECT_EQ(loaded.error().message.find(d), std::string::npos);
    EXPECT_EQ(loaded.error().message.find('\n'), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, DpopProofTest, ::testing::Values(DpopAlgorithm::kEs256, DpopAlgorithm::kEdDsa),
                         [](const auto& test_info) { return std::string(dpop_algorithm_name(test_info.param)); });

// OpenSSL's random generator, replaced for one test by one that counts its callers and gives
// nothing.
int openssl_random_calls = 0;
int refuse_random_bytes(unsigned char* /*out*/, int /*size*/) {
  ++openssl_random_calls;
  return 0;
}
int refuse_random_status() { return 0; }

// The jti comes from the kernel (getrandom) and Ed25519 signs without randomness, so an EdDSA
// proof never sets up OpenSSL's generator: in a short-lived `api` process that set-up cost more
// than the rest of the proof.
TEST(DpopProofCost, AnEdDsaProofAsksOpensslForNoRandomBytes) {
  const DpopKey key = make_key(DpopAlgorithm::kEdDsa);
  const Secret token("canary-access-token-5d1e");
  RAND_METHOD refusing{};
  refusing.bytes = refuse_random_bytes;
  refusing.pseudorand = refuse_random_bytes;
  refusing.status = refuse_random_status;
  ASSERT_EQ(RAND_set_rand_method(&refusing), 1);
  auto proof = make_dpop_proof(key, {.method = "GET", .url = "https://rs.example.com/me", .issued_at = 1, .access_token = &token});
  RAND_set_rand_method(nullptr);
  ASSERT_TRUE(proof.has_value()) << proof.error().message;
  EXPECT_EQ(openssl_random_calls, 0);
  const DecodedProof decoded = decode(*proof);
  EXPECT_EQ(b64url_decode(decoded.claims["jti"].get<std::string>()).size(), 16u);
  EXPECT_TRUE(signature_verifies(decoded));
}

// Whether libsodium is mapped into this process.
bool libsodium_loaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/libsodium.so") != std::string::npos) return true;
  }
  return false;
}

// Disables libsodium for one scope, as on a machine without it: OpenSSL does the work.
class WithoutLibsodium {
 public:
  WithoutLibsodium() { disable_libsodium_for_test(true); }
  ~WithoutLibsodium() { disable_libsodium_for_test(false); }
  WithoutLibsodium(const WithoutLibsodium&) = delete;
  WithoutLibsodium& operator=(const WithoutLibsodium&) = delete;
};

// An EdDSA key is signed with by libsodium when it is installed (scripts/setup-deps.sh installs
// it): it has none of OpenSSL's per-process set-up, which cost an `api` process more than the
// rest of its proof.
TEST(DpopProofCost, AnEdDsaKeyIsUsedThroughLibsodium) {
  const DpopKey key = make_key(DpopAlgorithm::kEdDsa);
  EXPECT_TRUE(libsodium_loaded());
  EXPECT_TRUE(signature_verifies(decode(make_proof(key, {.method = "GET", .url = "https://rs.example.com/", .issued_at = 1}))));
}

// libsodium and OpenSSL (without libsodium) read each other's stored EdDSA keys, and sign and hash
// the same: Ed25519 is deterministic (RFC 8032 §5.1.6), so one signing input gives one signature.
TEST(DpopProofCost, LibsodiumAndOpensslGiveTheSameEdDsaKeysProofsAndHashes) {
  const Secret token("canary-access-token-90b2");
  const std::string fixed_input = "eyJhbGciOiJFZERTQSJ9.eyJodG0iOiJHRVQifQ";
  auto sodium_key = DpopKey::generate(DpopAlgorithm::kEdDsa);
  ASSERT_TRUE(sodium_key.has_value()) << sodium_key.error().message;
  auto stored = sodium_key->serialize();
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  const std::string sodium_hash = dpop_access_token_hash(token);
  auto sodium_signature = sodium_key->sign(fixed_input);
  ASSERT_TRUE(sodium_signature.has_value()) << sodium_signature.error().message;
  {
    const WithoutLibsodium openssl_only;
    auto openssl_key = DpopKey::load(*stored);
    ASSERT_TRUE(openssl_key.has_value()) << openssl_key.error().message;
    EXPECT_EQ(openssl_key->thumbprint(), sodium_key->thumbprint());
    EXPECT_EQ(openssl_key->public_jwk().x, sodium_key->public_jwk().x);
    auto openssl_signature = openssl_key->sign(fixed_input);
    ASSERT_TRUE(openssl_signature.has_value()) << openssl_signature.error().message;
    EXPECT_TRUE(*openssl_signature == *sodium_signature);
    EXPECT_EQ(dpop_access_token_hash(token), sodium_hash);
    auto restored = openssl_key->serialize();
    ASSERT_TRUE(restored.has_value());
    EXPECT_TRUE(restored->equals(*stored));
    EXPECT_TRUE(signature_verifies(decode(make_proof(*openssl_key, {.method = "GET", .url = "https://rs.example.com/", .issued_at = 1}))));
  }
  // And the other way: a key OpenSSL made, read and used by libsodium.
  Secret openssl_stored;
  std::string openssl_thumbprint;
  {
    const WithoutLibsodium openssl_only;
    auto openssl_key = DpopKey::generate(DpopAlgorithm::kEdDsa);
    ASSERT_TRUE(openssl_key.has_value()) << openssl_key.error().message;
    auto serialized = openssl_key->serialize();
    ASSERT_TRUE(serialized.has_value());
    openssl_stored = std::move(*serialized);
    openssl_thumbprint = openssl_key->thumbprint();
  }
  auto reloaded = DpopKey::load(openssl_stored);
  ASSERT_TRUE(reloaded.has_value()) << reloaded.error().message;
  EXPECT_EQ(reloaded->thumbprint(), openssl_thumbprint);
  EXPECT_TRUE(signature_verifies(decode(make_proof(*reloaded, {.method = "GET", .url = "https://rs.example.com/", .issued_at = 1}))));
  // The stored key's x must still be checked against d.
  std::string tampered(openssl_stored.reveal());
  const auto x_at = tampered.find(R"("x":")") + 5;
  tampered[x_at] = tampered[x_at] == 'A' ? 'B' : 'A';
  auto refused = DpopKey::load(Secret(tampered));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kReloginRequired);
}

TEST(DpopProof, RefusesABadMethodUrlNonceOrTime) {
  const DpopKey key = make_key(DpopAlgorithm::kEs256);
  EXPECT_FALSE(make_dpop_proof(key, {.method = "PO ST", .url = "https://a.example/", .issued_at = 1}).has_value());
  EXPECT_FALSE(make_dpop_proof(key, {.method = "", .url = "https://a.example/", .issued_at = 1}).has_value());
  EXPECT_FALSE(make_dpop_proof(key, {.method = "GET", .url = "ftp://a.example/", .issued_at = 1}).has_value());
  EXPECT_FALSE(make_dpop_proof(key, {.method = "GET", .url = "https://a.example/", .issued_at = -1}).has_value());
  auto bad_nonce = make_dpop_proof(key, {.method = "GET", .url = "https://a.example/", .issued_at = 1, .nonce = "a\"b"});
  ASSERT_FALSE(bad_nonce.has_value());
  EXPECT_EQ(bad_nonce.error().code, ErrorCode::kServer);
}

struct HtuCase {
  const char* name;
  const char* url;
  const char* htu;  // nullptr: refused
};

class DpopHtuTest : public ::testing::TestWithParam<HtuCase> {};

TEST_P(DpopHtuTest, IsTheNormalizedUrlWithoutQueryOrFragment) {
  const HtuCase& row = GetParam();
  auto htu = dpop_htu(row.url);
  if (row.htu == nullptr) {
    ASSERT_FALSE(htu.has_value()) << *htu;
    EXPECT_EQ(htu.error().code, ErrorCode::kUsage);
    return;
  }
  ASSERT_TRUE(htu.has_value()) << htu.error().message;
  EXPECT_EQ(*htu, row.htu);
  // Normal form is a fixed point.
  EXPECT_EQ(dpop_htu(*htu).value_or("refused"), row.htu);
}

INSTANTIATE_TEST_SUITE_P(
    Urls, DpopHtuTest,
    ::testing::Values(
        HtuCase{"query", "https://rs.example.com/path?a=1&b=2", "https://rs.example.com/path"},
        HtuCase{"fragment", "https://rs.example.com/path#frag", "https://rs.example.com/path"},
        HtuCase{"query_and_fragment", "https://rs.example.com/p?q=1#f?g", "https://rs.example.com/p"},
        HtuCase{"query_without_path", "https://rs.example.com?x=1", "https://rs.example.com/"},
        HtuCase{"fragment_holding_slash", "https://rs.example.com#/a/b", "https://rs.example.com/"},
        HtuCase{"case", "HTTPS://RS.Example.COM/Path/To", "https://rs.example.com/Path/To"},
        HtuCase{"default_https_port", "https://rs.example.com:443/x", "https://rs.example.com/x"},
        HtuCase{"default_http_port", "http://127.0.0.1:80/x", "http://127.0.0.1/x"},
        HtuCase{"other_port_kept", "https://rs.example.com:8443/x", "https://rs.example.com:8443/x"},
        HtuCase{"empty_port", "https://rs.example.com:/x", "https://rs.example.com/x"},
        HtuCase{"leading_zero_port", "http://localhost:0080/x", "http://localhost/x"},
        HtuCase{"ipv6", "http://[::1]:8080/token", "http://[::1]:8080/token"},
        HtuCase{"ipv6_case", "http://[FE80::A]/", "http://[fe80::a]/"},
        HtuCase{"empty_path", "https://rs.example.com", "https://rs.example.com/"},
        HtuCase{"percent_case", "https://rs.example.com/a%2fb%c3%a9", "https://rs.example.com/a%2Fb%C3%A9"},
        HtuCase{"percent_unreserved", "https://rs.example.com/%7Euser/%41", "https://rs.example.com/~user/A"},
        HtuCase{"lone_percent", "https://rs.example.com/100%", nullptr},
        // Decoding %66 must not make "%f6" a new encoding (found by the fuzzer).
        HtuCase{"percent_before_encoding", "https://rs.example.com/%%66", nullptr},
        HtuCase{"percent_in_host", "https://r%53.example.com/", "https://rs.example.com/"},
        HtuCase{"userinfo", "https://user:pass@rs.example.com/", nullptr},
        HtuCase{"user_only", "https://user@rs.example.com/", nullptr},
        HtuCase{"no_scheme", "rs.example.com/path", nullptr},
        HtuCase{"other_scheme", "ftp://rs.example.com/", nullptr},
        HtuCase{"no_host", "https:///path", nullptr},
        HtuCase{"space", "https://rs.example.com/a b", nullptr},
        HtuCase{"control", "https://rs.example.com/a\nb", nullptr},
        HtuCase{"port_text", "https://rs.example.com:44x/", nullptr},
        HtuCase{"port_too_big", "https://rs.example.com:65536/", nullptr},
        HtuCase{"port_zero", "https://rs.example.com:0/", nullptr},
        HtuCase{"open_ipv6", "https://[::1/", nullptr},
        HtuCase{"empty", "", nullptr}));

TEST(DpopOrigin, IsSchemeHostAndNonDefaultPort) {
  EXPECT_EQ(dpop_origin("HTTPS://AS.example.com:443/token?x#y").value_or(""), "https://as.example.com");
  EXPECT_EQ(dpop_origin("http://127.0.0.1:8080/").value_or(""), "http://127.0.0.1:8080");
  EXPECT_FALSE(dpop_origin("not a url").has_value());
}

TEST(JwkThumbprint, MatchesTheValuesRfc9449AndRfc8037Publish) {
  // RFC 9449 §4.2 Figure 2's key, whose jkt §6.1 Figure 9 gives.
  const DpopPublicJwk ec{"EC", "P-256", "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"};
  EXPECT_EQ(jwk_thumbprint_input(ec),
            R"({"crv":"P-256","kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"})");
  EXPECT_EQ(jwk_thumbprint_sha256(ec), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
  // RFC 8037 Appendix A.3.
  const DpopPublicJwk okp{"OKP", "Ed25519", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", ""};
  EXPECT_EQ(jwk_thumbprint_sha256(okp), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

// Runs node with `script` and `argument`; its stdout, or nullopt when it could not run.
std::optional<std::string> run_node(const std::string& script, const std::string& argument) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  const std::string node = DPOP_TEST_NODE;
  std::vector<char*> argv = {const_cast<char*>(node.c_str()), const_cast<char*>("-e"), const_cast<char*>(script.c_str()),
                             const_cast<char*>(argument.c_str()), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, node.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string out;
  if (spawned == 0) {
    char buffer[512];
    ssize_t got = 0;
    while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(pipe_fds[0]);
  if (spawned != 0) return std::nullopt;
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(JwkThumbprint, AgreesWithNodeCryptoForFreshKeys) {
  // node reads the JWK as a key (so it must be a valid point), exports it again, and hashes the
  // RFC 7638 member set it builds itself.
  const std::string script =
      "const c=require('crypto');const j=JSON.parse(process.argv[1]);"
      "const e=c.createPublicKey({key:j,format:'jwk'}).export({format:'jwk'});"
      "const m=e.kty==='EC'?{crv:e.crv,kty:e.kty,x:e.x,y:e.y}:{crv:e.crv,kty:e.kty,x:e.x};"
      "process.stdout.write(c.createHash('sha256').update(JSON.stringify(m)).digest('base64url'))";
  for (DpopAlgorithm algorithm : {DpopAlgorithm::kEs256, DpopAlgorithm::kEdDsa}) {
    const DpopKey key = make_key(algorithm);
    json jwk = {{"kty", key.public_jwk().kty}, {"crv", key.public_jwk().crv}, {"x", key.public_jwk().x}};
    if (algorithm == DpopAlgorithm::kEs256) jwk["y"] = key.public_jwk().y;
    auto from_node = run_node(script, jwk.dump());
    ASSERT_TRUE(from_node.has_value()) << "node (" << DPOP_TEST_NODE << ") did not run";
    EXPECT_EQ(key.thumbprint(), *from_node) << dpop_algorithm_name(algorithm);
  }
}

TEST(DpopAlgorithmChoice, PrefersEdDsaWhenOfferedAndEs256Otherwise) {
  EXPECT_EQ(choose_dpop_algorithm({}).value(), DpopAlgorithm::kEs256);
  EXPECT_EQ(choose_dpop_algorithm({"ES256", "EdDSA"}).value(), DpopAlgorithm::kEdDsa);
  EXPECT_EQ(choose_dpop_algorithm({"RS256", "ES256"}).value(), DpopAlgorithm::kEs256);
  auto none = choose_dpop_algorithm({"RS256", "PS256"});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kConfig);
}

struct NonceCase {
  const char* name;
  std::string value;
  bool valid;
};

class DpopNonceTest : public ::testing::TestWithParam<NonceCase> {};

TEST_P(DpopNonceTest, AcceptsOnlyNqchar) {
  const NonceCase& row = GetParam();
  auto nonce = validate_dpop_nonce(row.value);
  EXPECT_EQ(nonce.has_value(), row.valid);
  if (nonce) {
    EXPECT_EQ(*nonce, row.value);
  } else {
    EXPECT_EQ(nonce.error().code, ErrorCode::kServer);
    EXPECT_EQ(nonce.error().message.find('\n'), std::string::npos);
    EXPECT_LT(nonce.error().message.size(), 160u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Values, DpopNonceTest,
    ::testing::Values(NonceCase{"rfc_example", "eyJ7S_zG.eyJH0-Z.HX4w-7v", true},
                      NonceCase{"all_punctuation", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
                      NonceCase{"one_char", "x", true},
                      NonceCase{"max_length", std::string(kMaxDpopNonceBytes, 'n'), true},
                      NonceCase{"too_long", std::string(kMaxDpopNonceBytes + 1, 'n'), false},
                      NonceCase{"empty", "", false},
                      NonceCase{"space", "ab cd", false},
                      NonceCase{"quote", "ab\"cd", false},
                      NonceCase{"backslash", "ab\\cd", false},
                      NonceCase{"tab", "ab\tcd", false},
                      NonceCase{"newline", "ab\ncd", false},
                      NonceCase{"nul", std::string("ab\0cd", 5), false},
                      NonceCase{"del", "ab\x7f", false},
                      NonceCase{"utf8", "caf\xc3\xa9", false}));

TEST(DpopNonce, ErrorNamesThePositionNotTheValue) {
  auto nonce = validate_dpop_nonce("secretish canary");
  ASSERT_FALSE(nonce.has_value());
  EXPECT_NE(nonce.error().message.find("0x20"), std::string::npos);
  EXPECT_NE(nonce.error().message.find("position 9"), std::string::npos);
  EXPECT_EQ(nonce.error().message.find("canary"), std::string::npos);
}

struct ChallengeCase {
  const char* name;
  std::string header;
  // Expected challenges as "scheme|token68|name=value|name=value", or empty when malformed.
  std::vector<std::string> expected;
};

std::string flatten(const AuthChallenge& challenge) {
  std::string out = challenge.scheme + "|" + challenge.token68;
  for (const auto& [name, value] : challenge.params) out += "|" + name + "=" + value;
  return out;
}

class WwwAuthenticateTest : public ::testing::TestWithParam<ChallengeCase> {};

TEST_P(WwwAuthenticateTest, ParsesRfc9110Challenges) {
  const ChallengeCase& row = GetParam();
  auto challenges = parse_www_authenticate(row.header);
  if (row.expected.empty()) {
    ASSERT_FALSE(challenges.has_value());
    EXPECT_EQ(challenges.error().code, ErrorCode::kServer);
    EXPECT_EQ(challenges.error().message.find('\n'), std::string::npos);
    EXPECT_TRUE(challenges.error().message.starts_with("the WWW-Authenticate header"));
    return;
  }
  ASSERT_TRUE(challenges.has_value()) << challenges.error().message;
  std::vector<std::string> flat;
  for (const auto& challenge : *challenges) flat.push_back(flatten(challenge));
  EXPECT_EQ(flat, row.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Headers, WwwAuthenticateTest,
    ::testing::Values(
        ChallengeCase{"dpop_rfc9449_fig",
                      R"(DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256")",
                      {"DPoP||error=invalid_token|error_description=Invalid DPoP key binding|algs=ES256"}},
        ChallengeCase{"bearer_and_dpop",
                      R"(Bearer realm="api", DPoP algs="ES256 PS256", error="use_dpop_nonce")",
                      {"Bearer||realm=api", "DPoP||algs=ES256 PS256|error=use_dpop_nonce"}},
        ChallengeCase{"rfc9110_example",
                      R"(Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple")",
                      {"Newauth||realm=apps|type=1|title=Login to \"apps\"", "Basic||realm=simple"}},
        ChallengeCase{"escapes", R"(DPoP error_description="a\\b \q \"c\"")", {R"(DPoP||error_description=a\b q "c")"}},
        ChallengeCase{"token68", "Basic dXNlcjpwYXNz==, DPoP algs=ES256", {"Basic|dXNlcjpwYXNz==", "DPoP||algs=ES256"}},
        ChallengeCase{"token68_slash_plus", "Negotiate a+b/c=", {"Negotiate|a+b/c="}},
        ChallengeCase{"scheme_only", "DPoP", {"DPoP|"}},
        ChallengeCase{"schemes_only", "Basic, DPoP , Bearer", {"Basic|", "DPoP|", "Bearer|"}},
        ChallengeCase{"empty_elements_and_spaces", " ,, DPoP  algs = ES256 ,, error=\"x\" , ", {"DPoP||algs=ES256|error=x"}},
        ChallengeCase{"names_case_insensitive", "DPoP ERROR=use_dpop_nonce", {"DPoP||error=use_dpop_nonce"}},
        ChallengeCase{"empty_quoted", R"(DPoP error_description="")", {"DPoP||error_description="}},
        ChallengeCase{"obs_text", "DPoP realm=\"caf\xc3\xa9\"", {"DPoP||realm=caf\xc3\xa9"}},
        ChallengeCase{"unterminated_quote", R"(DPoP error="abc)", {}},
        ChallengeCase{"escape_at_end", R"(DPoP error="abc\)", {}},
        ChallengeCase{"duplicate_param", "DPoP error=a, Error=b", {}},
        // "error=" alone is a token68 (RFC 9110 §11.6.1 allows trailing '='), not an empty parameter.
        ChallengeCase{"token68_like_empty_param", "DPoP error=", {"DPoP|error="}},
        ChallengeCase{"missing_value", "DPoP algs=ES256, error=", {}},
        ChallengeCase{"missing_equals", "DPoP error \"x\"", {}},
        ChallengeCase{"no_comma", "DPoP error=a algs=b", {}},
        ChallengeCase{"no_comma_before_next_challenge", "DPoP error=a Basic realm=b", {}},
        ChallengeCase{"control_in_quote", "DPoP error=\"a\x01\"", {}},
        ChallengeCase{"newline_in_quote", "DPoP error=\"a\nb\"", {}},
        ChallengeCase{"no_space_after_scheme", "DPoP\"x\"", {}},
        ChallengeCase{"leading_equals", "=DPoP", {}},
        ChallengeCase{"empty", "", {}},
        ChallengeCase{"only_commas", " , ,", {}},
        ChallengeCase{"too_long", "DPoP realm=\"" + std::string(kMaxWwwAuthenticateBytes, 'a') + "\"", {}}));

HttpResponse response_with(int status, HttpHeaders headers, std::string body = {}) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  response.body = Secret(body);
  return response;
}

TEST(DpopChallenge, FindsTheDpopChallengeAmongEveryWwwAuthenticateHeader) {
  const HttpResponse response =
      response_with(401, {{"www-authenticate", R"(Bearer realm="x")"},
                          {"www-authenticate", "DPoP algs=\"ES256\tEdDSA  \xc2\x85\", error=\"invalid_token\", error_description=\"bad\xc2\x9b" "31m key\""}});
  auto challenge = dpop_challenge(response);
  ASSERT_TRUE(challenge.has_value()) << challenge.error().message;
  ASSERT_TRUE(challenge->has_value());
  EXPECT_EQ((*challenge)->error, "invalid_token");
  EXPECT_EQ((*challenge)->algs, (std::vector<std::string>{"ES256", "EdDSA"}));
  // A C1 control (obs-text to the grammar) is taken out of the server's text.
  EXPECT_EQ((*challenge)->error_description, "bad31m key");

  auto bearer_only = dpop_challenge(response_with(401, {{"WWW-Authenticate", R"(Bearer error="invalid_token")"}}));
  ASSERT_TRUE(bearer_only.has_value());
  EXPECT_FALSE(bearer_only->has_value());

  auto malformed = dpop_challenge(response_with(401, {{"www-authenticate", R"(DPoP error="x)"}}));
  EXPECT_FALSE(malformed.has_value());
}

TEST(DpopNonceRetry, AuthorizationServer400UseDpopNonce) {
  auto nonce = dpop_nonce_to_retry_with(
      response_with(400, {{"content-type", "application/json"}, {"dpop-nonce", "eyJ7S_zG.eyJH0-Z.HX4w-7v"}},
                    R"({"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"})"));
  ASSERT_TRUE(nonce.has_value()) << nonce.error().message;
  EXPECT_EQ(nonce->value_or(""), "eyJ7S_zG.eyJH0-Z.HX4w-7v");

  auto other_error = dpop_nonce_to_retry_with(response_with(400, {{"dpop-nonce", "abc"}}, R"({"error":"invalid_grant"})"));
  ASSERT_TRUE(other_error.has_value());
  EXPECT_FALSE(other_error->has_value());

  auto no_header = dpop_nonce_to_retry_with(response_with(400, {}, R"({"error":"use_dpop_nonce"})"));
  ASSERT_FALSE(no_header.has_value());
  EXPECT_EQ(no_header.error().code, ErrorCode::kServer);
  EXPECT_EQ(no_header.error().oauth_error, "use_dpop_nonce");

  auto malformed_header = dpop_nonce_to_retry_with(response_with(400, {{"dpop-nonce", "a b"}}, R"({"error":"use_dpop_nonce"})"));
  EXPECT_FALSE(malformed_header.has_value());

  auto empty_header = dpop_nonce_to_retry_with(response_with(400, {{"dpop-nonce", ""}}, R"({"error":"use_dpop_nonce"})"));
  EXPECT_FALSE(empty_header.has_value());

  auto not_json = dpop_nonce_to_retry_with(response_with(400, {{"dpop-nonce", "abc"}}, "use_dpop_nonce"));
  ASSERT_TRUE(not_json.has_value());
  EXPECT_FALSE(not_json->has_value());
}

TEST(DpopNonceRetry, ResourceServer401Challenge) {
  auto nonce = dpop_nonce_to_retry_with(response_with(
      401, {{"WWW-Authenticate", R"(DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof")"},
            {"DPoP-Nonce", "eyJ7S_zG.eyJbYu3.xQmBj-1"}}));
  ASSERT_TRUE(nonce.has_value()) << nonce.error().message;
  EXPECT_EQ(nonce->value_or(""), "eyJ7S_zG.eyJbYu3.xQmBj-1");

  // A Bearer challenge with that error is not a DPoP nonce request.
  auto bearer = dpop_nonce_to_retry_with(
      response_with(401, {{"www-authenticate", R"(Bearer error="use_dpop_nonce")"}, {"dpop-nonce", "abc"}}));
  ASSERT_TRUE(bearer.has_value());
  EXPECT_FALSE(bearer->has_value());

  auto invalid_token = dpop_nonce_to_retry_with(
      response_with(401, {{"www-authenticate", R"(DPoP error="invalid_token")"}, {"dpop-nonce", "abc"}}));
  ASSERT_TRUE(invalid_token.has_value());
  EXPECT_FALSE(invalid_token->has_value());

  // Only 400 and 401 ask; a 200 carrying a nonce just updates the cache.
  auto ok = dpop_nonce_to_retry_with(response_with(200, {{"dpop-nonce", "abc"}}, R"({"error":"use_dpop_nonce"})"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_FALSE(ok->has_value());
}

TEST(DpopNonceCache, KeepsTheLatestNoncePerOrigin) {
  DpopNonceCache cache;
  EXPECT_FALSE(cache.nonce_for("https://as.example.com/token").has_value());
  ASSERT_TRUE(cache.update("https://as.example.com/token", response_with(200, {{"dpop-nonce", "n1"}})).has_value());
  ASSERT_TRUE(cache.update("https://rs.example.com/api", response_with(401, {{"DPoP-Nonce", "r1"}})).has_value());
  // Same origin, any path, default port or not, any case.
  EXPECT_EQ(cache.nonce_for("https://AS.example.com:443/other?x=1").value_or(""), "n1");
  EXPECT_EQ(cache.nonce_for("https://rs.example.com/").value_or(""), "r1");
  EXPECT_FALSE(cache.nonce_for("https://as.example.com:8443/token").has_value());
  EXPECT_FALSE(cache.nonce_for("http://as.example.com/token").has_value());
  // Any answer may change it; an answer without the header leaves it.
  ASSERT_TRUE(cache.update("https://as.example.com/revoke", response_with(200, {{"dpop-nonce", "n2"}})).has_value());
  ASSERT_TRUE(cache.update("https://as.example.com/token", response_with(200, {})).has_value());
  EXPECT_EQ(cache.nonce_for("https://as.example.com/token").value_or(""), "n2");
  // A malformed one is an error and the last good nonce stays.
  EXPECT_FALSE(cache.update("https://as.example.com/token", response_with(200, {{"dpop-nonce", "bad nonce"}})).has_value());
  EXPECT_EQ(cache.nonce_for("https://as.example.com/token").value_or(""), "n2");
  cache.clear();
  EXPECT_FALSE(cache.nonce_for("https://as.example.com/token").has_value());
}

TEST(DpopNonceCache, IsBoundedAndDropsTheOldestOrigin) {
  DpopNonceCache cache;
  for (std::size_t i = 0; i <= DpopNonceCache::kMaxOrigins; ++i) {
    ASSERT_TRUE(cache.remember("https://h" + std::to_string(i) + ".example/", "n" + std::to_string(i)).has_value());
  }
  EXPECT_FALSE(cache.nonce_for("https://h0.example/").has_value());
  EXPECT_EQ(cache.nonce_for("https://h1.example/").value_or(""), "n1");
  EXPECT_EQ(cache.nonce_for("https://h" + std::to_string(DpopNonceCache::kMaxOrigins) + ".example/").value_or(""),
            "n" + std::to_string(DpopNonceCache::kMaxOrigins));
}

}  // namespace
}  // namespace devicelogin::oauth
