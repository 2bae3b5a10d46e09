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
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>

extern "C" char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace devicelogin::cli {
namespace {

Error storage_error(std::string message) { return Error{ErrorCode::kStorage, std::move(message), "", 0}; }

std::string describe_errno(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe): one thread

void sleep_ms(long ms) {
  timespec pause{0, ms * 1000 * 1000};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

// Makes `dir` and its missing parents (0700).
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

}  // namespace

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
  GitRun result;
  int in_pipe[2] = {-1, -1};
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* pipe_fds : {in_pipe, out_pipe, err_pipe}) {
      for (int i = 0; i < 2; ++i) {
        if (pipe_fds[i] >= 0) ::close(pipe_fds[i]);
        pipe_fds[i] = -1;
      }
    }
  };
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    close_all();
    return result;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("git"));
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  pid_t child = 0;
  const int spawned = ::posix_spawnp(&child, "git", &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  in_pipe[0] = out_pipe[1] = err_pipe[1] = -1;
  if (spawned != 0) {
    close_all();
    return result;
  }
  // The input is a few short lines, well within a pipe's buffer. A git that exits without reading
  // it closes the pipe: EPIPE, with SIGPIPE ignored meanwhile so that it does not end this process.
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  std::string_view rest = input;
  while (!rest.empty()) {
    const ssize_t n = ::write(in_pipe[1], rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ::sigaction(SIGPIPE, &previous, nullptr);
  ::close(in_pipe[1]);
  in_pipe[1] = -1;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
        continue;
      }
      // (bounded: git's config listing and messages; anything beyond 1 MiB is dropped)
      if (sinks[i]->size() < 1024 * 1024) sinks[i]->append(buffer, static_cast<std::size_t>(n));
    }
  }
  close_all();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return result;
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
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

}  // namespace devicelogin::cli
