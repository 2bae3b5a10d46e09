// OpenID Connect Discovery / RFC 8414 metadata documents, through discover() with a scripted
// HTTP client: the first part answers the OIDC location, the second the RFC 8414 one.
#include "fakes.hpp"
#include "fuzz_input.hpp"
#include "oauth/discovery.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  testing::FakeHttpClient http;
  auto first = fuzz::response_from(in, /*whole=*/false);
  http.reply(first.status, std::string(first.body.reveal()), first.headers);
  http.reply(200, std::string(in.rest()));
  auto metadata = oauth::discover(http, "https://id.example.com");
  // RFC 8414 §3.3: metadata is used only when it names the issuer that was asked for. (A document
  // without a token endpoint is accepted here; prepare_profile refuses the profile it would make.)
  if (metadata) {
    fuzz::check(metadata->issuer == "https://id.example.com" || metadata->issuer == "https://id.example.com/");
  } else {
    fuzz::check(!metadata.error().message.empty());
  }
  return 0;
}
