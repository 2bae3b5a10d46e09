// JWS compact serialization (RFC 7515 §7.1) and OIDC Core §3.1.3.7 ID-token validation. Input:
// issuer NUL client_id NUL now NUL token NUL jwks, so a seed can be a real, validly signed token
// with its JWKS, and mutations reach every check behind the signature.
#include <algorithm>
#include <charconv>

#include "fuzz_input.hpp"
#include "oauth/jwt.hpp"
#include "oauth/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  oauth::IdTokenExpectations expected;
  expected.issuer = std::string(in.part());
  expected.client_id = std::string(in.part());
  auto now_text = in.part();
  long long now = 1'800'000'000;
  std::from_chars(now_text.data(), now_text.data() + now_text.size(), now);
  auto token = in.part();
  auto jwks = in.rest();

  if (auto jws = oauth::parse_compact_jws(token)) fuzz::check(!jws->alg.empty());
  (void)oauth::unverified_jwt_claims_json(token);
  auto claims = oauth::validate_id_token(token, jwks, expected, now);
  if (claims) {
    fuzz::check(claims->iss == expected.issuer);
    fuzz::check(std::find(claims->aud.begin(), claims->aud.end(), expected.client_id) != claims->aud.end());
    fuzz::check(!claims->sub.empty());
  } else {
    fuzz::check(!claims.error().message.empty());
    // A message names the problem, never the token. Only a JWS-shaped token is looked for: a
    // dotless one can be a piece of a message's own words (found by the fuzzer: the token
    // "en has 1 parts, not t" is inside "the token has 1 parts, not the 3 of a signed JWT"), and
    // one the other inputs hold (issuer, client id, JWKS) may be quoted from them.
    const bool jws_shaped = std::ranges::count(token, '.') == 2;
    const bool in_other_inputs = expected.issuer.find(token) != std::string::npos ||
                                 expected.client_id.find(token) != std::string::npos ||
                                 jwks.find(token) != std::string_view::npos;
    if (token.size() > 20 && jws_shaped && !in_other_inputs) {
      fuzz::check(claims.error().message.find(token) == std::string::npos);
    }
  }
  return 0;
}
