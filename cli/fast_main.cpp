// The `devicelogin` executable: small and fully static. It serves the credential helpers
// (cli/helpers: `token`, git-credential, docker-credential, kubectl-credential) when the local
// stores hold a fresh token, linking only core + store (no libcurl, no OpenSSL, no D-Bus), and
// hands every other case to the full CLI, devicelogin-cli, by execve() (same argv, same
// environment). It runs the same helper functions as the full CLI and only ever prints their
// answer (or their "not mine" answer) or falls through: every error, refresh and message is the
// full CLI's job, so there is one behaviour.
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "helpers/helpers.hpp"
#include "process_start.hpp"

extern "C" char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace {

using namespace devicelogin;
using namespace devicelogin::cli;

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Puts `input` back as standard input (an anonymous memory file), for the full CLI to read what
// the fast path already consumed. False when that cannot be done (the caller then exits 1).
bool restore_stdin(std::string_view input) {
  const int fd = ::memfd_create("devicelogin-stdin", MFD_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write_all(fd, input) && ::lseek(fd, 0, SEEK_SET) == 0 && ::dup2(fd, STDIN_FILENO) == STDIN_FILENO;
  ::close(fd);
  return ok;
}

// Each helper served here: its arguments as the fast path reads them (none: fall through), run
// with the local stores.
helpers::Outcome run_token(int argc, char** argv, helpers::Input& /*input*/, helpers::TokenSource& source) {
  auto args = helpers::token_fast_args(argc, argv);
  return args ? helpers::token(*args, source) : helpers::Outcome::fall_through();
}

helpers::Outcome run_git_credential(int argc, char** argv, helpers::Input& input, helpers::TokenSource& source) {
  auto args = helpers::git_credential_fast_args(argc, argv);
  return args ? helpers::git_credential(*args, input, source) : helpers::Outcome::fall_through();
}

helpers::Outcome run_docker_credential(int argc, char** argv, helpers::Input& input, helpers::TokenSource& source) {
  auto args = helpers::docker_credential_fast_args(argc, argv);
  return args ? helpers::docker_credential(*args, input, source) : helpers::Outcome::fall_through();
}

helpers::Outcome run_kubectl_credential(int argc, char** argv, helpers::Input& /*input*/, helpers::TokenSource& source) {
  auto args = helpers::kubectl_credential_fast_args(argc, argv);
  const char* exec_info = std::getenv("KUBERNETES_EXEC_INFO");  // NOLINT(concurrency-mt-unsafe): one thread
  return args ? helpers::kubectl_credential(*args, exec_info, source) : helpers::Outcome::fall_through();
}

// The fast path: one entry per helper (cli/helpers/helpers.hpp), the same functions the full CLI runs.
struct FastHelper {
  std::string_view command;
  helpers::Outcome (*run)(int argc, char** argv, helpers::Input& input, helpers::TokenSource& source);
};
constexpr FastHelper kFastHelpers[] = {
    {"token", run_token},
    {"git-credential", run_git_credential},
    {"docker-credential", run_docker_credential},
    {"kubectl-credential", run_kubectl_credential},
};

// Runs argv[1]'s helper when it has an entry: its exit code when it answered, nullopt when the
// command is the full CLI's (with any input the helper read put back on stdin). `stdin_lost`: the
// input could not be put back (the caller then stops with an error, as the full CLI would read a
// truncated input).
std::optional<int> try_fast_helper(int argc, char** argv, bool& stdin_lost) {
  if (argc < 2) return std::nullopt;
  for (const FastHelper& helper : kFastHelpers) {
    if (helper.command != argv[1]) continue;
    helpers::StdinInput input;
    helpers::LocalTokenSource source;
    const helpers::Outcome outcome = helper.run(argc, argv, input, source);
    switch (outcome.kind) {
      case helpers::Outcome::Kind::kAnswer:
        source.record_handout();
        return write_all(STDOUT_FILENO, outcome.out.reveal()) ? 0 : 1;
      case helpers::Outcome::Kind::kNotMine:
        return write_all(STDOUT_FILENO, outcome.out.reveal()) ? outcome.exit_code : 1;
      case helpers::Outcome::Kind::kFallThrough:
      case helpers::Outcome::Kind::kError:
        // Every error is the full CLI's to explain, from the same input.
        if (input.consumed() && !restore_stdin(input.taken())) stdin_lost = true;
        return std::nullopt;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// The full CLI's absolute path: an absolute path means no search at all (no PATH, no current
// directory). It is this executable's directory, read from /proc/self/exe (symlinks resolved, so
// build/devicelogin and the docker helper's symlink count as bin/devicelogin), plus the install
// layout's relative path, which the build tree mirrors. Without /proc (a chroot, an early boot
// script): the path this executable was started by (AT_EXECFN), resolved by realpath. Nullopt when
// neither works.
std::optional<std::string> full_cli_path() {
  char self[PATH_MAX];
  std::string executable;
  if (const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self);
      length > 0 && static_cast<std::size_t>(length) < sizeof self) {
    executable.assign(self, static_cast<std::size_t>(length));
  } else if (const auto* started_as = reinterpret_cast<const char*>(::getauxval(AT_EXECFN));
             started_as != nullptr && ::realpath(started_as, self) != nullptr) {
    executable = self;
  }
  const std::size_t slash = executable.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return executable.substr(0, slash + 1) + DEVICELOGIN_FULL_CLI_RELATIVE_PATH;
}

// Replaces this process with the full CLI, given `argv` as this process got it (argv[0] included:
// the docker helper's name) and the environment unchanged, and the process as the caller left it:
// the soft core limit back (the process stays non-dumpable until the exec, and devicelogin-cli
// lowers the limit again before it reads a secret); no descriptor of the fast path is open (each
// was closed or close-on-exec), only the input it put back as standard input. Returns (1) only
// when the exec failed, with the reason on stderr.
int run_full_cli(char** argv, const std::optional<rlimit>& caller_core_limit) {
  const auto path = full_cli_path();
  if (!path) {
    (void)std::fprintf(stderr, "devicelogin: cannot load its command module devicelogin-cli: cannot read its own path "
                               "(/proc/self/exe); mount /proc or reinstall devicelogin\n");
    return 1;
  }
  if (caller_core_limit) (void)::setrlimit(RLIMIT_CORE, &*caller_core_limit);
  ::execve(path->c_str(), argv, environ);
  const int failure = errno;
  (void)harden_process();
  // The last words before exit 1: nothing to do if stderr fails.
  (void)std::fprintf(stderr, "devicelogin: cannot load its command module %s: %s; reinstall devicelogin\n", path->c_str(),
                     std::strerror(failure));  // NOLINT(concurrency-mt-unsafe): one thread
  return 1;
}

// The fast path for `argv` (the docker helper's name already turned into its subcommand): an exit
// code when it answered (or cannot hand over: the input it read is lost), nullopt to fall through.
std::optional<int> serve_fast(int argc, char** argv) {
  // With DEVICELOGIN_AGENT the token comes from the agent (cli/helpers/agent_source.hpp), whose
  // every answer, refusals included, the full CLI reports: one request per command, so that a
  // refusal at the agent's confirmation prompt is asked once.
  if (const char* agent = std::getenv("DEVICELOGIN_AGENT"); agent != nullptr && *agent != '\0') return std::nullopt;  // NOLINT(concurrency-mt-unsafe)
  bool stdin_lost = false;
  if (auto code = try_fast_helper(argc, argv, stdin_lost)) return code;
  if (stdin_lost) {
    (void)std::fprintf(stderr, "devicelogin %s: cannot hand the input to the full CLI\n", argv[1]);
    return 1;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<rlimit> caller_core_limit = harden_process();
  // A static executable runs no loader, so an LD_PRELOAD library (libfaketime, a tracing shim)
  // would silently not apply to it: with one set, the full CLI, which the loader prepares, answers
  // every command, so the preload applies as it does to any other program.
  const char* preload = std::getenv("LD_PRELOAD");  // NOLINT(concurrency-mt-unsafe): one thread
  // A machine policy (docs/policy.md) is the full CLI's to read and enforce: its checks (session
  // limits, idle time, helpers, stores, ownership of the file) then run on every hand-out, and the
  // fast path stays one stat() dearer than without it. Anything but "no such file" (a file, a
  // directory that cannot be searched) hands over, so that the full CLI explains it.
  struct stat policy_info{};
  const bool policy_absent = ::stat(DEVICELOGIN_POLICY_PATH, &policy_info) != 0 && (errno == ENOENT || errno == ENOTDIR);
  if (policy_absent && (preload == nullptr || *preload == '\0')) {
    // The fast paths read the docker helper's name as its subcommand; the full CLI gets the
    // original argv and does the same.
    std::vector<char*> storage;
    int command_argc = argc;
    char** command = command_argv(command_argc, argv, storage);
    if (auto code = serve_fast(command_argc, command)) return *code;
  }
  return run_full_cli(argv, caller_core_limit);
}
