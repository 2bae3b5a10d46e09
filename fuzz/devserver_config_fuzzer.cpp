// The dev server's `--config FILE` format.
#include "authorization.hpp"  // devserver/authorization.hpp
#include "config.hpp"  // devserver/config.hpp
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  auto text = in.rest();
  auto config = devserver::parse_config(text);
  if (!config) {
    fuzz::check(!config.error().message.empty());
    return 0;
  }
  for (const auto& client : config->clients) {
    fuzz::check(!client.client_id.empty());
    for (const auto& scope : client.scopes) fuzz::check(devserver::valid_scope_token(scope));
    for (const auto& uri : client.redirect_uris) fuzz::check(devserver::parse_loopback_redirect(uri).has_value());
  }
  for (const auto& user : config->users) fuzz::check(!user.username.empty());
  return 0;
}
