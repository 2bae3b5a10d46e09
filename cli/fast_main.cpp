// The `devicelogin` executable. It serves the credential helpers (cli/helpers: `token`,
// git-credential, docker-credential, kubectl-credential) when the local stores hold a fresh token,
// linking only core + store (no libcurl, no OpenSSL, no D-Bus), and hands every other case to
// the full CLI in the devicelogin-cli plugin. The fast path runs the same helper functions as the
// plugin and only ever prints their answer (or their "not mine" answer) or falls through: every
// error, refresh and message is the plugin's job, so there is one behaviour.
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caller_state.hpp"
#include "helpers/helpers.hpp"

namespace {

using namespace devicelogin;
using namespace devicelogin::cli;

// Before any secret is read: no core dumps, not ptrace-attachable by other same-user processes.
// Only the soft core limit is lowered: `exec` gives the command the caller's limit back, which a
// lowered hard limit would forbid (the process is not dumpable either way). Returns the caller's
// limit, or nullopt when it cannot be read.
std::optional<rlimit> harden_process() {
  std::optional<rlimit> caller;
  if (rlimit limit{}; ::getrlimit(RLIMIT_CORE, &limit) == 0) caller = limit;
  rlimit no_core{0, caller ? caller->rlim_max : 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return caller;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Puts `input` back as standard input (an anonymous memory file), for the module to read what
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
// command is the module's (with any input the helper read put back on stdin). `stdin_lost`: the
// input could not be put back (the caller then stops with an error, as the module would read a
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
        return write_all(STDOUT_FILENO, outcome.out.reveal()) ? 0 : 1;
      case helpers::Outcome::Kind::kNotMine:
        return write_all(STDOUT_FILENO, outcome.out.reveal()) ? outcome.exit_code : 1;
      case helpers::Outcome::Kind::kFallThrough:
      case helpers::Outcome::Kind::kError:
        // Every error is the module's to explain, from the same input.
        if (input.consumed() && !restore_stdin(input.taken())) stdin_lost = true;
        return std::nullopt;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

// The command module's absolute path (issue 8): an absolute path means no search at all (no
// RUNPATH, LD_LIBRARY_PATH or current directory). It is this executable's directory, read where
// the loader reads it for $ORIGIN (/proc/self/exe, symlinks resolved), plus the install layout's
// relative path, which the build tree mirrors. Not left to the loader's own "$ORIGIN" expansion
// in dlopen(), which takes the directory of whatever calls dlopen: a sanitizer runtime or an
// LD_PRELOAD library that wraps dlopen would be taken for the caller. That expansion is only the
// fallback when /proc is not mounted.
std::string module_path() {
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self);
  if (length > 0 && static_cast<std::size_t>(length) < sizeof self) {
    std::string_view executable(self, static_cast<std::size_t>(length));
    const std::size_t slash = executable.rfind('/');
    if (slash != std::string_view::npos) {
      return std::string(executable.substr(0, slash + 1)) + DEVICELOGIN_MODULE_RELATIVE_PATH;
    }
  }
  return "$ORIGIN/" DEVICELOGIN_MODULE_RELATIVE_PATH;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<rlimit> caller_core_limit = harden_process();
  // Run as docker-credential-devicelogin (the symlink docker runs as its credential helper):
  // `docker-credential-devicelogin OP` is `devicelogin docker-credential OP`.
  std::string_view invoked_as = argc > 0 ? argv[0] : "";
  invoked_as = invoked_as.substr(invoked_as.rfind('/') + 1);
  std::vector<char*> helper_argv;
  if (invoked_as == "docker-credential-devicelogin") {
    static char subcommand[] = "docker-credential";
    helper_argv.assign(argv, argv + argc);
    helper_argv.insert(helper_argv.begin() + 1, subcommand);
    helper_argv.push_back(nullptr);
    argc += 1;
    argv = helper_argv.data();
  }
  bool stdin_lost = false;
  if (auto code = try_fast_helper(argc, argv, stdin_lost)) return *code;
  if (stdin_lost) {
    (void)std::fprintf(stderr, "devicelogin %s: cannot hand the input to the command module\n", argv[1]);
    return 1;
  }
  // The caller's descriptors, for `exec` (no fast path ran for it, so the executable has opened
  // nothing; the module's own descriptors come later).
  const auto descriptors = devicelogin::cli::open_descriptors();
  const std::string path = module_path();
  void* plugin = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (plugin == nullptr) {
    // The last words before exit 1: nothing to do if stderr fails. One thread here, so dlerror is safe.
    (void)std::fprintf(stderr, "devicelogin: cannot load its command module devicelogin-cli.so: %s; reinstall devicelogin\n",
                       ::dlerror());  // NOLINT(concurrency-mt-unsafe)
    return 1;
  }
  using Entry = int (*)(int, char**);
  auto entry = reinterpret_cast<Entry>(::dlsym(plugin, "devicelogin_cli_main"));
  if (entry == nullptr) {
    (void)std::fprintf(stderr, "devicelogin: devicelogin-cli.so is not a devicelogin command module; reinstall devicelogin\n");
    return 1;
  }
  // A module without this symbol (none is built so) would take its own notes at its entry.
  using Startup = void (*)(const DeviceloginCliStartup*);
  if (auto startup = reinterpret_cast<Startup>(::dlsym(plugin, "devicelogin_cli_startup"))) {
    DeviceloginCliStartup notes{};
    notes.size = sizeof notes;
    notes.core_limit_known = caller_core_limit ? 1 : 0;
    if (caller_core_limit) notes.core_limit = *caller_core_limit;
    notes.descriptors_known = descriptors ? 1 : 0;
    if (descriptors) {
      notes.descriptors = descriptors->data();
      notes.descriptor_count = descriptors->size();
    }
    startup(&notes);
  }
  return entry(argc, argv);
}
