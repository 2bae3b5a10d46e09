#include "devicelogin/secret.hpp"

#include "core/secret_memory.hpp"

#include <string.h>  // explicit_bzero

#include <atomic>
#include <new>

namespace devicelogin {

namespace {
std::atomic<void (*)(const char*, std::size_t)> release_observer{nullptr};
}  // namespace

void* SecretMemory::allocate(std::size_t bytes) { return ::operator new(bytes); }

// explicit_bzero (glibc) instead of OPENSSL_cleanse: both are guaranteed not to be optimised
// away, and linking libcrypto costs ~5 ms of start-up that the `token` hot path cannot afford.
void SecretMemory::wipe_and_free(void* data, std::size_t bytes) noexcept {
  if (data == nullptr) return;
  explicit_bzero(data, bytes);
  if (auto* observer = release_observer.load(std::memory_order_acquire)) observer(static_cast<const char*>(data), bytes);
  ::operator delete(data, bytes);
}

void set_secret_release_observer_for_test(void (*observer)(const char*, std::size_t)) noexcept {
  release_observer.store(observer, std::memory_order_release);
}

void wipe_string(std::string& value) noexcept {
  if (value.capacity() > 0) explicit_bzero(value.data(), value.capacity());
  value.clear();
}

Secret::Secret(std::string_view value) : value_(value) {}
Secret::Secret(std::string&& value) : value_(value) { wipe_string(value); }
// A short value sits in the source object's inline buffer, which the move copies: wipe it there.
Secret::Secret(WipingString&& value) noexcept : value_(std::move(value)) {
  if (value.capacity() > 0) explicit_bzero(value.data(), value.capacity());
  value.clear();
}
Secret::Secret(const Secret& other) : value_(other.value_) {}
// The heap buffer (if any) changes hands; a short value sits in the source object: wipe it there.
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

void Secret::append(std::string_view more) { value_.append(more); }

void Secret::reserve(std::size_t bytes) { value_.reserve(bytes); }

// The heap buffer is wiped again when freed; this also covers the inline (small-string) buffer,
// which no allocator sees.
void Secret::wipe() noexcept {
  if (value_.capacity() > 0) explicit_bzero(value_.data(), value_.capacity());
  value_.clear();
}

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
