#pragma once
// Advanced: where profiles are kept (Session::open, profiles() and set_default_profile use it for
// you). For programs that manage profiles themselves.
#include <string>
#include <vector>

#include "devicelogin/export.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin {

// Reads and writes profiles under $XDG_CONFIG_HOME/devicelogin/profiles/NAME.json.
class DEVICELOGIN_API ProfileStore {
 public:
  // Uses the XDG directories from the environment (HOME, XDG_CONFIG_HOME).
  [[nodiscard]] static Result<ProfileStore> from_environment();
  explicit ProfileStore(std::string directory) : directory_(std::move(directory)) {}

  // The profile, or kNotLoggedIn when it does not exist, kConfig when it is malformed.
  [[nodiscard]] Result<Profile> load(const std::string& name) const;
  // Writes atomically (temp file + fsync + rename), mode 0600 in a 0700 directory.
  [[nodiscard]] Result<void> save(const Profile& profile) const;
  // Removes the profile file; true when one existed.
  [[nodiscard]] Result<bool> remove(const std::string& name) const;
  // Names of every stored profile, sorted.
  [[nodiscard]] Result<std::vector<std::string>> list() const;
  // The profile used when none is named: $DEVICELOGIN_PROFILE when set, else the one set_default
  // chose, else "default". kUsage when either names an invalid profile.
  [[nodiscard]] Result<std::string> default_name() const;
  // Makes `name` the default profile (kept in this directory, atomically); the profile need not
  // exist yet.
  [[nodiscard]] Result<void> set_default(const std::string& name) const;
  [[nodiscard]] const std::string& directory() const { return directory_; }

 private:
  std::string directory_;
};

}  // namespace devicelogin
