#include "commands.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct LogoutArgs {
  std::string profile = "default";
  bool all = false;
  bool json = false;
  bool verbose = false;
};

// Logs one profile out; reports on stderr. Fails only when local deletion failed.
Result<LogoutOutcome> logout_profile(const std::string& name, bool verbose) {
  auto opened = open_profile(name);
  if (!opened) return std::unexpected(opened.error());
  auto http = make_http(opened->profile.ca_file, verbose);
  SystemClock clock;
  Session session(std::move(opened->profile), std::move(opened->store), *http, clock);
  auto outcome = session.logout();
  if (!outcome) return outcome;
  if (outcome->revoked) {
    say("Revoked the tokens of profile " + name + " at the server.");
  } else {
    say("Did not revoke the tokens of profile " + name + " at the server: " + sanitize_text(outcome->revocation_problem) + ".");
  }
  say(outcome->deleted ? "Deleted the local tokens of profile " + name + "."
                       : "No local tokens to delete for profile " + name + ".");
  return outcome;
}

int run_logout(const LogoutArgs& args) {
  if (!args.all) {
    auto outcome = logout_profile(args.profile, args.verbose);
    if (!outcome) {
      if (args.json) emit_json({{"revoked", false}, {"deleted", false}});
      return report_error("logout", outcome.error());
    }
    if (args.json) emit_json({{"revoked", outcome->revoked}, {"deleted", outcome->deleted}});
    return 0;
  }
  // --all: every profile's tokens revoked and deleted, then the profile itself removed.
  auto profiles = ProfileStore::from_environment();
  if (!profiles) return report_error("logout", profiles.error());
  auto names = profiles->list();
  if (!names) return report_error("logout", names.error());
  nlohmann::json results = nlohmann::json::array();
  bool all_revoked = true;
  int exit_code = 0;
  for (const std::string& name : *names) {
    auto outcome = logout_profile(name, args.verbose);
    bool removed = false;
    if (outcome) {
      auto profile_removed = profiles->remove(name);
      removed = profile_removed.has_value();
      if (!profile_removed) exit_code = report_error("logout", profile_removed.error());
    } else {
      exit_code = report_error("logout", Error{outcome.error().code, "profile " + name + ": " + outcome.error().message, "", 0});
    }
    all_revoked = all_revoked && outcome && outcome->revoked;
    results.push_back({{"profile", name},
                       {"revoked", outcome && outcome->revoked},
                       {"deleted", outcome.has_value() && removed}});
  }
  if (args.json) {
    emit_json({{"revoked", all_revoked && !names->empty()}, {"deleted", exit_code == 0}, {"profiles", results}});
  }
  if (names->empty()) say("No profiles to log out.");
  return exit_code;
}

}  // namespace

void setup_logout(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<LogoutArgs>();
  CLI::App* cmd = app.add_subcommand("logout", "Revoke the tokens at the server and delete them locally");
  auto* profile = cmd->add_option("--profile", args->profile, "Profile name (default: default)");
  cmd->add_flag("--all", args->all, "Log out of every profile and remove the profiles")->excludes(profile);
  cmd->add_flag("--json", args->json, "JSON on stdout");
  cmd->add_flag("--verbose", args->verbose, "Redacted HTTP trace on stderr");
  cmd->callback([args, &exit_code] { exit_code = run_logout(*args); });
}

}  // namespace devicelogin::cli
