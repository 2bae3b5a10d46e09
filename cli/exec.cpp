// `devicelogin exec -- CMD ARGS...`: runs CMD with the access token in an environment variable,
// never in argv (where every user could read it in /proc/PID/cmdline). The token is refreshed
// first so that it lives at least --min-ttl seconds; it is not refreshed while CMD runs.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "output.hpp"

extern "C" char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace devicelogin::cli {
namespace {

struct ExecArgs {
  std::string profile;  // empty: the default profile
  std::string env_name = "DEVICELOGIN_TOKEN";
  long long min_ttl = 300;
  bool verbose = false;
  std::vector<std::string> command;
};

// Below this lifetime the notice that the token is not refreshed is printed even without --verbose.
constexpr long long kShortLifetimeS = 15 * 60;

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

volatile sig_atomic_t g_child = 0;

void forward_signal(int signal_number) {
  const pid_t child = g_child;
  if (child > 0) ::kill(child, signal_number);
}

// A POSIX shell's variable name: [A-Za-z_][A-Za-z0-9_]*.
bool valid_env_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

int run_exec(const ExecArgs& args) {
  auto usage = [](std::string message) { return report_error("exec", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  if (args.command.empty()) return usage("no command given; usage: devicelogin exec [--env NAME] -- CMD ARGS...");
  if (args.min_ttl < 0) return usage("--min-ttl must be 0 or more seconds");
  if (!valid_env_name(args.env_name)) return usage("--env needs a variable name (letters, digits and _, not starting with a digit)");
  auto session = open_session(args.profile, args.verbose);
  if (!session) return report_error("exec", session.error());
  auto token = session->access_token(args.min_ttl);
  if (!token) return report_error("exec", token.error());

  std::optional<long long> expires_at;
  if (auto status = session->status(); status && status->tokens) expires_at = status->tokens->expires_at;
  const long long now = static_cast<long long>(std::time(nullptr));
  if (args.verbose || (expires_at && *expires_at - now < kShortLifetimeS)) {
    say("devicelogin exec: the token in " + args.env_name + " expires " + (expires_at ? "at " + describe_expiry(expires_at) : std::string("at an unknown time")) +
        "; it is not refreshed while the command runs (run devicelogin exec again for a new one)");
  }

  // The child's environment: ours, with NAME replaced.
  const std::string prefix = args.env_name + "=";
  std::vector<char*> envp;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, prefix.c_str(), prefix.size()) != 0) envp.push_back(*entry);
  }
  Secret assignment(prefix);
  assignment.append(token->reveal());
  token->wipe();
  // NUL-terminated (a basic_string's storage); execve does not write to it.
  envp.push_back(const_cast<char*>(assignment.reveal().data()));
  envp.push_back(nullptr);
  std::vector<char*> argv;
  argv.reserve(args.command.size() + 1);
  for (const auto& word : args.command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);

  // The child starts with the forwarded signals at their defaults and nothing blocked. Our
  // handlers are in place before it exists, blocked until its pid is known.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int s : kForwarded) sigaddset(&forwarded, s);
  sigset_t previous;
  ::pthread_sigmask(SIG_BLOCK, &forwarded, &previous);
  struct sigaction action{};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : kForwarded) ::sigaction(s, &action, nullptr);

  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &forwarded);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t child = 0;
  const int spawned = ::posix_spawnp(&child, argv[0], nullptr, &attributes, argv.data(), envp.data());
  posix_spawnattr_destroy(&attributes);
  assignment.wipe();
  if (spawned != 0) {
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    const std::string name = sanitize_text(args.command.front());
    if (spawned == ENOENT) {
      say("devicelogin exec: " + name + ": command not found");
      return 127;
    }
    say("devicelogin exec: cannot run " + name + ": " + std::strerror(spawned));  // NOLINT(concurrency-mt-unsafe)
    return 126;
  }
  g_child = child;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      say(std::string("devicelogin exec: waiting for the command failed: ") + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
      return 1;
    }
  }
  g_child = 0;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

void setup_exec(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExecArgs>();
  CLI::App* cmd = app.add_subcommand(
      "exec",
      "Run a command with the access token in an environment variable (never in its argv). The token is refreshed "
      "first so that it lives at least --min-ttl seconds, and is not refreshed while the command runs. Signals "
      "(INT, TERM, HUP, QUIT) are forwarded; the exit status is the command's (128+N when killed by signal N), "
      "127 when it is not found, 126 when it cannot be run");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--env", args->env_name, "The variable that holds the token (default DEVICELOGIN_TOKEN)");
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh first when the token expires within this many seconds (default 300)");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_option("command", args->command, "The command and its arguments, after --");
  cmd->callback([args, &exit_code] { exit_code = run_exec(*args); });
}

}  // namespace devicelogin::cli
