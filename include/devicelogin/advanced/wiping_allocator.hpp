#pragma once
// Advanced: the allocator behind Secret, whose released buffers are zeroed (secret.hpp includes
// it because a Secret holds a WipingString). For code that keeps secret bytes of its own.
#include <cstddef>
#include <string>

#include "devicelogin/export.hpp"

namespace devicelogin {

// The storage behind WipingAllocator. Exported because the allocator is a template: its calls
// are compiled into whatever instantiates it, inside or outside the library.
class DEVICELOGIN_API SecretMemory {
 public:
  // Allocates storage for secret bytes.
  [[nodiscard]] static void* allocate(std::size_t bytes);
  // Overwrites `bytes` bytes at `data` with zeros (explicit_bzero) and then frees them.
  static void wipe_and_free(void* data, std::size_t bytes) noexcept;
};

// An allocator whose every released buffer is zeroed before it is freed (as tink's SecretData
// and cpr's SecureString): a std::string that grows frees its old buffer unwiped, this one does not.
template <class T>
struct WipingAllocator {
  using value_type = T;  // NOLINT(readability-identifier-naming): the name the Allocator requirements give it
  WipingAllocator() noexcept = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>& /*other*/) noexcept {}  // NOLINT(google-explicit-constructor): allocator rebind
  [[nodiscard]] T* allocate(std::size_t count) {
    return static_cast<T*>(SecretMemory::allocate(count * sizeof(T)));
  }
  void deallocate(T* data, std::size_t count) noexcept { SecretMemory::wipe_and_free(data, count * sizeof(T)); }
  template <class U>
  bool operator==(const WipingAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

// The storage of a Secret: every buffer it ever owned is zeroed before being freed.
using WipingString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

}  // namespace devicelogin
