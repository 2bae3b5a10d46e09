#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "core/fs.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "store/local_stores.hpp"
#include "store/token_codec.hpp"

namespace devicelogin {
namespace {

// Proves that `directory` can take a new file of `bytes` now: an anonymous file there (O_TMPFILE,
// else a named one unlinked at once) gets the blocks reserved with posix_fallocate, then is
// closed, which frees them. kStorage naming the directory, the size and the ways out.
Result<void> reserve_space_probe(const std::string& directory, std::size_t bytes) {
  int fd = ::open(directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string name = directory + "/.capacity-probe.XXXXXX";
    fd = ::mkstemp(name.data());
    if (fd >= 0) ::unlink(name.c_str());
  }
  if (fd < 0) {
    return fail(ErrorCode::kStorage, "the file token store cannot create a file in " + directory + ": " + std::generic_category().message(errno));
  }
  const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  ::close(fd);
  if (err == 0) return {};
  if (err == ENOSPC || err == EDQUOT) {
    return fail(ErrorCode::kStorage, "the file token store has no room for a token set in " + directory + " (" +
                                         std::generic_category().message(err) + "; a set may take up to " + std::to_string(bytes) +
                                         " bytes): free disk space there, log out of profiles no longer used, or use "
                                         "another token store");
  }
  return fail(ErrorCode::kStorage, "the file token store cannot reserve " + std::to_string(bytes) + " bytes in " +
                                       directory + ": " + std::generic_category().message(err));
}

// Tokens in $XDG_STATE_HOME/devicelogin/tokens/PROFILE.json, 0600 in a 0700 directory.
class FileTokenStore final : public TokenStore {
 public:
  explicit FileTokenStore(std::string directory) : directory_(std::move(directory)) {}

  Result<std::optional<TokenSet>> load(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    auto dir = core::PrivateDirectory::open(directory_, false);
    if (!dir) return std::unexpected(dir.error());
    if (!*dir) return std::optional<TokenSet>{};
    auto content = (*dir)->read_private_file(profile + ".json", "token file");
    if (!content) return std::unexpected(content.error());
    if (!*content) return std::optional<TokenSet>{};
    auto tokens = store::decode_token_set(**content);
    wipe_string(**content);
    if (!tokens) {
      return fail(ErrorCode::kStorage, tokens.error().message + " (" + path_of(profile) + ")");
    }
    return std::optional<TokenSet>{std::move(*tokens)};
  }

  Result<void> save(const std::string& profile, const TokenSet& tokens) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    auto dir = core::PrivateDirectory::open(directory_, true);
    if (!dir) return std::unexpected(dir.error());
    Secret encoded = store::encode_token_set(tokens);
    if (auto size = store::check_token_set_size(encoded.size(), "the file token store"); !size) return size;
    // Saves run under the profile lock, so no other writer's temp file is in flight.
    (*dir)->remove_stale_temp_files(profile + ".json");
    return (*dir)->write_file_atomically(profile + ".json", encoded.reveal());
  }

  Result<void> check_capacity(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    if (auto dir = core::ensure_private_directory(directory_); !dir) return dir;
    return reserve_space_probe(directory_, kMaxTokenSetBytes);
  }

  Result<StoreUsage> usage(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    StoreUsage usage;
    struct stat st {};
    if (::lstat(path_of(profile).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      usage.set_bytes = static_cast<std::size_t>(st.st_size);
    }
    return usage;
  }

  Result<bool> remove(const std::string& profile) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    auto dir = core::PrivateDirectory::open(directory_, false);
    if (!dir) return std::unexpected(dir.error());
    if (!*dir) return false;
    // Logging out must not leave token data behind in the temp file of a crashed save.
    (*dir)->remove_stale_temp_files(profile + ".json");
    return (*dir)->remove_file(profile + ".json");
  }

  Result<StoreLock> lock(const std::string& profile, std::chrono::milliseconds timeout) override {
    if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
    return lock_file(directory_ + "/" + profile + ".lock", timeout);
  }

  std::string name() const override { return "file"; }
  std::string location(const std::string& profile) const override { return path_of(profile); }

 private:
  std::string path_of(const std::string& profile) const { return directory_ + "/" + profile + ".json"; }
  std::string directory_;
};

}  // namespace

std::unique_ptr<TokenStore> make_file_token_store(std::string directory) {
  return std::make_unique<FileTokenStore>(std::move(directory));
}

Result<std::string> default_state_directory() {
  auto base = core::xdg_directory("XDG_STATE_HOME", ".local/state");
  if (!base) return base;
  return *base + "/devicelogin";
}

Result<std::string> default_config_directory() {
  auto base = core::xdg_directory("XDG_CONFIG_HOME", ".config");
  if (!base) return base;
  return *base + "/devicelogin";
}

Result<std::unique_ptr<TokenStore>> store::open_local_token_store(const std::string& name) {
  if (name != "file" && name != "kernel-keyring") {
    return fail(ErrorCode::kConfig, "unknown token store \"" + name + "\" (available: " + kStoreNames + ")");
  }
  auto dir = default_state_directory();
  if (!dir) return std::unexpected(dir.error());
  if (name == "file") return make_file_token_store(*dir + "/tokens");
  return make_kernel_keyring_token_store(*dir);
}

}  // namespace devicelogin
