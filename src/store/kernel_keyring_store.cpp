#include <keyutils.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "store/token_codec.hpp"

namespace devicelogin {
namespace {

// The calling user's kernel key quota (keyrings(7), /proc/key-users): what the keys it owns take
// and what it may take. The kernel charges a new `user` key its payload plus its description
// and a NUL; replacing a key's payload charges only the growth.
struct KeyQuota {
  long long used_keys = 0;
  long long max_keys = 0;
  long long used_bytes = 0;
  long long max_bytes = 0;
};

long long read_number_file(const char* path) {
  std::ifstream in(path);
  long long value = -1;
  if (!(in >> value)) return -1;
  return value;
}

// nullopt when the quota cannot be read (no /proc): the check cannot be made, and saving reports
// EDQUOT itself.
std::optional<KeyQuota> read_key_quota() {
  const auto uid = static_cast<long long>(::geteuid());
  std::ifstream in("/proc/key-users");
  if (in) {
    std::string line;
    while (std::getline(in, line)) {
      // "%5d: %5d %d/%d %d/%d %d/%d": uid, usage, nkeys/nikeys, qnkeys/maxkeys, qnbytes/maxbytes
      long long owner = 0, usage = 0, keys = 0, instantiated = 0;
      KeyQuota quota;
      char colon = 0, slash1 = 0, slash2 = 0, slash3 = 0;
      std::istringstream fields(line);
      if (fields >> owner >> colon >> usage >> keys >> slash1 >> instantiated >> quota.used_keys >> slash2 >>
              quota.max_keys >> quota.used_bytes >> slash3 >> quota.max_bytes &&
          colon == ':' && owner == uid) {
        return quota;
      }
    }
  }
  // No line: the user owns no key yet, so nothing is charged.
  KeyQuota quota;
  const bool root = uid == 0;
  quota.max_bytes = read_number_file(root ? "/proc/sys/kernel/keys/root_maxbytes" : "/proc/sys/kernel/keys/maxbytes");
  quota.max_keys = read_number_file(root ? "/proc/sys/kernel/keys/root_maxkeys" : "/proc/sys/kernel/keys/maxkeys");
  if (quota.max_bytes < 0 || quota.max_keys < 0) return std::nullopt;
  return quota;
}

std::string quota_ways_out() {
  return ::geteuid() == 0 ? "log out of profiles no longer used, use another token store, or raise kernel.keys.root_maxbytes"
                          : "log out of profiles no longer used, use another token store, or raise kernel.keys.maxbytes";
}

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
      return fail(ErrorCode::kStorage, "cannot search the kernel keyring: " + std::string(std::generic_category().message(errno)));
    }
    // Read straight into wiping, locked storage (keyctl_read_alloc would hand over a plain malloc
    // buffer, to be copied into a Secret and wiped): its size first, then the payload, again if
    // the key grew in between.
    WipingString text;
    long size = ::keyctl_read(key, nullptr, 0);
    while (size >= 0 && static_cast<std::size_t>(size) != text.size()) {
      text.assign(static_cast<std::size_t>(size), '\0');
      size = ::keyctl_read(key, text.data(), text.size());
      if (size >= 0 && static_cast<std::size_t>(size) < text.size()) text.resize(static_cast<std::size_t>(size));
    }
    if (size < 0) {
      if (errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED) return std::optional<TokenSet>{};
      return fail(ErrorCode::kStorage, "cannot read the kernel keyring key " + description(profile) + ": " + std::generic_category().message(errno));
    }
    auto tokens = store::decode_token_set(text);
    if (!tokens) return fail(ErrorCode::kStorage, tokens.error().message + " (kernel keyring key " + description(profile) + ")");
    return std::optional<TokenSet>{std::move(*tokens)};
  }

  Result<void> save(const std::string& profile, const TokenSet& tokens) override {
    auto keyring = persistent_keyring();
    if (!keyring) return std::unexpected(keyring.error());
    Secret payload = store::encode_token_set(tokens);
    if (auto size = store::check_token_set_size(payload.size(), "the kernel keyring"); !size) return size;
    // add_key replaces the payload of an existing key of the same description in one step, so a
    // crash leaves the old or the new set.
    key_serial_t key = ::add_key("user", description(profile).c_str(), payload.reveal().data(), payload.size(), *keyring);
    if (key < 0) {
      std::string reason = errno == EDQUOT ? "the kernel key quota is exhausted (see /proc/sys/kernel/keys/maxbytes)"
                                           : std::string(std::generic_category().message(errno));
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
      return fail(ErrorCode::kStorage, "cannot delete the kernel keyring key " + description(profile) + ": " + std::generic_category().message(errno));
    }
    return true;
  }

  Result<void> check_capacity(const std::string& profile) override {
    auto keyring = persistent_keyring();
    if (!keyring) return std::unexpected(keyring.error());
    auto quota = read_key_quota();
    if (!quota) return {};
    const std::string key_description = description(profile);
    long long needed_bytes = static_cast<long long>(kMaxTokenSetBytes) + static_cast<long long>(key_description.size()) + 1;
    long long needed_keys = 1;
    if (auto existing = stored_payload_size(*keyring, profile)) {
      needed_bytes = static_cast<long long>(kMaxTokenSetBytes) - static_cast<long long>(*existing);
      needed_keys = 0;
    }
    const long long left_bytes = quota->max_bytes - quota->used_bytes;
    const std::string uid = std::to_string(::geteuid());
    if (quota->used_keys + needed_keys > quota->max_keys) {
      return fail(ErrorCode::kStorage, "the kernel keyring has no room for a token set: uid " + uid + " holds " +
                                           std::to_string(quota->used_keys) + " of the " + std::to_string(quota->max_keys) +
                                           " keys its quota allows; " + quota_ways_out() + " (maxkeys)");
    }
    if (needed_bytes > left_bytes) {
      return fail(ErrorCode::kStorage, "the kernel keyring has no room for a token set: the key quota of uid " + uid +
                                           " has " + std::to_string(std::max(left_bytes, 0LL)) + " of " +
                                           std::to_string(quota->max_bytes) + " bytes left and a set may need " +
                                           std::to_string(needed_bytes) + "; " + quota_ways_out());
    }
    return {};
  }

  Result<StoreUsage> usage(const std::string& profile) override {
    auto keyring = persistent_keyring();
    if (!keyring) return std::unexpected(keyring.error());
    StoreUsage usage;
    usage.set_bytes = stored_payload_size(*keyring, profile);
    if (auto quota = read_key_quota()) {
      usage.quota_used_bytes = quota->used_bytes;
      usage.quota_max_bytes = quota->max_bytes;
    }
    return usage;
  }

  std::string name() const override { return "kernel-keyring"; }
  std::string location(const std::string& profile) const override {
    return "kernel persistent keyring, key user;" + description(profile) + " (lost at reboot)";
  }

  static Result<key_serial_t> persistent_keyring() {
    // Links the persistent keyring into this process's keyring so that we possess it.
    long keyring = ::keyctl_get_persistent(static_cast<uid_t>(-1), KEY_SPEC_PROCESS_KEYRING);
    if (keyring < 0) {
      return std::unexpected(remedy_error(ErrorCode::kStorage, "the kernel keyring is not available here (" +
                                              std::string(std::generic_category().message(errno)) + ")", Remedy::kChooseStore, {}, "file"));
    }
    return static_cast<key_serial_t>(keyring);
  }

 private:
  // The payload size of the profile's key, nullopt when there is none.
  std::optional<std::size_t> stored_payload_size(key_serial_t keyring, const std::string& profile) const {
    auto key = static_cast<key_serial_t>(::keyctl_search(keyring, "user", description(profile).c_str(), 0));
    if (key < 0) return std::nullopt;
    long size = ::keyctl_read(key, nullptr, 0);
    if (size < 0) return std::nullopt;
    return static_cast<std::size_t>(size);
  }

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
