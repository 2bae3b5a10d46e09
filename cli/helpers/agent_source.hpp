#pragma once
// The token agent's two ends as the helpers see them:
//  - AgentTokenSource, the remote side: with DEVICELOGIN_AGENT=/path/to.sock (as SSH_AUTH_SOCK),
//    `token`, `exec`, `api` and the credential helpers ask the agent behind that socket (usually
//    forwarded by ssh's RemoteForward) instead of a local store;
//  - the agent's own place, $XDG_RUNTIME_DIR/devicelogin/agent.sock, checked and prepared with the
//    private-file rules of core/fs.hpp (which the commands in cli/ cannot include).
// The protocol is cli/agent_protocol.hpp.
#include <optional>
#include <string>
#include <vector>

#include "agent_protocol.hpp"
#include "helpers.hpp"

namespace devicelogin::cli::helpers {

// The variable that names the agent's socket on the remote side.
inline constexpr const char* kAgentEnvironment = "DEVICELOGIN_AGENT";
// How long a client waits for the agent's answer: longer than the agent's confirmation prompt
// waits for the user (kAgentConfirmTimeoutS), so that a refusal by timeout still arrives.
inline constexpr long long kAgentClientTimeoutS = 75;
inline constexpr long long kAgentConfirmTimeoutS = 60;

// DEVICELOGIN_AGENT's value; nullopt when it is unset or empty.
[[nodiscard]] std::optional<std::string> agent_socket_from_environment();

// One request to the agent at `socket_path`, one response body back (wiping storage). Errors
// (one line naming the socket and what to do): kNetwork when nothing answers there, the
// connection is lost or no answer comes in time; kServer for an answer too large.
[[nodiscard]] Result<Secret> agent_exchange(const std::string& socket_path, const agent::Request& request);
// The error a client reports for an agent's refusal (`profile` as the request named it).
[[nodiscard]] Error agent_refusal_error(const std::string& socket_path, const std::string& profile,
                                        const agent::RefusalReply& refusal);

// The remote side's tokens: the agent's answer for every access_token; the refresh operations
// (git's and docker's erase) do nothing here, since the agent refreshes on its own when a token
// would not live the requested time, and the refresh token never leaves the agent's machine.
class AgentTokenSource final : public TokenSource {
 public:
  explicit AgentTokenSource(std::string socket_path) : socket_path_(std::move(socket_path)) {}
  // Names the URL the tokens will be sent to: the agent then hands one out only when the
  // profile allows its token there (kUsage otherwise).
  void set_destination(std::string url) { destination_ = std::move(url); }
  [[nodiscard]] SourceResult<AccessToken> access_token(const std::string& profile, long long min_ttl) override;
  [[nodiscard]] SourceResult<void> refresh_if_current(const std::string& profile, const Secret& rejected) override;
  [[nodiscard]] SourceResult<bool> refresh_if_stored(const std::string& profile) override;

 private:
  std::string socket_path_;
  std::string destination_;
};

// Where this user's agent listens: $XDG_RUNTIME_DIR/devicelogin/agent.sock. kConfig (one line)
// when XDG_RUNTIME_DIR is unset, relative, not a directory, not the user's, or open to others
// (the XDG base directory rules: owned by the user, mode 0700).
[[nodiscard]] Result<std::string> agent_socket_path();

// The agent's directory made (0700, with core's private-directory rules) and held: `lock_fd`
// holds an exclusive flock on agent.lock in it for as long as the agent runs, so that a second
// agent is refused and a socket file left by a dead one can be removed safely.
struct AgentPlace {
  std::string socket_path;
  int lock_fd = -1;
};
// With `keep_socket` (a socket inherited by socket activation, whose file its owner made and
// keeps) the file at the socket's name is left as it is.
[[nodiscard]] Result<AgentPlace> claim_agent_place(bool keep_socket = false);

// The listening socket systemd's socket activation passed to this process (sd_listen_fds(3):
// LISTEN_PID names this process, LISTEN_FDS counts descriptors from 3), as a user socket unit or
// `systemd-socket-activate` does; the variables are removed either way, so that nothing the agent
// starts inherits them. nullopt when none was passed to this process. kConfig (one line) unless
// it is exactly one listening Unix stream socket bound at agent_socket_path(), whose directory is
// this user's with no access for others and whose file is this user's socket of mode 0600: the
// agent serves tokens only on its own private place, never on a socket someone else chose.
[[nodiscard]] Result<std::optional<int>> inherited_agent_socket();

// The systemd user units that start the agent on demand (`agent --enable`), in
// $XDG_CONFIG_HOME/systemd/user (default ~/.config/systemd/user), a directory with core's
// private-directory rules: a unit file others could write would run their command as this user.
inline constexpr std::string_view kAgentSocketUnit = "devicelogin-agent.socket";
inline constexpr std::string_view kAgentServiceUnit = "devicelogin-agent.service";
// The first line of each unit file written: a file without it is not ours and is never replaced
// or removed.
inline constexpr std::string_view kAgentUnitMarker = "# Written by devicelogin agent --enable";
struct AgentUnitsOutcome {
  std::string directory;
  bool changed = false;  // a file was written or removed
};
// Writes both units (idempotently: unchanged files are not rewritten). kConfig when a file of
// that name exists without the marker; kStorage for an unsafe directory or a failed write.
[[nodiscard]] Result<AgentUnitsOutcome> write_agent_units(const std::string& socket_unit, const std::string& service_unit);
// Removes both units, and the symbolic link `systemctl --user enable` made in
// sockets.target.wants; the same refusals.
[[nodiscard]] Result<AgentUnitsOutcome> remove_agent_units();

// ~/.ssh/config with the private-file rules (a 0600 file of this user in a 0700 directory).
[[nodiscard]] Result<std::string> ssh_config_path();
[[nodiscard]] Result<std::optional<std::string>> read_ssh_config();
[[nodiscard]] Result<void> write_ssh_config(const std::string& text);

}  // namespace devicelogin::cli::helpers
