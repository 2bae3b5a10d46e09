#include "devicelogin/advanced/profile_store.hpp"
#include "store/fresh_tokens.hpp"

#include <ctime>
#include <utility>

#include "store/local_stores.hpp"
#include "store/profile_reading.hpp"

namespace devicelogin::store {

std::optional<LocalTokenSource> open_local_token_source(std::string profile_name, const std::string& profile_directory) {
  auto profiles = profile_directory.empty() ? ProfileStore::from_environment() : Result<ProfileStore>(ProfileStore(profile_directory));
  if (!profiles) return std::nullopt;
  if (profile_name.empty()) {
    auto chosen = profiles->default_name();
    if (!chosen) return std::nullopt;
    profile_name = std::move(*chosen);
  }
  // Only the token endpoint, client and store are used here: the cached JWKS is not read.
  auto profile = load_profile(*profiles, profile_name, ProfileParts::kWithoutJwksCache);
  if (!profile) return std::nullopt;
  auto store = open_local_token_store(profile->store);  // file or kernel-keyring; never D-Bus
  if (!store) return std::nullopt;
  return LocalTokenSource{std::move(profile_name), std::move(*profile), std::move(*store)};
}

std::optional<TokenSet> fresh_local_tokens(const LocalTokenSource& source, long long min_ttl) {
  if (min_ttl < 0) return std::nullopt;
  auto tokens = source.store->load(source.profile_name);
  if (!tokens || !*tokens) return std::nullopt;
  if (!(*tokens)->fresh_at(static_cast<long long>(std::time(nullptr)), min_ttl)) return std::nullopt;
  // Issued to another server or client than the profile names: the full path explains (exit 5).
  if (!bound_to(**tokens, source.profile.endpoints.token, source.profile.client_id)) return std::nullopt;
  return std::move(*tokens);
}

std::optional<TokenSet> load_fresh_local_tokens(std::string profile_name, long long min_ttl,
                                                const std::string& profile_directory) {
  auto source = open_local_token_source(std::move(profile_name), profile_directory);
  if (!source) return std::nullopt;
  return fresh_local_tokens(*source, min_ttl);
}

}  // namespace devicelogin::store
