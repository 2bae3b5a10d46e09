#include "commands.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct LogoutArgs {
  std::string profile = "default";
  bool json = false;
  bool verbose = false;
};

int run_logout(const LogoutArgs& args) {
  auto opened = open_profile(args.profile);
  if (!opened) return report_error("logout", opened.error());
  auto http = make_http(opened->profile.ca_file, args.verbose);
  SystemClock clock;
  Session session(std::move(opened->profile), std::move(opened->store), *http, clock);
  auto outcome = session.logout();
  if (!outcome) {
    if (args.json) emit_json({{"revoked", false}, {"deleted", false}});
    return report_error("logout", outcome.error());
  }
  if (args.json) emit_json({{"revoked", outcome->revoked}, {"deleted", outcome->deleted}});
  if (outcome->revoked) {
    say("Revoked the tokens at the server.");
  } else {
    say("Did not revoke the tokens at the server: " + sanitize_text(outcome->revocation_problem) + ".");
  }
  say(outcome->deleted ? "Deleted the local tokens (profile " + args.profile + ")."
                       : "No local tokens to delete (profile " + args.profile + ").");
  return 0;
}

}  // namespace

void setup_logout(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<LogoutArgs>();
  CLI::App* cmd = app.add_subcommand("logout", "Revoke the tokens at the server and delete them locally");
  cmd->add_option("--profile", args->profile, "Profile name (default: default)");
  cmd->add_flag("--json", args->json, "JSON on stdout");
  cmd->add_flag("--verbose", args->verbose, "Redacted HTTP trace on stderr");
  cmd->callback([args, &exit_code] { exit_code = run_logout(*args); });
}

}  // namespace devicelogin::cli
