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
    // A message names the problem, never the token.
    if (token.size() > 20) fuzz::check(claims.error().message.find(token) == std::string::npos);
  }
  return 0;
}
