// `devicelogin __doc man|bash|zsh|fish` (hidden): the man page devicelogin(1) and the shell
// completions, generated at build time from the same CLI11 definitions every command registers,
// so that they cannot drift from the commands and flags that exist.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"

namespace devicelogin::cli {
namespace {

struct Flag {
  std::string long_name;   // "--profile", or "" for a positional
  std::string short_name;  // "-v", or ""
  std::string value;       // "NAME", or "" for a flag without a value
  std::string help;
  bool positional = false;
};

struct Command {
  std::string name;
  std::string help;
  std::vector<Flag> flags;
};

// Every visible subcommand with its options, in registration order.
std::vector<Command> model(CLI::App& app) {
  std::vector<Command> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* candidate) { return !candidate->get_group().empty(); })) {
    Command command{sub->get_name(), sub->get_description(), {}};
    for (const CLI::Option* option : sub->get_options()) {
      if (option->get_lnames().empty() && option->get_snames().empty() && !option->get_positional()) continue;
      Flag flag;
      flag.positional = option->get_positional();
      if (!option->get_lnames().empty()) flag.long_name = "--" + option->get_lnames().front();
      if (!option->get_snames().empty()) flag.short_name = "-" + option->get_snames().front();
      if (flag.long_name == "--help") continue;
      if (option->get_type_size_max() > 0) {
        flag.value = option->get_type_name();
        if (flag.positional) flag.value = option->get_name(true);
        if (flag.value.empty() || flag.value == "TEXT" || flag.value == "INT" || flag.value == "FLOAT") {
          flag.value = flag.long_name == "--profile" ? "NAME" : (flag.value.empty() ? "VALUE" : flag.value);
        }
      }
      flag.help = option->get_description();
      command.flags.push_back(std::move(flag));
    }
    commands.push_back(std::move(command));
  }
  return commands;
}

// roff text: backslashes and hyphens escaped, no line starting with a control character.
std::string roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

// Text inside single quotes for bash, zsh and fish ('...'), brackets and colons dropped for zsh's
// _arguments specs.
std::string quoted(const std::string& text, bool for_zsh_spec = false) {
  std::string out;
  for (char c : text) {
    if (c == '\'') out += "'\\''";
    else if (c == '\n' || (for_zsh_spec && (c == '[' || c == ']' || c == ':'))) out += ' ';
    else out += c;
  }
  return out;
}

void man(const std::vector<Command>& commands, const std::string& description) {
  std::cout << ".TH DEVICELOGIN 1 \"\" \"devicelogin " << DEVICELOGIN_VERSION << "\" \"User Commands\"\n"
            << ".SH NAME\ndevicelogin \\- sign in from the terminal with the OAuth 2.0 Device Authorization Grant "
               "and keep the tokens safe\n"
            << ".SH SYNOPSIS\n.B devicelogin\n.I command\n[\\fIoptions\\fR]\n"
            << ".SH DESCRIPTION\n" << roff(description.substr(0, description.find('\n'))) << "\n"
            << ".PP\nA token reaches stdout only from \\fBtoken\\fR, and another program only through its "
               "environment or a helper protocol, never through its arguments.\n"
            << ".SH COMMANDS\n";
  for (const Command& command : commands) {
    std::cout << ".SS \"devicelogin " << command.name << "\"\n" << roff(command.help) << "\n";
    for (const Flag& flag : command.flags) {
      std::cout << ".TP\n";
      if (flag.positional) {
        std::cout << ".I " << roff(flag.value) << "\n";
      } else {
        std::cout << "\\fB" << roff(flag.short_name.empty() ? flag.long_name : flag.short_name + ", " + flag.long_name)
                  << "\\fR" << (flag.value.empty() ? "" : " \\fI" + roff(flag.value) + "\\fR") << "\n";
      }
      std::cout << roff(flag.help) << "\n";
    }
  }
  std::cout << ".SH EXIT STATUS\n"
               ".TP\n0\nsuccess\n.TP\n1\nother failure\n.TP\n2\nusage or configuration error\n"
               ".TP\n3\naccess denied\n.TP\n4\nthe device code expired before approval\n"
               ".TP\n5\nnot logged in, or re\\-login required\n.TP\n6\nnetwork or server error\n"
               ".TP\n7\nstorage error\n.TP\n130\ncancelled (Ctrl\\-C)\n"
               ".PP\ndocker\\-credential exits 1 with docker's not\\-found answer for a registry setup\\-docker did not name.\n"
               ".SH ENVIRONMENT\n"
               ".TP\nDEVICELOGIN_PROFILE\nthe profile used when a command names none\n"
               ".TP\nDEVICELOGIN_CLIENT_SECRET\nthe client secret, for clients that have one\n"
               ".TP\nXDG_CONFIG_HOME, XDG_STATE_HOME\nwhere profiles and the file token store live\n"
               ".TP\nSSL_CERT_FILE\na CA bundle that replaces the system's\n"
               ".SH FILES\n"
               ".TP\n$XDG_CONFIG_HOME/devicelogin/profiles/NAME.json\na profile (no secret)\n"
               ".TP\n$XDG_STATE_HOME/devicelogin/tokens/\nthe file token store (0600 in 0700)\n"
               ".TP\n$XDG_CONFIG_HOME/devicelogin/docker\\-registries.json\nthe registries setup\\-docker named, with their "
               "profile and username (0600)\n"
               ".TP\n$DOCKER_CONFIG/config.json (default ~/.docker/config.json)\ndocker's configuration, whose credHelpers "
               "setup\\-docker edits\n"
               ".SH SEE ALSO\nThe README and docs/ of the devicelogin sources.\n";
}

// Saved profile names for completing --profile, read from the profile directory (no process).
constexpr const char* kProfilesShell =
    "\"${XDG_CONFIG_HOME:-$HOME/.config}\"/devicelogin/profiles/*.json";

void bash(const std::vector<Command>& commands) {
  std::cout << "# bash completion for devicelogin (generated by devicelogin __doc bash)\n"
               "_devicelogin_profiles() {\n  local f\n  for f in " << kProfilesShell << "; do\n"
               "    [[ -e $f ]] && f=${f##*/} && printf '%s\\n' \"${f%.json}\"\n  done\n}\n"
               "_devicelogin() {\n  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i opts\n"
               "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
               "    case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n  done\n"
               "  if [[ -z $cmd ]]; then\n    COMPREPLY=($(compgen -W '";
  for (const Command& command : commands) std::cout << command.name << ' ';
  std::cout << "--help --version' -- \"$cur\"))\n    return\n  fi\n"
               "  if [[ $prev == --profile ]]; then\n    COMPREPLY=($(compgen -W \"$(_devicelogin_profiles)\" -- \"$cur\"))\n"
               "    return\n  fi\n  case $cmd in\n";
  for (const Command& command : commands) {
    std::cout << "    " << command.name << ") opts='";
    for (const Flag& flag : command.flags) {
      if (flag.positional) continue;
      std::cout << flag.long_name << ' ';
      if (!flag.short_name.empty()) std::cout << flag.short_name << ' ';
    }
    std::cout << "--help' ;;\n";
  }
  std::cout << "    *) opts='--help' ;;\n  esac\n"
               "  if [[ $cmd == use && $cur != -* ]]; then\n"
               "    COMPREPLY=($(compgen -W \"$(_devicelogin_profiles)\" -- \"$cur\"))\n    return\n  fi\n"
               "  COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n}\n"
               "complete -F _devicelogin devicelogin\n";
}

void zsh(const std::vector<Command>& commands) {
  std::cout << "#compdef devicelogin\n# zsh completion for devicelogin (generated by devicelogin __doc zsh)\n"
               "_devicelogin_profiles() {\n  local -a names\n  names=(${XDG_CONFIG_HOME:-$HOME/.config}/devicelogin/profiles/*.json(N:t:r))\n"
               "  _describe 'profile' names\n}\n"
               "_devicelogin() {\n  local -a commands\n  commands=(\n";
  for (const Command& command : commands) {
    std::cout << "    '" << command.name << ':' << quoted(command.help, true) << "'\n";
  }
  std::cout << "  )\n  if (( CURRENT == 2 )); then\n    _describe 'command' commands\n    return\n  fi\n"
               "  local cmd=$words[2]\n  shift words\n  (( CURRENT-- ))\n  case $cmd in\n";
  for (const Command& command : commands) {
    std::cout << "    " << command.name << ")\n      _arguments";
    for (const Flag& flag : command.flags) {
      std::string action = flag.value.empty() ? "" : ":" + quoted(flag.value, true) + ":" +
                                                        (flag.long_name == "--profile" || (command.name == "use" && flag.positional)
                                                             ? "_devicelogin_profiles"
                                                             : " ");
      if (flag.positional) {
        std::cout << " \\\n        '1" << action << "'";
        continue;
      }
      std::cout << " \\\n        '" << flag.long_name << '[' << quoted(flag.help, true) << ']' << action << "'";
    }
    std::cout << "\n      ;;\n";
  }
  std::cout << "  esac\n}\n_devicelogin \"$@\"\n";
}

void fish(const std::vector<Command>& commands) {
  std::cout << "# fish completion for devicelogin (generated by devicelogin __doc fish)\n"
               "function __devicelogin_profiles\n"
               "    set -l dir (set -q XDG_CONFIG_HOME; and echo $XDG_CONFIG_HOME; or echo $HOME/.config)/devicelogin/profiles\n"
               "    for f in $dir/*.json\n        basename $f .json\n    end\nend\n"
               "complete -c devicelogin -f\n";
  for (const Command& command : commands) {
    std::cout << "complete -c devicelogin -n __fish_use_subcommand -a " << command.name << " -d '" << quoted(command.help)
              << "'\n";
    for (const Flag& flag : command.flags) {
      if (flag.positional) {
        if (command.name == "use") {
          std::cout << "complete -c devicelogin -n '__fish_seen_subcommand_from use' -a '(__devicelogin_profiles)'\n";
        }
        continue;
      }
      std::cout << "complete -c devicelogin -n '__fish_seen_subcommand_from " << command.name << "' -l "
                << flag.long_name.substr(2);
      if (!flag.short_name.empty()) std::cout << " -s " << flag.short_name.substr(1);
      if (!flag.value.empty()) {
        std::cout << " -r";
        if (flag.long_name == "--profile") std::cout << " -a '(__devicelogin_profiles)'";
      }
      std::cout << " -d '" << quoted(flag.help) << "'\n";
    }
  }
}

}  // namespace

void setup_doc(CLI::App& app, int& exit_code) {
  auto kind = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("__doc", "Print the man page or a shell completion script");
  cmd->group("");  // hidden: a build step, not a user command
  cmd->add_option("kind", *kind, "man, bash, zsh or fish")->required()->check(CLI::IsMember({"man", "bash", "zsh", "fish"}));
  cmd->callback([&app, kind, &exit_code] {
    const auto commands = model(app);
    if (*kind == "man") man(commands, app.get_description());
    if (*kind == "bash") bash(commands);
    if (*kind == "zsh") zsh(commands);
    if (*kind == "fish") fish(commands);
    std::cout.flush();
    exit_code = std::cout ? 0 : 1;
  });
}

}  // namespace devicelogin::cli
