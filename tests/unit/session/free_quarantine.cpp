#include "free_quarantine.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace devicelogin::testing {
namespace {

#if !defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kCapacity = 1 << 16;
void* kept[kCapacity];  // NOLINT(cppcoreguidelines-avoid-c-arrays): no allocation inside operator delete
std::atomic<std::size_t> kept_count{0};
std::atomic<bool> keeping{false};

void release(void* data) noexcept {
  if (data == nullptr) return;
  if (keeping.load(std::memory_order_acquire)) {
    const std::size_t slot = kept_count.fetch_add(1, std::memory_order_acq_rel);
    if (slot < kCapacity) {
      kept[slot] = data;
      return;
    }
  }
  std::free(data);
}
#endif

}  // namespace

#if !defined(__SANITIZE_ADDRESS__)
FreeQuarantine::FreeQuarantine() {
  kept_count.store(0, std::memory_order_release);
  keeping.store(true, std::memory_order_release);
}

FreeQuarantine::~FreeQuarantine() {
  keeping.store(false, std::memory_order_release);
  const std::size_t count = kept_count.exchange(0, std::memory_order_acq_rel);
  for (std::size_t i = 0; i < count && i < kCapacity; ++i) std::free(kept[i]);
}
#else
FreeQuarantine::FreeQuarantine() = default;
FreeQuarantine::~FreeQuarantine() = default;
#endif

}  // namespace devicelogin::testing

#if !defined(__SANITIZE_ADDRESS__)
// The replaceable global allocation functions. libstdc++'s array, sized and nothrow forms call
// these two, so every C++ allocation of this binary goes through them.
void* operator new(std::size_t bytes) {
  if (void* data = std::malloc(bytes == 0 ? 1 : bytes)) return data;
  throw std::bad_alloc();
}

void operator delete(void* data) noexcept { devicelogin::testing::release(data); }
void operator delete(void* data, std::size_t /*bytes*/) noexcept { devicelogin::testing::release(data); }
#endif
