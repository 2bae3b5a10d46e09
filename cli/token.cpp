#include <unistd.h>

#include <cerrno>

#include "commands.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct TokenArgs {
  std::string profile;  // empty: the default profile
  long long min_ttl = 60;
  bool verbose = false;
  bool header = false;  // `Authorization: <scheme> <token>`, for `curl -H @-`
};

int run_token(const TokenArgs& args) {
  if (args.min_ttl < 0) return report_error("token", Error{ErrorCode::kUsage, "--min-ttl must be 0 or more seconds", "", 0});
  auto session = open_session(args.profile, args.verbose);
  if (!session) return report_error("token", session.error());
  auto token = session->access_token(args.min_ttl);
  if (!token) return report_error("token", token.error());
  Secret line;
  // The one place a token is printed: stdout, nothing else on it (with --header, as the header
  // line of its type's scheme).
  if (args.header) {
    line.append("Authorization: ");
    line.append(token->authorization().reveal());
  } else {
    line.append(token->reveal());
  }
  line.append("\n");
  return write_stdout(line.reveal()) ? 0 : 1;
}

}  // namespace

void setup_token(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TokenArgs>();
  CLI::App* cmd = app.add_subcommand("token", "Print a valid access token on stdout, refreshing it first if needed");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh when the token expires within this many seconds (default 60)");
  cmd->add_flag("--header", args->header, "Print `Authorization: <type> <token>` (for `curl -H @-`) instead of the bare token");
  add_verbose_flag(*cmd, args->verbose);
  cmd->callback([args, &exit_code] { exit_code = run_token(*args); });
}

}  // namespace devicelogin::cli
