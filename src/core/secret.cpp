#include "devicelogin/secret.hpp"

#include <string.h>  // explicit_bzero

namespace devicelogin {

// explicit_bzero (glibc) instead of OPENSSL_cleanse: both are guaranteed not to be optimised
// away, and linking libcrypto costs ~5 ms of start-up that the `token` hot path cannot afford.
void wipe_string(std::string& value) noexcept {
  if (value.capacity() > 0) explicit_bzero(value.data(), value.capacity());
  value.clear();
}

Secret::Secret(std::string_view value) : value_(value) {}
Secret::Secret(std::string&& value) : value_(std::move(value)) {}
Secret::Secret(const Secret& other) : value_(other.value_) {}
Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }

Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    wipe();
    value_ = other.value_;
  }
  return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    value_ = std::move(other.value_);
    other.wipe();
  }
  return *this;
}

Secret::~Secret() { wipe(); }

void Secret::wipe() noexcept { wipe_string(value_); }

bool Secret::equals(const Secret& other) const noexcept {
  // Hand-written rather than CRYPTO_memcmp to keep libcrypto off the hot path (see wipe_string).
  if (value_.size() != other.value_.size()) return false;
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < value_.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(value_[i]) ^
                                              static_cast<unsigned char>(other.value_[i])));
  }
  return diff == 0;
}

}  // namespace devicelogin
