#pragma once
// Reading a profile with only the parts a caller needs: the `token` fast path never uses the
// cached JWKS (only the full path verifies ID tokens), which is most of a profile file's text.
#include <string>

#include "devicelogin/advanced/profile_store.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin::store {

enum class ProfileParts {
  kAll,               // as ProfileStore::load
  kWithoutJwksCache,  // jwks_cache left empty; every check and error the same
};

// ProfileStore::load(name), with `parts`: the same refusals (name, file rules, invalid JSON, nesting,
// no client_id or token_endpoint) and the same fields, but jwks_cache only with kAll.
[[nodiscard]] Result<Profile> load_profile(const ProfileStore& profiles, const std::string& name, ProfileParts parts);

}  // namespace devicelogin::store
