#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/secret_memory.hpp"
#include "devicelogin/secret.hpp"
#include "memlock_refusal.hpp"

namespace devicelogin {
namespace {

// The `Locked:` kB of the mapping (VMA) that contains `address`, from /proc/self/smaps; nullopt
// when no mapping contains it. mlock marks whole VMAs (splitting them at the locked range), so
// a locked page shows up as a VMA whose Locked equals its size.
std::optional<long> locked_kb_at(const void* address) {
  const auto wanted = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      const auto begin = std::stoull(line.substr(0, dash), nullptr, 16);
      const auto end = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
      inside = wanted >= begin && wanted < end;
      continue;
    }
    if (inside && line.rfind("Locked:", 0) == 0) {
      std::istringstream fields(line.substr(7));
      long kb = -1;
      fields >> kb;
      return kb;
    }
  }
  return std::nullopt;
}

std::uintptr_t page_of(const void* address) {
  return reinterpret_cast<std::uintptr_t>(address) & ~(static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)) - 1);
}

// A secret long enough to live on the heap (not in the Secret's inline small-string buffer).
Secret heap_secret(char fill, std::size_t size = 64) { return Secret(std::string(size, fill)); }

TEST(SecretMemoryLock, ASecretsPageIsLockedWhileItLives) {
  Secret secret = heap_secret('a');
  ASSERT_FALSE(core::secret_memory_lock_note().has_value()) << *core::secret_memory_lock_note();
  auto locked = locked_kb_at(secret.reveal().data());
  ASSERT_TRUE(locked.has_value());
  EXPECT_GT(*locked, 0) << "the page holding the secret is not locked (smaps Locked: 0 kB)";
}

// A buffer of three pages: its middle page holds nothing else, so its lock state is the
// buffer's alone.
TEST(SecretMemoryLock, ThePageIsUnlockedWhenTheSecretIsReleased) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const char* middle = nullptr;
  {
    Secret secret = heap_secret('b', 3 * page);
    middle = secret.reveal().data() + page + page / 2;
    auto locked = locked_kb_at(middle);
    ASSERT_TRUE(locked.has_value());
    ASSERT_GT(*locked, 0) << "premise: the live secret's page is locked";
  }
  auto locked = locked_kb_at(middle);  // the page may still be mapped (heap) or be gone
  if (locked) {
    EXPECT_EQ(*locked, 0) << "the page stayed locked after its only secret was released";
  }
}

// One munlock undoes any number of mlocks: a page shared by two secrets must stay locked until
// both are gone.
TEST(SecretMemoryLock, APageSharedByTwoSecretsStaysLockedUntilBothAreReleased) {
  std::vector<Secret> secrets;
  for (int i = 0; i < 16; ++i) secrets.push_back(heap_secret(static_cast<char>('c' + i)));
  std::optional<std::pair<std::size_t, std::size_t>> pair;
  for (std::size_t i = 0; i < secrets.size() && !pair; ++i) {
    for (std::size_t j = i + 1; j < secrets.size() && !pair; ++j) {
      if (page_of(secrets[i].reveal().data()) == page_of(secrets[j].reveal().data())) pair = std::make_pair(i, j);
    }
  }
  ASSERT_TRUE(pair.has_value()) << "premise: two of 16 small heap buffers share a page";
  // (Destroyed through optional::reset: assigning an empty Secret would keep the buffer.)
  std::optional<Secret> first(std::move(secrets[pair->first]));
  std::optional<Secret> second(std::move(secrets[pair->second]));
  secrets.clear();  // the others (and the moved-from shells) are released
  const char* shared = second->reveal().data();
  ASSERT_EQ(page_of(first->reveal().data()), page_of(shared));
  ASSERT_GT(locked_kb_at(shared).value_or(0), 0) << "premise: the shared page is locked";
  first.reset();
  EXPECT_GT(locked_kb_at(shared).value_or(0), 0) << "releasing one secret unlocked the page another still uses";
  second.reset();
  auto after = locked_kb_at(shared);
  if (after) {
    EXPECT_EQ(*after, 0) << "the page stayed locked after both secrets were released";
  }
}

// Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 0, mlock is refused: secrets keep working and
// the refusal is reported. Run in a child process (the limit and capabilities are per process).
TEST(SecretMemoryLock, RefusedLockingLeavesSecretsWorkingAndIsReported) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!testing::refuse_memory_locking()) ::_exit(10);
    if (core::secret_memory_lock_note().has_value()) ::_exit(13);  // nothing refused yet in this process
    Secret secret = heap_secret('x');
    secret.append(std::string(200, 'y'));
    Secret copy = secret;
    if (copy.reveal() != std::string(64, 'x') + std::string(200, 'y')) ::_exit(14);
    auto note = core::secret_memory_lock_note();
    if (!note || note->find("RLIMIT_MEMLOCK") == std::string::npos) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setting up the child failed; 13: a refusal was reported before "
                                       "any; 14: the secret's value is wrong; 15: the refusal was not reported";
}

}  // namespace
}  // namespace devicelogin
