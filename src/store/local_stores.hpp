#pragma once
// The stores that need neither D-Bus nor the network: what the `token` fast path may open.
#include <memory>
#include <string>

#include "devicelogin/result.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin::store {

// "file" or "kernel-keyring"; kConfig for any other name (secret-service lives in the library).
[[nodiscard]] Result<std::unique_ptr<TokenStore>> open_local_token_store(const std::string& name);

}  // namespace devicelogin::store
