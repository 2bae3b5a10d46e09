// The `devicelogin` executable: small and fully static. It serves `devicelogin token` with a fresh
// cached token itself, linking only core + store (no libcurl, no OpenSSL, no D-Bus), and hands
// every other case to the full CLI, devicelogin-cli, by execve() (same argv, same environment).
// `git-credential get` with a fresh token is served the same way, and so are docker-credential get
// and kubectl-credential. The fast path only ever prints a token (or git's empty answer for a host
// it is not configured for) or falls through: every error, refresh and message is the full CLI's
// job, so there is one behaviour.
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
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

#include "core/fs.hpp"
#include "docker_protocol.hpp"
#include "git_protocol.hpp"
#include "kube_exec.hpp"
#include "process_start.hpp"
#include "store/fresh_tokens.hpp"

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

// The flags of a fast-path command: `--flag VALUE` or `--flag=VALUE` for the named value flags,
// the named switches, and positional words. Anything else (another flag, a missing value, a flag
// given twice) makes the whole command fall through to the module, which explains it.
class FastArgs {
 public:
  FastArgs(int argc, char** argv) : argc_(argc), argv_(argv) {}
  // Reads argv from index 2 on; false for anything not listed.
  bool parse(std::initializer_list<std::string_view> value_flags, std::initializer_list<std::string_view> switches) {
    for (int i = 2; i < argc_; ++i) {
      const std::string_view arg = argv_[i];
      if (arg == "--") return false;
      if (!arg.starts_with("-")) {
        positional_.push_back(arg);
        continue;
      }
      bool known = false;
      for (std::string_view flag : switches) {
        if (arg == flag) {
          values_.emplace_back(flag, "");
          known = true;
        }
      }
      for (std::string_view flag : value_flags) {
        if (known) break;
        if (arg == flag && i + 1 < argc_) {
          values_.emplace_back(flag, argv_[++i]);
          known = true;
        } else if (arg.size() > flag.size() + 1 && arg.starts_with(flag) && arg[flag.size()] == '=') {
          values_.emplace_back(flag, arg.substr(flag.size() + 1));
          known = true;
        }
      }
      if (!known) return false;
      // A flag given twice falls through: the module refuses a repeated option (the
      // fast path took the last one, so the two disagreed on the same command line).
      for (std::size_t j = 0; j + 1 < values_.size(); ++j) {
        if (values_[j].first == values_.back().first) return false;
      }
    }
    return true;
  }
  // The last value of `flag`, or nullopt when it was not given.
  [[nodiscard]] std::optional<std::string_view> value(std::string_view flag) const {
    std::optional<std::string_view> found;
    for (const auto& [name, value] : values_) {
      if (name == flag) found = value;
    }
    return found;
  }
  [[nodiscard]] bool has(std::string_view flag) const { return value(flag).has_value(); }
  [[nodiscard]] const std::vector<std::string_view>& positional() const { return positional_; }
  // --min-ttl as a number of seconds (default `fallback`); nullopt when it is not one.
  [[nodiscard]] std::optional<long long> min_ttl(long long fallback) const {
    auto text = value("--min-ttl");
    if (!text) return fallback;
    long long seconds = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
    if (ec != std::errc{} || end != text->data() + text->size() || seconds < 0) return std::nullopt;
    return seconds;
  }

 private:
  int argc_;
  char** argv_;
  std::vector<std::pair<std::string_view, std::string_view>> values_;
  std::vector<std::string_view> positional_;
};

// `token [--profile NAME] [--min-ttl SECONDS] [--header]`: prints the token (or its header line).
std::optional<int> try_fast_token(int argc, char** argv) {
  FastArgs args(argc, argv);
  if (!args.parse({"--profile", "--min-ttl"}, {"--header"}) || !args.positional().empty()) return std::nullopt;
  const auto min_ttl = args.min_ttl(60);
  if (!min_ttl) return std::nullopt;
  auto tokens = store::load_fresh_local_tokens(std::string(args.value("--profile").value_or("")), *min_ttl);
  if (!tokens) return std::nullopt;
  Secret line;
  if (args.has("--header")) line.append("Authorization: " + authorization_scheme(tokens->token_type) + " ");
  line.append(tokens->access_token.reveal());
  line.append("\n");
  return write_all(STDOUT_FILENO, line.reveal()) ? 0 : 1;
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

// Standard input to its end, or one byte past `limit` (the module then reports too much input;
// never more is held), or, with `git`, up to the blank line that ends git's attributes. A read
// error stops there too: the module then reports it.
WipingString read_stdin_bounded(std::size_t limit, bool git) {
  WipingString input;
  input.reserve(4096);
  char chunk[4096];
  while (input.size() <= limit && !(git && git_attributes_complete({input.data(), input.size()}))) {
    const std::size_t room = limit + 1 - input.size() < sizeof chunk ? limit + 1 - input.size() : sizeof chunk;
    const ssize_t n = ::read(STDIN_FILENO, chunk, room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    input.append(chunk, static_cast<std::size_t>(n));
  }
  explicit_bzero(chunk, sizeof chunk);
  return input;
}

// `git-credential [--profile P] --host H [--username U] [--min-ttl S] get` with a fresh token:
// git's answer, as the module gives it. Any other case falls through with stdin put back.
std::optional<int> try_fast_git_credential(int argc, char** argv, bool& stdin_lost) {
  FastArgs args(argc, argv);
  if (!args.parse({"--profile", "--host", "--username", "--min-ttl"}, {}) || args.positional().size() != 1 ||
      args.positional()[0] != "get") {
    return std::nullopt;
  }
  const auto min_ttl = args.min_ttl(300);
  const auto host = args.value("--host");
  if (!min_ttl || !host) return std::nullopt;
  const auto origin = git_origin_for(std::string(*host));
  if (!origin) return std::nullopt;
  const WipingString input = read_stdin_bounded(kMaxGitCredentialInput, true);
  const std::string_view view(input.data(), input.size());
  auto fall_through = [&]() -> std::optional<int> {
    if (!restore_stdin(view)) stdin_lost = true;
    return std::nullopt;
  };
  std::string problem;
  auto attributes = parse_git_attributes(view, problem);
  if (!attributes) return fall_through();
  const std::string& protocol = attributes->values["protocol"];
  const std::string& requested_host = attributes->values["host"];
  if (protocol.empty() || requested_host.empty()) return fall_through();
  // Not a host this helper is configured for: no answer, so that git asks elsewhere (as the module).
  if (protocol + "://" + requested_host != *origin) return 0;
  auto tokens = store::load_fresh_local_tokens(std::string(args.value("--profile").value_or("")), *min_ttl);
  if (!tokens) return fall_through();
  const Secret answer = format_git_answer(std::string(args.value("--username").value_or("")), *attributes,
                                          tokens->access_token.reveal(), tokens->expires_at);
  return write_all(STDOUT_FILENO, answer.reveal()) ? 0 : 1;
}

// `docker-credential [--min-ttl S] get` (as docker-credential-devicelogin) for a registry that
// setup-docker named, with a fresh token: the helper protocol's answer, as the module gives it.
// Any other case (an unknown registry included: the module answers not-found) falls through with
// stdin put back.
std::optional<int> try_fast_docker_get(int argc, char** argv, bool& stdin_lost) {
  FastArgs args(argc, argv);
  if (!args.parse({"--min-ttl"}, {}) || args.positional().size() != 1 || args.positional()[0] != "get") {
    return std::nullopt;
  }
  const auto min_ttl = args.min_ttl(300);
  if (!min_ttl) return std::nullopt;
  const WipingString input = read_stdin_bounded(kDockerMaxInput, false);
  const std::string_view view(input.data(), input.size());
  auto fall_through = [&]() -> std::optional<int> {
    if (!restore_stdin(view)) stdin_lost = true;
    return std::nullopt;
  };
  if (input.size() > kDockerMaxInput) return fall_through();
  auto server_url = parse_docker_server_url(view);
  if (!server_url) return fall_through();
  const auto host = docker_registry_host(*server_url);
  if (!host) return fall_through();
  auto config = core::xdg_directory("XDG_CONFIG_HOME", ".config");
  if (!config) return fall_through();
  auto text = core::read_private_file(*config + "/devicelogin/docker-registries.json", "the docker registry map");
  if (!text || !*text) return fall_through();
  auto registries = parse_docker_registry_map(**text);
  if (!registries) return fall_through();
  const auto entry = registries->find(*host);
  if (entry == registries->end()) return fall_through();
  auto tokens = store::load_fresh_local_tokens(entry->second.profile, *min_ttl);
  if (!tokens) return fall_through();
  const Secret answer = format_docker_get_answer(*server_url, docker_username_for(entry->second), tokens->access_token);
  return write_all(STDOUT_FILENO, answer.reveal()) ? 0 : 1;
}

// `kubectl-credential [--profile P] [--min-ttl S] --server URL [--certificate-authority-data B64]
// [--tls-server-name N] [--insecure-skip-tls-verify]` with a fresh token, a KUBERNETES_EXEC_INFO
// that reads and a destination check_kube_destination allows (the module's own rule, in the same
// code): the ExecCredential, as the module gives it. Anything else falls through (the module
// refreshes, or explains, or refuses).
std::optional<int> try_fast_kubectl_credential(int argc, char** argv) {
  FastArgs args(argc, argv);
  if (!args.parse({"--profile", "--min-ttl", "--server", "--certificate-authority-data", "--tls-server-name"},
                  {"--insecure-skip-tls-verify"}) ||
      !args.positional().empty()) {
    return std::nullopt;
  }
  const auto min_ttl = args.min_ttl(60);
  if (!min_ttl) return std::nullopt;
  auto info = parse_kube_exec_info(std::getenv("KUBERNETES_EXEC_INFO"));  // NOLINT(concurrency-mt-unsafe): one thread
  if (!info) return std::nullopt;
  std::optional<KubeCluster> recorded;
  if (auto server = args.value("--server"); server && !server->empty()) {
    recorded = KubeCluster{std::string(*server), std::string(args.value("--certificate-authority-data").value_or("")),
                           std::string(args.value("--tls-server-name").value_or("")), args.has("--insecure-skip-tls-verify")};
  }
  if (!check_kube_destination(info->cluster, recorded)) return std::nullopt;
  auto tokens = store::load_fresh_local_tokens(std::string(args.value("--profile").value_or("")), *min_ttl);
  if (!tokens) return std::nullopt;
  const Secret answer = format_exec_credential(info->api_version, tokens->access_token.reveal(), tokens->expires_at);
  return write_all(STDOUT_FILENO, answer.reveal()) ? 0 : 1;
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
  if (argc >= 2 && std::strcmp(argv[1], "token") == 0) return try_fast_token(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "git-credential") == 0) {
    bool stdin_lost = false;
    if (auto code = try_fast_git_credential(argc, argv, stdin_lost)) return code;
    if (stdin_lost) {
      (void)std::fprintf(stderr, "devicelogin git-credential: cannot hand git's input to the command module\n");
      return 1;
    }
  } else if (argc >= 2 && std::strcmp(argv[1], "kubectl-credential") == 0) {
    return try_fast_kubectl_credential(argc, argv);
  } else if (argc >= 2 && std::strcmp(argv[1], "docker-credential") == 0) {
    bool stdin_lost = false;
    if (auto code = try_fast_docker_get(argc, argv, stdin_lost)) return code;
    if (stdin_lost) {
      (void)std::fprintf(stderr, "devicelogin docker-credential: cannot hand the input to the command module\n");
      return 1;
    }
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
  if (preload == nullptr || *preload == '\0') {
    // The fast paths read the docker helper's name as its subcommand; the full CLI gets the
    // original argv and does the same.
    std::vector<char*> storage;
    int command_argc = argc;
    char** command = command_argv(command_argc, argv, storage);
    if (auto code = serve_fast(command_argc, command)) return *code;
  }
  return run_full_cli(argv, caller_core_limit);
}
