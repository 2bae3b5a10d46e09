#include "oauth/jwt.hpp"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/encoding.hpp"
#include "devicelogin/sanitize.hpp"
#include "oauth/openssl_ptr.hpp"
#include "oauth/providers.hpp"

namespace devicelogin::oauth {
namespace {

using json = nlohmann::json;

using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BN_free>>;

enum class Algorithm { kRs256, kPs256, kEs256, kEdDsa };

// RFC 8037 §3.1 registers a single "EdDSA" whose curve comes from the key; only Ed25519 is supported.
std::optional<Algorithm> algorithm_named(std::string_view alg) {
  if (alg == "RS256") return Algorithm::kRs256;
  if (alg == "PS256") return Algorithm::kPs256;
  if (alg == "ES256") return Algorithm::kEs256;
  if (alg == "EdDSA") return Algorithm::kEdDsa;
  return std::nullopt;
}

std::unexpected<JwtError> problem(JwtProblem kind, std::string message) {
  return std::unexpected(JwtError{kind, std::move(message)});
}

// Attacker-controlled text (kid, iss, aud, alg) shown in a message: control characters removed,
// length bounded, quoted.
std::string shown(std::string_view text) {
  constexpr std::size_t kMaxShown = 80;
  std::string clean = sanitize_text(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) clean += "...";
  return "\"" + clean + "\"";
}

// RFC 7515 §2: base64url without padding, so '=', '+', '/' and whitespace are all malformed here,
// even though the shared decoder tolerates some of them.
std::optional<std::string> strict_base64url_decode(std::string_view text) {
  for (char c : text) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!allowed) return std::nullopt;
  }
  return core::base64url_decode(text);
}

// Why `alg` is refused; only meaningful when algorithm_named(alg) is nullopt.
JwtError unsupported_algorithm(std::string_view alg) {
  // RFC 8725 §2.1 / §3.1: an unsigned token, or an HMAC check keyed with a public key, would let
  // anyone forge a token, so both are refused outright rather than merely unlisted.
  if (alg == "none") return {JwtProblem::kUnsupportedAlgorithm, "alg \"none\" (an unsigned token) is refused"};
  if (alg.starts_with("HS")) {
    return {JwtProblem::kUnsupportedAlgorithm,
            "the HMAC alg " + shown(alg) + " is refused (ID tokens must be signed with the issuer's public key)"};
  }
  return {JwtProblem::kUnsupportedAlgorithm, "unsupported alg " + shown(alg) + " (supported: RS256, PS256, ES256, EdDSA)"};
}

std::string string_member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

// Why `key` cannot verify `alg`, or empty when it can (RFC 7518 §6.1 kty, §6.2.1.1 crv,
// RFC 7517 §4.2 use, §4.3 key_ops, §4.4 alg).
std::string key_unfit_reason(const Jwk& key, Algorithm algorithm, std::string_view alg) {
  switch (algorithm) {
    case Algorithm::kRs256:
    case Algorithm::kPs256:
      if (key.kty != "RSA") return "is kty " + shown(key.kty) + ", which cannot verify " + std::string(alg);
      break;
    case Algorithm::kEs256:
      if (key.kty != "EC") return "is kty " + shown(key.kty) + ", which cannot verify ES256";
      if (key.crv != "P-256") return "is on curve " + shown(key.crv) + ", but ES256 needs P-256";
      break;
    case Algorithm::kEdDsa:
      if (key.kty != "OKP") return "is kty " + shown(key.kty) + ", which cannot verify EdDSA";
      if (key.crv != "Ed25519") return "is on curve " + shown(key.crv) + ", but only Ed25519 is supported for EdDSA";
      break;
  }
  if (!key.alg.empty() && key.alg != alg) return "is for alg " + shown(key.alg) + ", not " + std::string(alg);
  if (!key.use.empty() && key.use != "sig") return "has use " + shown(key.use) + ", not \"sig\"";
  if (!key.key_ops.empty() && std::ranges::find(key.key_ops, "verify") == key.key_ops.end()) {
    return "has key_ops without \"verify\"";
  }
  return {};
}

JwtResult<std::string> decode_key_member(const std::string& text, const char* member, std::size_t exact_size = 0) {
  auto bytes = strict_base64url_decode(text);
  if (!bytes || bytes->empty()) {
    return problem(JwtProblem::kBadKey, std::string("the key's \"") + member + "\" is missing or not base64url");
  }
  if (exact_size != 0 && bytes->size() != exact_size) {
    return problem(JwtProblem::kBadKey, std::string("the key's \"") + member + "\" is " + std::to_string(bytes->size()) +
                                            " bytes, not " + std::to_string(exact_size));
  }
  return std::move(*bytes);
}

BignumPtr bignum_from(std::string_view big_endian) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(big_endian.data()),
                             static_cast<int>(big_endian.size()), nullptr));
}

// EVP_PKEY_fromdata for a public key of `type` ("RSA", "EC", "ED25519") from prepared parameters.
JwtResult<PkeyPtr> public_key_from_params(const char* type, OSSL_PARAM_BLD* builder) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(builder));
  PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return problem(JwtProblem::kBadKey, std::string("the ") + type + " key parameters are invalid");
  }
  return PkeyPtr(raw);
}

JwtResult<PkeyPtr> rsa_public_key(const Jwk& key) {
  auto modulus = decode_key_member(key.n, "n");
  if (!modulus) return std::unexpected(modulus.error());
  auto exponent = decode_key_member(key.e, "e");
  if (!exponent) return std::unexpected(exponent.error());
  BignumPtr n = bignum_from(*modulus);
  BignumPtr e = bignum_from(*exponent);
  if (!n || !e) return problem(JwtProblem::kBadKey, "the RSA key parameters are invalid");
  // RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms."
  // 16384 bits is OpenSSL's own ceiling for RSA public operations.
  const int bits = BN_num_bits(n.get());
  if (bits < 2048) return problem(JwtProblem::kBadKey, "the RSA key has " + std::to_string(bits) + " bits; at least 2048 are required");
  if (bits > 16384) return problem(JwtProblem::kBadKey, "the RSA key has more than 16384 bits");
  if (!BN_is_odd(e.get()) || BN_is_one(e.get())) return problem(JwtProblem::kBadKey, "the RSA public exponent is invalid");
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return problem(JwtProblem::kBadKey, "the RSA key parameters are invalid");
  }
  return public_key_from_params("RSA", builder.get());
}

JwtResult<PkeyPtr> p256_public_key(const Jwk& key) {
  // RFC 7518 §6.2.1.2/§6.2.1.3: x and y are the full coordinate size, 32 bytes for P-256.
  auto x = decode_key_member(key.x, "x", 32);
  if (!x) return std::unexpected(x.error());
  auto y = decode_key_member(key.y, "y", 32);
  if (!y) return std::unexpected(y.error());
  std::string point = "\x04" + *x + *y;  // SEC 1 §2.3.3 uncompressed point
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return problem(JwtProblem::kBadKey, "the EC key parameters are invalid");
  }
  auto pkey = public_key_from_params("EC", builder.get());
  if (!pkey) return pkey;
  // An off-curve or identity point must never reach a verification (invalid-curve attacks).
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return problem(JwtProblem::kBadKey, "the EC key is not a valid P-256 point");
  }
  return pkey;
}

JwtResult<PkeyPtr> ed25519_public_key(const Jwk& key) {
  // RFC 8037 §2: x is the 32-byte Ed25519 public key.
  auto x = decode_key_member(key.x, "x", 32);
  if (!x) return std::unexpected(x.error());
  ParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(), x->size()) != 1) {
    return problem(JwtProblem::kBadKey, "the OKP key parameters are invalid");
  }
  return public_key_from_params("ED25519", builder.get());
}

// RFC 7518 §3.4: a JWS ES256 signature is R || S, 32 bytes each; EVP wants a DER ECDSA-Sig-Value.
std::optional<std::string> es256_signature_to_der(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  BignumPtr r = bignum_from(raw.substr(0, 32));
  BignumPtr s = bignum_from(raw.substr(32));
  EcdsaSigPtr signature(ECDSA_SIG_new());
  if (!r || !s || !signature || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // owned by `signature` from here on
  (void)s.release();
  const int size = i2d_ECDSA_SIG(signature.get(), nullptr);
  if (size <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(signature.get(), &out) != size) return std::nullopt;
  return der;
}

JwtResult<void> bad_signature() {
  ERR_clear_error();
  return problem(JwtProblem::kBadSignature, "the signature does not verify");
}

// NumericDate (RFC 7519 §2): seconds, possibly fractional. Bounded so that adding a clock skew can
// never overflow; negative, non-finite and absurd values are malformed.
std::optional<long long> numeric_date(const json& value) {
  constexpr long long kMaxNumericDate = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (value.is_number_unsigned()) {
    auto v = value.get<unsigned long long>();
    if (v > static_cast<unsigned long long>(kMaxNumericDate)) return std::nullopt;
    return static_cast<long long>(v);
  }
  if (value.is_number_integer()) {
    auto v = value.get<long long>();
    if (v < 0 || v > kMaxNumericDate) return std::nullopt;
    return v;
  }
  if (value.is_number_float()) {
    double v = value.get<double>();
    if (!std::isfinite(v) || v < 0 || v > static_cast<double>(kMaxNumericDate)) return std::nullopt;
    return static_cast<long long>(std::floor(v));
  }
  return std::nullopt;
}

JwtResult<long long> required_date(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return problem(JwtProblem::kMissingClaim, std::string("the token has no \"") + name + "\" claim");
  auto value = numeric_date(*it);
  if (!value) return problem(JwtProblem::kMalformed, std::string("the \"") + name + "\" claim is not a valid NumericDate");
  return *value;
}

// An optional string claim: empty when absent; kMalformed when present with another type.
JwtResult<std::string> optional_string(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::string();
  if (!it->is_string()) return problem(JwtProblem::kMalformed, std::string("the \"") + name + "\" claim is not a string");
  return it->get<std::string>();
}


// Microsoft's tenant of personal (MSA) accounts: what the `consumers` alias issues for.
constexpr std::string_view kMicrosoftConsumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad";

// OIDC Core §3.1.3.7 item 2: iss must exactly match the issuer.
//
// Microsoft Entra's multi-tenant aliases (`common`, `organizations`, `consumers`) are not issuers:
// their discovery document advertises `https://login.microsoftonline.com/{tenantid}/v2.0`, and each
// token names the user's home tenant in both `iss` and `tid`. Microsoft's guidance for such apps is to
// accept iss when it equals that template with {tenantid} replaced by the token's own tid. That is
// what we do, so for these aliases any Entra tenant's user is accepted, as the alias itself means;
// the signature is still checked against the alias's JWKS (Microsoft's common signing keys) and aud
// must still be our client id. `consumers` is further held to the personal-account tenant and
// `organizations` to every other tenant.
JwtResult<void> check_issuer(const std::string& iss, const std::string& tid, const IdTokenExpectations& expected) {
  if (expected.entra_tenant_alias.empty()) {
    if (iss != expected.issuer) {
      return problem(JwtProblem::kWrongIssuer, "iss " + shown(iss) + " is not the expected issuer " + shown(expected.issuer));
    }
    return {};
  }
  if (!guid_shaped(tid)) {
    return problem(JwtProblem::kWrongIssuer,
                   "the token has no valid \"tid\" claim, which the Microsoft " + shown(expected.entra_tenant_alias) +
                       " endpoint's issuer rule needs");
  }
  const bool personal = core::ascii_lower(tid) == kMicrosoftConsumersTenant;
  if (expected.entra_tenant_alias == "consumers" && !personal) {
    return problem(JwtProblem::kWrongIssuer, "tid " + shown(tid) + " is not the Microsoft personal-account tenant");
  }
  if (expected.entra_tenant_alias == "organizations" && personal) {
    return problem(JwtProblem::kWrongIssuer, "the token is for a personal Microsoft account, not an organization");
  }
  const std::string tenant_issuer = entra_tenant_issuer(tid);
  if (iss != tenant_issuer) {
    return problem(JwtProblem::kWrongIssuer, "iss " + shown(iss) + " is not the issuer of the token's tenant " + shown(tenant_issuer));
  }
  return {};
}

}  // namespace

const char* jwt_problem_name(JwtProblem kind) noexcept {
  switch (kind) {
    case JwtProblem::kMalformed: return "malformed";
    case JwtProblem::kUnsupportedAlgorithm: return "unsupported_alg";
    case JwtProblem::kUnknownKid: return "unknown_kid";
    case JwtProblem::kAmbiguousKey: return "ambiguous_key";
    case JwtProblem::kKeyMismatch: return "key_mismatch";
    case JwtProblem::kBadKey: return "bad_key";
    case JwtProblem::kBadJwks: return "bad_jwks";
    case JwtProblem::kBadSignature: return "bad_signature";
    case JwtProblem::kWrongIssuer: return "wrong_issuer";
    case JwtProblem::kWrongAudience: return "wrong_audience";
    case JwtProblem::kExpired: return "expired";
    case JwtProblem::kNotYetValid: return "not_yet_valid";
    case JwtProblem::kIssuedInFuture: return "issued_in_future";
    case JwtProblem::kWrongAuthorizedParty: return "wrong_azp";
    case JwtProblem::kWrongNonce: return "wrong_nonce";
    case JwtProblem::kMissingClaim: return "missing_claim";
  }
  return "unknown";
}

JwtResult<CompactJws> parse_compact_jws(std::string_view token) {
  if (token.size() > kMaxJwtBytes) {
    return problem(JwtProblem::kMalformed, "the token is larger than " + std::to_string(kMaxJwtBytes) + " bytes");
  }
  const auto dots = std::ranges::count(token, '.');
  if (dots != 2) {
    // RFC 7516 §7.1: five parts would be an encrypted token (JWE), which nothing here can read.
    return problem(JwtProblem::kMalformed, "the token has " + std::to_string(dots + 1) + " parts, not the 3 of a signed JWT" +
                                               (dots == 4 ? " (an encrypted JWE is not supported)" : ""));
  }
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  const std::string_view header_text = token.substr(0, first);
  const std::string_view payload_text = token.substr(first + 1, second - first - 1);
  const std::string_view signature_text = token.substr(second + 1);

  auto header_bytes = strict_base64url_decode(header_text);
  auto payload_bytes = strict_base64url_decode(payload_text);
  auto signature_bytes = strict_base64url_decode(signature_text);
  if (!header_bytes || header_bytes->empty()) return problem(JwtProblem::kMalformed, "the header is not base64url");
  if (!payload_bytes || payload_bytes->empty()) return problem(JwtProblem::kMalformed, "the payload is not base64url");
  if (!signature_bytes) return problem(JwtProblem::kMalformed, "the signature is not base64url");

  // nlohmann keeps the last of duplicate members, which RFC 7515 §4 allows ("lexically last").
  json header = json_nesting_within(*header_bytes) ? json::parse(*header_bytes, nullptr, false) : json(json::value_t::discarded);
  if (header.is_discarded() || !header.is_object()) return problem(JwtProblem::kMalformed, "the header is not a JSON object");
  json payload = json_nesting_within(*payload_bytes) ? json::parse(*payload_bytes, nullptr, false) : json(json::value_t::discarded);
  if (payload.is_discarded() || !payload.is_object()) return problem(JwtProblem::kMalformed, "the payload is not a JSON object");

  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return problem(JwtProblem::kMalformed, "the header has no string \"alg\"");
  auto kid = header.find("kid");
  if (kid != header.end() && !kid->is_string()) return problem(JwtProblem::kMalformed, "the header's \"kid\" is not a string");
  auto typ = header.find("typ");
  if (typ != header.end() && !typ->is_string()) return problem(JwtProblem::kMalformed, "the header's \"typ\" is not a string");
  // RFC 7515 §4.1.11: a recipient that does not understand a listed extension MUST reject the JWS.
  if (header.contains("crit")) {
    return problem(JwtProblem::kUnsupportedAlgorithm, "the header lists critical extensions (\"crit\"), none of which are supported");
  }

  CompactJws jws;
  jws.header_json = std::move(*header_bytes);
  jws.payload_json = std::move(*payload_bytes);
  jws.alg = alg->get<std::string>();
  if (kid != header.end()) jws.kid = kid->get<std::string>();
  if (typ != header.end()) jws.typ = typ->get<std::string>();
  jws.signing_input = Secret(token.substr(0, second));
  jws.signature = Secret(std::move(*signature_bytes));
  return jws;
}

JwtResult<std::vector<Jwk>> parse_jwks(std::string_view jwks_json) {
  json doc = json_nesting_within(jwks_json) ? json::parse(jwks_json, nullptr, false) : json(json::value_t::discarded);
  if (doc.is_discarded() || !doc.is_object()) return problem(JwtProblem::kBadJwks, "the JWKS is not a JSON object");
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) return problem(JwtProblem::kBadJwks, "the JWKS has no \"keys\" array");
  std::vector<Jwk> result;
  for (const json& entry : *keys) {
    if (!entry.is_object()) continue;
    Jwk key;
    key.kty = string_member(entry, "kty");
    if (key.kty.empty()) continue;  // RFC 7517 §4.1: kty is required
    key.kid = string_member(entry, "kid");
    key.use = string_member(entry, "use");
    key.alg = string_member(entry, "alg");
    key.crv = string_member(entry, "crv");
    key.n = string_member(entry, "n");
    key.e = string_member(entry, "e");
    key.x = string_member(entry, "x");
    key.y = string_member(entry, "y");
    if (auto ops = entry.find("key_ops"); ops != entry.end()) {
      if (!ops->is_array()) continue;
      for (const json& op : *ops) {
        if (op.is_string()) key.key_ops.push_back(op.get<std::string>());
      }
      if (key.key_ops.empty()) key.key_ops.push_back("");  // present but names nothing: fits no use
    }
    result.push_back(std::move(key));
  }
  return result;
}

JwtResult<Jwk> select_jwk(const std::vector<Jwk>& keys, std::string_view alg, std::string_view kid) {
  auto algorithm = algorithm_named(alg);
  if (!algorithm) return std::unexpected(unsupported_algorithm(alg));
  if (!kid.empty()) {
    const Jwk* first_with_kid = nullptr;
    for (const Jwk& key : keys) {
      if (key.kid != kid) continue;
      if (key_unfit_reason(key, *algorithm, alg).empty()) return key;
      if (first_with_kid == nullptr) first_with_kid = &key;
    }
    if (first_with_kid == nullptr) return problem(JwtProblem::kUnknownKid, "no key in the JWKS has kid " + shown(kid));
    return problem(JwtProblem::kKeyMismatch, "the key with kid " + shown(kid) + " " + key_unfit_reason(*first_with_kid, *algorithm, alg));
  }
  // Without a kid (RFC 7515 §4.1.4 makes it optional), a key is chosen only when it is the one fit.
  const Jwk* fit = nullptr;
  for (const Jwk& key : keys) {
    if (!key_unfit_reason(key, *algorithm, alg).empty()) continue;
    if (fit != nullptr) {
      return problem(JwtProblem::kAmbiguousKey, "the token names no kid and several keys in the JWKS fit " + std::string(alg));
    }
    fit = &key;
  }
  if (fit == nullptr) return problem(JwtProblem::kUnknownKid, "the token names no kid and no key in the JWKS fits " + std::string(alg));
  return *fit;
}

JwtResult<void> verify_jws_signature(const CompactJws& jws, const Jwk& key) {
  auto named = algorithm_named(jws.alg);
  if (!named) return std::unexpected(unsupported_algorithm(jws.alg));
  const Algorithm algorithm = *named;
  if (std::string reason = key_unfit_reason(key, algorithm, jws.alg); !reason.empty()) {
    return problem(JwtProblem::kKeyMismatch, "the key " + reason);
  }
  JwtResult<PkeyPtr> pkey = algorithm == Algorithm::kEs256   ? p256_public_key(key)
                            : algorithm == Algorithm::kEdDsa ? ed25519_public_key(key)
                                                             : rsa_public_key(key);
  if (!pkey) return std::unexpected(pkey.error());

  Secret der_signature;
  std::string_view signature = jws.signature.reveal();
  if (algorithm == Algorithm::kEs256) {
    auto der = es256_signature_to_der(jws.signature.reveal());
    if (!der) return bad_signature();
    der_signature = Secret(std::move(*der));
    signature = der_signature.reveal();
  } else if (algorithm == Algorithm::kEdDsa && signature.size() != 64) {
    return bad_signature();  // RFC 8032 §5.1.6: an Ed25519 signature is 64 bytes
  }

  MdCtxPtr context(EVP_MD_CTX_new());
  EVP_PKEY_CTX* key_context = nullptr;  // owned by `context`
  // RFC 8037 §3.1: Ed25519 signs the message itself (PureEdDSA), so no digest is configured.
  const EVP_MD* digest = algorithm == Algorithm::kEdDsa ? nullptr : EVP_sha256();
  if (!context || EVP_DigestVerifyInit(context.get(), &key_context, digest, nullptr, pkey->get()) != 1) {
    ERR_clear_error();
    return problem(JwtProblem::kBadKey, "the key cannot be used for verification");
  }
  bool configured = true;
  if (algorithm == Algorithm::kRs256) {
    configured = EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PADDING) == 1;  // RFC 7518 §3.3
  } else if (algorithm == Algorithm::kPs256) {
    // RFC 7518 §3.5: MGF1 with SHA-256 and a salt as long as the hash output (32 bytes).
    configured = EVP_PKEY_CTX_set_rsa_padding(key_context, RSA_PKCS1_PSS_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md(key_context, EVP_sha256()) == 1 &&
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(key_context, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  if (!configured) {
    ERR_clear_error();
    return problem(JwtProblem::kBadKey, "the key cannot be used for " + jws.alg);
  }
  std::string_view input = jws.signing_input.reveal();
  const int verified = EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                        signature.size(), reinterpret_cast<const unsigned char*>(input.data()), input.size());
  if (verified != 1) return bad_signature();
  return {};
}

JwtResult<IdTokenClaims> validate_id_token(std::string_view token, std::string_view jwks_json,
                                           const IdTokenExpectations& expected, long long now) {
  auto jws = parse_compact_jws(token);
  if (!jws) return std::unexpected(jws.error());
  // OIDC Core §3.1.3.7 items 6-8 and RFC 8725 §3.1: the algorithm is checked before any key is
  // looked up, so that `none` and HS* fail the same way whatever the JWKS holds.
  if (!algorithm_named(jws->alg)) return std::unexpected(unsupported_algorithm(jws->alg));
  // RFC 8725 §3.11 / RFC 9068 §2.1: a JWT access token is explicitly typed at+jwt; it must not
  // pass for an ID token even when the same issuer signed it for the same client.
  if (core::ascii_lower(jws->typ) == "at+jwt" || core::ascii_lower(jws->typ) == "application/at+jwt") {
    return problem(JwtProblem::kMalformed, "the token is typed as an access token (typ at+jwt), not an ID token");
  }
  auto keys = parse_jwks(jwks_json);
  if (!keys) return std::unexpected(keys.error());
  auto key = select_jwk(*keys, jws->alg, jws->kid);
  if (!key) return std::unexpected(key.error());
  if (auto verified = verify_jws_signature(*jws, *key); !verified) return std::unexpected(verified.error());

  // Only claims of a verified token are looked at.
  json payload = json_nesting_within(jws->payload_json) ? json::parse(jws->payload_json, nullptr, false) : json(json::value_t::discarded);
  if (payload.is_discarded() || !payload.is_object()) return problem(JwtProblem::kMalformed, "the payload is not a JSON object");

  IdTokenClaims claims;
  auto iss = payload.find("iss");
  if (iss == payload.end()) return problem(JwtProblem::kMissingClaim, "the token has no \"iss\" claim");
  if (!iss->is_string()) return problem(JwtProblem::kMalformed, "the \"iss\" claim is not a string");
  claims.iss = iss->get<std::string>();
  auto sub = payload.find("sub");
  if (sub == payload.end()) return problem(JwtProblem::kMissingClaim, "the token has no \"sub\" claim");
  if (!sub->is_string() || sub->get_ref<const std::string&>().empty()) {
    return problem(JwtProblem::kMalformed, "the \"sub\" claim is not a non-empty string");
  }
  claims.sub = sub->get<std::string>();
  // RFC 7519 §4.1.3: aud is a string or an array of strings.
  auto aud = payload.find("aud");
  if (aud == payload.end()) return problem(JwtProblem::kMissingClaim, "the token has no \"aud\" claim");
  if (aud->is_string()) {
    claims.aud.push_back(aud->get<std::string>());
  } else if (aud->is_array()) {
    for (const json& entry : *aud) {
      if (!entry.is_string()) return problem(JwtProblem::kMalformed, "the \"aud\" claim holds a non-string");
      claims.aud.push_back(entry.get<std::string>());
    }
  } else {
    return problem(JwtProblem::kMalformed, "the \"aud\" claim is neither a string nor an array of strings");
  }
  auto exp = required_date(payload, "exp");
  if (!exp) return std::unexpected(exp.error());
  claims.exp = *exp;
  auto iat = required_date(payload, "iat");
  if (!iat) return std::unexpected(iat.error());
  claims.iat = *iat;
  if (payload.contains("nbf")) {
    auto nbf = required_date(payload, "nbf");
    if (!nbf) return std::unexpected(nbf.error());
    claims.nbf = *nbf;
  }
  for (auto [name, target] : {std::pair{"azp", &claims.azp}, std::pair{"nonce", &claims.nonce}, std::pair{"tid", &claims.tid}}) {
    auto value = optional_string(payload, name);
    if (!value) return std::unexpected(value.error());
    *target = std::move(*value);
  }
  // Display claims (OIDC Core §5.1) of the wrong type are ignored rather than fatal.
  claims.name = string_member(payload, "name");
  claims.preferred_username = string_member(payload, "preferred_username");
  claims.email = string_member(payload, "email");

  if (auto issuer_ok = check_issuer(claims.iss, claims.tid, expected); !issuer_ok) return std::unexpected(issuer_ok.error());
  // Item 3: the client must be among the audiences. Extra audiences are tolerated: item 4's azp
  // advice for them is a SHOULD, and item 5 below still binds azp to us when it is present.
  if (expected.client_id.empty() || std::ranges::find(claims.aud, expected.client_id) == claims.aud.end()) {
    return problem(JwtProblem::kWrongAudience, "aud does not contain the client id " + shown(expected.client_id));
  }
  // Item 5: when azp is present, it must be our client id.
  if (payload.contains("azp") && claims.azp != expected.client_id) {
    return problem(JwtProblem::kWrongAuthorizedParty, "azp " + shown(claims.azp) + " is not the client id " + shown(expected.client_id));
  }
  const long long skew = std::clamp(expected.clock_skew_seconds, 0LL, kMaxClockSkewSeconds);
  const std::string skew_text = " (now " + std::to_string(now) + ", allowed clock skew " + std::to_string(skew) + " s)";
  // Item 9: the current time must be before exp.
  if (now >= claims.exp + skew) {
    return problem(JwtProblem::kExpired, "the token expired at " + std::to_string(claims.exp) + skew_text);
  }
  // RFC 7519 §4.1.5: not to be accepted before nbf.
  if (claims.nbf && now + skew < *claims.nbf) {
    return problem(JwtProblem::kNotYetValid, "the token is not valid before " + std::to_string(*claims.nbf) + skew_text);
  }
  // Item 10: iat bounds how far from now the token was issued; a future iat means a wrong clock.
  if (claims.iat > now + skew) {
    return problem(JwtProblem::kIssuedInFuture, "the token was issued at " + std::to_string(claims.iat) + ", in the future" + skew_text);
  }
  // Item 11: a nonce sent in the request must come back unchanged.
  if (!expected.nonce.empty() && claims.nonce != expected.nonce) {
    return problem(JwtProblem::kWrongNonce, "the nonce does not match the one sent");
  }
  return claims;
}

bool guid_shaped(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace devicelogin::oauth
