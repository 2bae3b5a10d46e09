#pragma once
// User codes (RFC 8628 §6.1): 8 consonants, generated uniformly, read back leniently.
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/result.hpp"

namespace devicelogin::devserver {

// A fresh canonical user code (8 letters, no hyphen); kInternal when the DRBG fails.
[[nodiscard]] Result<std::string> generate_user_code();
// The canonical form of what a person typed (case, hyphens and spaces ignored); nullopt when it
// cannot be a user code.
[[nodiscard]] std::optional<std::string> canonical_user_code(std::string_view input);

}  // namespace devicelogin::devserver
