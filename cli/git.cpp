// `devicelogin setup-git`, which writes the git credential helper (cli/helpers/git_credential.cpp)
// into git's config through `git config` (whose argv holds the helper command, never a token).
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
#include "helpers/shown.hpp"
#include "output.hpp"
#include "setup_support.hpp"

namespace devicelogin::cli {
namespace {

struct SetupGitArgs {
  std::string profile;  // empty: the default profile
  std::string host;
  std::string username;
  bool local = false;
  bool remove = false;
};

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
  char self[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return report_error("setup-git", Error{ErrorCode::kConfig, "cannot find the devicelogin executable", "", 0});
  const std::string executable(self, static_cast<std::size_t>(length));
  std::string helper = "!" + shell_quote(executable) + " git-credential --profile " + profile + " --host " + shell_quote(*origin);
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

void setup_git(CLI::App& app, int& exit_code) {
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
