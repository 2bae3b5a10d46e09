#include "commands.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct RefreshArgs {
  std::string profile;  // empty: the default profile
  bool json = false;
  bool verbose = false;
};

int run_refresh(const RefreshArgs& args) {
  auto session = open_session(args.profile, args.verbose);
  auto info = session ? session->refresh() : Result<TokenInfo>(std::unexpected(session.error()));
  if (!info) {
    if (args.json) {
      emit_json({{"refreshed", false}, {"error", json_error_name(info.error())}, {"message", render_error(info.error())}});
    }
    return report_error("refresh", info.error());
  }
  const std::string& name = session->profile().name;
  if (args.json) {
    emit_json({{"refreshed", true},
               {"profile", name},
               {"expires_at", info->expires_at ? nlohmann::json(*info->expires_at) : nlohmann::json(nullptr)},
               {"scope", string_or_null(info->scope)},
               {"subject", string_or_null(info->subject)}});
  }
  say("Refreshed (profile " + name + "). Access token expires " + describe_expiry(info->expires_at) + ".");
  return 0;
}

}  // namespace

void setup_refresh(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RefreshArgs>();
  CLI::App* cmd = app.add_subcommand("refresh", "Refresh the tokens now");
  add_profile_flag(*cmd, args->profile);
  add_json_flag(*cmd, args->json);
  add_verbose_flag(*cmd, args->verbose);
  cmd->callback([args, &exit_code] { exit_code = run_refresh(*args); });
}

}  // namespace devicelogin::cli
