#include "setup_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <iostream>

#include "devicelogin/sanitize.hpp"
#include "process.hpp"

namespace devicelogin::cli {
namespace {

Error storage_error(std::string message) { return Error{ErrorCode::kStorage, std::move(message), "", 0}; }

std::string describe_errno(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe): one thread

void sleep_ms(long ms) {
  timespec pause{0, ms * 1000 * 1000};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

}  // namespace

Result<void> make_directories(const std::string& dir) {
  for (std::size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    const std::string prefix = dir.substr(0, at);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return std::unexpected(storage_error("cannot create directory " + prefix + ": " + describe_errno(errno)));
    }
  }
  return {};
}

Result<std::string> devicelogin_config_dir() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && xdg[0] == '/') {  // NOLINT(concurrency-mt-unsafe)
    return std::string(xdg) + "/devicelogin";
  }
  const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
  if (home == nullptr || home[0] == '\0') return std::unexpected(Error{ErrorCode::kConfig, "HOME is not set", "", 0});
  return std::string(home) + "/.config/devicelogin";
}

Result<SetupLock> SetupLock::acquire(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto made = make_directories(path.substr(0, slash)); !made) return std::unexpected(made.error());
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    if (errno == ELOOP) return std::unexpected(storage_error("the lock file " + path + " is a symbolic link; refusing it"));
    return std::unexpected(storage_error("cannot open the lock file " + path + ": " + describe_errno(errno)));
  }
  SetupLock lock(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) {
    return std::unexpected(storage_error("the lock file " + path + " is not a regular file of this user; refusing it"));
  }
  // Bounded: a holder that never lets go (a stopped process) is reported, not waited for forever.
  for (int attempt = 0;; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return std::unexpected(storage_error("cannot lock " + path + ": " + describe_errno(errno)));
    }
    if (attempt == 3000) {
      return std::unexpected(storage_error("another setup still holds " + path + " after 30 s; try again when it is done"));
    }
    sleep_ms(10);
  }
}

SetupLock::~SetupLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

GitRun run_git_captured(const std::vector<std::string>& args, std::string_view input) {
  // git runs the user's own credential helpers (`credential reject`): one that blocks, or that
  // leaves a daemon holding our pipes, must not hang logout or status.
  ProgramRun run = run_program("git", args, input, kGitDeadline, 1024 * 1024);
  if (run.timed_out) run.err += "git did not finish within " + std::to_string(kGitDeadline.count()) + " s (a credential helper?)\n";
  return GitRun{run.status, std::move(run.out), std::move(run.err)};
}

int run_git_config(const std::vector<std::string>& args) {
  std::vector<std::string> words = args;
  words.insert(words.begin(), "config");
  GitRun run;
  for (int attempt = 0; attempt < 50; ++attempt) {
    run = run_git_captured(words);
    if (run.status != 255) break;
    sleep_ms(100);
  }
  if (!run.err.empty()) std::cerr << run.err << std::flush;
  return run.status;
}

namespace {

struct GitConfigEntry {
  std::string url;  // the subsection of credential.<url>.helper; empty for credential.helper
  std::string value;
};

// Every credential.helper and credential.<url>.helper entry, in the order git reads them.
std::vector<GitConfigEntry> git_credential_helper_entries() {
  // -z: "key\nvalue\0" records, so that no value or URL can split a record.
  const GitRun run = run_git_captured({"config", "-z", "--get-regexp", "^credential\\..*helper$"});
  std::vector<GitConfigEntry> entries;
  if (run.status != 0) return entries;
  std::string_view rest = run.out;
  while (!rest.empty()) {
    const std::size_t end = rest.find('\0');
    std::string_view record = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const std::size_t newline = record.find('\n');
    const std::string_view key = record.substr(0, newline);
    const std::string_view value = newline == std::string_view::npos ? std::string_view() : record.substr(newline + 1);
    constexpr std::string_view kPrefix = "credential.";
    constexpr std::string_view kSuffix = ".helper";
    if (key == "credential.helper") {
      entries.push_back({"", std::string(value)});
    } else if (key.starts_with(kPrefix) && key.ends_with(kSuffix) && key.size() > kPrefix.size() + kSuffix.size()) {
      entries.push_back({std::string(key.substr(kPrefix.size(), key.size() - kPrefix.size() - kSuffix.size())), std::string(value)});
    }
  }
  return entries;
}

// devicelogin's helper command for `profile` (setup-git writes "... git-credential --profile P --host ...").
bool is_devicelogin_helper(std::string_view value, const std::string& profile) {
  return value.find(" git-credential --profile " + profile + " --host ") != std::string_view::npos;
}
bool is_any_devicelogin_helper(std::string_view value) { return value.find(" git-credential --profile ") != std::string_view::npos; }

// True when credential.<url> applies to `origin` ("scheme://host[:port]"): the URL is the origin,
// or the origin followed by a path. (git's wildcard hosts are not matched here.)
bool url_applies_to(std::string_view url, std::string_view origin) {
  while (url.ends_with('/')) url.remove_suffix(1);
  return url.empty() || url == origin || (url.starts_with(origin) && url[origin.size()] == '/');
}

}  // namespace

std::vector<std::string> git_origins_of_profile(const std::string& profile) {
  std::vector<std::string> origins;
  for (const auto& entry : git_credential_helper_entries()) {
    if (entry.url.empty() || !is_devicelogin_helper(entry.value, profile)) continue;
    if (std::find(origins.begin(), origins.end(), entry.url) == origins.end()) origins.push_back(entry.url);
  }
  return origins;
}

std::vector<std::string> other_git_helpers_for(const std::string& origin) {
  std::vector<std::string> helpers;
  for (const auto& entry : git_credential_helper_entries()) {
    if (!url_applies_to(entry.url, origin)) continue;
    if (entry.value.empty()) {
      helpers.clear();  // gitcredentials(7): an empty helper resets the list
    } else if (!is_any_devicelogin_helper(entry.value)) {
      helpers.push_back(entry.value);
    }
  }
  return helpers;
}

void warn_about_other_git_helpers(const std::string& profile) {
  for (const std::string& origin : git_origins_of_profile(profile)) {
    const auto others = other_git_helpers_for(origin);
    if (others.empty()) continue;
    std::string names;
    for (const auto& helper : others) names += (names.empty() ? "\"" : ", \"") + sanitize_text(helper.substr(0, 60)) + "\"";
    std::cerr << "devicelogin: warning: git also gives the token for " << sanitize_text(origin) << " to the credential helper "
              << names << " (configured after devicelogin's), which may keep it; remove it or configure it before devicelogin's"
              << " (devicelogin logout makes it forget)\n" << std::flush;
  }
}

std::vector<std::string> forget_git_credentials(const std::string& profile) {
  std::vector<std::string> done;
  for (const std::string& origin : git_origins_of_profile(profile)) {
    const std::size_t scheme_end = origin.find("://");
    if (scheme_end == std::string::npos) continue;
    std::string rest = origin.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find('/'));
    if (rest.empty() || rest.find_first_of("\n\r") != std::string::npos) continue;
    std::string input = "protocol=" + origin.substr(0, scheme_end) + "\nhost=" + rest + "\n";
    const GitRun username = run_git_captured({"config", "--get", "credential." + origin + ".username"});
    if (username.status == 0) {
      std::string name = username.out;
      while (name.ends_with('\n')) name.pop_back();
      if (!name.empty() && name.find('\n') == std::string::npos) input += "username=" + name + "\n";
    }
    input += "\n";
    if (run_git_captured({"credential", "reject"}, input).status == 0) done.push_back(origin);
  }
  return done;
}

}  // namespace devicelogin::cli
