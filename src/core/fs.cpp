#include "devicelogin/advanced/error_builders.hpp"
#include "core/fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

namespace devicelogin::core {

namespace {
// A refusal the user fixes with chmod/chown: kStorage with Remedy::kFixPermissions.
std::unexpected<Error> permission_fail(std::string message) {
  return std::unexpected(remedy_error(ErrorCode::kStorage, std::move(message), Remedy::kFixPermissions));
}
}  // namespace
namespace {

std::string describe_errno(int err) { return std::generic_category().message(err); }

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Temporary names start with a '.', which no profile name (and so no file named after one) can:
// "PROFILE.json.tmp.N" would be the file of a profile called "PROFILE.json.tmp", and cleaning up
// stale temp files would delete it.
std::string temp_prefix(std::string_view name) { return "." + std::string(name) + ".tmp."; }

// The names of earlier versions ("NAME.tmp." then six mkstemp characters, or "PID.N"): neither
// can end in ".json" or ".lock" as the files of a profile named "NAME.tmp.X" do.
bool is_legacy_temp_suffix(std::string_view suffix) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (suffix.size() == 6 && std::all_of(suffix.begin(), suffix.end(), alnum)) return true;
  auto dot = suffix.find('.');
  return dot != std::string_view::npos && digits(suffix.substr(0, dot)) && digits(suffix.substr(dot + 1));
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

namespace {

// The one-line refusal for a directory on the way to a private one (see PrivateDirectory::open).
std::optional<std::string> unsafe_parent(const struct stat& st, const std::string& shown, uid_t euid) {
  if (st.st_uid != euid && st.st_uid != 0) {
    return shown + " belongs to another user (uid " + std::to_string(st.st_uid) +
           "), who could replace what is kept under it; refusing it";
  }
  if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return shown + " is writable by others and not sticky, so they could replace what is kept under it; "
                   "refusing it (run: chmod o-w " + shown + ")";
  }
  return std::nullopt;
}

Result<std::optional<std::string>> read_private_file_at(int dir_fd, const std::string& name, const std::string& path,
                                                        std::string_view what);

}  // namespace

namespace {
// The fast path's memo of one walk (remember_walked_parent): the parent of the last directory a
// walk opened, held open, with its path as the walk spelled it.
struct WalkMemo {
  bool enabled = false;
  std::string path;
  int fd = -1;
};
WalkMemo& walk_memo() {
  static WalkMemo memo;
  return memo;
}
}  // namespace

void remember_walked_parent() { walk_memo().enabled = true; }

Result<std::optional<PrivateDirectory>> PrivateDirectory::open(const std::string& path, bool create) {
  if (path.empty() || path.front() != '/') return fail(ErrorCode::kStorage, "not an absolute directory path: " + path);
  WalkMemo& memo = walk_memo();
  // The held descriptor, taken out of the memo (-1 when there is none, or when the directory was
  // removed since: then the walk from "/" makes it again, as it would have without the memo).
  auto take_memo = [&memo]() {
    const int held = std::exchange(memo.fd, -1);
    struct stat st {};
    if (held >= 0 && (::fstat(held, &st) != 0 || st.st_nlink == 0)) {
      ::close(held);
      return -1;
    }
    return held;
  };
  // The remembered parent asked for by the very name the walk gave it (the usual case): no need to
  // take the path apart.
  int held = memo.fd >= 0 && path == memo.path ? take_memo() : -1;
  // Each name NUL-terminated for openat, in one buffer (no allocation per name on the `token` hot
  // path, which walks twice).
  std::string names;
  std::vector<std::string_view> parts;
  if (held < 0) {
    names.reserve(path.size() + 1);
    parts.reserve(16);
    for (std::size_t start = 1; start <= path.size();) {
      auto slash = path.find('/', start);
      const std::string_view part = std::string_view(path).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      if (part == "..") return fail(ErrorCode::kStorage, "directory path with '..': " + path);
      if (!part.empty() && part != ".") {
        // (reserve above: appending never moves the buffer, so the views stay valid.)
        parts.emplace_back(names.data() + names.size(), part.size());
        names.append(part);
        names.push_back('\0');
      }
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
  // Asked once for the whole walk: every directory on it is checked against the same user.
  const uid_t euid = ::geteuid();
  Fd current(-1);
  std::string shown = "/";
  if (held < 0 && memo.fd >= 0 && !parts.empty()) {
    // The same directory spelled otherwise (a doubled slash, a "."): compared as the walk spells it.
    std::string normalized;
    for (const auto part : parts) normalized.append("/").append(part);
    if (normalized == memo.path) held = take_memo();
  }
  if (held >= 0) {
    // This directory was a parent on the last walk, its own parents checked then, and it was
    // opened without following a symlink (as the last directory of a walk must be): what is left
    // are the checks of the directory itself, below, on the descriptor held since.
    current = Fd(held);
    parts.clear();
    shown = memo.path;
  } else {
    current = Fd(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (current.get() < 0) return fail(ErrorCode::kStorage, "cannot open /: " + describe_errno(errno));
  }
  // The parent of the last directory is kept for the next walk (remember_walked_parent) when it
  // is not a symlink.
  bool parent_kept = false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    struct stat st {};
    if (::fstat(current.get(), &st) != 0) {
      return fail(ErrorCode::kStorage, "cannot inspect directory " + shown + ": " + describe_errno(errno));
    }
    if (auto refusal = unsafe_parent(st, shown, euid)) return permission_fail(*refusal);
    const bool last = i + 1 == parts.size();
    if (shown.size() == 1) shown.clear();
    shown.append("/").append(parts[i]);
    // Parents may be symlinks (/home -> /var/home); the private directory itself may not.
    const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (last ? O_NOFOLLOW : 0);
    const bool memo_candidate = memo.enabled && memo.fd < 0 && i + 2 == parts.size();
    Fd next(::openat(current.get(), parts[i].data(), flags | (memo_candidate ? O_NOFOLLOW : 0)));
    if (memo_candidate) {
      parent_kept = next.get() >= 0;
      if (!parent_kept && (errno == ELOOP || errno == ENOTDIR)) next = Fd(::openat(current.get(), parts[i].data(), flags));
    }
    if (next.get() < 0 && errno == ENOENT) {
      if (!create) return std::optional<PrivateDirectory>{};
      if (::mkdirat(current.get(), parts[i].data(), 0700) != 0 && errno != EEXIST) {
        return fail(ErrorCode::kStorage, "cannot create directory " + shown + ": " + describe_errno(errno));
      }
      next = Fd(::openat(current.get(), parts[i].data(), flags));
      parent_kept = false;
    }
    if (next.get() < 0) {
      if (errno == ENOTDIR || errno == ELOOP) return fail(ErrorCode::kStorage, shown + " is not a directory");
      return fail(ErrorCode::kStorage, "cannot open directory " + shown + ": " + describe_errno(errno));
    }
    if (last && parent_kept) {
      memo.path = shown.substr(0, shown.size() - parts[i].size() - 1);
      memo.fd = current.release();
    }
    current = std::move(next);
  }
  struct stat st {};
  if (::fstat(current.get(), &st) != 0) {
    return fail(ErrorCode::kStorage, "cannot inspect directory " + path + ": " + describe_errno(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fail(ErrorCode::kStorage, path + " is not a directory");
  if (st.st_uid != euid) {
    return permission_fail(path + " is owned by another user (uid " + std::to_string(st.st_uid) + "); refusing it");
  }
  if ((st.st_mode & 0022) != 0) {
    // Someone else may have put files in it already: refuse rather than tighten.
    return permission_fail(path + " is writable by group or others; refusing it (run: chmod 700 " + path + ")");
  }
  if ((st.st_mode & 0077) != 0 && ::fchmod(current.get(), 0700) != 0) {
    // Our own directory that others can read (made by hand, or by an older version): tighten it.
    return permission_fail(path + " is readable by group or others and cannot be fixed: " + describe_errno(errno));
  }
  return std::optional<PrivateDirectory>{PrivateDirectory(current.release(), path)};
}

PrivateDirectory::PrivateDirectory(PrivateDirectory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

PrivateDirectory& PrivateDirectory::operator=(PrivateDirectory&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

PrivateDirectory::~PrivateDirectory() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> ensure_private_directory(const std::string& path) {
  auto dir = PrivateDirectory::open(path, true);
  if (!dir) return std::unexpected(dir.error());
  return {};
}

Result<void> write_file_atomically(const std::string& path, std::string_view data) {
  auto dir = PrivateDirectory::open(parent_of(path), false);
  if (!dir) return std::unexpected(dir.error());
  if (!*dir) return fail(ErrorCode::kStorage, "cannot write " + path + ": " + describe_errno(ENOENT));
  return (*dir)->write_file_atomically(std::string_view(path).substr(parent_of(path).size() + 1), data);
}

Result<void> PrivateDirectory::write_file_atomically(std::string_view name, std::string_view data) const {
  const std::string target(name);
  const std::string path = path_ + "/" + target;
  auto failure = [&](const std::string& what, int err) {
    return fail(ErrorCode::kStorage, what + " " + path + ": " + describe_errno(err));
  };
  // An O_TMPFILE inode has no name until it is complete, so a crash while writing leaves nothing
  // behind (a named temp file would keep the secrets it held). Fallback: an O_EXCL temp file.
  Fd fd(::openat(fd_, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  const bool anonymous = fd.get() >= 0;
  const std::string prefix = temp_prefix(target);
  std::string tmp;
  auto name_attempt = [&](int attempt) { return prefix + std::to_string(::getpid()) + "." + std::to_string(attempt); };
  if (!anonymous) {
    for (int attempt = 0;; ++attempt) {
      tmp = name_attempt(attempt);
      fd = Fd(::openat(fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (fd.get() >= 0) break;
      if (errno != EEXIST || attempt > 100) {
        return fail(ErrorCode::kStorage, "cannot create a temporary file in " + path_ + ": " + describe_errno(errno));
      }
    }
  }
  auto cleanup_fail = [&](const std::string& what) {
    int err = errno;
    if (!anonymous) ::unlinkat(fd_, tmp.c_str(), 0);
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
      tmp = name_attempt(attempt);
      if (::linkat(AT_FDCWD, proc_path.c_str(), fd_, tmp.c_str(), AT_SYMLINK_FOLLOW) == 0) break;
      if (errno != EEXIST || attempt > 100) return failure("cannot name the new", errno);
    }
  }
  if (::close(fd.release()) != 0) return cleanup_fail("cannot close");
  if (::renameat(fd_, tmp.c_str(), fd_, target.c_str()) != 0) {
    int err = errno;
    ::unlinkat(fd_, tmp.c_str(), 0);
    return failure("cannot replace", err);
  }
  ::fsync(fd_);  // makes the rename durable; best effort
  return {};
}

void remove_stale_temp_files(const std::string& path) {
  auto dir = PrivateDirectory::open(parent_of(path), false);
  if (dir && *dir) (*dir)->remove_stale_temp_files(std::string_view(path).substr(parent_of(path).size() + 1));
}

void PrivateDirectory::remove_stale_temp_files(std::string_view name) const {
  const std::string prefix = temp_prefix(name);
  std::string_view legacy_prefix = std::string_view(prefix).substr(1);
  // A second descriptor: fdopendir takes ownership of the one it is given.
  int listing = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing < 0) return;
  DIR* handle = ::fdopendir(listing);
  if (handle == nullptr) {
    ::close(listing);
    return;
  }
  while (const dirent* entry = ::readdir(handle)) {
    std::string_view entry_name = entry->d_name;
    bool legacy = entry_name.starts_with(legacy_prefix) && is_legacy_temp_suffix(entry_name.substr(legacy_prefix.size()));
    if (entry_name.starts_with(prefix) || legacy) ::unlinkat(fd_, entry->d_name, 0);
  }
  ::closedir(handle);
}

Result<bool> PrivateDirectory::remove_file(std::string_view name) const {
  const std::string target(name);
  if (::unlinkat(fd_, target.c_str(), 0) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(ErrorCode::kStorage, "cannot delete " + path_ + "/" + target + ": " + describe_errno(errno));
}

Result<int> PrivateDirectory::open_lock_file(std::string_view name) const {
  const std::string target(name);
  int fd = ::openat(fd_, target.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail(ErrorCode::kStorage, "cannot open the lock file " + path_ + "/" + target + ": " + describe_errno(errno));
  return fd;
}

Result<int> PrivateDirectory::open_append_file(std::string_view name, long long& size) const {
  const std::string target(name);
  Fd fd(::openat(fd_, target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600));
  if (fd.get() < 0) {
    return fail(ErrorCode::kStorage, "cannot open " + path_ + "/" + target + ": " + describe_errno(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(ErrorCode::kStorage, "cannot inspect " + path_ + "/" + target + ": " + describe_errno(errno));
  }
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kStorage, path_ + "/" + target + " is not a regular file");
  if (st.st_uid != ::geteuid()) return permission_fail(path_ + "/" + target + " is owned by another user; refusing it");
  if ((st.st_mode & 0077) != 0) {
    return permission_fail(path_ + "/" + target + " is readable or writable by group or others; run: chmod 600 " +
                           path_ + "/" + target);
  }
  size = static_cast<long long>(st.st_size);
  return fd.release();
}

Result<bool> PrivateDirectory::rename_file(std::string_view from, std::string_view to) const {
  const std::string source(from);
  const std::string target(to);
  if (::renameat(fd_, source.c_str(), fd_, target.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(ErrorCode::kStorage, "cannot rename " + path_ + "/" + source + ": " + describe_errno(errno));
}

std::optional<long long> PrivateDirectory::file_size(std::string_view name) const {
  const std::string target(name);
  struct stat st {};
  if (::fstatat(fd_, target.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return static_cast<long long>(st.st_size);
}

Result<std::optional<std::string>> PrivateDirectory::read_private_file(std::string_view name, std::string_view what) const {
  const std::string target(name);
  return read_private_file_at(fd_, target, path_ + "/" + target, what);
}

Result<std::optional<std::string>> read_private_file(const std::string& path, std::string_view what) {
  return read_private_file_at(AT_FDCWD, path, path, what);
}

namespace {

Result<std::optional<std::string>> read_private_file_at(int dir_fd, const std::string& name, const std::string& path,
                                                        std::string_view what) {
  Fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
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
    return permission_fail(std::string(what) + " " + path + " is owned by another user; refusing it");
  }
  if ((st.st_mode & 0077) != 0) {
    return permission_fail(std::string(what) + " " + path +
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

}  // namespace

Result<bool> remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  return fail(ErrorCode::kStorage, "cannot delete " + path + ": " + describe_errno(errno));
}

}  // namespace devicelogin::core
