#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "store/local_stores.hpp"
#include "store/secret_service_store.hpp"

namespace devicelogin {

namespace {
constexpr std::chrono::milliseconds kKeyringTimeout{5000};
}

Result<std::unique_ptr<TokenStore>> open_token_store(const std::string& name) {
  if (name == "secret-service") return store::make_secret_service_token_store(kKeyringTimeout);
  return store::open_local_token_store(name);
}

Result<std::string> resolve_store_name(const std::string& name) {
  // An explicit keyring is checked now, so that a refusal comes before the user approves a login
  // in the browser rather than after.
  if (name == "file") return name;
  if (name == "secret-service") {
    if (auto usable = store::probe_secret_service(kKeyringTimeout); !usable) return std::unexpected(usable.error());
    return name;
  }
  if (name == "kernel-keyring") {
    if (auto usable = probe_kernel_keyring(); !usable) return std::unexpected(usable.error());
    return name;
  }
  if (name != "auto") {
    return std::unexpected(remedy_error(ErrorCode::kUsage, "unknown token store \"" + name + "\" (choose: " + kStoreNames + ")", Remedy::kFixSettings, {}, "store"));
  }
  auto secret_service = store::probe_secret_service(kKeyringTimeout);
  if (secret_service) return std::string("secret-service");
  auto kernel = probe_kernel_keyring();
  if (kernel) return std::string("kernel-keyring");
  // Never a silent fallback to a plaintext file.
  return std::unexpected(remedy_error(ErrorCode::kConfig, "no keyring is available (Secret Service: " + secret_service.error().message +
                                          "; kernel keyring: " + kernel.error().message +
                                          "); tokens can be kept in a file readable only by you instead", Remedy::kChooseStore, {}, "file"));
}

}  // namespace devicelogin
