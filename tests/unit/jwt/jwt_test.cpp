// JWS parsing, JWK selection, signature verification and OIDC Core §3.1.3.7 claim rules.
#include "oauth/jwt.hpp"

#include <gtest/gtest.h>

#include <ostream>

#include <functional>
#include <optional>

#include "core/encoding.hpp"
#include "test_tokens.hpp"

namespace devicelogin::oauth {
namespace {

using devicelogin::testing::b64url;
using devicelogin::testing::header_for;
using devicelogin::testing::hmac_sha256;
using devicelogin::testing::kClientId;
using devicelogin::testing::kIssuer;
using devicelogin::testing::kNow;
using devicelogin::testing::sign_bytes;
using devicelogin::testing::sign_compact;
using devicelogin::testing::sign_compact_raw;
using devicelogin::testing::signed_token;
using devicelogin::testing::test_jwks;
using devicelogin::testing::test_jwks_json;
using devicelogin::testing::test_keys;
using devicelogin::testing::TestKey;
using devicelogin::testing::valid_claims;
using json = nlohmann::json;

// Table rows print as their name (gtest would otherwise dump their bytes, padding included).
template <class Case>
  requires requires(const Case& row) { std::string(row.name); }
void PrintTo(const Case& row, std::ostream* out) {
  *out << row.name;
}

IdTokenExpectations expectations() {
  IdTokenExpectations expected;
  expected.issuer = kIssuer;
  expected.client_id = kClientId;
  return expected;
}

JwtResult<IdTokenClaims> validate(const std::string& token, const std::string& jwks = test_jwks(),
                                  const IdTokenExpectations& expected = expectations(), long long now = kNow) {
  return validate_id_token(token, jwks, expected, now);
}

// Asserts the outcome: success when `problem` is nullopt, else that exact problem, and in every
// failure that the message does not repeat the token or any of its parts.
void expect_outcome(const std::string& token, const JwtResult<IdTokenClaims>& result, std::optional<JwtProblem> want) {
  if (!want) {
    ASSERT_TRUE(result.has_value()) << jwt_problem_name(result.error().problem) << ": " << result.error().message;
    return;
  }
  ASSERT_FALSE(result.has_value()) << "expected " << jwt_problem_name(*want);
  EXPECT_EQ(jwt_problem_name(result.error().problem), std::string(jwt_problem_name(*want))) << result.error().message;
  EXPECT_FALSE(result.error().message.empty());
  if (!token.empty()) {
    EXPECT_EQ(result.error().message.find(token), std::string::npos);
  }
  std::size_t start = 0;
  while (start <= token.size()) {
    std::size_t end = token.find('.', start);
    if (end == std::string::npos) end = token.size();
    std::string segment = token.substr(start, end - start);
    if (segment.size() >= 16) {
      EXPECT_EQ(result.error().message.find(segment), std::string::npos) << "message repeats a token part";
    }
    start = end + 1;
  }
}

std::string part(const std::string& token, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  std::size_t end = token.find('.', start);
  return token.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string join(const std::string& a, const std::string& b, const std::string& c) { return a + "." + b + "." + c; }

// ---- Valid tokens, one per algorithm --------------------------------------------------------

struct AlgCase {
  const char* name;
  std::function<TestKey()> key;
};

class ValidTokenTest : public ::testing::TestWithParam<AlgCase> {};

TEST_P(ValidTokenTest, VerifiesAndReturnsClaims) {
  const TestKey key = GetParam().key();
  const std::string token = signed_token(key, {{"azp", kClientId}, {"nonce", "n-1"}});
  auto claims = validate(token);
  ASSERT_TRUE(claims.has_value()) << claims.error().message;
  EXPECT_EQ(claims->iss, kIssuer);
  EXPECT_EQ(claims->sub, "user-42");
  EXPECT_EQ(claims->aud, std::vector<std::string>{kClientId});
  EXPECT_EQ(claims->exp, kNow + 3600);
  EXPECT_EQ(claims->iat, kNow - 10);
  EXPECT_EQ(claims->azp, kClientId);
  EXPECT_EQ(claims->nonce, "n-1");
  EXPECT_EQ(claims->name, "Ada Lovelace");
  EXPECT_EQ(claims->preferred_username, "ada");
  EXPECT_EQ(claims->email, "ada@example.org");
}

TEST_P(ValidTokenTest, PayloadChangedFailsSignature) {
  const std::string token = signed_token(GetParam().key());
  json claims = valid_claims();
  claims["sub"] = "admin";
  const std::string forged = join(part(token, 0), b64url(claims.dump()), part(token, 2));
  expect_outcome(forged, validate(forged), JwtProblem::kBadSignature);
}

TEST_P(ValidTokenTest, SignatureBitFlipFailsSignature) {
  const std::string token = signed_token(GetParam().key());
  for (std::size_t byte : {std::size_t{0}, std::size_t{31}, std::size_t{63}}) {
    std::string signature = *core::base64url_decode(part(token, 2));
    signature[byte] = static_cast<char>(signature[byte] ^ 0x01);
    const std::string forged = join(part(token, 0), part(token, 1), b64url(signature));
    expect_outcome(forged, validate(forged), JwtProblem::kBadSignature);
  }
}

TEST_P(ValidTokenTest, TruncatedOrEmptySignatureFails) {
  const std::string token = signed_token(GetParam().key());
  std::string signature = *core::base64url_decode(part(token, 2));
  for (const std::string& bad : {signature.substr(0, signature.size() - 1), std::string()}) {
    const std::string forged = join(part(token, 0), part(token, 1), b64url(bad));
    expect_outcome(forged, validate(forged), JwtProblem::kBadSignature);
  }
}

TEST_P(ValidTokenTest, VerifiesWithoutKidWhenExactlyOneKeyFits) {
  const TestKey key = GetParam().key();
  const std::string token = sign_compact(key, {{"alg", key.alg}}, valid_claims());
  json jwks = {{"keys", {key.public_jwk()}}};
  // A key of another type alongside does not make the choice ambiguous.
  if (key.alg != "EdDSA") jwks["keys"].push_back(test_keys().ed.public_jwk());
  expect_outcome(token, validate(token, jwks.dump()), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ValidTokenTest,
                         ::testing::Values(AlgCase{"RS256", [] { return test_keys().rsa; }},
                                           AlgCase{"PS256", [] { return test_keys().rsa.with_alg("PS256"); }},
                                           AlgCase{"ES256", [] { return test_keys().ec; }},
                                           AlgCase{"EdDSA", [] { return test_keys().ed; }}),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

// ---- Tampering with header, algorithm and key choice ----------------------------------------

struct ForgeryCase {
  const char* name;
  std::function<std::string()> token;
  std::function<std::string()> jwks;  // null: the standard four-key JWKS
  JwtProblem problem;
};

class ForgeryTest : public ::testing::TestWithParam<ForgeryCase> {};

TEST_P(ForgeryTest, IsRejectedWithTheExactProblem) {
  const ForgeryCase& c = GetParam();
  const std::string token = c.token();
  expect_outcome(token, validate(token, c.jwks ? c.jwks() : test_jwks()), c.problem);
}

std::string with_header(const std::string& token, const json& header) {
  return join(b64url(header.dump()), part(token, 1), part(token, 2));
}

// A token whose header says `alg` and which is signed by HMAC-SHA256 with `secret`.
std::string hmac_token(const std::string& alg, const std::string& kid, const std::string& secret) {
  const std::string input = b64url(json{{"alg", alg}, {"kid", kid}}.dump()) + "." + b64url(valid_claims().dump());
  return input + "." + b64url(hmac_sha256(secret, input));
}

std::string jwks_with(std::initializer_list<json> keys) { return json{{"keys", keys}}.dump(); }

const ForgeryCase kForgeryCases[] = {
    {"AlgNoneWithEmptySignature",
     [] { return b64url(R"({"alg":"none"})") + "." + b64url(valid_claims().dump()) + "."; }, nullptr,
     JwtProblem::kUnsupportedAlgorithm},
    {"AlgSwitchedToNoneKeepingSignature",
     [] { return with_header(signed_token(test_keys().rsa), {{"alg", "none"}, {"kid", "rsa-1"}}); }, nullptr,
     JwtProblem::kUnsupportedAlgorithm},
    {"AlgNoneWithEmptyJwks", [] { return b64url(R"({"alg":"none"})") + "." + b64url(valid_claims().dump()) + "."; },
     [] { return std::string(R"({"keys":[]})"); }, JwtProblem::kUnsupportedAlgorithm},
    {"HmacWithRsaPublicKeyPemAsSecret",
     [] { return hmac_token("HS256", "rsa-1", test_keys().rsa.public_pem()); }, nullptr,
     JwtProblem::kUnsupportedAlgorithm},
    {"HmacWithRsaJwkAsSecret", [] { return hmac_token("HS256", "rsa-1", test_keys().rsa.public_jwk().dump()); },
     nullptr, JwtProblem::kUnsupportedAlgorithm},
    {"HmacWithRsaModulusAsSecret",
     [] {
       return hmac_token("HS256", "rsa-1", *core::base64url_decode(test_keys().rsa.public_jwk()["n"].get<std::string>()));
     },
     nullptr, JwtProblem::kUnsupportedAlgorithm},
    {"Hs512", [] { return hmac_token("HS512", "rsa-1", "secret"); }, nullptr, JwtProblem::kUnsupportedAlgorithm},
    {"UnknownAlgRs512",
     [] { return with_header(signed_token(test_keys().rsa), {{"alg", "RS512"}, {"kid", "rsa-1"}}); }, nullptr,
     JwtProblem::kUnsupportedAlgorithm},
    {"LowercaseAlg", [] { return with_header(signed_token(test_keys().rsa), {{"alg", "rs256"}, {"kid", "rsa-1"}}); },
     nullptr, JwtProblem::kUnsupportedAlgorithm},
    {"CriticalExtension",
     [] {
       return sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "rsa-1"}, {"crit", {"exp"}}, {"exp", 1}},
                           valid_claims());
     },
     nullptr, JwtProblem::kUnsupportedAlgorithm},
    {"KidPointsToAnotherRsaKey",
     [] { return sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "rsa-2"}}, valid_claims()); }, nullptr,
     JwtProblem::kBadSignature},
    {"Rs256SignaturePresentedAsPs256",
     [] { return with_header(signed_token(test_keys().rsa), {{"alg", "PS256"}, {"kid", "rsa-1"}}); }, nullptr,
     JwtProblem::kBadSignature},
    {"Ps256SignaturePresentedAsRs256",
     [] {
       return with_header(signed_token(test_keys().rsa.with_alg("PS256")), {{"alg", "RS256"}, {"kid", "rsa-1"}});
     },
     nullptr, JwtProblem::kBadSignature},
    {"Es256DerSignatureInsteadOfRaw",
     [] {
       // What a naive signer emits: the DER ECDSA-Sig-Value, which RFC 7518 §3.4 does not allow.
       const TestKey& key = test_keys().ec;
       const std::string input = b64url(header_for(key).dump()) + "." + b64url(valid_claims().dump());
       std::string raw = sign_bytes(key, input);
       std::string der = std::string("\x30\x44\x02\x20", 4) + raw.substr(0, 32) + std::string("\x02\x20", 2) + raw.substr(32);
       return input + "." + b64url(der);
     },
     nullptr, JwtProblem::kBadSignature},
    {"Es256TokenWithKidOfRsaKey",
     [] { return sign_compact(test_keys().ec, {{"alg", "ES256"}, {"kid", "rsa-1"}}, valid_claims()); }, nullptr,
     JwtProblem::kKeyMismatch},
    {"Rs256TokenWithKidOfEcKey",
     [] { return sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "ec-1"}}, valid_claims()); }, nullptr,
     JwtProblem::kKeyMismatch},
    {"EdDsaTokenWithKidOfRsaKey",
     [] { return sign_compact(test_keys().ed, {{"alg", "EdDSA"}, {"kid", "rsa-1"}}, valid_claims()); }, nullptr,
     JwtProblem::kKeyMismatch},
    {"JwkDeclaresAnotherAlg", [] { return signed_token(test_keys().rsa); },
     [] {
       json jwk = test_keys().rsa.public_jwk();
       jwk["alg"] = "PS256";
       return jwks_with({jwk});
     },
     JwtProblem::kKeyMismatch},
    {"JwkForEncryption", [] { return signed_token(test_keys().rsa); },
     [] {
       json jwk = test_keys().rsa.public_jwk();
       jwk["use"] = "enc";
       return jwks_with({jwk});
     },
     JwtProblem::kKeyMismatch},
    {"JwkKeyOpsWithoutVerify", [] { return signed_token(test_keys().rsa); },
     [] {
       json jwk = test_keys().rsa.public_jwk();
       jwk["key_ops"] = {"encrypt"};
       return jwks_with({jwk});
     },
     JwtProblem::kKeyMismatch},
    {"EcJwkOnAnotherCurve", [] { return signed_token(test_keys().ec); },
     [] {
       json jwk = test_keys().ec.public_jwk();
       jwk["crv"] = "P-384";
       return jwks_with({jwk});
     },
     JwtProblem::kKeyMismatch},
    {"OkpJwkIsX25519", [] { return signed_token(test_keys().ed); },
     [] {
       json jwk = test_keys().ed.public_jwk();
       jwk["crv"] = "X25519";
       return jwks_with({jwk});
     },
     JwtProblem::kKeyMismatch},
    {"KeyEmbeddedInHeaderIsIgnored",
     [] {
       // RFC 8725 §3.10 spirit: a key the token brings along proves nothing.
       const TestKey attacker = test_keys().rsa_other;
       return sign_compact(attacker, {{"alg", "RS256"}, {"kid", "attacker"}, {"jwk", attacker.public_jwk()}},
                           valid_claims());
     },
     nullptr, JwtProblem::kUnknownKid},
    {"KeyEmbeddedInHeaderWithTrustedKid",
     [] {
       const TestKey attacker = test_keys().rsa_other;
       return sign_compact(attacker, {{"alg", "RS256"}, {"kid", "rsa-1"}, {"jwk", attacker.public_jwk()}},
                           valid_claims());
     },
     nullptr, JwtProblem::kBadSignature},
    {"AccessTokenTypedAtJwt",
     [] { return sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "rsa-1"}, {"typ", "at+jwt"}}, valid_claims()); },
     nullptr, JwtProblem::kMalformed},
    {"UnknownKid", [] { return sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "rotated"}}, valid_claims()); },
     nullptr, JwtProblem::kUnknownKid},
    {"NoKidAndNoFittingKey", [] { return sign_compact(test_keys().ec, {{"alg", "ES256"}}, valid_claims()); },
     [] { return jwks_with({test_keys().rsa.public_jwk()}); }, JwtProblem::kUnknownKid},
    {"NoKidAndTwoFittingKeys", [] { return sign_compact(test_keys().rsa, {{"alg", "RS256"}}, valid_claims()); },
     nullptr, JwtProblem::kAmbiguousKey},
};

INSTANTIATE_TEST_SUITE_P(Tampering, ForgeryTest, ::testing::ValuesIn(kForgeryCases),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

// ---- Claims (OIDC Core §3.1.3.7) ----------------------------------------------------------

struct ClaimsCase {
  const char* name;
  json patch;  // merge patch over valid_claims(); null removes a claim
  std::optional<JwtProblem> problem;
};

class ClaimsTest : public ::testing::TestWithParam<ClaimsCase> {};

TEST_P(ClaimsTest, AppliesTheRule) {
  const ClaimsCase& c = GetParam();
  const std::string token = signed_token(test_keys().ec, c.patch);
  expect_outcome(token, validate(token), c.problem);
}

const ClaimsCase kClaimsCases[] = {
    {"Valid", json::object(), std::nullopt},
    {"WrongIssuer", {{"iss", "https://evil.example"}}, JwtProblem::kWrongIssuer},
    {"IssuerWithTrailingSlash", {{"iss", "https://issuer.example/"}}, JwtProblem::kWrongIssuer},
    {"IssuerDiffersInCase", {{"iss", "https://ISSUER.example"}}, JwtProblem::kWrongIssuer},
    {"IssuerMissing", {{"iss", nullptr}}, JwtProblem::kMissingClaim},
    {"IssuerNotString", {{"iss", 7}}, JwtProblem::kMalformed},
    {"AudienceStringOfAnotherClient", {{"aud", "client-999"}}, JwtProblem::kWrongAudience},
    {"AudienceArrayWithoutClient", {{"aud", {"client-999", "api"}}}, JwtProblem::kWrongAudience},
    {"AudienceEmptyArray", {{"aud", json::array()}}, JwtProblem::kWrongAudience},
    {"AudiencePrefixOfClient", {{"aud", "client-12"}}, JwtProblem::kWrongAudience},
    {"AudienceArrayWithClient", {{"aud", {"api", kClientId}}}, std::nullopt},
    {"AudienceMissing", {{"aud", nullptr}}, JwtProblem::kMissingClaim},
    {"AudienceNumber", {{"aud", 123}}, JwtProblem::kMalformed},
    {"AudienceArrayWithNumber", {{"aud", {kClientId, 5}}}, JwtProblem::kMalformed},
    {"AzpMatches", {{"azp", kClientId}}, std::nullopt},
    {"AzpOfAnotherClient", {{"azp", "client-999"}, {"aud", {kClientId, "client-999"}}}, JwtProblem::kWrongAuthorizedParty},
    {"AzpEmpty", {{"azp", ""}}, JwtProblem::kWrongAuthorizedParty},
    {"AzpNotString", {{"azp", 1}}, JwtProblem::kMalformed},
    {"SubjectMissing", {{"sub", nullptr}}, JwtProblem::kMissingClaim},
    {"SubjectEmpty", {{"sub", ""}}, JwtProblem::kMalformed},
    {"SubjectNumber", {{"sub", 42}}, JwtProblem::kMalformed},
    {"ExpiredBeyondSkew", {{"exp", kNow - 121}, {"iat", kNow - 3600}}, JwtProblem::kExpired},
    {"ExpiredExactlyAtSkew", {{"exp", kNow - 120}, {"iat", kNow - 3600}}, JwtProblem::kExpired},
    {"ExpiredWithinSkew", {{"exp", kNow - 119}, {"iat", kNow - 3600}}, std::nullopt},
    {"ExpiredLongAgo", {{"exp", 1}, {"iat", 0}}, JwtProblem::kExpired},
    {"ExpMissing", {{"exp", nullptr}}, JwtProblem::kMissingClaim},
    {"ExpString", {{"exp", "1800003600"}}, JwtProblem::kMalformed},
    {"ExpBoolean", {{"exp", true}}, JwtProblem::kMalformed},
    {"ExpNegative", {{"exp", -1}}, JwtProblem::kMalformed},
    {"ExpHugeInteger", {{"exp", 9223372036854775807LL}}, JwtProblem::kMalformed},
    {"ExpHugeUnsigned", {{"exp", 18446744073709551615ULL}}, JwtProblem::kMalformed},
    {"ExpHugeFloat", {{"exp", 1e300}}, JwtProblem::kMalformed},
    {"ExpFractional", {{"exp", static_cast<double>(kNow) + 3600.5}}, std::nullopt},
    {"IssuedInFutureBeyondSkew", {{"iat", kNow + 121}}, JwtProblem::kIssuedInFuture},
    {"IssuedInFutureWithinSkew", {{"iat", kNow + 120}}, std::nullopt},
    {"IatMissing", {{"iat", nullptr}}, JwtProblem::kMissingClaim},
    {"IatHuge", {{"iat", 1e20}}, JwtProblem::kMalformed},
    {"NotBeforeInFuture", {{"nbf", kNow + 500}}, JwtProblem::kNotYetValid},
    {"NotBeforeWithinSkew", {{"nbf", kNow + 100}}, std::nullopt},
    {"NotBeforeString", {{"nbf", "soon"}}, JwtProblem::kMalformed},
    {"DisplayClaimsOfWrongTypeIgnored", {{"name", 5}, {"email", json::array()}}, std::nullopt},
    {"TidNotString", {{"tid", 5}}, JwtProblem::kMalformed},
};

INSTANTIATE_TEST_SUITE_P(Rules, ClaimsTest, ::testing::ValuesIn(kClaimsCases),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

TEST(ClaimsRules, NonceIsCheckedOnlyWhenExpected) {
  const std::string token = signed_token(test_keys().ed, {{"nonce", "n-1"}});
  IdTokenExpectations expected = expectations();
  expect_outcome(token, validate(token, test_jwks(), expected), std::nullopt);
  expected.nonce = "n-1";
  expect_outcome(token, validate(token, test_jwks(), expected), std::nullopt);
  expected.nonce = "n-2";
  expect_outcome(token, validate(token, test_jwks(), expected), JwtProblem::kWrongNonce);
}

TEST(ClaimsRules, ClockSkewIsAParameterAndBounded) {
  const std::string token = signed_token(test_keys().ec, {{"exp", kNow - 30}, {"iat", kNow - 3600}});
  IdTokenExpectations expected = expectations();
  expected.clock_skew_seconds = 60;
  expect_outcome(token, validate(token, test_jwks(), expected), std::nullopt);
  expected.clock_skew_seconds = 10;
  expect_outcome(token, validate(token, test_jwks(), expected), JwtProblem::kExpired);
  expected.clock_skew_seconds = -1000;  // clamped to 0
  expect_outcome(token, validate(token, test_jwks(), expected), JwtProblem::kExpired);
  const std::string old = signed_token(test_keys().ec, {{"exp", kNow - 86400}, {"iat", kNow - 90000}});
  expected.clock_skew_seconds = 1'000'000;  // clamped to kMaxClockSkewSeconds
  expect_outcome(old, validate(old, test_jwks(), expected), JwtProblem::kExpired);
}

TEST(ClaimsRules, EmptyClientIdNeverMatches) {
  const std::string token = signed_token(test_keys().ec, {{"aud", ""}});
  IdTokenExpectations expected = expectations();
  expected.client_id = "";
  expect_outcome(token, validate(token, test_jwks(), expected), JwtProblem::kWrongAudience);
}

TEST(ClaimsRules, ErrorMessagesNameTheProblem) {
  auto wrong_iss = validate(signed_token(test_keys().ec, {{"iss", "https://evil.example"}}));
  ASSERT_FALSE(wrong_iss);
  EXPECT_EQ(wrong_iss.error().message, "iss \"https://evil.example\" is not the expected issuer \"https://issuer.example\"");
  auto wrong_aud = validate(signed_token(test_keys().ec, {{"aud", "x"}}));
  ASSERT_FALSE(wrong_aud);
  EXPECT_EQ(wrong_aud.error().message, "aud does not contain the client id \"client-123\"");
  auto unknown = validate(sign_compact(test_keys().rsa, {{"alg", "RS256"}, {"kid", "k\x1b[31m"}}, valid_claims()));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "no key in the JWKS has kid \"k[31m\"");  // control characters removed
}

// ---- Malformed tokens -----------------------------------------------------------------------

struct MalformedCase {
  const char* name;
  std::function<std::string()> token;
};

class MalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedTest, IsMalformed) {
  const std::string token = GetParam().token();
  expect_outcome(token, validate(token), JwtProblem::kMalformed);
}

std::string valid_rsa() { return signed_token(test_keys().rsa); }
std::string payload_b64() { return b64url(valid_claims().dump()); }

const MalformedCase kMalformedCases[] = {
    {"Empty", [] { return std::string(); }},
    {"OnlyDots", [] { return std::string(".."); }},
    {"TwoParts", [] { return part(valid_rsa(), 0) + "." + part(valid_rsa(), 1); }},
    {"FourParts", [] { return valid_rsa() + ".AAAA"; }},
    {"FivePartsJwe", [] { return valid_rsa() + ".AAAA.BBBB"; }},
    {"HeaderNotBase64", [] { return "!!!." + part(valid_rsa(), 1) + "." + part(valid_rsa(), 2); }},
    {"PayloadNotBase64", [] { return part(valid_rsa(), 0) + ".$$$$." + part(valid_rsa(), 2); }},
    {"SignatureNotBase64", [] { return part(valid_rsa(), 0) + "." + part(valid_rsa(), 1) + ".***"; }},
    {"StandardBase64Alphabet", [] { return part(valid_rsa(), 0) + "." + part(valid_rsa(), 1) + ".ab+/cd"; }},
    {"PaddedHeader", [] { return b64url(R"({"alg":"RS256","kid":"rsa-1"})") + "==." + payload_b64() + ".AAAA"; }},
    {"WhitespaceInToken", [] { return " " + valid_rsa(); }},
    {"LoneTrailingBase64Char", [] { return b64url(R"({"alg":"RS256"})") + "A." + payload_b64() + ".AAAA"; }},
    {"EmptyHeader", [] { return "." + payload_b64() + ".AAAA"; }},
    {"EmptyPayload", [] { return b64url(R"({"alg":"RS256"})") + "..AAAA"; }},
    {"HeaderNotJson", [] { return b64url("not json") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderJsonArray", [] { return b64url(R"(["RS256"])") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderTruncatedJson", [] { return b64url(R"({"alg":"RS256")") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderWithoutAlg", [] { return b64url(R"({"kid":"rsa-1"})") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderAlgNumber", [] { return b64url(R"({"alg":256})") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderTypNumber", [] { return b64url(R"({"alg":"RS256","typ":1})") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderKidNumber", [] { return b64url(R"({"alg":"RS256","kid":1})") + "." + payload_b64() + ".AAAA"; }},
    {"HeaderHugeNumber", [] { return b64url(R"({"alg":"RS256","x":1e999})") + "." + payload_b64() + ".AAAA"; }},
    {"PayloadHugeNumberOverflows",
     [] { return sign_compact_raw(test_keys().rsa, header_for(test_keys().rsa).dump(), R"({"sub":"a","exp":1e999})"); }},
    {"PayloadNotJsonButSigned",
     [] { return sign_compact_raw(test_keys().rsa, header_for(test_keys().rsa).dump(), "hello"); }},
    {"PayloadJsonStringButSigned",
     [] { return sign_compact_raw(test_keys().rsa, header_for(test_keys().rsa).dump(), R"("claims")"); }},
    {"DeeplyNestedHeader",
     [] { return b64url(std::string(20000, '[') + std::string(20000, ']')) + "." + payload_b64() + ".AAAA"; }},
    {"LargerThanLimit", [] { return b64url(std::string(kMaxJwtBytes, 'a')) + "." + payload_b64() + ".AAAA"; }},
};

INSTANTIATE_TEST_SUITE_P(Tokens, MalformedTest, ::testing::ValuesIn(kMalformedCases),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

// ---- JWKS and key parameters ----------------------------------------------------------------

struct JwksCase {
  const char* name;
  std::function<std::string()> jwks;
  std::function<std::string()> token;  // null: an RS256 token with kid rsa-1
  JwtProblem problem;
};

class JwksTest : public ::testing::TestWithParam<JwksCase> {};

TEST_P(JwksTest, IsRejected) {
  const JwksCase& c = GetParam();
  const std::string token = c.token ? c.token() : signed_token(test_keys().rsa);
  expect_outcome(token, validate(token, c.jwks()), c.problem);
}

json jwk_of_rsa_with(const char* member, const std::string& value) {
  json jwk = test_keys().rsa.public_jwk();
  jwk[member] = value;
  return jwk;
}

json ec_jwk_with(const char* member, const std::string& value) {
  json jwk = test_keys().ec.public_jwk();
  jwk[member] = value;
  return jwk;
}

const JwksCase kJwksCases[] = {
    {"NotJson", [] { return std::string("<html>"); }, nullptr, JwtProblem::kBadJwks},
    {"Empty", [] { return std::string(); }, nullptr, JwtProblem::kBadJwks},
    {"KeysNotArray", [] { return std::string(R"({"keys":{}})"); }, nullptr, JwtProblem::kBadJwks},
    {"NoKeysMember", [] { return test_keys().rsa.public_jwk().dump(); }, nullptr, JwtProblem::kBadJwks},
    {"EmptyKeys", [] { return std::string(R"({"keys":[]})"); }, nullptr, JwtProblem::kUnknownKid},
    {"EntriesWithoutKtyAreSkipped",
     [] {
       json jwk = test_keys().rsa.public_jwk();
       jwk.erase("kty");
       return jwks_with({jwk, 5, "text"});
     },
     nullptr, JwtProblem::kUnknownKid},
    {"RsaModulusNotBase64", [] { return jwks_with({jwk_of_rsa_with("n", "***")}); }, nullptr, JwtProblem::kBadKey},
    {"RsaExponentMissing",
     [] {
       json jwk = test_keys().rsa.public_jwk();
       jwk.erase("e");
       return jwks_with({jwk});
     },
     nullptr, JwtProblem::kBadKey},
    {"RsaExponentEven", [] { return jwks_with({jwk_of_rsa_with("e", b64url(std::string("\x01\x00\x00", 3)))}); }, nullptr,
     JwtProblem::kBadKey},
    {"RsaExponentOne", [] { return jwks_with({jwk_of_rsa_with("e", b64url(std::string("\x01", 1)))}); }, nullptr,
     JwtProblem::kBadKey},
    {"Rsa1024BitKey",
     [] {
       static const TestKey small = devicelogin::testing::make_rsa_key("rsa-1", 1024);
       return jwks_with({small.public_jwk()});
     },
     nullptr, JwtProblem::kBadKey},
    {"EcXTooShort",
     [] { return jwks_with({ec_jwk_with("x", b64url(std::string(31, '\x01')))}); },
     [] { return signed_token(test_keys().ec); }, JwtProblem::kBadKey},
    {"EcPointOffCurve",
     [] { return jwks_with({ec_jwk_with("y", b64url(std::string(32, '\x01')))}); },
     [] { return signed_token(test_keys().ec); }, JwtProblem::kBadKey},
    {"EcYMissing",
     [] {
       json jwk = test_keys().ec.public_jwk();
       jwk.erase("y");
       return jwks_with({jwk});
     },
     [] { return signed_token(test_keys().ec); }, JwtProblem::kBadKey},
    {"Ed25519XWrongLength",
     [] {
       json jwk = test_keys().ed.public_jwk();
       jwk["x"] = b64url(std::string(33, '\x02'));
       return jwks_with({jwk});
     },
     [] { return signed_token(test_keys().ed); }, JwtProblem::kBadKey},
    {"SameKidAnotherKeyMaterial",
     [] {
       json jwk = test_keys().rsa_other.public_jwk();
       jwk["kid"] = "rsa-1";
       return jwks_with({jwk});
     },
     nullptr, JwtProblem::kBadSignature},
};

INSTANTIATE_TEST_SUITE_P(Keys, JwksTest, ::testing::ValuesIn(kJwksCases),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

TEST(JwksSelection, PicksTheFittingKeyAmongSeveralWithTheSameKid) {
  // A key set may hold the same kid for several key types; the one that fits the alg is used.
  json rsa = test_keys().rsa.public_jwk();
  json ec = test_keys().ec.public_jwk();
  ec["kid"] = "shared";
  rsa["kid"] = "shared";
  const std::string token = sign_compact(test_keys().ec, {{"alg", "ES256"}, {"kid", "shared"}}, valid_claims());
  expect_outcome(token, validate(token, jwks_with({rsa, ec})), std::nullopt);
}

TEST(JwksSelection, SelectJwkDirectly) {
  auto keys = parse_jwks(test_jwks());
  ASSERT_TRUE(keys.has_value());
  ASSERT_EQ(keys->size(), 4u);
  auto by_kid = select_jwk(*keys, "ES256", "ec-1");
  ASSERT_TRUE(by_kid.has_value());
  EXPECT_EQ(by_kid->kty, "EC");
  auto by_alg = select_jwk(*keys, "EdDSA", "");
  ASSERT_TRUE(by_alg.has_value());
  EXPECT_EQ(by_alg->kid, "ed-1");
  EXPECT_EQ(select_jwk(*keys, "RS256", "").error().problem, JwtProblem::kAmbiguousKey);
  EXPECT_EQ(select_jwk(*keys, "RS256", "nope").error().problem, JwtProblem::kUnknownKid);
  EXPECT_EQ(select_jwk(*keys, "HS256", "rsa-1").error().problem, JwtProblem::kUnsupportedAlgorithm);
}

TEST(CompactJws, ParsesParts) {
  const std::string token = signed_token(test_keys().ed);
  auto jws = parse_compact_jws(token);
  ASSERT_TRUE(jws.has_value());
  EXPECT_EQ(jws->alg, "EdDSA");
  EXPECT_EQ(jws->kid, "ed-1");
  EXPECT_EQ(jws->signing_input.reveal(), token.substr(0, token.rfind('.')));
  EXPECT_EQ(jws->signature.size(), 64u);
  EXPECT_EQ(json::parse(jws->payload_json), valid_claims());
}

// ---- Microsoft Entra multi-tenant issuer rule -----------------------------------------------

constexpr const char* kTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr const char* kOtherTenant = "11111111-2222-3333-4444-555555555555";
constexpr const char* kConsumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad";

std::string entra_issuer(const std::string& tid) { return "https://login.microsoftonline.com/" + tid + "/v2.0"; }

struct EntraCase {
  const char* name;
  const char* alias;
  json patch;
  std::optional<JwtProblem> problem;
};

class EntraIssuerTest : public ::testing::TestWithParam<EntraCase> {};

TEST_P(EntraIssuerTest, AppliesTheTenantRule) {
  const EntraCase& c = GetParam();
  IdTokenExpectations expected = expectations();
  expected.issuer = std::string("https://login.microsoftonline.com/") + c.alias + "/v2.0";
  expected.entra_tenant_alias = c.alias;
  const std::string token = signed_token(test_keys().rsa, c.patch);
  expect_outcome(token, validate(token, test_jwks(), expected), c.problem);
}

const EntraCase kEntraCases[] = {
    {"OrganizationsUserTenant", "organizations", {{"iss", entra_issuer(kTenant)}, {"tid", kTenant}}, std::nullopt},
    {"CommonUserTenant", "common", {{"iss", entra_issuer(kTenant)}, {"tid", kTenant}}, std::nullopt},
    {"CommonPersonalAccount", "common", {{"iss", entra_issuer(kConsumersTenant)}, {"tid", kConsumersTenant}},
     std::nullopt},
    {"ConsumersPersonalAccount", "consumers", {{"iss", entra_issuer(kConsumersTenant)}, {"tid", kConsumersTenant}},
     std::nullopt},
    {"ConsumersRejectsWorkTenant", "consumers", {{"iss", entra_issuer(kTenant)}, {"tid", kTenant}},
     JwtProblem::kWrongIssuer},
    {"OrganizationsRejectsPersonalAccount", "organizations",
     {{"iss", entra_issuer(kConsumersTenant)}, {"tid", kConsumersTenant}}, JwtProblem::kWrongIssuer},
    {"TidDiffersFromIssuerTenant", "organizations", {{"iss", entra_issuer(kTenant)}, {"tid", kOtherTenant}},
     JwtProblem::kWrongIssuer},
    {"TidMissing", "organizations", {{"iss", entra_issuer(kTenant)}}, JwtProblem::kWrongIssuer},
    {"TidNotGuid", "common", {{"iss", entra_issuer("evil.example")}, {"tid", "evil.example"}},
     JwtProblem::kWrongIssuer},
    {"TidWithPathTricks", "common",
     {{"iss", "https://login.microsoftonline.com/x/../" + std::string(kTenant) + "/v2.0"}, {"tid", kTenant}},
     JwtProblem::kWrongIssuer},
    {"AliasItselfIsNotAnIssuer", "organizations",
     {{"iss", "https://login.microsoftonline.com/organizations/v2.0"}, {"tid", kTenant}}, JwtProblem::kWrongIssuer},
    {"V1IssuerRejected", "organizations", {{"iss", "https://sts.windows.net/" + std::string(kTenant) + "/"}, {"tid", kTenant}},
     JwtProblem::kWrongIssuer},
    {"OtherHostRejected", "common",
     {{"iss", "https://login.microsoftonline.us/" + std::string(kTenant) + "/v2.0"}, {"tid", kTenant}},
     JwtProblem::kWrongIssuer},
    {"AudienceStillChecked", "organizations",
     {{"iss", entra_issuer(kTenant)}, {"tid", kTenant}, {"aud", "another-app"}}, JwtProblem::kWrongAudience},
};

INSTANTIATE_TEST_SUITE_P(Tenants, EntraIssuerTest, ::testing::ValuesIn(kEntraCases),
                         [](const auto& test_case) { return std::string(test_case.param.name); });

TEST(EntraIssuer, WithoutAliasTheIssuerMustMatchExactly) {
  IdTokenExpectations expected = expectations();
  expected.issuer = "https://login.microsoftonline.com/organizations/v2.0";
  const std::string token = signed_token(test_keys().rsa, {{"iss", entra_issuer(kTenant)}, {"tid", kTenant}});
  expect_outcome(token, validate(token, test_jwks(), expected), JwtProblem::kWrongIssuer);
}

}  // namespace
}  // namespace devicelogin::oauth
