// The agent's client (AgentTokenSource) and the agent's own place on disk.
#include "agent_source.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "core/fs.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli::helpers {

namespace {

Error network(std::string message) { return Error{ErrorCode::kNetwork, std::move(message), "", 0}; }

// What a user on the remote host can do when no agent answers.
constexpr std::string_view kStartAgentHint =
    "start devicelogin agent on the machine you signed in on, then connect again with ssh forwarding its socket "
    "(devicelogin setup-ssh prints the lines), or unset DEVICELOGIN_AGENT to use this host's own sign-in";

std::string shown(const std::string& socket_path) { return sanitize_text(socket_path); }

}  // namespace

std::optional<std::string> agent_socket_from_environment() {
  const char* value = std::getenv(kAgentEnvironment);  // NOLINT(concurrency-mt-unsafe): read once per command
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

Result<Secret> agent_exchange(const std::string& socket_path, const agent::Request& request) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof address.sun_path) {
    return std::unexpected(Error{ErrorCode::kConfig,
                                 "DEVICELOGIN_AGENT is not a socket path (empty, or longer than " +
                                     std::to_string(sizeof address.sun_path - 1) + " bytes); set it to the agent's forwarded socket",
                                 "", 0});
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(network(std::string("cannot make a socket: ") + std::strerror(errno)));  // NOLINT(concurrency-mt-unsafe)
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  int connected = 0;
  do {
    connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (connected != 0 && errno == EINTR);
  if (connected != 0) {
    const int failure = errno;
    if (failure == ENOENT || failure == ECONNREFUSED || failure == ENOTSOCK || failure == ENOTDIR) {
      return std::unexpected(network("no agent answers at " + shown(socket_path) + " (DEVICELOGIN_AGENT): " +
                                     (failure == ENOENT ? "no such socket" : failure == ECONNREFUSED ? "nothing listens there" : "not a socket") +
                                     "; " + std::string(kStartAgentHint)));
    }
    return std::unexpected(network("cannot connect to the agent at " + shown(socket_path) + " (DEVICELOGIN_AGENT): " +
                                   std::strerror(failure) + "; " + std::string(kStartAgentHint)));  // NOLINT(concurrency-mt-unsafe)
  }
  const long long deadline = agent::monotonic_ms() + kAgentClientTimeoutS * 1000;
  const std::string body = agent::format_request(request);
  const auto lost = [&](agent::IoStatus status) {
    if (status == agent::IoStatus::kTimeout) {
      return network("the agent at " + shown(socket_path) + " gave no answer within " + std::to_string(kAgentClientTimeoutS) +
                     " s; check the agent on the machine you signed in on (a confirmation prompt may be waiting there), then try again");
    }
    return network("the agent at " + shown(socket_path) +
                   " closed the connection before answering (the agent stopped, refused this user, or the ssh connection "
                   "forwarding it dropped); " + std::string(kStartAgentHint));
  };
  // An agent that refuses a connection outright answers before reading it, then closes: a failed
  // write still leaves that answer to read.
  if (const auto status = agent::write_frame(fd, body, deadline); status != agent::IoStatus::kOk && status != agent::IoStatus::kClosed) {
    return std::unexpected(lost(status));
  }
  WipingString answer;
  const auto status = agent::read_frame(fd, agent::kMaxResponseBytes, deadline, answer);
  if (status == agent::IoStatus::kTooLarge) {
    return std::unexpected(Error{ErrorCode::kServer, "the agent's answer is larger than an agent answer can be", "", 0});
  }
  if (status != agent::IoStatus::kOk) return std::unexpected(lost(status));
  return Secret(std::move(answer));
}

Error agent_refusal_error(const std::string& socket_path, const std::string& profile, const agent::RefusalReply& refusal) {
  using agent::Refusal;
  const std::string named = profile.empty() ? std::string("its default profile") : "profile \"" + profile + "\"";
  const std::string from = "the agent at " + shown(socket_path);
  const std::string said = refusal.message.empty() ? std::string() : " (" + refusal.message + ")";
  switch (refusal.refusal) {
    case Refusal::kNotForwarded:
      return Error{ErrorCode::kNotLoggedIn,
                   from + " does not forward " + named + "; on the agent's machine, name it in devicelogin agent --forward", "", 0};
    case Refusal::kDenied:
      return Error{ErrorCode::kNotLoggedIn,
                   from + " refused the request" + said + "; when it asks for confirmation, try again and answer y on the agent's terminal (or Allow in its "
                       "desktop notification)",
                   "", 0};
    case Refusal::kNotLoggedIn:
    case Refusal::kReloginRequired:
      return Error{ErrorCode::kNotLoggedIn,
                   from + " has no usable sign-in for " + named + said + "; sign in on the agent's machine", "", 0};
    case Refusal::kBearerOnly:
      return Error{ErrorCode::kConfig,
                   from + " does not forward " + named + ": its token is bound to a DPoP key (RFC 9449) that never leaves "
                   "the agent's machine; sign in there without --dpop for a profile to forward",
                   "", 0};
    case Refusal::kLifetime:
      return Error{ErrorCode::kUsage, from + " hands out shorter-lived tokens" + said + "; ask for a smaller --min-ttl", "", 0};
    case Refusal::kDestination:
      return Error{ErrorCode::kUsage, from + " refused a token of " + named + " for that URL" + said +
                   "; the profile's API base URLs on the agent's machine decide where its token may go", "", 0};
    case Refusal::kPolicy:
      // The agent's machine's administrator decided: exit 2 like a refusal by this machine's policy.
      return Error{ErrorCode::kConfig,
                   from + ": refused by the machine policy on the agent's machine: " +
                       (refusal.message.empty() ? std::string("no reason given") : refusal.message) +
                       "; its administrator decides what that machine may hand out",
                   "", 0};
    case Refusal::kNetwork:
      return Error{ErrorCode::kNetwork, from + " could not refresh the token" + said + "; try again later", "", 0};
    case Refusal::kBusy:
      return Error{ErrorCode::kNetwork, from + " is busy with other requests; try again", "", 0};
    case Refusal::kServer:
    case Refusal::kStorage:
    case Refusal::kTimeout:
    case Refusal::kBadRequest:
    case Refusal::kInternal:
      break;
  }
  return Error{ErrorCode::kServer,
               from + " could not give a token" + said + "; check the agent on the machine you signed in on", "", 0};
}

SourceResult<AccessToken> AgentTokenSource::access_token(const std::string& profile, long long min_ttl) {
  const auto problem = [](Error error) { return std::unexpected(SourceProblem{false, std::move(error)}); };
  agent::Request request;
  request.operation = agent::Operation::kToken;
  request.profile = profile;
  request.min_ttl = min_ttl;
  request.url = destination_;
  if (min_ttl < 0 || min_ttl > agent::kMaxMinTtl) {
    return problem(Error{ErrorCode::kUsage, "--min-ttl must be from 0 seconds to a year", "", 0});
  }
  if (!profile.empty() && !valid_profile_name(profile)) {
    return problem(Error{ErrorCode::kUsage, "not a valid profile name: " + sanitize_text(profile), "", 0});
  }
  auto answer = agent_exchange(socket_path_, request);
  if (!answer) return problem(answer.error());
  auto parsed = agent::parse_token_response(answer->reveal());
  if (!parsed) {
    Error error = parsed.error();
    error.message = "the agent at " + shown(socket_path_) + ": " + error.message;
    return problem(std::move(error));
  }
  if (!*parsed) return problem(agent_refusal_error(socket_path_, profile, parsed->error()));
  return std::move(**parsed);
}

SourceResult<void> AgentTokenSource::refresh_if_current(const std::string& /*profile*/, const Secret& /*rejected*/) { return {}; }

SourceResult<bool> AgentTokenSource::refresh_if_stored(const std::string& /*profile*/) { return true; }

Result<std::string> agent_socket_path() {
  const std::string runtime = core::env_or_empty("XDG_RUNTIME_DIR");
  const auto refuse = [](const std::string& why) {
    return std::unexpected(Error{ErrorCode::kConfig,
                                 why + "; the agent listens only in a private runtime directory (set XDG_RUNTIME_DIR, as a "
                                       "login session does: /run/user/UID)",
                                 "", 0});
  };
  if (runtime.empty()) return refuse("XDG_RUNTIME_DIR is not set");
  if (runtime.front() != '/') return refuse("XDG_RUNTIME_DIR is not an absolute path");
  struct stat st{};
  if (::lstat(runtime.c_str(), &st) != 0) return refuse("XDG_RUNTIME_DIR (" + sanitize_text(runtime) + ") does not exist");
  if (!S_ISDIR(st.st_mode)) return refuse("XDG_RUNTIME_DIR (" + sanitize_text(runtime) + ") is not a directory");
  if (st.st_uid != ::geteuid()) return refuse("XDG_RUNTIME_DIR (" + sanitize_text(runtime) + ") belongs to another user");
  if ((st.st_mode & 0077) != 0) return refuse("XDG_RUNTIME_DIR (" + sanitize_text(runtime) + ") is open to other users (it must be mode 0700)");
  std::string path = runtime;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  path += "/devicelogin/agent.sock";
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) return refuse("XDG_RUNTIME_DIR is too long a path for a socket");
  return path;
}

namespace {

// Whether something accepts connections at `path` now (an agent, or a socket unit's listener).
bool something_listens(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  const int connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const bool listens = connected == 0 || errno == EAGAIN || errno == EINPROGRESS;
  ::close(fd);
  return listens;
}

}  // namespace

Result<AgentPlace> claim_agent_place(bool keep_socket) {
  auto socket_path = agent_socket_path();
  if (!socket_path) return std::unexpected(socket_path.error());
  // A listener at the socket's name is not ours to replace: a running agent, or the socket unit of
  // `agent --enable` (whose agent this connection starts, and which then holds the lock). Asked
  // before the lock, so that an agent this starts is never refused the lock by us.
  if (!keep_socket && something_listens(*socket_path)) {
    return std::unexpected(Error{ErrorCode::kConfig,
                                 "an agent already runs for this user at " + sanitize_text(*socket_path) +
                                     " (or its socket unit listens there, starting it on demand: systemctl --user status " +
                                     std::string(kAgentSocketUnit) + ")",
                                 "", 0});
  }
  const std::string directory = socket_path->substr(0, socket_path->rfind('/'));
  auto dir = core::PrivateDirectory::open(directory, true);
  if (!dir) return std::unexpected(dir.error());
  auto lock_fd = (*dir)->open_lock_file("agent.lock");
  if (!lock_fd) return std::unexpected(lock_fd.error());
  if (::flock(*lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(*lock_fd);
    return std::unexpected(Error{ErrorCode::kConfig, "an agent already runs for this user at " + sanitize_text(*socket_path), "", 0});
  }
  // Whatever is at the socket's name was left by an agent that no longer holds the lock.
  if (auto removed = keep_socket ? Result<bool>(false) : (*dir)->remove_file("agent.sock"); !removed) {
    ::close(*lock_fd);
    return std::unexpected(removed.error());
  }
  return AgentPlace{*socket_path, *lock_fd};
}

Result<std::optional<int>> inherited_agent_socket() {
  const std::string listen_pid = core::env_or_empty("LISTEN_PID");
  const std::string listen_fds = core::env_or_empty("LISTEN_FDS");
  // Whatever they say, they are not for a process the agent might start.
  ::unsetenv("LISTEN_PID");     // NOLINT(concurrency-mt-unsafe): before any thread starts
  ::unsetenv("LISTEN_FDS");     // NOLINT(concurrency-mt-unsafe)
  ::unsetenv("LISTEN_FDNAMES");  // NOLINT(concurrency-mt-unsafe)
  if (listen_pid.empty() || listen_pid != std::to_string(::getpid())) return std::optional<int>{};
  const auto refuse = [](const std::string& why) {
    return std::unexpected(Error{ErrorCode::kConfig,
                                 "refusing the socket passed by socket activation: " + why +
                                     "; the agent's socket unit must listen on %t/devicelogin/agent.sock "
                                     "(SocketMode=0600, DirectoryMode=0700), as devicelogin agent --enable writes it",
                                 "", 0});
  };
  if (listen_fds != "1") return refuse("LISTEN_FDS is " + sanitize_text(listen_fds.empty() ? "empty" : listen_fds) + ", not one socket");
  constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START
  struct stat st{};
  if (::fstat(kFirstFd, &st) != 0 || !S_ISSOCK(st.st_mode)) return refuse("descriptor 3 is not a socket");
  int domain = 0;
  int type = 0;
  int listening = 0;
  socklen_t size = sizeof domain;
  if (::getsockopt(kFirstFd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0 || domain != AF_UNIX) {
    return refuse("it is not a Unix socket");
  }
  size = sizeof type;
  if (::getsockopt(kFirstFd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM) {
    return refuse("it is not a stream socket");
  }
  size = sizeof listening;
  if (::getsockopt(kFirstFd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || listening == 0) {
    return refuse("it is not listening");
  }
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (::getsockname(kFirstFd, reinterpret_cast<sockaddr*>(&address), &length) != 0 || length <= offsetof(sockaddr_un, sun_path) ||
      address.sun_path[0] == '\0') {
    return refuse("it has no path (unnamed or abstract)");
  }
  const std::string bound(address.sun_path, ::strnlen(address.sun_path, length - offsetof(sockaddr_un, sun_path)));
  auto expected = agent_socket_path();
  if (!expected) return std::unexpected(expected.error());
  if (bound != *expected) return refuse("it listens on " + sanitize_text(bound) + ", not on " + sanitize_text(*expected));
  // The directory: this user's, writable by nobody else (core's private-directory rules).
  const std::string directory = expected->substr(0, expected->rfind('/'));
  auto dir = core::PrivateDirectory::open(directory, false);
  if (!dir) return refuse(dir.error().message);
  if (!*dir) return refuse(sanitize_text(directory) + " does not exist");
  struct stat file{};
  if (::lstat(expected->c_str(), &file) != 0 || !S_ISSOCK(file.st_mode)) {
    return refuse(sanitize_text(*expected) + " is not a socket file");
  }
  if (file.st_uid != ::geteuid()) return refuse(sanitize_text(*expected) + " belongs to another user");
  if ((file.st_mode & 0077) != 0) return refuse(sanitize_text(*expected) + " is open to other users (it must be mode 0600)");
  (void)::fcntl(kFirstFd, F_SETFD, FD_CLOEXEC);
  return std::optional<int>{kFirstFd};
}

namespace {

Result<std::optional<core::PrivateDirectory>> units_directory(bool create) {
  auto config = core::xdg_directory("XDG_CONFIG_HOME", ".config");
  if (!config) return std::unexpected(config.error());
  return core::PrivateDirectory::open(*config + "/systemd/user", create);
}

// Whether the unit file `name` may be replaced or removed: absent, or written by us. `current`
// receives its text.
Result<void> ours(const core::PrivateDirectory& dir, std::string_view name, std::optional<std::string>& current) {
  auto text = dir.read_private_file(name, "the systemd unit");
  if (!text) return std::unexpected(text.error());
  current = std::move(*text);
  if (current && !current->starts_with(kAgentUnitMarker)) {
    return std::unexpected(Error{ErrorCode::kConfig,
                                 dir.path() + "/" + std::string(name) +
                                     " was not written by devicelogin agent --enable; leaving it alone (remove it yourself to go on)",
                                 "", 0});
  }
  return {};
}

}  // namespace

Result<AgentUnitsOutcome> write_agent_units(const std::string& socket_unit, const std::string& service_unit) {
  auto opened = units_directory(true);
  if (!opened) return std::unexpected(opened.error());
  if (!*opened) return std::unexpected(Error{ErrorCode::kInternal, "the systemd user unit directory was not made", "", 0});
  core::PrivateDirectory* dir = &**opened;
  AgentUnitsOutcome outcome{dir->path(), false};
  for (const auto& [name, text] : {std::pair{kAgentSocketUnit, &socket_unit}, std::pair{kAgentServiceUnit, &service_unit}}) {
    std::optional<std::string> current;
    if (auto allowed = ours(*dir, name, current); !allowed) return std::unexpected(allowed.error());
    if (current == *text) continue;
    if (auto written = dir->write_file_atomically(name, *text); !written) return std::unexpected(written.error());
    outcome.changed = true;
  }
  return outcome;
}

Result<AgentUnitsOutcome> remove_agent_units() {
  auto opened = units_directory(false);
  if (!opened) return std::unexpected(opened.error());
  if (!*opened) return AgentUnitsOutcome{};  // no unit directory: nothing to remove
  core::PrivateDirectory* dir = &**opened;
  AgentUnitsOutcome outcome{dir->path(), false};
  for (const std::string_view name : {kAgentSocketUnit, kAgentServiceUnit}) {
    std::optional<std::string> current;
    if (auto allowed = ours(*dir, name, current); !allowed) return std::unexpected(allowed.error());
    if (!current) continue;
    auto removed = dir->remove_file(name);
    if (!removed) return std::unexpected(removed.error());
    outcome.changed = outcome.changed || *removed;
  }
  // `systemctl --user enable` links the socket unit here; a link to the removed file is stale.
  const std::string wanted = dir->path() + "/sockets.target.wants/" + std::string(kAgentSocketUnit);
  char target[4096];
  const ssize_t n = ::readlink(wanted.c_str(), target, sizeof target);
  if (n > 0 && static_cast<std::size_t>(n) < sizeof target &&
      std::string_view(target, static_cast<std::size_t>(n)) == dir->path() + "/" + std::string(kAgentSocketUnit)) {
    if (::unlink(wanted.c_str()) == 0) outcome.changed = true;
  }
  return outcome;
}

Result<std::string> ssh_config_path() {
  const std::string home = core::env_or_empty("HOME");
  if (home.empty() || home.front() != '/') return std::unexpected(Error{ErrorCode::kConfig, "HOME is not set to an absolute path", "", 0});
  return home + "/.ssh/config";
}

Result<std::optional<std::string>> read_ssh_config() {
  auto path = ssh_config_path();
  if (!path) return std::unexpected(path.error());
  return core::read_private_file(*path, "the ssh client configuration");
}

Result<void> write_ssh_config(const std::string& text) {
  auto path = ssh_config_path();
  if (!path) return std::unexpected(path.error());
  if (auto dir = core::ensure_private_directory(path->substr(0, path->rfind('/'))); !dir) return std::unexpected(dir.error());
  return core::write_file_atomically(*path, text);
}

}  // namespace devicelogin::cli::helpers
