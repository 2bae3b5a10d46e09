#pragma once
// TokenStore: where a profile's tokens live. Backends: file now; keyrings later (same interface).
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "devicelogin/export.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin {

// An exclusive, per-profile lock (flock on a lock file, so a crashed holder releases it). Held
// across load -> refresh -> save so that racing processes refresh once. Move-only.
class DEVICELOGIN_API StoreLock {
 public:
  StoreLock() = default;
  explicit StoreLock(int fd) : fd_(fd) {}
  StoreLock(StoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StoreLock& operator=(StoreLock&& other) noexcept;
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;
  ~StoreLock();
  [[nodiscard]] bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Takes the lock file at `path` (created 0600), waiting up to `timeout`. kStorage on timeout
// ("another devicelogin process holds ...") or when the file cannot be opened.
[[nodiscard]] DEVICELOGIN_API Result<StoreLock> lock_file(const std::string& path, std::chrono::milliseconds timeout);

// The largest token set a store takes, as encoded for storage (the JSON of encode_token_set):
// saving a larger one fails with kStorage, and check_capacity proves room for one this large
// before any request that makes tokens, since their size is known only once they are issued.
inline constexpr std::size_t kMaxTokenSetBytes = 16 * 1024;

// Persists token sets per profile. Saves are atomic: a crash leaves the old or the new set. A store
// must give back every field of the TokenSet it was given except id_token, which is not kept (the
// built-in ones store encode_token_set's JSON): a set that loses token_endpoint and client_id is
// no longer checked against the profile's server before it is sent.
class DEVICELOGIN_API TokenStore {
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
  // Succeeds when a set of kMaxTokenSetBytes could be saved for `profile` now (replacing the one
  // stored); kStorage naming the store, its limit and the ways out otherwise. Called before a
  // login or refresh asks the server for tokens. The default (a store that cannot tell) succeeds.
  [[nodiscard]] virtual Result<void> check_capacity(const std::string& profile);
  // The profile's set size in the store and, where the store has one, its quota. The default
  // reports the size of the encoded set that load() gives back.
  [[nodiscard]] virtual Result<StoreUsage> usage(const std::string& profile);
  // The profile's lock. By default $XDG_STATE_HOME/devicelogin/locks/PROFILE.lock.
  [[nodiscard]] virtual Result<StoreLock> lock(const std::string& profile, std::chrono::milliseconds timeout);
};

// The 0600-file backend under `directory` (0700). Refuses files that group or others can read,
// files not owned by the user, and symlinks.
[[nodiscard]] DEVICELOGIN_API std::unique_ptr<TokenStore> make_file_token_store(std::string directory);

// $XDG_STATE_HOME/devicelogin (default ~/.local/state/devicelogin).
[[nodiscard]] DEVICELOGIN_API Result<std::string> default_state_directory();
// $XDG_CONFIG_HOME/devicelogin (default ~/.config/devicelogin).
[[nodiscard]] DEVICELOGIN_API Result<std::string> default_config_directory();

// The Linux kernel key retention service: one `user` key per profile in the user's persistent
// keyring, never on disk, gone at reboot; the key's timeout follows the refresh token's expiry.
// `scope` (the state directory) keeps separate configurations of one user apart.
[[nodiscard]] DEVICELOGIN_API std::unique_ptr<TokenStore> make_kernel_keyring_token_store(std::string scope);
// Whether the kernel keyring can be used here (keyctl may be refused in containers).
[[nodiscard]] DEVICELOGIN_API Result<void> probe_kernel_keyring();

// Store names accepted by --store.
inline constexpr const char* kStoreNames = "auto, secret-service, kernel-keyring, file";

// The store a profile names ("secret-service", "kernel-keyring", "file"); kConfig for an
// unknown name. Opening does not contact the store.
[[nodiscard]] DEVICELOGIN_API Result<std::unique_ptr<TokenStore>> open_token_store(const std::string& name);
// Resolves "auto": secret-service when a session bus answers and the keyring is unlocked within
// the timeout, else kernel-keyring, else kConfig explaining `--store file`. An explicit keyring is
// probed (kStorage when unusable); "file" is returned as it is; other names are kUsage.
[[nodiscard]] DEVICELOGIN_API Result<std::string> resolve_store_name(const std::string& name);

}  // namespace devicelogin
