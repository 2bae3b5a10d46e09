// `devicelogin setup-ssh --host H [--remote-uid N] [--remote-socket PATH] [--write]`: the ssh
// client lines that carry this user's token agent to host H. Printed, or with --write added to
// ~/.ssh/config (private-file rules: a 0600 file of this user in a 0700 directory), between two
// marker lines, so that running it again replaces the block instead of adding another.
//
// The remote socket is $XDG_RUNTIME_DIR's usual place on the host, /run/user/<uid>, which a login
// session (pam_systemd) makes before sshd sets up the forwarding; sshd binds no directories, so the
// socket is directly in it. The server needs `StreamLocalBindUnlink yes` to replace the socket a
// previous connection left, and `AcceptEnv DEVICELOGIN_AGENT` for SetEnv to arrive.
#include <unistd.h>

#include <string>

#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "helpers/agent_source.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct SetupSshArgs {
  std::string host;
  long long remote_uid = -1;  // -1: this user's uid
  std::string remote_socket;  // empty: /run/user/<remote uid>/devicelogin-agent.sock
  bool write = false;
};

// A Host pattern as ssh_config reads one word: no space, quote, '#' or control character.
bool valid_host_pattern(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\'' || c == '#' || c == '\\') return false;
  }
  return true;
}

// A socket path ssh_config reads as one word: absolute, no space, quote or control character.
bool valid_socket_path(const std::string& path) {
  if (path.empty() || path.front() != '/' || path.size() > 100) return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\'' || c == '#' || c == '\\' || c == '%') return false;
  }
  return true;
}

std::string begin_marker(const std::string& host) { return "# >>> devicelogin setup-ssh " + host + " >>>"; }
std::string end_marker(const std::string& host) { return "# <<< devicelogin setup-ssh " + host + " <<<"; }

// `text` with the block of `host` replaced by `block` (appended at the end when there is none:
// a Host block lasts until the next Host line, so only the end of the file cannot capture the
// global options above it).
std::string with_block(const std::string& text, const std::string& host, const std::string& block) {
  const std::string begin = begin_marker(host);
  const std::string end = end_marker(host);
  const std::size_t start = text.find(begin + "\n");
  if (start != std::string::npos && (start == 0 || text[start - 1] == '\n')) {
    const std::size_t stop = text.find(end + "\n", start);
    if (stop != std::string::npos) return text.substr(0, start) + block + text.substr(stop + end.size() + 1);
  }
  std::string out = text;
  if (!out.empty() && out.back() != '\n') out += '\n';
  if (!out.empty()) out += '\n';
  return out + block;
}

int run_setup_ssh(const SetupSshArgs& args) {
  auto usage = [](std::string message) { return report_error("setup-ssh", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  if (!valid_host_pattern(args.host)) return usage("--host needs a host name or ssh Host pattern (no spaces, quotes or '#')");
  auto local = helpers::agent_socket_path();
  if (!local) return report_error("setup-ssh", local.error());
  const long long uid = args.remote_uid >= 0 ? args.remote_uid : static_cast<long long>(::geteuid());
  const std::string remote = args.remote_socket.empty() ? "/run/user/" + std::to_string(uid) + "/devicelogin-agent.sock" : args.remote_socket;
  if (!valid_socket_path(remote)) return usage("--remote-socket needs an absolute path without spaces, quotes, '%' or '#'");
  if (!valid_socket_path(*local)) {
    return report_error("setup-ssh", Error{ErrorCode::kConfig, "the agent's socket path " + sanitize_text(*local) +
                                                                   " cannot be written in ssh_config (spaces, quotes or '%')", "", 0});
  }
  const std::string block = begin_marker(args.host) + "\n" +
                            "# The host's sshd needs: StreamLocalBindUnlink yes, AcceptEnv DEVICELOGIN_AGENT\n"
                            "Host " + args.host + "\n" +
                            "    RemoteForward " + remote + " " + *local + "\n" +
                            "    SetEnv DEVICELOGIN_AGENT=" + remote + "\n" +
                            end_marker(args.host) + "\n";
  if (!args.write) {
    if (!write_stdout(block)) return 1;
    say("devicelogin setup-ssh: add these lines to ~/.ssh/config (or run again with --write); start devicelogin agent "
        "--forward PROFILE before you connect");
    return 0;
  }
  auto current = helpers::read_ssh_config();
  if (!current) return report_error("setup-ssh", current.error());
  const std::string before = current->value_or("");
  const std::string after = with_block(before, args.host, block);
  if (after == before && current->has_value()) {
    say("devicelogin setup-ssh: ~/.ssh/config already forwards the agent to " + args.host);
    return 0;
  }
  if (auto written = helpers::write_ssh_config(after); !written) return report_error("setup-ssh", written.error());
  say("devicelogin setup-ssh: ~/.ssh/config forwards the agent to " + args.host +
      "; start devicelogin agent --forward PROFILE before you connect");
  return 0;
}

}  // namespace

void setup_ssh(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SetupSshArgs>();
  CLI::App* cmd = app.add_subcommand(
      "setup-ssh",
      "Print (or with --write add to ~/.ssh/config, once) the ssh lines that forward the token agent's socket to a "
      "host (RemoteForward) and name it there (SetEnv DEVICELOGIN_AGENT). The host's sshd needs "
      "StreamLocalBindUnlink yes and AcceptEnv DEVICELOGIN_AGENT");
  cmd->add_option("--host", args->host, "The ssh host (a Host pattern of ssh_config)")->required();
  cmd->add_option("--remote-uid", args->remote_uid, "Your uid on the host (default: the same as here)");
  cmd->add_option("--remote-socket", args->remote_socket,
                  "Where the socket appears on the host (default /run/user/<remote uid>/devicelogin-agent.sock)");
  cmd->add_flag("--write", args->write, "Write the block into ~/.ssh/config (replacing an earlier one for the same host)");
  cmd->callback([args, &exit_code] { exit_code = run_setup_ssh(*args); });
}

}  // namespace devicelogin::cli
