#include <keyutils.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "devicelogin/profile.hpp"
#include "devicelogin/token_store.hpp"
#include "store/token_codec.hpp"

namespace devicelogin {
namespace {

// One `user` key per profile, described "devicelogin:PROFILE", in the user's persistent keyring
// (keyrings(7), persistent-keyring(7)): it outlives login sessions but not a reboot, and the
// kernel drops it after /proc/sys/kernel/keys/persistent_keyring_expiry seconds unused (3 days by
// default). Only the user's processes can reach it; possessor-only permissions on the key.
//
// The persistent keyring is per user, not per HOME: the description carries the state directory
// so that two configurations of one user (e.g. test runs with their own HOME) never share keys.
class KernelKeyringTokenStore final : public TokenStore {
 public:
  explicit KernelKeyringTokenStore(std::string scope) : scope_(std::move(scope)) {}

  Result<std::optional<TokenSet>> load(const std::string& profile) override {
    auto keyring = persistent_keyring();
    if (!keyring) return std::unexpected(keyring.error());
    auto key = static_cast<key_serial_t>(::keyctl_search(*keyring, "user", description(profile).c_str(), 0));
    if (key < 0) {
      if (errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED) return std::optional<TokenSet>{};
      return fail(ErrorCode::kStorage, "cannot search the kernel keyring: " + std::string(std::strerror(errno)));
    }
    void* buffer = nullptr;
    long size = ::keyctl_read_alloc(key, &buffer);
    if (size < 0) {
      if (errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED) return std::optional<TokenSet>{};
      return fail(ErrorCode::kStorage, "cannot read the kernel keyring key " + description(profile) + ": " + std::strerror(errno));
    }
    std::string text(static_cast<const char*>(buffer), static_cast<std::size_t>(size));
    explicit_bzero(buffer, static_cast<std::size_t>(size));
    std::free(buffer);
    auto tokens = decode_token_set(text);
    wipe_string(text);
    if (!tokens) return fail(ErrorCode::kStorage, tokens.error().message + " (kernel keyring key " + description(profile) + ")");
    return std::optional<TokenSet>{std::move(*tokens)};
  }

  Result<void> save(const std::string& profile, const TokenSet& tokens) override {
    auto keyring = persistent_keyring();
    if (!keyring) return std::unexpected(keyring.error());
    Secret payload = encode_token_set(tokens);
    // add_key replaces the payload of an existing key of the same description in one step, so a
    // crash leaves the old or the new set.
    key_serial_t key = ::add_key("user", description(profile).c_str(), payload.reveal().data(), payload.size(), *keyring);
    if (key < 0) {
      std::string reason = errno == EDQUOT ? "the kernel key quota is exhausted (see /proc/sys/kernel/keys/maxbytes)"
                                           : std::string(std::strerror(errno));
      return fail(ErrorCode::kStorage, "cannot save to the kernel keyring: " + reason);
    }
    ::keyctl_setperm(key, KEY_POS_ALL | KEY_USR_VIEW);
    // Expire with the refresh token; without one, with the access token. Unknown: no timeout
    // (the persistent keyring's own expiry still applies).
    std::optional<long long> until = !tokens.refresh_token.empty() ? tokens.refresh_expires_at : tokens.expires_at;
    if (until) {
      long long left = *until - static_cast<long long>(std::time(nullptr));
      ::keyctl_set_timeout(key, static_cast<unsigned>(std::max<long long>(left, 1)));
    } else {
      ::keyctl_set_timeout(key, 0);
    }
    return {};
  }

  Result<bool> remove(const std::string& profile) override {
    auto keyring = persistent_keyring();
    if (!keyring) return std::unexpected(keyring.error());
    auto key = static_cast<key_serial_t>(::keyctl_search(*keyring, "user", description(profile).c_str(), 0));
    if (key < 0) return false;
    if (::keyctl_invalidate(key) != 0 && ::keyctl_unlink(key, *keyring) != 0) {
      return fail(ErrorCode::kStorage, "cannot delete the kernel keyring key " + description(profile) + ": " + std::strerror(errno));
    }
    return true;
  }

  std::string name() const override { return "kernel-keyring"; }
  std::string location(const std::string& profile) const override {
    return "kernel persistent keyring, key user;" + description(profile) + " (lost at reboot)";
  }

  static Result<key_serial_t> persistent_keyring() {
    // Links the persistent keyring into this process's keyring so that we possess it.
    long keyring = ::keyctl_get_persistent(static_cast<uid_t>(-1), KEY_SPEC_PROCESS_KEYRING);
    if (keyring < 0) {
      return fail(ErrorCode::kStorage, "the kernel keyring is not available here (" + std::string(std::strerror(errno)) +
                                           "); use --store file");
    }
    return static_cast<key_serial_t>(keyring);
  }

 private:
  std::string description(const std::string& profile) const { return "devicelogin:" + profile + ":" + scope_; }
  std::string scope_;
};

}  // namespace

std::unique_ptr<TokenStore> make_kernel_keyring_token_store(std::string scope) {
  return std::make_unique<KernelKeyringTokenStore>(std::move(scope));
}

Result<void> probe_kernel_keyring() {
  auto keyring = KernelKeyringTokenStore::persistent_keyring();
  if (!keyring) return std::unexpected(keyring.error());
  return {};
}

}  // namespace devicelogin
