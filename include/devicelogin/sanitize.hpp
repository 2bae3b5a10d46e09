#pragma once
#include <string>
#include <string_view>

#include "devicelogin/export.hpp"

namespace devicelogin {
// Removes control characters (C0, DEL, C1) from server-supplied text before it reaches a terminal
// or a JSON event; everything else passes unchanged.
[[nodiscard]] DEVICELOGIN_API std::string sanitize_text(std::string_view text);
}  // namespace devicelogin
