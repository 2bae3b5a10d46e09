// The flags several commands share, each declared here once (name, help text, default shown).
#include "commands.hpp"

namespace devicelogin::cli {

CLI::Option* add_profile_flag(CLI::App& command, std::string& profile) {
  return command.add_option("--profile", profile, "Profile name (default: " + profile + ")");
}

CLI::Option* add_json_flag(CLI::App& command, bool& json, bool lines) {
  return command.add_flag("--json", json, lines ? "JSON lines on stdout" : "JSON on stdout");
}

CLI::Option* add_verbose_flag(CLI::App& command, bool& verbose) {
  return command.add_flag("--verbose", verbose, "Redacted HTTP trace on stderr");
}

}  // namespace devicelogin::cli
