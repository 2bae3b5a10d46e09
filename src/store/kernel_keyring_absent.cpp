// The kernel keyring store in a build without libkeyutils (DEVICELOGIN_KERNEL_KEYRING=OFF).
#include "devicelogin/advanced/token_store.hpp"
#include "store/absent_store.hpp"

namespace devicelogin {

std::unique_ptr<TokenStore> make_kernel_keyring_token_store(std::string) {
  return std::make_unique<store::AbsentTokenStore>("kernel-keyring", store::absent_store_error("the kernel keyring", "file"));
}

Result<void> probe_kernel_keyring() { return std::unexpected(store::absent_store_error("the kernel keyring", "file")); }

}  // namespace devicelogin
