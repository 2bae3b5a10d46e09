// RFC 6749 §5.1/§5.2 token endpoint answers: tokens, OAuth errors, transient failures.
#include "fuzz_input.hpp"
#include "oauth/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  auto response = fuzz::response_from(in);
  auto reply = oauth::parse_token_reply(response, 1'800'000'000);
  if (!reply) {
    fuzz::check(!reply.error().message.empty());
    return 0;
  }
  if (reply->kind == oauth::TokenReply::Kind::kTokens) {
    fuzz::check(!reply->tokens.access_token.empty());
    (void)reply->tokens.fresh_at(1'800'000'000, 60);
  } else if (reply->kind == oauth::TokenReply::Kind::kError) {
    fuzz::check(!reply->error.error.empty());
    (void)oauth::describe_oauth_error(reply->error);
  }
  return 0;
}
