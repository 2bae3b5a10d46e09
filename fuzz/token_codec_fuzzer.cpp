// The stored form of a token set (every store backend and the `token` fast path read it).
#include "fuzz_input.hpp"
#include "store/token_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  auto decoded = store::decode_token_set(std::string(in.rest()));
  if (!decoded) {
    fuzz::check(!decoded.error().message.empty());
    return 0;
  }
  // What decodes re-encodes to something that decodes to the same set.
  auto again = store::decode_token_set(store::encode_token_set(*decoded).reveal());
  fuzz::check(again.has_value());
  fuzz::check(again->access_token.reveal() == decoded->access_token.reveal());
  fuzz::check(again->refresh_token.reveal() == decoded->refresh_token.reveal());
  fuzz::check(again->expires_at == decoded->expires_at);
  fuzz::check(again->scope == decoded->scope);
  return 0;
}
