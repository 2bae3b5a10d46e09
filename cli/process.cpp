// Programs the CLI starts (process.hpp).
#include "process.hpp"

#include <sys/resource.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "caller_state.hpp"

extern "C" char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace devicelogin::cli {

ProgramRun run_program(const std::string& program, const std::vector<std::string>& args, std::string_view input,
                       std::chrono::seconds deadline_after, std::size_t max_output) {
  ProgramRun result;
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
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  pid_t child = 0;
  const int spawned = ::posix_spawnp(&child, program.c_str(), &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  in_pipe[0] = out_pipe[1] = err_pipe[1] = -1;
  if (spawned != 0) {
    close_all();
    return result;
  }
  // The input is a few short lines, well within a pipe's buffer. A program that exits without
  // reading it closes the pipe: EPIPE, with SIGPIPE ignored meanwhile so that it does not end this process.
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
  // A program that blocks, or leaves a daemon holding our pipes, must not hang the command: after
  // the deadline the child is killed and the run reports failure (-1).
  const auto deadline = std::chrono::steady_clock::now() + deadline_after;
  bool timed_out = false;
  while (open_count > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    const int ready = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
        continue;
      }
      // Bounded: anything beyond max_output is read and dropped.
      if (sinks[i]->size() < max_output) {
        sinks[i]->append(buffer, std::min(static_cast<std::size_t>(n), max_output - sinks[i]->size()));
      }
    }
  }
  close_all();
  int status = 0;
  if (timed_out && ::waitpid(child, &status, WNOHANG) != child) {
    // The program itself is still running (not only a daemon it left holding our pipes): killed.
    // Its process group is not ours to kill (it may have started the user's daemons).
    ::kill(child, SIGKILL);
    result.timed_out = true;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return result;  // status -1
  }
  while (!timed_out && ::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return result;
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string find_on_path(std::string_view name) {
  const char* from_env = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read only
  std::string path = from_env != nullptr ? from_env : "";
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= path.size();) {
    auto colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return {};
}

// Everything is prepared before the fork; between fork and exec only async-signal-safe calls are
// made (other threads may hold locks). A double fork: the intermediate child exits at once and is
// reaped here.
void start_detached(const std::string& program, const std::string& argument, std::vector<std::string> environment) {
  std::vector<char*> child_environment;
  child_environment.reserve(environment.size() + 1);
  for (auto& variable : environment) child_environment.push_back(variable.data());
  child_environment.push_back(nullptr);
  std::string program_copy = program;
  std::string argument_copy = argument;
  char* argv[] = {program_copy.data(), argument_copy.data(), nullptr};
  sigset_t all_unblocked;
  sigemptyset(&all_unblocked);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  // For kernels without close_range (before 5.9).
  const long open_max = std::clamp(::sysconf(_SC_OPEN_MAX), 256L, 65536L);

  pid_t middle = ::fork();
  if (middle < 0) return;
  if (middle == 0) {
    if (::fork() == 0) {
      int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(null_fd, STDOUT_FILENO);
        ::dup2(null_fd, STDERR_FILENO);
      }
      if (::close_range(3, ~0U, 0) != 0) {
        for (long fd = 3; fd < open_max; ++fd) ::close(static_cast<int>(fd));
      }
      // Signal handlers are reset by exec, but blocked and ignored signals are inherited.
      for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) {
        ::sigaction(signal_number, &default_action, nullptr);
      }
      // NOLINTNEXTLINE(concurrency-mt-unsafe): in the forked child, which has one thread
      ::sigprocmask(SIG_SETMASK, &all_unblocked, nullptr);
      ::execve(program_copy.c_str(), argv, child_environment.data());
      ::_exit(127);
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
}


namespace {

// The process as the caller gave it, just before execvpe (see caller_state.hpp): the core limit, the
// ignored signals (every other disposition at its default), and every descriptor the caller did
// not pass marked close-on-exec (libcurl's and the store's are closed by then, but a library may
// keep one). The signal mask last: a signal the caller blocked stays pending for the command.
void restore_caller_state() {
  const CallerState& caller = caller_state();
  if (caller.core_limit) ::setrlimit(RLIMIT_CORE, &*caller.core_limit);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
    struct sigaction action{};
    action.sa_handler = sigismember(&caller.ignored, signal_number) == 1 ? SIG_IGN : SIG_DFL;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal_number, &action, nullptr);  // refused only for the C library's own (32, 33)
  }
  static const std::vector<int> standard_streams{STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO};
  const std::vector<int>& passed = caller.descriptors ? *caller.descriptors : standard_streams;
  if (auto open = open_descriptors()) {
    for (int fd : *open) {
      if (std::binary_search(passed.begin(), passed.end(), fd)) continue;
      if (const int flags = ::fcntl(fd, F_GETFD); flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &caller.blocked, nullptr);
}

}  // namespace

int replace_process_with(char** argv, char** envp) {
  restore_caller_state();
  // PATH is searched in our (the caller's) environment.
  ::execvpe(argv[0], argv, envp);
  return errno;
}

}  // namespace devicelogin::cli
