// open_descriptors(): the full CLI notes the descriptors the caller passed at its start, and `exec`
// keeps only those for the command.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "caller_state.hpp"

namespace devicelogin::cli {

std::optional<std::vector<int>> open_descriptors() {
  std::vector<int> found;
  if (DIR* directory = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(directory);
    while (const dirent* entry = ::readdir(directory)) {  // NOLINT(concurrency-mt-unsafe): its own DIR
      int fd = -1;
      const char* end = entry->d_name + std::strlen(entry->d_name);
      if (auto [last, ec] = std::from_chars(entry->d_name, end, fd); ec == std::errc{} && last == end && fd != own) {
        found.push_back(fd);
      }
    }
    ::closedir(directory);
    std::sort(found.begin(), found.end());
    return found;
  }
  // No /proc (a chroot, an early boot script): ask about each number below the limit.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  constexpr rlim_t kMaxProbed = 65536;
  const rlim_t probed = limit.rlim_cur == RLIM_INFINITY ? kMaxProbed : std::min(limit.rlim_cur, kMaxProbed);
  for (rlim_t fd = 0; fd < probed; ++fd) {
    if (::fcntl(static_cast<int>(fd), F_GETFD) >= 0) found.push_back(static_cast<int>(fd));
  }
  return found;
}

}  // namespace devicelogin::cli
