#pragma once
// What the setup-git / setup-docker commands (and logout, status) share: an exclusive lock that
// serialises this user's own edits of a config file (issue 25.4), and running git with its output
// captured. The library's lock and private-file helpers (src/store, src/core/fs.hpp) are not public
// API, and the command module sees the public headers only, so these keep the same rules here.
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/result.hpp"

namespace devicelogin::cli {

// $XDG_CONFIG_HOME when absolute, else $HOME/.config, plus "/devicelogin"; kConfig without HOME.
[[nodiscard]] Result<std::string> devicelogin_config_dir();

// An exclusive flock on a lock file, held until destroyed.
class SetupLock {
 public:
  // Locks `path` (created 0600 with its missing parents 0700; a regular file of this user, never
  // through a symlink), waiting while another process holds it. kStorage when it cannot be made
  // or is unsafe, or when another holder keeps it for more than 30 seconds.
  [[nodiscard]] static Result<SetupLock> acquire(const std::string& path);
  SetupLock(SetupLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SetupLock& operator=(SetupLock&&) = delete;
  SetupLock(const SetupLock&) = delete;
  SetupLock& operator=(const SetupLock&) = delete;
  ~SetupLock();

 private:
  explicit SetupLock(int fd) : fd_(fd) {}
  int fd_;
};

struct GitRun {
  int status = -1;  // git's exit status, or -1 when it could not be run or was killed
  std::string out;  // its stdout
  std::string err;  // its stderr
};

// Runs `git ARGS...` (no shell) with `input` on its stdin and its stdout and stderr captured.
// Secrets go through `input`, never `args`.
[[nodiscard]] GitRun run_git_captured(const std::vector<std::string>& args, std::string_view input = {});

// Runs `git config ARGS...` and retries (up to about 5 seconds) while it exits 255, which is how
// git reports that another process holds its config.lock; git's last stderr is passed on to ours.
// Returns git's exit status, or -1.
int run_git_config(const std::vector<std::string>& args);

}  // namespace devicelogin::cli
