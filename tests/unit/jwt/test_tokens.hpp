#pragma once
// Keys and claims shared by the JWT tests: generated once per process, signed per test.
#include <string>

#include <nlohmann/json.hpp>

#include "test_signer.hpp"

namespace devicelogin::testing {

inline constexpr long long kNow = 1'800'000'000;
inline constexpr const char* kIssuer = "https://issuer.example";
inline constexpr const char* kClientId = "client-123";

struct TestKeys {
  TestKey rsa;        // kid rsa-1, RS256
  TestKey rsa_other;  // kid rsa-2, RS256
  TestKey ec;         // kid ec-1, ES256
  TestKey ed;         // kid ed-1, EdDSA
};

// Generated on the first run of a build, then read back from JWT_TEST_KEY_CACHE (see
// load_or_generate_shared_keys).
inline const TestKeys& test_keys() {
  static const TestKeys keys = [] {
    auto pkeys = load_or_generate_shared_keys(JWT_TEST_KEY_CACHE);
    return TestKeys{TestKey{pkeys[0], "RS256", "rsa-1"}, TestKey{pkeys[1], "RS256", "rsa-2"},
                    TestKey{pkeys[2], "ES256", "ec-1"}, TestKey{pkeys[3], "EdDSA", "ed-1"}};
  }();
  return keys;
}

// {"keys":[...]} of the four public keys.
inline nlohmann::json test_jwks_json() {
  const TestKeys& keys = test_keys();
  return {{"keys", {keys.rsa.public_jwk(), keys.rsa_other.public_jwk(), keys.ec.public_jwk(), keys.ed.public_jwk()}}};
}
inline std::string test_jwks() { return test_jwks_json().dump(); }

// Claims valid at kNow for kIssuer and kClientId.
inline nlohmann::json valid_claims() {
  return {{"iss", kIssuer},          {"sub", "user-42"},          {"aud", kClientId},
          {"exp", kNow + 3600},      {"iat", kNow - 10},          {"name", "Ada Lovelace"},
          {"email", "ada@example.org"}, {"preferred_username", "ada"}};
}

// The standard header for `key`: alg and kid.
inline nlohmann::json header_for(const TestKey& key) { return {{"alg", key.alg}, {"kid", key.kid}, {"typ", "JWT"}}; }

// A token signed by `key` with valid claims, adjusted by a JSON merge patch (null removes a claim).
inline std::string signed_token(const TestKey& key, const nlohmann::json& claims_patch = nlohmann::json::object()) {
  nlohmann::json claims = valid_claims();
  claims.merge_patch(claims_patch);
  return sign_compact(key, header_for(key), claims);
}

}  // namespace devicelogin::testing
