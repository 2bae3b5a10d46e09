#pragma once
// A token store this build was configured without (DEVICELOGIN_SECRET_SERVICE=OFF or
// DEVICELOGIN_KERNEL_KEYRING=OFF, for a library that needs neither libsecret nor libkeyutils):
// every operation fails with the same kStorage error naming the store and the usable ones.
#include <memory>
#include <string>
#include <utility>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin::store {

// The error every operation of an absent store gives: `store` ("the Secret Service") is not
// built in; `others` lists the stores to use instead (Error::setting of Remedy::kChooseStore).
[[nodiscard]] inline Error absent_store_error(const std::string& store, const std::string& others) {
  return remedy_error(ErrorCode::kStorage, "this build of libdevicelogin has no support for " + store,
                      Remedy::kChooseStore, {}, others);
}

class AbsentTokenStore final : public TokenStore {
 public:
  AbsentTokenStore(std::string name, Error why, std::string location = "(not built in)")
      : name_(std::move(name)), why_(std::move(why)), location_(std::move(location)) {}
  Result<std::optional<TokenSet>> load(const std::string&) override { return std::unexpected(why_); }
  Result<void> save(const std::string&, const TokenSet&) override { return std::unexpected(why_); }
  Result<bool> remove(const std::string&) override { return std::unexpected(why_); }
  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] std::string location(const std::string&) const override { return location_; }
  Result<void> check_capacity(const std::string&) override { return std::unexpected(why_); }

 private:
  std::string name_;
  Error why_;
  std::string location_;
};

}  // namespace devicelogin::store
