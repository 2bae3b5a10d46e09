#pragma once
// Internals of Secret's storage (src/core/secret.cpp) that are not public API.
#include <cstddef>
#include <optional>
#include <string>

namespace devicelogin::core {

// Secret buffers are locked in RAM (mlock) while they live, best effort: when the kernel refuses
// (RLIMIT_MEMLOCK without CAP_IPC_LOCK, or no memory), the secret works as before and the refusal
// is counted. This describes the refusals in one line, or is nullopt when there was none.
[[nodiscard]] std::optional<std::string> secret_memory_lock_note();
// take_secret_memory_lock_note() (the once-per-process form) is public: devicelogin/secret.hpp.

// Test hook: `observer` (or nullptr to remove it) is called with every buffer a Secret releases,
// after it was zeroed and before it is freed (the bytes are still owned at that point).
void set_secret_release_observer_for_test(void (*observer)(const char* data, std::size_t bytes)) noexcept;

}  // namespace devicelogin::core
