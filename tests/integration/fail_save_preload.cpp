// An LD_PRELOAD library for cli_capacity.test.mjs: renameat() into the directory named by
// DEVICELOGIN_TEST_FAIL_RENAME_INTO fails with EIO, and every other call is the C library's.
// The file store writes a token set to a temporary name and renames it over PROFILE.json
// (src/core/fs.cpp), so this makes the save of newly issued tokens fail as a failing disk would,
// after the store proved it had room: what no test can otherwise cause on demand. The shipped
// library carries no hook for it.
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace {

// True when `dirfd` is the directory the environment names (both compared resolved).
bool is_refused_directory(int dirfd) {
  const char* refused = ::getenv("DEVICELOGIN_TEST_FAIL_RENAME_INTO");
  if (refused == nullptr || *refused == '\0') return false;
  char wanted[PATH_MAX];
  if (::realpath(refused, wanted) == nullptr) return false;
  char link[64];
  ::snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
  char actual[PATH_MAX];
  const ssize_t length = ::readlink(link, actual, sizeof actual - 1);
  if (length <= 0) return false;
  actual[length] = '\0';
  return ::strcmp(actual, wanted) == 0;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int renameat(int old_dirfd, const char* old_path, int new_dirfd,
                                                               const char* new_path) noexcept {
  using Real = int (*)(int, const char*, int, const char*);
  static const Real real = reinterpret_cast<Real>(::dlsym(RTLD_NEXT, "renameat"));
  if (new_path != nullptr && new_path[0] != '/' && is_refused_directory(new_dirfd)) {
    errno = EIO;
    return -1;
  }
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(old_dirfd, old_path, new_dirfd, new_path);
}
