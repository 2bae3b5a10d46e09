#include "core/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace devicelogin {
namespace {

std::string describe_errno(int err) { return std::strerror(err); }

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = other.release();
    }
    return *this;
  }
  [[nodiscard]] int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string{} : std::string{value};
}

Result<std::string> xdg_directory(const char* env_name, std::string_view fallback) {
  std::string value = env_or_empty(env_name);
  if (!value.empty() && value.front() == '/') return value;  // XDG spec: relative paths are ignored
  std::string home = env_or_empty("HOME");
  if (home.empty() || home.front() != '/') {
    return fail(ErrorCode::kConfig, "HOME is not set to an absolute path; set HOME or " + std::string(env_name));
  }
  return home + "/" + std::string(fallback);
}

Result<void> ensure_private_directory(const std::string& path) {
  if (path.empty()) return fail(ErrorCode::kStorage, "empty directory path");
  // Create parents (normal umask), then the final directory with 0700.
  for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail(ErrorCode::kStorage, "cannot create directory " + prefix + ": " + describe_errno(errno));
    }
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(ErrorCode::kStorage, "cannot create directory " + path + ": " + describe_errno(errno));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::kStorage, "cannot inspect directory " + path + ": " + describe_errno(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fail(ErrorCode::kStorage, path + " is not a directory");
  if (st.st_uid != ::geteuid()) return fail(ErrorCode::kStorage, path + " is owned by another user");
  if ((st.st_mode & 0077) != 0) {
    // Our own directory with loose bits (e.g. created by an older version or by hand): tighten it.
    if (::chmod(path.c_str(), 0700) != 0) {
      return fail(ErrorCode::kStorage, path + " is accessible to group or others and cannot be fixed: " +
                                           describe_errno(errno));
    }
  }
  return {};
}

Result<void> write_file_atomically(const std::string& path, std::string_view data) {
  std::string dir = parent_of(path);
  auto failure = [&](const std::string& what, int err) {
    return fail(ErrorCode::kStorage, what + " " + path + ": " + describe_errno(err));
  };
  // An O_TMPFILE inode has no name until it is complete, so a crash while writing leaves nothing
  // behind (a named temp file would keep the secrets it held). Fallback: mkstemp (0600, O_EXCL).
  Fd fd(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  const bool anonymous = fd.get() >= 0;
  std::string tmp = path + ".tmp.XXXXXX";
  if (!anonymous) {
    Fd named(::mkstemp(tmp.data()));
    if (named.get() < 0) {
      return fail(ErrorCode::kStorage, "cannot create a temporary file in " + dir + ": " + describe_errno(errno));
    }
    fd = std::move(named);
  }
  auto cleanup_fail = [&](const std::string& what) {
    int err = errno;
    if (!anonymous) ::unlink(tmp.c_str());
    return failure(what, err);
  };
  if (::fchmod(fd.get(), 0600) != 0) return cleanup_fail("cannot set permissions of");
  if (!write_all(fd.get(), data)) return cleanup_fail("cannot write");
  if (::fsync(fd.get()) != 0) return cleanup_fail("cannot sync");
  if (anonymous) {
    // Give the complete inode a unique temporary name, then rename it over the target (linkat
    // cannot replace a file). Only a crash in these two calls can leave a (complete) temp file.
    std::string proc_path = "/proc/self/fd/" + std::to_string(fd.get());
    for (int attempt = 0;; ++attempt) {
      tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(attempt);
      if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0) break;
      if (errno != EEXIST || attempt > 100) return failure("cannot name the new", errno);
    }
  }
  if (::close(fd.release()) != 0) return cleanup_fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return failure("cannot replace", err);
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());  // makes the rename durable; best effort
  return {};
}

void remove_stale_temp_files(const std::string& path) {
  std::string dir = parent_of(path);
  std::string prefix = path.substr(dir.size() + 1) + ".tmp.";
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return;
  while (const dirent* entry = ::readdir(handle)) {
    if (std::string_view(entry->d_name).starts_with(prefix)) ::unlinkat(::dirfd(handle), entry->d_name, 0);
  }
  ::closedir(handle);
}

Result<std::optional<std::string>> read_private_file(const std::string& path, std::string_view what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    if (errno == ELOOP) return fail(ErrorCode::kStorage, std::string(what) + " " + path + " is a symbolic link; refusing it");
    return fail(ErrorCode::kStorage, "cannot read " + std::string(what) + " " + path + ": " + describe_errno(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(ErrorCode::kStorage, "cannot inspect " + std::string(what) + " " + path + ": " + describe_errno(errno));
  }
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kStorage, std::string(what) + " " + path + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorCode::kStorage, std::string(what) + " " + path + " is owned by another user; refusing it");
  }
  if ((st.st_mode & 0077) != 0) {
    return fail(ErrorCode::kStorage, std::string(what) + " " + path +
                                         " is readable or writable by group or others; run: chmod 600 " + path);
  }
  constexpr off_t kMaxSize = 1 << 20;
  if (st.st_size > kMaxSize) return fail(ErrorCode::kStorage, std::string(what) + " " + path + " is too large");
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return std::optional<std::string>{std::move(data)};
}

Result<bool> remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(ErrorCode::kStorage, "cannot delete " + path + ": " + describe_errno(errno));
}

}  // namespace devicelogin
