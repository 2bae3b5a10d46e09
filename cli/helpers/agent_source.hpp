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
[[nodiscard]] Result<AgentPlace> claim_agent_place();

// ~/.ssh/config with the private-file rules (a 0600 file of this user in a 0700 directory).
[[nodiscard]] Result<std::string> ssh_config_path();
[[nodiscard]] Result<std::optional<std::string>> read_ssh_config();
[[nodiscard]] Result<void> write_ssh_config(const std::string& text);

}  // namespace devicelogin::cli::helpers
