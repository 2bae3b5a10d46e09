#include "commands.hpp"
#include "inventory.hpp"
#include "output.hpp"
#include "setup_support.hpp"

namespace devicelogin::cli {
namespace {

struct LogoutArgs {
  std::string profile;  // empty: the default profile
  bool all = false;
  bool json = false;
  bool verbose = false;
};

// Logs one profile out and, with `forget`, removes the profile too; reports on stderr. Fails when
// local deletion failed; `removed` says whether the profile was removed.
Result<LogoutOutcome> logout_profile(const std::string& name, bool verbose, bool forget = false, int* remove_exit = nullptr,
                                     bool* removed = nullptr) {
  auto session = open_session(name, verbose);
  if (!session) return std::unexpected(session.error());
  // Another credential helper git ran after devicelogin's (`store`) may hold the token;
  // git makes every helper of each configured host forget it.
  for (const std::string& origin : forget_git_credentials(name)) {
    say("Asked git's credential helpers to forget the credentials of " + sanitize_text(origin) + ".");
  }
  auto outcome = session->logout();
  if (!outcome) return outcome;
  if (outcome->revoked) {
    say("Revoked the tokens of profile " + name + " at the server.");
  } else {
    say("Did not revoke the tokens of profile " + name + " at the server: " + sanitize_text(outcome->revocation_problem) + ".");
  }
  say(outcome->deleted ? "Deleted the local tokens of profile " + name + "."
                       : "No local tokens to delete for profile " + name + ".");
  if (forget) {
    auto profile_removed = session->forget();
    *removed = profile_removed.has_value();
    if (!profile_removed) *remove_exit = report_error("logout", profile_removed.error());
  }
  return outcome;
}

int run_logout(const LogoutArgs& args) {
  if (!args.all) {
    auto name = resolve_profile(args.profile);
    auto outcome = name ? logout_profile(*name, args.verbose) : Result<LogoutOutcome>(std::unexpected(name.error()));
    if (!outcome) {
      if (args.json) emit_json({{"revoked", false}, {"deleted", false}});
      return report_error("logout", outcome.error());
    }
    if (args.json) emit_json({{"revoked", outcome->revoked}, {"deleted", outcome->deleted}});
    return 0;
  }
  // --all: first the sets held in a store their profile does not name (an earlier login's, an
  // older version's) or by no profile, from the inventory; then every profile's tokens revoked
  // and deleted, and the profile itself removed.
  nlohmann::json results = nlohmann::json::array();
  bool all_revoked = true;
  int exit_code = 0;
  const Inventory inventory = take_inventory();
  for (const InventoryEntry& entry : inventory.entries) {
    if (!entry.stray()) continue;
    auto store = open_token_store(entry.store);
    Result<LogoutOutcome> outcome = store ? Result<LogoutOutcome>(LogoutOutcome{}) : std::unexpected(store.error());
    if (store && entry.profile_saved) {
      auto session = open_session(entry.profile, args.verbose);
      outcome = session ? session->logout_from(**store) : Result<LogoutOutcome>(std::unexpected(session.error()));
    } else if (store) {
      // No profile names the server these came from (nor its revocation endpoint): deleted only.
      auto removed = (*store)->remove(entry.profile);
      if (removed) {
        outcome->deleted = *removed;
        outcome->revocation_problem = "no profile names the server that issued them";
      } else {
        outcome = std::unexpected(removed.error());
      }
    }
    const std::string what = "the tokens of profile " + entry.profile + " left in the " + entry.store + " store";
    if (!outcome) {
      Error error = outcome.error();
      error.message = what + ": " + error.message;
      exit_code = report_error("logout", error);
    } else {
      say(outcome->revoked ? "Revoked " + what + " at the server."
                           : "Did not revoke " + what + ": " + sanitize_text(outcome->revocation_problem) + ".");
      if (outcome->deleted) say("Deleted " + what + ".");
    }
    all_revoked = all_revoked && outcome && outcome->revoked;
    results.push_back({{"profile", entry.profile},
                       {"store", entry.store},
                       {"revoked", outcome && outcome->revoked},
                       {"deleted", outcome && outcome->deleted}});
  }
  auto names = Session::profiles(session_options(args.verbose));
  if (!names) return report_error("logout", names.error());
  for (const std::string& name : *names) {
    bool removed = false;
    auto outcome = logout_profile(name, args.verbose, true, &exit_code, &removed);
    if (!outcome) {
      Error error = outcome.error();
      error.message = "profile " + name + ": " + error.message;
      exit_code = report_error("logout", error);
    }
    all_revoked = all_revoked && outcome && outcome->revoked;
    results.push_back({{"profile", name},
                       {"revoked", outcome && outcome->revoked},
                       {"deleted", outcome.has_value() && removed}});
  }
  if (args.json) {
    emit_json({{"revoked", all_revoked && !results.empty()}, {"deleted", exit_code == 0}, {"profiles", results}});
  }
  if (results.empty()) say("No profiles to log out.");
  return exit_code;
}

}  // namespace

void setup_logout(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<LogoutArgs>();
  CLI::App* cmd = app.add_subcommand("logout", "Revoke the tokens at the server and delete them locally");
  auto* profile = add_profile_flag(*cmd, args->profile);
  cmd->add_flag("--all", args->all, "Log out of every profile and remove the profiles")->excludes(profile);
  add_json_flag(*cmd, args->json);
  add_verbose_flag(*cmd, args->verbose);
  cmd->callback([args, &exit_code] { exit_code = run_logout(*args); });
}

}  // namespace devicelogin::cli
