#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "core/fs.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin {

StoreLock& StoreLock::operator=(StoreLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StoreLock::~StoreLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Result<StoreLock> lock_file(const std::string& path, std::chrono::milliseconds timeout) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return fail(ErrorCode::kStorage, "lock file outside a directory: " + path);
  auto dir = core::PrivateDirectory::open(path.substr(0, slash), true);
  if (!dir) return std::unexpected(dir.error());
  auto opened = (*dir)->open_lock_file(std::string_view(path).substr(slash + 1));
  if (!opened) return std::unexpected(opened.error());
  const int fd = *opened;
  StoreLock lock(fd);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return fail(ErrorCode::kStorage, "cannot lock " + path + ": " + std::generic_category().message(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::unexpected(with_remedy(
          Error{ErrorCode::kStorage, "another process using this profile has held " + path + " for " +
                                         std::to_string(timeout.count() / 1000) + " s; try again, or stop it"},
          Remedy::kTryAgainLater));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<StoreLock> TokenStore::lock(const std::string& profile, std::chrono::milliseconds timeout) {
  if (!valid_profile_name(profile)) return fail(ErrorCode::kUsage, "invalid profile name");
  auto dir = default_state_directory();
  if (!dir) return std::unexpected(dir.error());
  return lock_file(*dir + "/locks/" + profile + ".lock", timeout);
}

}  // namespace devicelogin
