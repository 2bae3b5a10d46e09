// LocalTokenSource: the fast path's tokens, from the local stores without the network.
#include "helpers.hpp"
#include "store/fresh_tokens.hpp"

namespace devicelogin::cli::helpers {

SourceResult<AccessToken> LocalTokenSource::access_token(const std::string& profile, long long min_ttl) {
  if (min_ttl < 0) return std::unexpected(SourceProblem{true, {}});
  auto tokens = store::load_fresh_local_tokens(profile, min_ttl);
  if (!tokens) return std::unexpected(SourceProblem{true, {}});
  return AccessToken{std::move(tokens->access_token), tokens->token_type, tokens->expires_at};
}

// Both refresh: the network, which only the full CLI has.
SourceResult<void> LocalTokenSource::refresh_if_current(const std::string& /*profile*/, const Secret& /*rejected*/) {
  return std::unexpected(SourceProblem{true, {}});
}

SourceResult<bool> LocalTokenSource::refresh_if_stored(const std::string& /*profile*/) {
  return std::unexpected(SourceProblem{true, {}});
}

}  // namespace devicelogin::cli::helpers
