// The flags several commands share, each declared here once (name, help text, default shown).
#include "commands.hpp"

namespace devicelogin::cli {

CLI::Option* add_profile_flag(CLI::App& command, std::string& profile) {
  // Empty: the default profile, resolved when the command runs (resolve_profile).
  return command.add_option("--profile", profile,
                            profile.empty() ? std::string("Profile name (default: $DEVICELOGIN_PROFILE, else the one "
                                                          "`devicelogin use` set, else default)")
                                            : "Profile name (default: " + profile + ")");
}

CLI::Option* add_json_flag(CLI::App& command, bool& json, bool lines) {
  return command.add_flag("--json", json, lines ? "JSON lines on stdout" : "JSON on stdout");
}

CLI::Option* add_verbose_flag(CLI::App& command, bool& verbose) {
  return command.add_flag("--verbose", verbose, "Redacted HTTP trace on stderr");
}

}  // namespace devicelogin::cli
