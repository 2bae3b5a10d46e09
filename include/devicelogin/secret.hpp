#pragma once
// Secret: a string whose memory is wiped whenever it is released (destruction, reallocation,
// copies) and that cannot be streamed or logged.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/advanced/wiping_allocator.hpp"
#include "devicelogin/export.hpp"

namespace devicelogin {

// Holds a token, refresh token, device code or client secret. Reading it is an explicit,
// greppable call (`reveal()`); there is no operator<< on purpose.
class DEVICELOGIN_API Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view value);
  // Copies the bytes into wiping storage and wipes `value` (its buffer would be freed unwiped).
  explicit Secret(std::string&& value);
  // Takes over wiping storage (no copy is made).
  explicit Secret(WipingString&& value) noexcept;
  explicit Secret(const char* value) : Secret(std::string_view(value)) {}
  Secret(const Secret& other);
  Secret(Secret&& other) noexcept;
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  // The secret bytes (followed by a '\0', so data() may be handed to C APIs). Every call site is a
  // place where the secret leaves its box: keep them few. Copying the view into a std::string
  // makes a copy that is not wiped: avoid it, or wipe that copy with wipe_string.
  [[nodiscard]] std::string_view reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }
  // Appends bytes; when the storage grows, the old buffer is wiped before it is freed.
  void append(std::string_view more);
  // Reserves storage for `bytes` bytes, so that appends up to that size do not reallocate.
  void reserve(std::size_t bytes);
  // Constant-time comparison (the time taken depends only on the lengths).
  [[nodiscard]] bool equals(const Secret& other) const noexcept;
  // Overwrites the bytes and empties the secret.
  void wipe() noexcept;

 private:
  WipingString value_;
};

// Overwrites the whole buffer of a std::string (size and spare capacity) and clears it. For the
// plain std::string buffers that still hold secrets (e.g. the strings inside a parsed JSON value).
DEVICELOGIN_API void wipe_string(std::string& value) noexcept;

// Once per process: a one-line note when secret memory could not be locked in RAM (mlock refused,
// e.g. by RLIMIT_MEMLOCK), for a verbose trace; nullopt when every lock succeeded, or afterwards.
[[nodiscard]] DEVICELOGIN_API std::optional<std::string> take_secret_memory_lock_note();

}  // namespace devicelogin
