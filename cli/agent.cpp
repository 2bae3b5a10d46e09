// `devicelogin agent [--forward P1,P2] [--max-lifetime S] [--confirm] [--daemon]`: the token agent.
// It listens on $XDG_RUNTIME_DIR/devicelogin/agent.sock (directory 0700, socket 0600), which ssh's
// RemoteForward carries to remote hosts, and answers the requests of cli/agent_protocol.hpp for
// the profiles it forwards: an access token that lives long enough (refreshed here, through the
// Session facade and its per-profile store lock, so that racing requests refresh once), and its
// status. The refresh token and a DPoP key never leave this machine: a DPoP-bound profile is not
// forwarded at all. Only connections of this user are served (SO_PEERCRED). The machine policy's
// `helpers` list must name "agent" for any hand-out, and the policy's refusals (its issuers,
// stores, API origins) reach the remote side as such, naming whose policy refused.
//
// Started on demand: `agent --enable` writes a systemd user socket unit for the agent's socket and
// a service that runs this agent with the user's choices; the service manager then listens, and
// the first connection (a remote command through ssh's forwarding) starts the agent with the
// listening socket passed to it (socket activation), which it checks is its own private place.
//
// One thread per connection: each reads its request against a deadline, so a silent or slow
// client holds only its own thread, and a bounded number of them; the accept loop keeps serving.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent_notify.hpp"
#include "agent_protocol.hpp"
#include "commands.hpp"
#include "devicelogin/policy.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/sanitize.hpp"
#include "helpers/agent_source.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct AgentArgs {
  std::vector<std::string> forward;
  long long max_lifetime = 0;  // 0: no cap
  bool confirm = false;
  bool daemon = false;
  bool verbose = false;
  bool enable = false;
  bool disable = false;
};

// How long a connection may take to send its request.
constexpr long long kRequestTimeoutMs = 5000;
// How long the agent tries to write an answer.
constexpr long long kAnswerTimeoutMs = 5000;
// Connections served at once; more are answered "busy" at once.
constexpr int kMaxConnections = 32;

std::string read_proc_file(pid_t pid, const char* name, std::size_t limit) {
  if (pid <= 0) return {};
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text(limit, '\0');
  std::size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::read(fd, text.data() + got, limit - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return text;
}

std::string peer_command(pid_t pid) {
  std::string text = read_proc_file(pid, "comm", 63);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return sanitize_text(text);
}

std::string peer_exe(pid_t pid) {
  if (pid <= 0) return {};
  const std::string path = "/proc/" + std::to_string(pid) + "/exe";
  char buffer[4096];
  const ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buffer) return {};
  return sanitize_text(std::string_view(buffer, static_cast<std::size_t>(n)));
}

// The host a forwarded request comes through. SSH does not tell the agent which remote host a
// forwarded connection comes from; what is reliably there is the peer itself: for a forwarded
// socket it is the local ssh client carrying the connection, and its command line names the
// destination the user typed (a Host alias of ~/.ssh/config, or user@host). Empty when the peer
// is not ssh or its command line has no destination.
std::string ssh_destination(pid_t pid, const std::string& exe) {
  if (exe.empty() || exe.substr(exe.rfind('/') + 1) != "ssh") return {};
  const std::string cmdline = read_proc_file(pid, "cmdline", 16 * 1024);
  std::vector<std::string> argv;
  for (std::size_t at = 0; at < cmdline.size();) {
    const std::size_t end = std::min(cmdline.find('\0', at), cmdline.size());
    argv.emplace_back(cmdline.substr(at, end - at));
    at = end + 1;
  }
  // ssh(1)'s options that take an argument; the first word that is neither an option nor an
  // option's argument is the destination.
  constexpr std::string_view kWithArgument = "BbcDEeFIiJLlmOoPpQRSWw";
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word == "--") return i + 1 < argv.size() ? sanitize_text(argv[i + 1]) : std::string();
    if (word.size() < 2 || word[0] != '-') return sanitize_text(word);
    for (std::size_t k = 1; k < word.size(); ++k) {
      if (kWithArgument.find(word[k]) == std::string_view::npos) continue;
      if (k + 1 == word.size()) ++i;  // the argument is the next word
      break;
    }
  }
  return {};
}

// Who asked, for the audit trail: the peer process (for a forwarded socket, the local ssh client
// that carries the remote request), the ssh destination when there is one, and whether the user
// confirmed it at the prompt. Plain text: no secret is in it.
std::string remote_detail(const ucred& peer, bool confirmed) {
  const std::string exe = peer_exe(peer.pid);
  std::string detail = "pid " + std::to_string(peer.pid);
  if (!exe.empty()) detail += " exe " + exe;
  if (std::string command = peer_command(peer.pid); !command.empty()) detail += " command " + command;
  if (std::string host = ssh_destination(peer.pid, exe); !host.empty()) detail += " ssh " + host;
  if (confirmed) detail += " confirmed";
  return detail;
}

// A request the agent refuses itself (before or after asking the session): one "refusal" record,
// consumer "agent". A token the session hands out is recorded by the session (see serve_token).
void record_refusal(const std::string& profile, const ucred& peer, bool confirmed, const std::string& reason) {
  helpers::audit_refusal(profile, "agent", remote_detail(peer, confirmed), sanitize_text(reason));
}

// Whether `error` is a refusal by the machine policy (or a policy file that cannot be honoured):
// every such message names the policy's file, which no other message names.
bool from_machine_policy(const Error& error) {
  return error.code == ErrorCode::kConfig && error.message.find(machine_policy_path()) != std::string::npos;
}

// What the remote side is told of a policy refusal: the reason, without this machine's wording of
// whose policy it is (the remote side says "the agent's machine").
std::string policy_reason(const Error& error) {
  const std::string path = machine_policy_path();
  if (const std::string refused = "refused by the machine policy " + path + ": "; error.message.starts_with(refused)) {
    return sanitize_text(error.message.substr(refused.size()));
  }
  if (const std::string named = "the machine policy " + path + " "; error.message.starts_with(named)) {
    return "it " + sanitize_text(error.message.substr(named.size()));
  }
  return sanitize_text(error.message);
}

// The machine policy's word on the agent handing out tokens at all (its `helpers` list).
std::optional<Error> agent_refused_by_policy() {
  auto policy = load_machine_policy();
  if (!policy) return policy.error();
  if (auto allowed = check_policy_helper(*policy, "agent"); !allowed) return allowed.error();
  return std::nullopt;
}

agent::Refusal refusal_for(const Error& error) {
  if (from_machine_policy(error)) return agent::Refusal::kPolicy;
  switch (error.code) {
    case ErrorCode::kNotLoggedIn:
    case ErrorCode::kConfig:
    case ErrorCode::kUsage:
      return agent::Refusal::kNotLoggedIn;
    case ErrorCode::kReloginRequired:
      return agent::Refusal::kReloginRequired;
    case ErrorCode::kNetwork:
      return agent::Refusal::kNetwork;
    case ErrorCode::kServer:
    case ErrorCode::kProtocol:
    case ErrorCode::kAccessDenied:
    case ErrorCode::kExpiredToken:
      return agent::Refusal::kServer;
    case ErrorCode::kStorage:
      return agent::Refusal::kStorage;
    case ErrorCode::kCancelled:
    case ErrorCode::kInternal:
      break;
  }
  return agent::Refusal::kInternal;
}

class Agent {
 public:
  explicit Agent(AgentArgs args) : args_(std::move(args)) {}

  // Serves `listen_fd` until a byte arrives on `stop_fd`.
  void serve(int listen_fd, int stop_fd) {
    while (true) {
      pollfd entries[2] = {{listen_fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      const int ready = ::poll(entries, 2, -1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0 || (entries[1].revents & POLLIN) != 0) return;
      if ((entries[0].revents & POLLIN) == 0) continue;
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;  // the client left already, or descriptors ran out for a moment
      if (active_.fetch_add(1) >= kMaxConnections) {
        // A fresh socket's buffer takes this short answer at once.
        (void)agent::write_frame(fd, agent::format_refusal(agent::Refusal::kBusy, "too many connections at once"),
                                 agent::monotonic_ms() + 100);
        ::close(fd);
        active_.fetch_sub(1);
        continue;
      }
      try {
        std::thread([this, fd] {
          handle(fd);
          ::close(fd);
          active_.fetch_sub(1);
        }).detach();
      } catch (const std::system_error&) {
        ::close(fd);
        active_.fetch_sub(1);
      }
    }
  }

  [[nodiscard]] int active() const { return active_.load(); }

 private:
  void log(const std::string& line) {
    const std::lock_guard<std::mutex> hold(log_mutex_);
    say("devicelogin agent: " + line);
  }

  static void answer(int fd, std::string_view body) { (void)agent::write_frame(fd, body, agent::monotonic_ms() + kAnswerTimeoutMs); }

  void handle(int fd) {
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 || size != sizeof peer || peer.uid != ::geteuid()) {
      log("refused a connection from uid " + std::to_string(peer.uid) + " (pid " + std::to_string(peer.pid) +
          "): the agent serves its own user only");
      answer(fd, agent::format_refusal(agent::Refusal::kDenied, "the agent serves its own user only"));
      return;
    }
    WipingString body;
    switch (agent::read_frame(fd, agent::kMaxRequestBytes, agent::monotonic_ms() + kRequestTimeoutMs, body)) {
      case agent::IoStatus::kOk:
        break;
      case agent::IoStatus::kTooLarge:
        log("refused a request larger than " + std::to_string(agent::kMaxRequestBytes) + " bytes");
        answer(fd, agent::format_refusal(agent::Refusal::kBadRequest, "the request is larger than an agent request can be"));
        return;
      case agent::IoStatus::kTimeout:
        log("dropped a connection that sent no whole request within " + std::to_string(kRequestTimeoutMs / 1000) + " s");
        answer(fd, agent::format_refusal(agent::Refusal::kTimeout, "no whole request arrived in time"));
        return;
      case agent::IoStatus::kClosed:
      case agent::IoStatus::kError:
        return;
    }
    auto request = agent::parse_request(std::string_view(body.data(), body.size()));
    if (!request) {
      log("refused a malformed request: " + request.error().message);
      answer(fd, agent::format_refusal(agent::Refusal::kBadRequest, request.error().message));
      return;
    }
    if (request->operation == agent::Operation::kStatus) {
      answer(fd, status());
      return;
    }
    serve_token(fd, *request, peer);
  }

  [[nodiscard]] std::optional<long long> capped(std::optional<long long> expires_at) const {
    if (args_.max_lifetime <= 0) return expires_at;
    const long long cap = static_cast<long long>(std::time(nullptr)) + args_.max_lifetime;
    return expires_at ? std::min(*expires_at, cap) : cap;
  }

  std::string status() {
    agent::AgentStatus status;
    status.version = std::string("devicelogin ") + DEVICELOGIN_VERSION;
    status.confirm = args_.confirm;
    if (args_.max_lifetime > 0) status.max_lifetime = args_.max_lifetime;
    for (const std::string& name : args_.forward) {
      agent::ForwardedProfile entry;
      entry.profile = name;
      if (auto session = open_session(name, args_.verbose)) {
        if (auto now = session->status(); now && now->tokens) {
          entry.logged_in = true;
          entry.expires_at = capped(now->tokens->expires_at);
        }
      }
      status.profiles.push_back(std::move(entry));
    }
    return agent::format_status_response(status);
  }

  // Asks on the agent's terminal, or without one on the desktop (a notification with Allow and
  // Deny) when there is a display; false without either, on any answer but y/yes or Allow, or
  // after the timeout.
  bool confirmed(const std::string& profile, const ucred& peer) {
    const std::string command = peer_command(peer.pid);
    const std::string question = "hand a token of profile \"" + profile + "\" to " +
                                 (command.empty() ? std::string("a process") : command) + " (pid " + std::to_string(peer.pid) + ")?";
    // One question at a time: the others wait for it (each wait is bounded).
    const std::lock_guard<std::mutex> hold(confirm_mutex_);
    const int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty < 0) {
      if (!desktop_confirmation_possible()) return false;
      std::string problem;
      const DesktopAnswer answer =
          ask_on_desktop("devicelogin agent: a remote host asks for a token", question + " (no answer within " +
                         std::to_string(helpers::kAgentConfirmTimeoutS) + " s is a no)",
                         helpers::kAgentConfirmTimeoutS * 1000, problem);
      if (answer == DesktopAnswer::kUnavailable) log("could not ask on the desktop: " + problem);
      return answer == DesktopAnswer::kAllowed;
    }
    const std::string prompt = "devicelogin agent: " + question + " [y/N] ";
    (void)!::write(tty, prompt.data(), prompt.size());
    std::string reply;
    const long long deadline = agent::monotonic_ms() + helpers::kAgentConfirmTimeoutS * 1000;
    while (reply.size() < 16) {
      const long long left = deadline - agent::monotonic_ms();
      if (left <= 0) break;
      pollfd entry{tty, POLLIN, 0};
      const int ready = ::poll(&entry, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      char c = 0;
      // poll() said a byte is there: this read does not wait.
      if (::read(tty, &c, 1) != 1 || c == '\n') break;  // NOLINT(clang-analyzer-unix.BlockInCriticalSection)
      reply.push_back(c);
    }
    const bool yes = reply == "y" || reply == "Y" || reply == "yes" || reply == "YES";
    if (!yes) (void)!::write(tty, "refused\n", 8);
    ::close(tty);
    return yes;
  }

  void serve_token(int fd, const agent::Request& request, const ucred& peer) {
    std::string profile = request.profile;
    if (profile.empty()) {
      auto chosen = resolve_profile("");
      if (!chosen) {
        answer(fd, agent::format_refusal(agent::Refusal::kInternal, render_error(chosen.error())));
        return;
      }
      profile = *chosen;
    }
    // Read per request: a policy installed or changed while the agent runs applies at once.
    if (auto refused = agent_refused_by_policy()) {
      log("refused a token of profile " + profile + ": " + sanitize_text(refused->message));
      record_refusal(profile, peer, false, refused->message);
      answer(fd, agent::format_refusal(agent::Refusal::kPolicy, policy_reason(*refused)));
      return;
    }
    if (std::ranges::find(args_.forward, profile) == args_.forward.end()) {
      log("refused a token of profile " + profile + ": not forwarded (--forward)");
      record_refusal(profile, peer, false, "not forwarded by this agent (--forward)");
      answer(fd, agent::format_refusal(agent::Refusal::kNotForwarded, "profile \"" + profile + "\" is not forwarded by this agent"));
      return;
    }
    if (args_.max_lifetime > 0 && request.min_ttl > args_.max_lifetime) {
      record_refusal(profile, peer, false, "a minimum lifetime beyond the agent's --max-lifetime");
      answer(fd, agent::format_refusal(agent::Refusal::kLifetime,
                                       "this agent hands out tokens for at most " + std::to_string(args_.max_lifetime) + " s"));
      return;
    }
    if (args_.confirm && !confirmed(profile, peer)) {
      log("refused a token of profile " + profile + " at the confirmation prompt");
      record_refusal(profile, peer, false, "refused at the agent's confirmation prompt");
      answer(fd, agent::format_refusal(agent::Refusal::kDenied, "refused at the agent's confirmation prompt"));
      return;
    }
    // The session records the hand-out (or its failure) itself, as consumer "agent" with the remote
    // request's details: one record per hand-out, with the token's id and whether it refreshed,
    // which only the session knows.
    auto session = open_session(profile, args_.verbose, "agent", remote_detail(peer, args_.confirm));
    // A request that names where the token goes (the remote `api`) gets one only for a place the
    // profile allows, by the library's own rule: the profile's allowed origins stay here.
    if (session && !request.url.empty()) {
      if (auto allowed = session->check_token_destination(request.url); !allowed) {
        log("refused a token of profile " + profile + " for a destination the profile does not allow");
        answer(fd, from_machine_policy(allowed.error())
                       ? agent::format_refusal(agent::Refusal::kPolicy, policy_reason(allowed.error()))
                       : agent::format_refusal(agent::Refusal::kDestination, allowed.error().message));
        return;
      }
    }
    auto token = session ? session->access_token(request.min_ttl) : Result<AccessToken>(std::unexpected(session.error()));
    if (!token) {
      log("no token of profile " + profile + ": " + render_error(token.error()));
      const agent::Refusal refusal = refusal_for(token.error());
      answer(fd, agent::format_refusal(refusal, refusal == agent::Refusal::kPolicy ? policy_reason(token.error())
                                                                                   : render_error(token.error())));
      return;
    }
    if (helpers::bearer_only(*token, "a remote host")) {
      token->wipe();
      log("refused a token of profile " + profile + ": it is bound to a DPoP key, which stays on this machine");
      record_refusal(profile, peer, args_.confirm, "bound to a DPoP key, which stays on this machine");
      answer(fd, agent::format_refusal(agent::Refusal::kBearerOnly, "the profile's token is bound to a DPoP key"));
      return;
    }
    token->expires_at = capped(token->expires_at);
    const Secret body = agent::format_token_response(*token);
    token->wipe();
    answer(fd, body.reveal());
    log("gave a token of profile " + profile + " (expires " + describe_expiry(token->expires_at) + ") to pid " + std::to_string(peer.pid));
  }

  AgentArgs args_;
  std::atomic<int> active_{0};
  std::mutex confirm_mutex_;
  std::mutex log_mutex_;
};

int g_stop_pipe_write = -1;

void on_stop(int /*signal*/) {
  const char byte = 0;
  (void)!::write(g_stop_pipe_write, &byte, 1);
}

// The path of this executable, for the service unit's ExecStart. Only characters that need no
// quoting in a unit file (systemd.service(5) expands '%', '$', quotes and backslashes).
Result<std::string> own_executable() {
  char buffer[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buffer) {
    return std::unexpected(Error{ErrorCode::kInternal, "cannot tell where this devicelogin executable is (/proc/self/exe)", "", 0});
  }
  std::string path(buffer, static_cast<std::size_t>(n));
  const bool plain = path.front() == '/' && std::ranges::all_of(path, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' ||
           c == '-' || c == '+';
  });
  if (!plain) {
    return std::unexpected(Error{ErrorCode::kConfig,
                                 "this devicelogin executable's path (" + sanitize_text(path) +
                                     ") has characters a systemd unit would interpret; install it at a plain path such as /usr/local/bin",
                                 "", 0});
  }
  return path;
}

// `agent --enable`: the socket unit (the agent's place, made by the service manager with the
// modes the agent checks) and the service that runs this agent with the user's choices.
int enable_agent(const AgentArgs& args, const std::string& forwarded) {
  auto exe = own_executable();
  if (!exe) return report_error("agent", exe.error());
  const std::string header = std::string(helpers::kAgentUnitMarker) + "; devicelogin agent --disable removes it.\n";
  const std::string socket_unit = header +
                                  "[Unit]\n"
                                  "Description=devicelogin token agent's socket (the agent starts on the first request)\n"
                                  "\n"
                                  "[Socket]\n"
                                  "ListenStream=%t/devicelogin/agent.sock\n"
                                  "SocketMode=0600\n"
                                  "DirectoryMode=0700\n"
                                  "\n"
                                  "[Install]\n"
                                  "WantedBy=sockets.target\n";
  std::string command = *exe + " agent --forward ";
  for (std::size_t i = 0; i < args.forward.size(); ++i) command += (i == 0 ? "" : ",") + args.forward[i];
  if (args.max_lifetime > 0) command += " --max-lifetime " + std::to_string(args.max_lifetime);
  if (args.confirm) command += " --confirm";
  const std::string service_unit = header +
                                   "[Unit]\n"
                                   "Description=devicelogin token agent (access tokens for remote hosts over ssh forwarding)\n"
                                   "Requires=" + std::string(helpers::kAgentSocketUnit) + "\n"
                                   "\n"
                                   "[Service]\n"
                                   "ExecStart=" + command + "\n"
                                   "UMask=0077\n"
                                   "NoNewPrivileges=yes\n";
  auto written = helpers::write_agent_units(socket_unit, service_unit);
  if (!written) return report_error("agent", written.error());
  say("devicelogin agent: " + std::string(written->changed ? "wrote" : "already up to date:") + " the systemd user units " +
      std::string(helpers::kAgentSocketUnit) + " and " + std::string(helpers::kAgentServiceUnit) + " in " + written->directory +
      " (forwarding " + forwarded + (args.max_lifetime > 0 ? ", tokens for at most " + std::to_string(args.max_lifetime) + " s" : "") +
      "); to listen now and at every login: systemctl --user daemon-reload && systemctl --user enable --now " +
      std::string(helpers::kAgentSocketUnit) + " (the agent then starts on the first request)");
  return 0;
}

int disable_agent() {
  auto removed = helpers::remove_agent_units();
  if (!removed) return report_error("agent", removed.error());
  if (!removed->changed) {
    say("devicelogin agent: no systemd user units of the agent to remove");
    return 0;
  }
  say("devicelogin agent: removed the systemd user units " + std::string(helpers::kAgentSocketUnit) + " and " +
      std::string(helpers::kAgentServiceUnit) + " from " + removed->directory + "; to stop one that runs now: systemctl --user stop " +
      std::string(helpers::kAgentSocketUnit) + " " + std::string(helpers::kAgentServiceUnit) + " && systemctl --user daemon-reload");
  return 0;
}

int run_agent(AgentArgs args) {
  auto usage = [](std::string message) { return report_error("agent", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  if (args.enable && args.disable) return usage("--enable and --disable exclude each other");
  if (args.disable) {
    if (!args.forward.empty() || args.max_lifetime != 0 || args.confirm || args.daemon) {
      return usage("--disable takes no other option: it removes the units --enable wrote");
    }
    return disable_agent();
  }
  if (args.forward.empty()) return usage("--forward needs the profiles the agent may hand tokens of, such as --forward work,gh");
  for (const std::string& name : args.forward) {
    if (!valid_profile_name(name)) return usage("--forward: not a valid profile name: " + sanitize_text(name));
  }
  // At most a year: the cap is added to the clock (a larger value would overflow it).
  if (args.max_lifetime < 0 || args.max_lifetime > 366LL * 24 * 3600) {
    return usage("--max-lifetime must be 0 (no limit) or up to 31622400 seconds (a year)");
  }
  // Without a terminal, --confirm asks on the desktop; with neither, nobody could say yes.
  if (args.daemon && args.confirm && !desktop_confirmation_possible()) {
    return usage("--confirm asks on the agent's terminal, which a --daemon agent does not have, or on the desktop, which there is not "
                 "(DISPLAY and WAYLAND_DISPLAY are unset)");
  }
  std::string forwarded;
  for (const auto& name : args.forward) forwarded += (forwarded.empty() ? "" : ", ") + name;
  if (args.enable) {
    if (args.daemon) return usage("--enable writes units for the service manager, which runs the agent itself (no --daemon)");
    if (args.confirm && !desktop_confirmation_possible()) {
      return usage("--confirm: an agent the service manager starts has no terminal, and there is no desktop to ask on "
                   "(DISPLAY and WAYLAND_DISPLAY are unset)");
    }
    if (auto refused = agent_refused_by_policy()) return report_error("agent", *refused);
    return enable_agent(args, forwarded);
  }

  // Socket activation: the service manager made the socket and passes it; else the agent makes it.
  auto inherited = helpers::inherited_agent_socket();
  if (!inherited) return report_error("agent", inherited.error());
  const bool activated = inherited->has_value();
  if (activated && args.daemon) return usage("--daemon: this agent was started by socket activation, which runs it already");
  // Started by hand, an agent the policy forbids says so at once; started on demand, it answers
  // each request with the refusal instead, so that the remote side learns why.
  if (!activated) {
    if (auto refused = agent_refused_by_policy()) return report_error("agent", *refused);
  }
  auto place = helpers::claim_agent_place(activated);
  if (!place) return report_error("agent", place.error());
  int listen_fd = -1;
  if (activated) {
    listen_fd = **inherited;
  } else {
    listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, place->socket_path.data(), place->socket_path.size());
    // The socket is made 0600 (bind honours the umask), in the 0700 directory.
    const mode_t old_mask = ::umask(0177);
    const bool bound = listen_fd >= 0 && ::bind(listen_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    const int bind_errno = errno;
    ::umask(old_mask);
    if (!bound || ::chmod(place->socket_path.c_str(), 0600) != 0 || ::listen(listen_fd, 64) != 0) {
      return report_error("agent", Error{ErrorCode::kStorage,
                                         "cannot listen on " + sanitize_text(place->socket_path) + ": " + std::strerror(bind_errno), "", 0});  // NOLINT(concurrency-mt-unsafe)
    }
  }
  int stop_pipe[2];
  if (::pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return report_error("agent", Error{ErrorCode::kInternal, "cannot make a pipe", "", 0});
  }
  g_stop_pipe_write = stop_pipe[1];

  if (args.daemon) {
    const pid_t child = ::fork();
    if (child < 0) return report_error("agent", Error{ErrorCode::kInternal, "cannot start in the background (fork failed)", "", 0});
    if (child > 0) {
      say("devicelogin agent: listening on " + place->socket_path + " (pid " + std::to_string(child) + "), forwarding " + forwarded);
      (void)std::fflush(nullptr);
      ::_exit(0);  // the child owns the socket and the lock now
    }
    ::setsid();
    if (::chdir("/") != 0) { /* the agent keeps no relative path */ }
    if (const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC); null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
      ::close(null_fd);
    }
  } else {
    say("devicelogin agent: " + std::string(activated ? "started by socket activation on " : "listening on ") +
        place->socket_path + ", forwarding " + forwarded +
        (args.max_lifetime > 0 ? " (tokens for at most " + std::to_string(args.max_lifetime) + " s)" : std::string()) +
        (args.confirm ? ", asking before each" : "") + (activated ? "" : "; Ctrl-C stops it"));
  }
  struct sigaction action{};
  action.sa_handler = on_stop;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGHUP, &action, nullptr);
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);

  auto* agent = new Agent(std::move(args));  // outlives its detached connection threads: never freed
  agent->serve(listen_fd, stop_pipe[0]);
  ::close(listen_fd);
  // An activated agent's socket is the service manager's: it keeps listening for the next start.
  if (!activated) ::unlink(place->socket_path.c_str());
  say("devicelogin agent: stopped");
  (void)std::fflush(nullptr);
  // Connection threads may still be running; they use the Session facade, whose statics a normal
  // exit would destroy under them.
  if (agent->active() > 0) ::_exit(0);
  ::close(place->lock_fd);
  return 0;
}

}  // namespace

void setup_agent(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AgentArgs>();
  CLI::App* cmd = app.add_subcommand(
      "agent",
      "Serve access tokens to remote hosts over ssh's socket forwarding: listens on "
      "$XDG_RUNTIME_DIR/devicelogin/agent.sock (this user only) and hands out access tokens of the --forward "
      "profiles, refreshed here; the refresh token and DPoP keys never leave this machine. On the remote host, "
      "DEVICELOGIN_AGENT names the forwarded socket (devicelogin setup-ssh)");
  cmd->add_option("--forward", args->forward, "The profiles whose tokens may be handed out (comma-separated; required)")
      ->delimiter(',');
  cmd->add_option("--max-lifetime", args->max_lifetime,
                  "Report tokens as expiring at most this many seconds after they are handed out (0: no limit)");
  cmd->add_flag("--confirm", args->confirm,
                "Ask y/N on this terminal before each token is handed out (without a terminal, in a desktop notification "
                "when there is a display)");
  cmd->add_flag("--daemon", args->daemon, "Run in the background (the socket is ready when the command returns)");
  cmd->add_flag("--enable", args->enable,
                "Start the agent on demand: write systemd user units (a socket, and a service running the agent with "
                "these options) that start it on the first request, and say how to turn them on");
  cmd->add_flag("--disable", args->disable, "Remove the units --enable wrote");
  add_verbose_flag(*cmd, args->verbose);
  cmd->callback([args, &exit_code] { exit_code = run_agent(*args); });
}

}  // namespace devicelogin::cli
