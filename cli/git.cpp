// git's credential protocol (gitcredentials(7)): `devicelogin git-credential get|store|erase`,
// and `devicelogin setup-git`, which writes the helper into git's config through `git config`
// (whose argv holds the helper command, never a token).
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "git_protocol.hpp"
#include "output.hpp"
#include "setup_support.hpp"

namespace devicelogin::cli {
namespace {

struct GitCredentialArgs {
  std::string profile;  // empty: the default profile
  std::string operation;
  std::string host;  // the origin this helper answers for: "https://H[:port]" or "http://H:port"
  std::string username;
  long long min_ttl = 300;
  bool verbose = false;
};

struct SetupGitArgs {
  std::string profile;  // empty: the default profile
  std::string host;
  std::string username;
  bool local = false;
  bool remove = false;
};

// A word from the command line as an error line quotes it: sanitized, and cut short.
std::string shown_word(const std::string& word) {
  constexpr std::size_t kShown = 80;
  std::string shown = sanitize_text(word.size() > kShown ? word.substr(0, kShown) : word);
  if (word.size() > kShown) shown += "...";
  return shown;
}

// git's attributes from stdin, up to the blank line that ends them or the end of input, never
// more than one byte past the limit (so that too much input is reported as such, and a huge line
// is not held). Read from the descriptor in pieces no larger than what is still
// allowed; the buffer is reserved once, so that no copy of a password line is left unwiped.
std::string read_git_input() {
  std::string input;
  input.reserve(kMaxGitCredentialInput + 1);
  char chunk[4096];
  while (input.size() <= kMaxGitCredentialInput && !git_attributes_complete(input)) {
    const std::size_t room = std::min(sizeof chunk, kMaxGitCredentialInput + 1 - input.size());
    const ssize_t n = ::read(STDIN_FILENO, chunk, room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    input.append(chunk, static_cast<std::size_t>(n));
  }
  ::explicit_bzero(chunk, sizeof chunk);
  return input;
}

int run_git_credential(const GitCredentialArgs& args) {
  auto usage = [](std::string message) {
    return report_error("git-credential", Error{ErrorCode::kUsage, std::move(message), "", 0});
  };
  if (args.operation != "get" && args.operation != "store" && args.operation != "erase") {
    return usage("unknown operation \"" + shown_word(args.operation) + "\" (expected get, store or erase)");
  }
  const auto origin = git_origin_for(args.host);
  if (!origin) return usage("--host " + origin.error() + ", got \"" + shown_word(args.host) + "\"");
  std::string problem;
  std::string input = read_git_input();
  auto attributes = parse_git_attributes(input, problem);
  wipe_string(input);  // a password line of `erase` was in it
  if (!attributes) return usage(problem);
  // `store` is git's word that a credential worked: nothing to keep, the profile's store has it.
  if (args.operation == "store") return 0;
  const std::string protocol = attributes->values["protocol"];
  const std::string host = attributes->values["host"];
  if (protocol.empty() || host.empty()) return usage("the input names no protocol and host");
  // Not a host this helper is configured for: answer nothing, so that git asks elsewhere.
  if (protocol + "://" + host != *origin) return 0;

  auto session = open_session(args.profile, args.verbose);
  if (!session) return report_error("git-credential", session.error());
  if (args.operation == "erase") {
    // (git itself sends this erase to every helper it runs for the URL, so any other helper that
    // stored the token forgets it too; logout is where devicelogin asks git for that itself.)
    // git saw this password rejected. When it is still the stored token, refresh now, so that the
    // next `get` returns another one; the login is kept. A token already replaced is left alone.
    const Secret& rejected = attributes->password;
    if (rejected.empty()) return 0;
    auto current = session->access_token(0);
    if (!current) return report_error("git-credential", current.error());
    if (!current->equals(rejected)) return 0;
    auto refreshed = session->refresh();
    if (!refreshed) return report_error("git-credential", refreshed.error());
    return 0;
  }
  auto token = session->access_token(args.min_ttl);
  if (!token) return report_error("git-credential", token.error());
  const Secret out = format_git_answer(args.username, *attributes, token->reveal(), token->expires_at);
  return write_stdout(out.reveal()) ? 0 : 1;
}

// A word for sh (git runs `!command` helpers through the shell): single-quoted.
std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_setup_git(const SetupGitArgs& args) {
  auto usage = [](std::string message) { return report_error("setup-git", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  const auto origin = git_origin_for(args.host);
  if (!origin) return usage("--host " + origin.error() + ", got \"" + shown_word(args.host) + "\"");
  // The helper names its profile explicitly: a later `devicelogin use` must not redirect git.
  auto resolved = resolve_profile(args.profile);
  if (!resolved) return report_error("setup-git", resolved.error());
  const std::string& profile = *resolved;
  if (!valid_profile_name(profile)) return usage("invalid profile name \"" + sanitize_text(profile) + "\"");
  const std::string scope = args.local ? "--local" : "--global";
  const std::string key = "credential." + *origin;
  // Parallel runs each saw the others' half-written entries or failed on git's
  // config.lock. This user's setup-git runs take turns; git's own lock (another program writing
  // its config) is waited out by run_git_config.
  auto lock_dir = devicelogin_config_dir();
  if (!lock_dir) return report_error("setup-git", lock_dir.error());
  auto lock = SetupLock::acquire(*lock_dir + "/setup-git.lock");
  if (!lock) return report_error("setup-git", lock.error());
  auto git = [&](std::vector<std::string> words) {
    words.insert(words.begin(), scope);
    return run_git_config(words);
  };
  // Idempotent: every helper of this origin is replaced (exit 5 from --unset-all: there was none).
  for (const char* name : {".helper", ".username"}) {
    const int unset = git({"--unset-all", key + name});
    if (unset != 0 && unset != 5) {
      return report_error("setup-git", Error{ErrorCode::kConfig, "git config failed (exit " + std::to_string(unset) + ")", "", 0});
    }
  }
  if (args.remove) {
    say("Removed the git credential helper for " + *origin + ".");
    return 0;
  }
  const auto executable = devicelogin_executable();
  if (!executable) return report_error("setup-git", Error{ErrorCode::kConfig, "cannot find the devicelogin executable", "", 0});
  std::string helper = "!" + shell_quote(*executable) + " git-credential --profile " + profile + " --host " + shell_quote(*origin);
  if (!args.username.empty()) helper += " --username " + shell_quote(args.username);
  // An empty helper first: no helper configured elsewhere (a global `store`) answers before this one.
  for (const std::string& value : {std::string(), helper}) {
    if (int added = git({"--add", key + ".helper", value}); added != 0) {
      return report_error("setup-git", Error{ErrorCode::kConfig, "git config failed (exit " + std::to_string(added) + ")", "", 0});
    }
  }
  if (!args.username.empty() && git({key + ".username", args.username}) != 0) {
    return report_error("setup-git", Error{ErrorCode::kConfig, "git config failed", "", 0});
  }
  say("git now asks devicelogin (profile " + profile + ") for " + *origin + " credentials.");
  // A helper git runs after ours (a later config file, or -c) would be handed the token.
  warn_about_other_git_helpers(profile);
  return 0;
}

}  // namespace

void setup_git_credential(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GitCredentialArgs>();
  CLI::App* cmd = app.add_subcommand(
      "git-credential",
      "git credential helper (gitcredentials(7)); set it up with devicelogin setup-git. get prints the access token "
      "as the password for the configured host only; erase (git saw it rejected) refreshes it so the next get returns "
      "another; store does nothing");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--host", args->host, "The host (https) or http(s) origin this helper answers for")->required();
  cmd->add_option("--username", args->username, "The username to give git (default: git's, else x-access-token)");
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh first when the token expires within this many seconds (default 300)");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_option("operation", args->operation, "get, store or erase")->required();
  cmd->callback([args, &exit_code] { exit_code = run_git_credential(*args); });

  auto setup = std::make_shared<SetupGitArgs>();
  CLI::App* setup_cmd = app.add_subcommand(
      "setup-git", "Make git ask devicelogin for credentials of a host (git config --global, or --local); idempotent");
  add_profile_flag(*setup_cmd, setup->profile);
  setup_cmd->add_option("--host", setup->host, "The host (https) or an http(s) origin, e.g. git.example.com")->required();
  setup_cmd->add_option("--username", setup->username, "The username git sends (default x-access-token)");
  setup_cmd->add_flag("--local", setup->local, "Write the current repository's config instead of the global one");
  setup_cmd->add_flag("--remove", setup->remove, "Remove the helper for the host");
  setup_cmd->callback([setup, &exit_code] { exit_code = run_setup_git(*setup); });
}

}  // namespace devicelogin::cli
