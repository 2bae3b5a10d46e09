// DPoP (RFC 9449) at the devserver over real HTTP, with proofs made here by OpenSSL (independently
// of the server's code), and the proof checker's replay cache bound on its own.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/encoding.hpp"
#include "devserver/server.hpp"
#include "dpop.hpp"
#include "test_server.hpp"

namespace devicelogin::devserver {
namespace {

using json = nlohmann::json;
using testing::ServerClock;

constexpr long long kNow = 1'800'000'000;  // ServerClock's default start

std::string b64(std::string_view bytes) { return core::base64url_encode(bytes); }

std::string sha256_bytes(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string padded(const BIGNUM* number) {
  std::string out(32, '\0');
  BN_bn2binpad(number, reinterpret_cast<unsigned char*>(out.data()), 32);
  return out;
}

// A client's proof key: P-256 (ES256) or Ed25519 (EdDSA).
class ProofKey {
 public:
  static ProofKey p256() {
    ProofKey key;
    key.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    BIGNUM* d = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key.key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    EXPECT_EQ(EVP_PKEY_get_bn_param(key.key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    EXPECT_EQ(EVP_PKEY_get_bn_param(key.key_.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d), 1);
    key.jwk_ = {{"kty", "EC"}, {"crv", "P-256"}, {"x", b64(padded(x))}, {"y", b64(padded(y))}};
    key.private_d_ = b64(padded(d));
    BN_free(x);
    BN_free(y);
    BN_clear_free(d);
    return key;
  }
  static ProofKey ed25519() {
    ProofKey key;
    key.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    key.ecdsa_ = false;
    std::string x(32, '\0');
    std::size_t length = x.size();
    EXPECT_EQ(EVP_PKEY_get_raw_public_key(key.key_.get(), reinterpret_cast<unsigned char*>(x.data()), &length), 1);
    key.jwk_ = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(x)}};
    return key;
  }

  const json& jwk() const { return jwk_; }
  const std::string& private_d() const { return private_d_; }
  std::string alg() const { return ecdsa_ ? "ES256" : "EdDSA"; }
  // RFC 7638: SHA-256 of the required members, sorted, without whitespace (nlohmann's objects
  // are sorted, so its compact dump is the canonical form).
  std::string thumbprint() const { return b64(sha256_bytes(jwk_.dump())); }

  // A JWS over header and claims, signed with this key (ES256 as raw R || S, RFC 7518 §3.4).
  std::string sign(const json& header, const json& claims) const {
    std::string input = b64(header.dump()) + "." + b64(claims.dump());
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    std::string signature(256, '\0');
    std::size_t length = signature.size();
    bool ok = EVP_DigestSignInit(context, nullptr, ecdsa_ ? EVP_sha256() : nullptr, nullptr, key_.get()) == 1 &&
              EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &length,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    EVP_MD_CTX_free(context);
    EXPECT_TRUE(ok);
    signature.resize(length);
    if (ecdsa_) {
      const auto* cursor = reinterpret_cast<const unsigned char*>(signature.data());
      ECDSA_SIG* pair = d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(length));
      const BIGNUM* r = nullptr;
      const BIGNUM* s = nullptr;
      ECDSA_SIG_get0(pair, &r, &s);
      signature = padded(r) + padded(s);
      ECDSA_SIG_free(pair);
    }
    return input + "." + b64(signature);
  }

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  };
  std::unique_ptr<EVP_PKEY, Free> key_;
  bool ecdsa_ = true;
  json jwk_;
  std::string private_d_;
};

int jti_counter = 0;

// What a proof says; defaults make a valid proof for POST at `htu` now.
struct ProofSpec {
  std::string htu = {};
  std::string htm = "POST";
  long long iat = kNow;
  std::string jti = "jti-" + std::to_string(++jti_counter);
  std::optional<std::string> access_token = std::nullopt;  // ath is its hash
  std::optional<std::string> nonce = std::nullopt;
  std::string typ = "dpop+jwt";
};

std::string make_proof(const ProofKey& key, const ProofSpec& spec, std::optional<json> jwk = std::nullopt) {
  json header = {{"typ", spec.typ}, {"alg", key.alg()}, {"jwk", jwk ? *jwk : key.jwk()}};
  json claims = {{"jti", spec.jti}, {"htm", spec.htm}, {"htu", spec.htu}, {"iat", spec.iat}};
  if (spec.access_token) claims["ath"] = b64(sha256_bytes(*spec.access_token));
  if (spec.nonce) claims["nonce"] = *spec.nonce;
  return key.sign(header, claims);
}

struct Reply {
  int status = 0;
  json body;
  httplib::Headers headers;
};

std::string header(const Reply& reply, const std::string& name) {
  auto it = reply.headers.find(name);
  return it == reply.headers.end() ? std::string{} : it->second;
}

// A server with auto-approval on a manual clock, a confidential client that may introspect,
// and a plain HTTP client.
class Dpop : public ::testing::Test {
 protected:
  void start_server(bool nonce = false) {
    ServerOptions options;
    options.interval = 0;
    options.auto_approve_delay = 0;
    options.dpop_nonce = nonce;
    ClientSpec introspector;
    introspector.client_id = "resource";
    introspector.client_secret = Secret(std::string_view("resource-secret"));
    options.clients.push_back(std::move(introspector));
    server_ = testing::start(std::move(options), &clock_);
    ASSERT_TRUE(server_);
    http_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    http_->set_connection_timeout(5);
    http_->set_read_timeout(5);
  }
  void SetUp() override { start_server(); }

  std::string url(const std::string& path) const { return server_->issuer() + path; }

  Reply post(const std::string& path, const core::FormFields& fields, const httplib::Headers& headers = {}) {
    auto result = http_->Post(path.c_str(), headers, core::form_encode(fields), "application/x-www-form-urlencoded");
    if (!result) return {};
    return {result->status, json::parse(result->body, nullptr, false), result->headers};
  }
  Reply get(const std::string& path, const httplib::Headers& headers) {
    auto result = http_->Get(path.c_str(), headers);
    if (!result) return {};
    return {result->status, json::parse(result->body, nullptr, false), result->headers};
  }

  std::string device_code() {
    Reply code = post("/device_authorization", {{"client_id", std::string(kDemoClientId)}});
    EXPECT_EQ(code.status, 200);
    return code.body.value("device_code", "");
  }
  Reply poll(const std::string& code, const std::optional<std::string>& proof) {
    httplib::Headers headers;
    if (proof) headers.emplace("DPoP", *proof);
    return post("/token",
                {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                 {"device_code", code},
                 {"client_id", std::string(kDemoClientId)}},
                headers);
  }
  Reply refresh(const std::string& refresh_token, const std::optional<std::string>& proof) {
    httplib::Headers headers;
    if (proof) headers.emplace("DPoP", *proof);
    return post("/token",
                {{"grant_type", "refresh_token"},
                 {"refresh_token", refresh_token},
                 {"client_id", std::string(kDemoClientId)}},
                headers);
  }
  // A login whose token request carries a proof by `key`.
  json dpop_login(const ProofKey& key) {
    Reply tokens = poll(device_code(), make_proof(key, {.htu = url("/token")}));
    EXPECT_EQ(tokens.status, 200) << tokens.body.dump();
    return tokens.body;
  }
  json introspect(const std::string& token) {
    Reply reply = post("/introspect",
                       {{"token", token}, {"client_id", "resource"}, {"client_secret", "resource-secret"}});
    EXPECT_EQ(reply.status, 200);
    return reply.body;
  }
  Reply userinfo(const std::string& authorization, const std::optional<std::string>& proof) {
    httplib::Headers headers = {{"Authorization", authorization}};
    if (proof) headers.emplace("DPoP", *proof);
    return get("/userinfo", headers);
  }
  // The error a request with this proof at the token endpoint gets: a pending device code, so
  // that a valid proof answers authorization_pending.
  std::string token_endpoint_error(const std::string& proof) {
    Reply reply = post("/token",
                       {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                        {"device_code", "unknown-device-code"},
                        {"client_id", std::string(kDemoClientId)}},
                       {{"DPoP", proof}});
    EXPECT_EQ(reply.status, 400);
    return reply.body.value("error", "");
  }

  ServerClock clock_{kNow};
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> http_;
};

json jwt_claims(const std::string& jwt) {
  std::size_t first = jwt.find('.');
  auto text = core::base64url_decode(jwt.substr(first + 1, jwt.find('.', first + 1) - first - 1));
  return text ? json::parse(*text, nullptr, false) : json();
}

TEST_F(Dpop, DiscoveryAdvertisesProofAlgorithms) {
  Reply discovery = get("/.well-known/openid-configuration", {});
  ASSERT_EQ(discovery.status, 200);
  EXPECT_EQ(discovery.body["dpop_signing_alg_values_supported"], json({"ES256", "EdDSA"}));
}

TEST_F(Dpop, ValidProofGivesDpopBoundTokensWithCnfJkt) {
  ProofKey key = ProofKey::p256();
  json tokens = dpop_login(key);
  EXPECT_EQ(tokens["token_type"], "DPoP");
  const std::string access_token = tokens["access_token"];
  EXPECT_EQ(jwt_claims(access_token)["cnf"], json({{"jkt", key.thumbprint()}}));
  json access = introspect(access_token);
  EXPECT_EQ(access["active"], true);
  EXPECT_EQ(access["token_type"], "DPoP");
  EXPECT_EQ(access["cnf"], json({{"jkt", key.thumbprint()}}));
  json refresh_view = introspect(tokens["refresh_token"]);
  EXPECT_EQ(refresh_view["cnf"], json({{"jkt", key.thumbprint()}})) << "a public client's refresh token is bound";

  // Without a proof: a bearer token, as before.
  Reply bearer = poll(device_code(), std::nullopt);
  ASSERT_EQ(bearer.status, 200);
  EXPECT_EQ(bearer.body["token_type"], "Bearer");
  EXPECT_FALSE(jwt_claims(bearer.body["access_token"]).contains("cnf"));
  EXPECT_FALSE(introspect(bearer.body["access_token"]).contains("cnf"));
}

TEST_F(Dpop, EdDsaProofIsAccepted) {
  ProofKey key = ProofKey::ed25519();
  json tokens = dpop_login(key);
  EXPECT_EQ(tokens["token_type"], "DPoP");
  EXPECT_EQ(jwt_claims(tokens["access_token"])["cnf"]["jkt"], key.thumbprint());
}

TEST_F(Dpop, ABadProofDoesNotRedeemTheDeviceCode) {
  ProofKey key = ProofKey::p256();
  std::string code = device_code();
  Reply bad = poll(code, make_proof(key, {.htu = url("/token"), .htm = "GET"}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"], "invalid_dpop_proof");
  Reply good = poll(code, make_proof(key, {.htu = url("/token")}));
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body["token_type"], "DPoP");
}

TEST_F(Dpop, ReplayedJtiIsRejected) {
  ProofKey key = ProofKey::p256();
  std::string proof = make_proof(key, {.htu = url("/token")});
  EXPECT_EQ(token_endpoint_error(proof), "invalid_grant") << "the proof itself is accepted once";
  EXPECT_EQ(token_endpoint_error(proof), "invalid_dpop_proof");
  // The same jti in a new proof (new signature) is a replay too.
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .iat = kNow + 1, .jti = "fixed"})),
            "invalid_grant");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .iat = kNow + 2, .jti = "fixed"})),
            "invalid_dpop_proof");
}

TEST_F(Dpop, MethodAndUrlMustMatch) {
  ProofKey key = ProofKey::p256();
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .htm = "GET"})), "invalid_dpop_proof");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/revoke")})), "invalid_dpop_proof");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = "http://127.0.0.2:" + std::to_string(server_->port()) + "/token"})),
            "invalid_dpop_proof");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = "/token"})), "invalid_dpop_proof");
  // RFC 9449 §4.3: compared without query and fragment, with scheme and host case normalized.
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token?x=1#f")})), "invalid_grant");
  std::string upper = "HTTP://127.0.0.1:" + std::to_string(server_->port()) + "/token";
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = upper})), "invalid_grant");
}

TEST_F(Dpop, IatOutsideTheWindowIsRejected) {
  ProofKey key = ProofKey::p256();
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .iat = kNow - 61})), "invalid_dpop_proof");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .iat = kNow + 61})), "invalid_dpop_proof");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .iat = kNow - 59})), "invalid_grant");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .iat = kNow + 59})), "invalid_grant");
}

TEST_F(Dpop, OnlyAsymmetricAlgorithmsAndTheDpopTypAreAccepted) {
  ProofKey key = ProofKey::p256();
  json claims = {{"jti", "alg-test"}, {"htm", "POST"}, {"htu", url("/token")}, {"iat", kNow}};
  // alg none: no signature at all.
  std::string unsigned_proof = b64(json({{"typ", "dpop+jwt"}, {"alg", "none"}, {"jwk", key.jwk()}}).dump()) + "." +
                               b64(claims.dump()) + ".";
  EXPECT_EQ(token_endpoint_error(unsigned_proof), "invalid_dpop_proof");
  // HS256 with a key the attacker chose.
  std::string input = b64(json({{"typ", "dpop+jwt"}, {"alg", "HS256"}, {"jwk", key.jwk()}}).dump()) + "." +
                      b64(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha256(), "secret", 6, reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_length);
  EXPECT_EQ(token_endpoint_error(input + "." + b64(std::string(reinterpret_cast<char*>(mac), mac_length))),
            "invalid_dpop_proof");
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token"), .typ = "JWT"})), "invalid_dpop_proof");
  // A correct proof with a tampered signature.
  std::string proof = make_proof(key, {.htu = url("/token")});
  proof[proof.size() - 3] = proof[proof.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(token_endpoint_error(proof), "invalid_dpop_proof");
}

TEST_F(Dpop, AJwkWithThePrivateKeyIsRejected) {
  ProofKey key = ProofKey::p256();
  json with_private = key.jwk();
  with_private["d"] = key.private_d();
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token")}, with_private)), "invalid_dpop_proof");
  // A coordinate spelled with other trailing bits (the same bytes, another thumbprint).
  json respelled = key.jwk();
  std::string x = respelled["x"];
  // 32 bytes take 43 characters: the last one's two low bits are padding, zero when canonical.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  x.back() = alphabet[alphabet.find(x.back()) | 1];
  respelled["x"] = x;
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token")}, respelled)), "invalid_dpop_proof");
  // Another key's jwk with this key's signature does not verify either.
  EXPECT_EQ(token_endpoint_error(make_proof(key, {.htu = url("/token")}, ProofKey::p256().jwk())), "invalid_dpop_proof");
}

TEST_F(Dpop, ExactlyOneDpopHeader) {
  ProofKey key = ProofKey::p256();
  Reply reply = post("/token",
                     {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                      {"device_code", "unknown"},
                      {"client_id", std::string(kDemoClientId)}},
                     {{"DPoP", make_proof(key, {.htu = url("/token")})}, {"DPoP", make_proof(key, {.htu = url("/token")})}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body["error"], "invalid_dpop_proof");
}

TEST_F(Dpop, RefreshTokenIsBoundToTheKey) {
  ProofKey key = ProofKey::p256();
  json tokens = dpop_login(key);
  const std::string refresh_token = tokens["refresh_token"];
  Reply without = refresh(refresh_token, std::nullopt);
  EXPECT_EQ(without.status, 400);
  EXPECT_EQ(without.body["error"], "invalid_grant");
  Reply other_key = refresh(refresh_token, make_proof(ProofKey::p256(), {.htu = url("/token")}));
  EXPECT_EQ(other_key.status, 400);
  EXPECT_EQ(other_key.body["error"], "invalid_grant");
  // Those attempts changed nothing: the holder of the key still refreshes.
  Reply with_key = refresh(refresh_token, make_proof(key, {.htu = url("/token")}));
  ASSERT_EQ(with_key.status, 200) << with_key.body.dump();
  EXPECT_EQ(with_key.body["token_type"], "DPoP");
  EXPECT_EQ(jwt_claims(with_key.body["access_token"])["cnf"]["jkt"], key.thumbprint());
  // The rotated refresh token stays bound.
  Reply next_without = refresh(with_key.body["refresh_token"], std::nullopt);
  EXPECT_EQ(next_without.body["error"], "invalid_grant");
}

TEST_F(Dpop, UserinfoNeedsTheProofForADpopToken) {
  ProofKey key = ProofKey::p256();
  json tokens = dpop_login(key);
  const std::string token = tokens["access_token"];

  Reply as_bearer = userinfo("Bearer " + token, std::nullopt);
  EXPECT_EQ(as_bearer.status, 401);
  EXPECT_EQ(as_bearer.body["error"], "invalid_token");
  EXPECT_TRUE(header(as_bearer, "WWW-Authenticate").starts_with("DPoP ")) << header(as_bearer, "WWW-Authenticate");
  // A bearer request that also sends a valid proof is still a bearer request.
  Reply bearer_with_proof = userinfo("Bearer " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .access_token = token}));
  EXPECT_EQ(bearer_with_proof.status, 401);

  Reply no_proof = userinfo("DPoP " + token, std::nullopt);
  EXPECT_EQ(no_proof.status, 401);
  EXPECT_NE(header(no_proof, "WWW-Authenticate").find("error=\"invalid_dpop_proof\""), std::string::npos);

  Reply wrong_ath = userinfo("DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .access_token = "another"}));
  EXPECT_EQ(wrong_ath.status, 401);
  EXPECT_EQ(wrong_ath.body["error"], "invalid_dpop_proof");
  Reply no_ath = userinfo("DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET"}));
  EXPECT_EQ(no_ath.body["error"], "invalid_dpop_proof");

  Reply other_key = userinfo("DPoP " + token, make_proof(ProofKey::p256(), {.htu = url("/userinfo"), .htm = "GET", .access_token = token}));
  EXPECT_EQ(other_key.status, 401);
  EXPECT_EQ(other_key.body["error"], "invalid_token");

  Reply ok = userinfo("DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .access_token = token}));
  ASSERT_EQ(ok.status, 200) << ok.body.dump();
  EXPECT_EQ(ok.body["sub"], "alice");

  // A bearer token is not accepted under the DPoP scheme.
  Reply bearer_tokens = poll(device_code(), std::nullopt);
  const std::string bearer_token = bearer_tokens.body["access_token"];
  EXPECT_EQ(userinfo("DPoP " + bearer_token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .access_token = bearer_token})).status, 401);
  EXPECT_EQ(userinfo("Bearer " + bearer_token, std::nullopt).status, 200);
}

TEST_F(Dpop, RevocationAcceptsAProofAndRefusesABadOne) {
  ProofKey key = ProofKey::p256();
  json tokens = dpop_login(key);
  const std::string access_token = tokens["access_token"];
  Reply bad = post("/revoke", {{"token", access_token}, {"client_id", std::string(kDemoClientId)}},
                   {{"DPoP", make_proof(key, {.htu = url("/token")})}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"], "invalid_dpop_proof");
  EXPECT_EQ(introspect(access_token)["active"], true);
  Reply good = post("/revoke", {{"token", access_token}, {"client_id", std::string(kDemoClientId)}},
                    {{"DPoP", make_proof(key, {.htu = url("/revoke")})}});
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(introspect(access_token)["active"], false);
}

TEST_F(Dpop, NonceIsRequiredWhenConfiguredAndAcceptedOnRetry) {
  server_.reset();
  start_server(true);
  ProofKey key = ProofKey::p256();
  std::string code = device_code();
  Reply first = poll(code, make_proof(key, {.htu = url("/token")}));
  EXPECT_EQ(first.status, 400);
  EXPECT_EQ(first.body["error"], "use_dpop_nonce");
  const std::string nonce = header(first, "DPoP-Nonce");
  ASSERT_FALSE(nonce.empty());
  Reply wrong = poll(code, make_proof(key, {.htu = url("/token"), .nonce = "not-our-nonce"}));
  EXPECT_EQ(wrong.body["error"], "use_dpop_nonce");
  Reply retry = poll(code, make_proof(key, {.htu = url("/token"), .nonce = nonce}));
  ASSERT_EQ(retry.status, 200) << retry.body.dump();
  EXPECT_EQ(retry.body["token_type"], "DPoP");
  EXPECT_EQ(header(retry, "DPoP-Nonce"), nonce);
  const std::string token = retry.body["access_token"];

  // At the resource: 401 with the DPoP challenge naming use_dpop_nonce.
  Reply resource = userinfo("DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .access_token = token}));
  EXPECT_EQ(resource.status, 401);
  EXPECT_NE(header(resource, "WWW-Authenticate").find("error=\"use_dpop_nonce\""), std::string::npos);
  EXPECT_EQ(header(resource, "DPoP-Nonce"), nonce);
  Reply resource_retry = userinfo(
      "DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .access_token = token, .nonce = nonce}));
  EXPECT_EQ(resource_retry.status, 200);

  // Rotation: the old nonce is still good for one lifetime after the next one appears, then not.
  clock_.advance(std::chrono::seconds(301));
  long long later = kNow + 301;
  Reply still = userinfo("DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .iat = later,
                                                           .access_token = token, .nonce = nonce}));
  EXPECT_EQ(still.status, 200);
  const std::string rotated = header(still, "DPoP-Nonce");
  EXPECT_FALSE(rotated.empty());
  EXPECT_NE(rotated, nonce);
  clock_.advance(std::chrono::seconds(301));
  later += 301;
  Reply stale = userinfo("DPoP " + token, make_proof(key, {.htu = url("/userinfo"), .htm = "GET", .iat = later,
                                                           .access_token = token, .nonce = nonce}));
  EXPECT_EQ(stale.status, 401);
  EXPECT_EQ(stale.body["error"], "use_dpop_nonce");
}

TEST(DpopValidator, ReplayCacheIsBoundedAndForgetsExpiredProofs) {
  DpopSettings settings;
  settings.max_replay_entries = 2;
  DpopValidator validator(settings);
  ProofKey key = ProofKey::p256();
  const std::string url = "http://127.0.0.1:1/token";
  const TimePoint now = std::chrono::system_clock::from_time_t(kNow);
  auto check = [&](const std::string& proof, TimePoint at) {
    return validator.check({.proofs = {proof}, .method = "POST", .url = url}, at);
  };
  EXPECT_TRUE(check(make_proof(key, {.htu = url}), now));
  EXPECT_TRUE(check(make_proof(key, {.htu = url}), now));
  auto full = check(make_proof(key, {.htu = url}), now);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, DpopFailure::Kind::kFull) << "a live entry is never dropped to make room";
  EXPECT_EQ(validator.replay_entries(), 2u);
  // Once the first two proofs' iat is out of the window they are forgotten.
  const TimePoint later = now + std::chrono::seconds(61);
  auto fresh = check(make_proof(key, {.htu = url, .iat = kNow + 61}), later);
  EXPECT_TRUE(fresh) << (fresh ? "" : fresh.error().description);
  EXPECT_EQ(validator.replay_entries(), 1u);
}

TEST(DpopValidator, NormalizesHtu) {
  EXPECT_EQ(normalize_htu("HTTPS://Example.COM:443/a%2fb?q#f"), "https://example.com/a%2Fb");
  EXPECT_EQ(normalize_htu("http://example.com"), "http://example.com/");
  EXPECT_EQ(normalize_htu("http://[::1]:8080/token"), "http://[::1]:8080/token");
  EXPECT_EQ(normalize_htu("http://user@example.com/"), std::nullopt);
  EXPECT_EQ(normalize_htu("ftp://example.com/"), std::nullopt);
}

}  // namespace
}  // namespace devicelogin::devserver
