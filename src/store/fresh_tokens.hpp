#pragma once
// The token hot path's one question, shared by the `devicelogin` executable's fast path
// (cli/fast_main.cpp) and the Python package's native module (python/fast_module.cpp): is there a
// stored set that can be handed out as it is, without the network, D-Bus or the command module?
#include <memory>
#include <optional>
#include <string>

#include "devicelogin/profile.hpp"
#include "devicelogin/token_set.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin::store {

// The stored set of `profile_name` (empty: the default profile: $DEVICELOGIN_PROFILE, else the one
// `devicelogin use` chose, else "default") from the profiles in `profile_directory` (empty: the
// XDG location), when it is in a local store (file or kernel keyring; never Secret Service), is
// bound to the profile's token endpoint and client, and stays valid for `min_ttl` seconds (>= 0).
// Otherwise nullopt, and the caller goes the full way (which refreshes, or explains the problem):
// this never reports an error, never changes anything and never sends anything.
[[nodiscard]] std::optional<TokenSet> load_fresh_local_tokens(std::string profile_name, long long min_ttl,
                                                              const std::string& profile_directory = {});

// The same in two steps, for a caller that asks many times (the Python package's Session): the
// profile and its local store, read once (as a Session reads its profile once), then the stored
// set each time. nullopt where load_fresh_local_tokens would give nullopt for every min_ttl.
struct LocalTokenSource {
  std::string profile_name;
  Profile profile;
  std::unique_ptr<TokenStore> store;
};
[[nodiscard]] std::optional<LocalTokenSource> open_local_token_source(std::string profile_name,
                                                                      const std::string& profile_directory = {});
[[nodiscard]] std::optional<TokenSet> fresh_local_tokens(const LocalTokenSource& source, long long min_ttl);

}  // namespace devicelogin::store
