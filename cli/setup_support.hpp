#pragma once
// What the setup-git / setup-docker commands (and logout, status) share: an exclusive lock that
// serialises this user's own edits of a config file, and running git with its output
// captured. The library's lock and private-file helpers (src/store, src/core/fs.hpp) are not public
// API, and the full CLI's commands see the public headers only, so these keep the same rules here.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/result.hpp"

namespace devicelogin::cli {

// $XDG_CONFIG_HOME when absolute, else $HOME/.config, plus "/devicelogin"; kConfig without HOME.
[[nodiscard]] Result<std::string> devicelogin_config_dir();

// Makes `dir` and its missing parents (mode 0700); kStorage naming the one that cannot be made.
[[nodiscard]] Result<void> make_directories(const std::string& dir);

// The `devicelogin` executable's absolute path, for the helper entries that git and kubectl run:
// this process is the full CLI (LIBEXECDIR/devicelogin/devicelogin-cli), which that executable
// runs, so it is found from this one's own path (/proc/self/exe) and the install layout.
// Nullopt when /proc/self/exe cannot be read.
[[nodiscard]] std::optional<std::string> devicelogin_executable();

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

// How long one git run may take before it is killed (it runs the user's credential helpers).
inline constexpr std::chrono::seconds kGitDeadline{60};

// Runs `git ARGS...` (no shell) with `input` on its stdin and its stdout and stderr captured;
// killed (status -1) when it has not finished within kGitDeadline.
// Secrets go through `input`, never `args`.
[[nodiscard]] GitRun run_git_captured(const std::vector<std::string>& args, std::string_view input = {});

// Runs `git config ARGS...` and retries (up to about 5 seconds) while it exits 255, which is how
// git reports that another process holds its config.lock; git's last stderr is passed on to ours.
// Returns git's exit status, or -1.
int run_git_config(const std::vector<std::string>& args);

// Other credential helpers git hands our token to.
// The origins (credential.<origin>.helper) whose helper is devicelogin's for `profile`, in git's
// config as this process sees it (every scope); empty when git is missing or names none.
[[nodiscard]] std::vector<std::string> git_origins_of_profile(const std::string& profile);

// The helpers other than devicelogin's that git would also run for `origin` (and so hand the token
// to on `store`): credential.helper and credential.<url>.helper entries for that origin, in git's
// order, after the last empty value (which resets the list).
[[nodiscard]] std::vector<std::string> other_git_helpers_for(const std::string& origin);

// One line on stderr per origin of `profile` for which another helper would keep the token.
void warn_about_other_git_helpers(const std::string& profile);

// Makes every helper git runs for each origin of `profile` forget what it stored there:
// `git credential reject` with protocol and host (and the configured username) on stdin; no
// password, so that a helper forgets the entry whatever token it holds (and no token is read).
// Returns the origins it was done for.
std::vector<std::string> forget_git_credentials(const std::string& profile);

}  // namespace devicelogin::cli
