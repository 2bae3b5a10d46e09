// The Secret Service store in a build without libsecret (DEVICELOGIN_SECRET_SERVICE=OFF).
#include "devicelogin/advanced/token_store.hpp"
#include "store/absent_store.hpp"
#include "store/secret_service_store.hpp"

namespace devicelogin::store {

std::unique_ptr<TokenStore> make_secret_service_token_store(std::chrono::milliseconds, std::chrono::milliseconds) {
  return std::make_unique<AbsentTokenStore>("secret-service", absent_store_error("the Secret Service", "kernel-keyring,file"));
}

Result<void> probe_secret_service(std::chrono::milliseconds) {
  return std::unexpected(absent_store_error("the Secret Service", "kernel-keyring,file"));
}

}  // namespace devicelogin::store
