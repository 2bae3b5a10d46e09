#pragma once
// Internals of Secret's storage (src/core/secret.cpp) that are not public API.
#include <cstddef>

namespace devicelogin {

// Test hook: `observer` (or nullptr to remove it) is called with every buffer a Secret releases,
// after it was zeroed and before it is freed (the bytes are still owned at that point).
void set_secret_release_observer_for_test(void (*observer)(const char* data, std::size_t bytes)) noexcept;

}  // namespace devicelogin
