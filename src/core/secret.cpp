#include "devicelogin/secret.hpp"

#include "core/secret_memory.hpp"

#include <string.h>  // explicit_bzero
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <system_error>

namespace devicelogin {

namespace {
#ifdef DEVICELOGIN_TEST_HOOKS
// Only in the tests' copy of this file (src/CMakeLists.txt: dl_test_hooks).
std::atomic<void (*)(const char*, std::size_t)> release_observer{nullptr};
#endif

// Secret pages are kept out of swap with mlock, best effort. A page may hold several secret
// buffers (and other data), while one munlock undoes any number of mlocks: each page is locked
// when its first secret buffer arrives and unlocked when its last one leaves.
struct PageLocks {
  std::mutex mutex;
  // (Not unordered_map: its rehash policy needs libm's ceil, which the fast path does not load.)
  std::map<std::uintptr_t, std::size_t> buffers_on_page;
  std::atomic<std::size_t> refusals{0};
  std::atomic<int> first_refusal_errno{0};
  std::atomic<bool> noted{false};
};

// Never destroyed: a Secret may be released during static destruction.
PageLocks& page_locks() {
  static auto* locks = new PageLocks;  // NOLINT(cppcoreguidelines-owning-memory): deliberately immortal
  return *locks;
}

// mlock/munlock through the system call itself: the sanitizer runtimes (ASan, TSan) replace the
// libc functions with no-ops that report success, which would leave the sanitized builds, where
// the tests of this run too, unlocked and silent.
int lock_range(std::uintptr_t begin, std::size_t bytes) noexcept {
  return static_cast<int>(::syscall(SYS_mlock, begin, bytes));
}
int unlock_range(std::uintptr_t begin, std::size_t bytes) noexcept {
  return static_cast<int>(::syscall(SYS_munlock, begin, bytes));
}

std::uintptr_t page_size() {
  static const auto size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

void lock_pages(const void* data, std::size_t bytes) {
  if (bytes == 0) return;
  const std::uintptr_t page = page_size();
  const auto begin = reinterpret_cast<std::uintptr_t>(data) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes - 1) & ~(page - 1);
  PageLocks& locks = page_locks();
  std::lock_guard guard(locks.mutex);
  for (std::uintptr_t at = begin; at <= end; at += page) {
    std::size_t& count = locks.buffers_on_page[at];
    if (count++ > 0) continue;
    // RLIMIT_MEMLOCK (often 64 KiB or 8 MiB without CAP_IPC_LOCK) or ENOMEM: the secret still works,
    // its page may be swapped; the refusal is remembered for secret_memory_lock_note().
    if (lock_range(at, page) != 0) {
      int expected = 0;
      locks.first_refusal_errno.compare_exchange_strong(expected, errno);
      locks.refusals.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void unlock_pages(const void* data, std::size_t bytes) noexcept {
  if (bytes == 0) return;
  const std::uintptr_t page = page_size();
  const auto begin = reinterpret_cast<std::uintptr_t>(data) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes - 1) & ~(page - 1);
  PageLocks& locks = page_locks();
  std::lock_guard guard(locks.mutex);
  for (std::uintptr_t at = begin; at <= end; at += page) {
    auto it = locks.buffers_on_page.find(at);
    if (it == locks.buffers_on_page.end()) continue;
    if (--it->second > 0) continue;
    locks.buffers_on_page.erase(it);
    (void)unlock_range(at, page);  // also harmless on a page whose mlock was refused
  }
}

}  // namespace

void* SecretMemory::allocate(std::size_t bytes) {
  void* data = ::operator new(bytes);
  lock_pages(data, bytes);
  return data;
}

// explicit_bzero (glibc) instead of OPENSSL_cleanse: both are guaranteed not to be optimised
// away, and linking libcrypto costs ~5 ms of start-up that the `token` hot path cannot afford.
void SecretMemory::wipe_and_free(void* data, std::size_t bytes) noexcept {
  if (data == nullptr) return;
  explicit_bzero(data, bytes);
#ifdef DEVICELOGIN_TEST_HOOKS
  if (auto* observer = release_observer.load(std::memory_order_acquire)) observer(static_cast<const char*>(data), bytes);
#endif
  unlock_pages(data, bytes);  // after the wipe: the bytes never sit on an unlocked page
  ::operator delete(data, bytes);
}

std::optional<std::string> core::secret_memory_lock_note() {
  PageLocks& locks = page_locks();
  const std::size_t refusals = locks.refusals.load(std::memory_order_relaxed);
  if (refusals == 0) return std::nullopt;
  rlimit limit{};
  std::string limit_text = "unknown";
  if (::getrlimit(RLIMIT_MEMLOCK, &limit) == 0) {
    limit_text = limit.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(limit.rlim_cur) + " bytes";
  }
  return "secret memory could not be locked in RAM (" + std::to_string(refusals) + " page(s); mlock: " +
         std::generic_category().message(locks.first_refusal_errno.load(std::memory_order_relaxed)) +
         "; RLIMIT_MEMLOCK " + limit_text + "): secrets on those pages may be written to swap; raise the "
         "locked-memory limit (ulimit -l) or grant CAP_IPC_LOCK to keep them in RAM";
}

std::optional<std::string> take_secret_memory_lock_note() {
  auto note = core::secret_memory_lock_note();
  if (!note || page_locks().noted.exchange(true)) return std::nullopt;
  return note;
}

#ifdef DEVICELOGIN_TEST_HOOKS
void core::set_secret_release_observer_for_test(void (*observer)(const char*, std::size_t)) noexcept {
  release_observer.store(observer, std::memory_order_release);
}
#endif

void wipe_string(std::string& value) noexcept {
  if (value.capacity() > 0) explicit_bzero(value.data(), value.capacity());
  value.clear();
}

Secret::Secret(std::string_view value) : value_(value) {}
Secret::Secret(std::string&& value) : value_(value) { wipe_string(value); }
// A short value sits in the source object's inline buffer, which the move copies: wipe it there.
Secret::Secret(WipingString&& value) noexcept : value_(std::move(value)) {
  // NOLINTNEXTLINE(bugprone-use-after-move,clang-analyzer-cplusplus.Move): a moved-from string is valid, and wiping it is the point
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
