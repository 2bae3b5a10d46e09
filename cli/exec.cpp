// `devicelogin exec -- CMD ARGS...`: runs CMD with the access token in an environment variable,
// never in argv (where every user could read it in /proc/PID/cmdline). The token is refreshed
// first so that it lives at least --min-ttl seconds; it is not refreshed while CMD runs.
// devicelogin becomes CMD (execvpe): the same process, so a signal to it or its process group
// reaches CMD once, CMD's exit status or death is the caller's to see, and there is no parent to
// outlive or to be killed in its place. CMD gets the process as the caller gave it: the core
// limit, the ignored signals and the mask, the caller's descriptors and none of devicelogin's.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caller_state.hpp"
#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "helpers/session_source.hpp"
#include "output.hpp"
#include "process.hpp"

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

// Variables that the dynamic loader, the C library or a shell reads for itself before (or instead
// of) the command: holding the token, they make it print the token (ld.so: "object '<value>'
// cannot be preloaded"; bash: "<value>: No such file or directory" for BASH_ENV; xtrace prints
// PS4), or load and run something else. A token is never meant for them.
constexpr std::string_view kReservedPrefixes[] = {"LD_", "BASH_FUNC_", "GLIBC_", "MALLOC_", "LC_"};
constexpr std::string_view kReservedNames[] = {
    // sh and bash (POSIX "Shell Variables", bash's own), zsh's start-up directory
    "BASH_ENV", "ENV", "PATH", "IFS", "PS1", "PS2", "PS3", "PS4", "SHELLOPTS", "BASHOPTS", "CDPATH", "GLOBIGNORE",
    "PROMPT_COMMAND", "BASH_XTRACEFD", "BASH_LOADABLES_PATH", "EXECIGNORE", "HISTFILE", "HOME", "SHELL", "MAIL",
    "MAILPATH", "FPATH", "OPTIND", "OPTARG", "PWD", "OLDPWD", "ZDOTDIR",
    // the C library (and the locale and time zone files it loads by name)
    "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "NLSPATH", "NIS_PATH", "RESOLV_HOST_CONF",
    "RES_OPTIONS", "TMPDIR", "TZ", "TZDIR", "LANG", "LANGUAGE", "POSIXLY_CORRECT"};

bool reserved_env_name(std::string_view name) {
  if (std::ranges::any_of(kReservedPrefixes, [&](std::string_view prefix) { return name.starts_with(prefix); })) return true;
  return std::ranges::find(kReservedNames, name) != std::end(kReservedNames);
}

int run_exec(const ExecArgs& args) {
  auto usage = [](std::string message) { return report_error("exec", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  if (args.command.empty()) return usage("no command given; usage: devicelogin exec [--env NAME] -- CMD ARGS...");
  if (args.min_ttl < 0) return usage("--min-ttl must be 0 or more seconds");
  if (!valid_env_name(args.env_name)) return usage("--env needs a variable name (letters, digits and _, not starting with a digit)");
  if (reserved_env_name(args.env_name)) {
    return usage("--env " + args.env_name + ": the dynamic loader, the C library or a shell reads that variable itself; choose another name");
  }

  const std::string prefix = args.env_name + "=";
  Secret assignment(prefix);
  if (auto refused = helper_refused_by_policy("exec")) return report_error("exec", *refused);
  {
    const auto source = make_token_source(args.verbose);
    // The command's name (not its arguments, which may carry anything).
    const std::string& program = args.command.front();
    source->set_audit_consumer("exec", program.substr(program.rfind('/') == std::string::npos ? 0 : program.rfind('/') + 1));
    auto token = source->access_token(args.profile, args.min_ttl);
    if (!token) return report_error("exec", token.error().error);
    if (auto refused = helpers::bearer_only(*token, "exec")) return report_error("exec", *refused);
    const std::optional<long long>& expires_at = token->expires_at;
    const long long now = static_cast<long long>(std::time(nullptr));
    if (args.verbose || (expires_at && *expires_at - now < kShortLifetimeS)) {
      say("devicelogin exec: the token in " + args.env_name + " expires " + (expires_at ? "at " + describe_expiry(expires_at) : std::string("at an unknown time")) +
          "; it is not refreshed while the command runs (run devicelogin exec again for a new one)");
    }
    assignment.append(token->reveal());
    token->wipe();
  }  // The Session ends here: libcurl's connections and the store's descriptors close.

  // The command's environment: ours, with NAME replaced.
  std::vector<char*> envp;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, prefix.c_str(), prefix.size()) != 0) envp.push_back(*entry);
  }
  // NUL-terminated (a basic_string's storage); execve does not write to it.
  envp.push_back(const_cast<char*>(assignment.reveal().data()));
  envp.push_back(nullptr);
  std::vector<char*> argv;
  argv.reserve(args.command.size() + 1);
  for (const auto& word : args.command) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);

  (void)std::fflush(nullptr);  // anything still buffered for stdout or stderr is ours to write, not lost
  // On success this does not return.
  const int failure = replace_process_with(argv.data(), envp.data());
  assignment.wipe();
  // Still us: no core dump with what is left of the token on the heap (the caller's limit was
  // put back for the command only).
  const rlimit no_core{0, 0};
  (void)::setrlimit(RLIMIT_CORE, &no_core);
  const std::string name = sanitize_text(args.command.front());
  if (failure == ENOENT) {
    say("devicelogin exec: " + name + ": command not found");
    return 127;
  }
  say("devicelogin exec: cannot run " + name + ": " + std::strerror(failure));  // NOLINT(concurrency-mt-unsafe)
  return 126;
}

}  // namespace

void setup_exec(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExecArgs>();
  CLI::App* cmd = app.add_subcommand(
      "exec",
      "Run a command with the access token in an environment variable (never in its argv). The token is refreshed "
      "first so that it lives at least --min-ttl seconds, and is not refreshed while the command runs. devicelogin "
      "becomes the command (same process): signals reach it directly, and its exit status or death by a signal is "
      "exec's; 127 when it is not found, 126 when it cannot be run");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--env", args->env_name, "The variable that holds the token (default DEVICELOGIN_TOKEN)");
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh first when the token expires within this many seconds (default 300)");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_option("command", args->command, "The command and its arguments, after --");
  cmd->callback([args, &exit_code] { exit_code = run_exec(*args); });
}

}  // namespace devicelogin::cli
