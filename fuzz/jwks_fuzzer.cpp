// JWK Sets (RFC 7517 §5) and key selection for each algorithm we accept.
#include "fuzz_input.hpp"
#include "oauth/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  auto kid = in.part();
  auto keys = oauth::parse_jwks(in.rest());
  if (!keys) return 0;
  for (std::string_view alg : {"RS256", "PS256", "ES256", "EdDSA", "HS256", "none"}) {
    auto key = oauth::select_jwk(*keys, alg, kid);
    if (key && !kid.empty()) fuzz::check(key->kid == kid);
  }
  return 0;
}
