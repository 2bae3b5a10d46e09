#pragma once
// Secret: a string whose memory is wiped on destruction and that cannot be streamed or logged.
#include <string>
#include <string_view>

#include "devicelogin/export.hpp"

namespace devicelogin {

// Holds a token, refresh token, device code or client secret. Reading it is an explicit,
// greppable call (`reveal()`); there is no operator<< on purpose.
class DEVICELOGIN_API Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view value);
  explicit Secret(std::string&& value);
  explicit Secret(const char* value) : Secret(std::string_view(value)) {}
  Secret(const Secret& other);
  Secret(Secret&& other) noexcept;
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  // The secret bytes. Every call site is a place where the secret leaves its box: keep them few.
  [[nodiscard]] const std::string& reveal() const noexcept { return value_; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return value_.size(); }
  // Constant-time comparison (the time taken depends only on the lengths).
  [[nodiscard]] bool equals(const Secret& other) const noexcept;
  // Overwrites the bytes and empties the secret.
  void wipe() noexcept;

 private:
  std::string value_;
};

// Overwrites the whole buffer of a std::string (size and spare capacity) and clears it.
DEVICELOGIN_API void wipe_string(std::string& value) noexcept;

}  // namespace devicelogin
