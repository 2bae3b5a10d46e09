// `devicelogin profiles` lists the saved profiles; `devicelogin use NAME` makes one the default
// (DEVICELOGIN_PROFILE overrides it for a shell or a CI job).
#include <algorithm>

#include "devicelogin/advanced/error_builders.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct ProfilesArgs {
  bool json = false;
};

int run_profiles(const ProfilesArgs& args) {
  auto names = Session::profiles();
  if (!names) return report_error("profiles", names.error());
  auto chosen = Session::default_profile();
  if (!chosen) return report_error("profiles", chosen.error());
  nlohmann::json listed = nlohmann::json::array();
  for (const std::string& name : *names) {
    const bool is_default = name == *chosen;
    nlohmann::json entry = {{"name", name}, {"default", is_default}};
    auto session = Session::open(name);
    auto status = session ? session->status() : Result<SessionStatus>(std::unexpected(session.error()));
    if (status) {
      const auto& tokens = status->tokens;
      entry["issuer"] = string_or_null(status->issuer);
      entry["store"] = status->store;
      entry["logged_in"] = status->logged_in();
      entry["relogin_required"] = status->relogin_required;
      entry["expires_at"] = tokens && tokens->expires_at ? nlohmann::json(*tokens->expires_at) : nlohmann::json(nullptr);
      if (!args.json) {
        std::string state = status->logged_in() ? "signed in, expires " + describe_expiry(tokens->expires_at)
                            : status->relogin_required ? std::string("re-login required")
                                                       : std::string("not signed in");
        std::string line = is_default ? "* " : "  ";
        line.append(name).append("  ").append(status->issuer.empty() ? "(no issuer)" : status->issuer);
        line.append("  ").append(status->store).append("  ").append(state);
        say(line);
      }
    } else {
      entry["issuer"] = nullptr;
      entry["store"] = nullptr;
      entry["logged_in"] = false;
      entry["relogin_required"] = false;
      entry["expires_at"] = nullptr;
      entry["error"] = render_error(status.error());
      if (!args.json) say(std::string(is_default ? "* " : "  ") + name + "  unreadable: " + render_error(status.error()));
    }
    listed.push_back(std::move(entry));
  }
  if (args.json) emit_json({{"default", *chosen}, {"profiles", listed}});
  if (!args.json && names->empty()) say("No profiles yet; sign in with: devicelogin login");
  return 0;
}

struct UseArgs {
  std::string profile;
};

int run_use(const UseArgs& args) {
  // Only a saved profile: a typo would otherwise make every later command fail.
  if (!valid_profile_name(args.profile)) {
    return report_error("use", Error{ErrorCode::kUsage, "invalid profile name \"" + args.profile + "\""});
  }
  auto names = Session::profiles();
  if (!names) return report_error("use", names.error());
  if (std::find(names->begin(), names->end(), args.profile) == names->end()) {
    return report_error("use", remedy_error(ErrorCode::kNotLoggedIn, "no profile \"" + args.profile + "\"",
                                            Remedy::kSignIn, args.profile));
  }
  if (auto set = Session::set_default_profile(args.profile); !set) return report_error("use", set.error());
  say("Default profile: " + args.profile + " (DEVICELOGIN_PROFILE, when set, still overrides it)");
  return 0;
}

}  // namespace

void setup_profiles(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ProfilesArgs>();
  CLI::App* cmd = app.add_subcommand("profiles", "List the saved profiles: issuer, store, signed in, expiry, default (*)");
  add_json_flag(*cmd, args->json);
  cmd->callback([args, &exit_code] { exit_code = run_profiles(*args); });
}

void setup_use(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<UseArgs>();
  CLI::App* cmd = app.add_subcommand("use", "Make a saved profile the default for commands without --profile");
  cmd->add_option("profile", args->profile, "Profile name")->required();
  cmd->callback([args, &exit_code] { exit_code = run_use(*args); });
}

}  // namespace devicelogin::cli
