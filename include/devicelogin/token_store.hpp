#pragma once
// TokenStore: where a profile's tokens live. Backends: file now; keyrings later (same interface).
#include <memory>
#include <optional>
#include <string>

#include "devicelogin/result.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin {

// Persists token sets per profile. Saves are atomic: a crash leaves the old or the new set.
class TokenStore {
 public:
  virtual ~TokenStore() = default;
  // The stored set, std::nullopt when there is none; kStorage when it cannot be read safely.
  [[nodiscard]] virtual Result<std::optional<TokenSet>> load(const std::string& profile) = 0;
  [[nodiscard]] virtual Result<void> save(const std::string& profile, const TokenSet& tokens) = 0;
  // Deletes the set; true when one existed.
  [[nodiscard]] virtual Result<bool> remove(const std::string& profile) = 0;
  // Short name shown by `status` ("file", ...).
  [[nodiscard]] virtual std::string name() const = 0;
  // Where the tokens live, for messages (a path, or a keyring description).
  [[nodiscard]] virtual std::string location(const std::string& profile) const = 0;
};

// The 0600-file backend under `directory` (0700). Refuses files that group or others can read,
// files not owned by the user, and symlinks.
[[nodiscard]] std::unique_ptr<TokenStore> make_file_token_store(std::string directory);

// $XDG_STATE_HOME/devicelogin (default ~/.local/state/devicelogin).
[[nodiscard]] Result<std::string> default_state_directory();
// $XDG_CONFIG_HOME/devicelogin (default ~/.config/devicelogin).
[[nodiscard]] Result<std::string> default_config_directory();

// The store a profile names ("file"); kConfig for an unknown name.
[[nodiscard]] Result<std::unique_ptr<TokenStore>> open_token_store(const std::string& name);

}  // namespace devicelogin
