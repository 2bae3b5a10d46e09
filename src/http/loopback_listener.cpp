#include "http/loopback_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/clock.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin::http {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// Whole seconds of polling are never slept: Ctrl-C (request_stop) must end the wait quickly.
constexpr std::chrono::milliseconds kPollSlice{100};

// What one connection is doing.
struct Connection {
  enum class State { kReading, kWriting, kDraining };
  int fd = -1;
  State state = State::kReading;
  SteadyTime timeout_at{};
  std::string in;           // the request head read so far (may hold the code: wiped on close)
  std::string out;          // the answer
  std::size_t sent = 0;
  bool finishes = false;    // the answer to the awaited request: stop once it is sent
};

void close_connection(Connection& connection) {
  if (connection.fd >= 0) ::close(connection.fd);
  connection.fd = -1;
  wipe_string(connection.in);
}

bool peer_is_loopback(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (peer.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
    if (IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr) && v6.sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Status";
  }
}

std::string http_answer(int status, const std::string& html, bool with_body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  out += "Content-Type: text/html; charset=utf-8\r\n";
  out += "Content-Length: " + std::to_string(html.size()) + "\r\n";
  // The page follows a URL that carried a code: nothing of it is kept, sent on, or framed.
  out += "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n";
  out += "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'\r\n";
  out += "Connection: close\r\n\r\n";
  if (with_body) out += html;
  return out;
}

// The request line of a complete head: "METHOD SP TARGET SP HTTP/1.x". False when malformed.
bool parse_request_line(std::string_view head, std::string_view& method, std::string_view& target) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const std::size_t first = line.find(' ');
  if (first == std::string_view::npos || first == 0) return false;
  const std::size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos || second == first + 1) return false;
  const std::string_view version = line.substr(second + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return false;
  method = line.substr(0, first);
  target = line.substr(first + 1, second - first - 1);
  return target.front() == '/';
}

}  // namespace

std::string listener_page(std::string_view title, std::string_view text) {
  auto escaped = [](std::string_view raw) {
    std::string out;
    for (char c : raw) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out.push_back(c);
      }
    }
    return out;
  };
  std::string page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + escaped(title) +
                     "</title><style>body{font-family:sans-serif;max-width:36em;margin:4em auto;padding:0 1em}</style>"
                     "</head><body><h1>" + escaped(title) + "</h1><p>" + escaped(text) + "</p></body></html>";
  return page;
}

Result<LoopbackListener> LoopbackListener::open() {
  auto bind_on = [](bool ipv6) -> int {
    const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc = -1;
    if (ipv6) {
      const int only = 1;
      (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
      sockaddr_in6 address{};
      address.sin6_family = AF_INET6;
      address.sin6_addr = in6addr_loopback;
      rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    } else {
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    }
    if (rc != 0 || ::listen(fd, 16) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  };
  // RFC 8252 §7.3: the loopback IP literal, not "localhost" (which a resolver might send elsewhere).
  bool ipv6 = false;
  int fd = bind_on(false);
  if (fd < 0) {
    ipv6 = true;
    fd = bind_on(true);
  }
  if (fd < 0) {
    return fail(ErrorCode::kNetwork, std::string("cannot listen on a loopback port for the browser's answer: ") +
                                         std::strerror(errno));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    ::close(fd);
    return fail(ErrorCode::kNetwork, "cannot read the loopback port the kernel chose");
  }
  const int port = ipv6 ? ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port)
                        : ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
  return LoopbackListener(fd, port, ipv6);
}

LoopbackListener::LoopbackListener(LoopbackListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_), ipv6_(other.ipv6_) {}

LoopbackListener& LoopbackListener::operator=(LoopbackListener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
    ipv6_ = other.ipv6_;
  }
  return *this;
}

LoopbackListener::~LoopbackListener() {
  if (fd_ >= 0) ::close(fd_);
}

std::string LoopbackListener::url(std::string_view path) const {
  return std::string(ipv6_ ? "http://[::1]:" : "http://127.0.0.1:") + std::to_string(port_) + std::string(path);
}

Result<void> LoopbackListener::serve(const ListenerJudge& judge, SteadyTime deadline,
                                     const std::function<bool()>& cancelled) {
  if (fd_ < 0) return fail(ErrorCode::kInternal, "the loopback listener is closed");
  std::vector<Connection> connections;
  auto close_all = [&] {
    for (Connection& connection : connections) close_connection(connection);
    connections.clear();
    ::close(fd_);
    fd_ = -1;
  };
  auto answer_with = [](Connection& connection, int status, const std::string& html, bool with_body) {
    connection.out = http_answer(status, html, with_body);
    connection.sent = 0;
    connection.state = Connection::State::kWriting;
    wipe_string(connection.in);
  };
  std::vector<pollfd> polled;
  for (;;) {
    if (stop_requested() || (cancelled && cancelled())) {
      close_all();
      return fail(ErrorCode::kCancelled, "login cancelled");
    }
    const SteadyTime now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      close_all();
      return fail(ErrorCode::kExpiredToken, "the browser did not come back with an answer in time");
    }
    // A connection that has not finished its head (or taken its answer) in time is dropped: a
    // slow client cannot hold a place for long.
    for (Connection& connection : connections) {
      if (now >= connection.timeout_at) close_connection(connection);
    }
    std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });

    polled.clear();
    polled.push_back(pollfd{fd_, POLLIN, 0});
    for (const Connection& connection : connections) {
      polled.push_back(pollfd{connection.fd, static_cast<short>(connection.state == Connection::State::kWriting ? POLLOUT : POLLIN), 0});
    }
    const auto wait = std::min<std::chrono::steady_clock::duration>(kPollSlice, deadline - now);
    const int timeout_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()) + 1;
    const int ready = ::poll(polled.data(), polled.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      close_all();
      return fail(ErrorCode::kNetwork, std::string("waiting for the browser's answer failed: ") + std::strerror(errno));
    }
    if (ready == 0) continue;

    for (std::size_t i = 1; i < polled.size(); ++i) {
      if (polled[i].revents == 0) continue;
      Connection& connection = connections[i - 1];
      if (connection.state == Connection::State::kWriting) {
        const ssize_t n = ::send(connection.fd, connection.out.data() + connection.sent, connection.out.size() - connection.sent,
                                 MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
          if (connection.finishes) {
            // The browser went away before the page reached it; the answer it carried stands.
            close_all();
            return {};
          }
          close_connection(connection);
          continue;
        }
        connection.sent += static_cast<std::size_t>(n);
        if (connection.sent < connection.out.size()) continue;
        if (connection.finishes) {
          ::shutdown(connection.fd, SHUT_WR);
          close_all();
          return {};
        }
        // Half-close and read what the client still sends (a huge query), so that it sees the
        // answer rather than a reset.
        ::shutdown(connection.fd, SHUT_WR);
        connection.state = Connection::State::kDraining;
        continue;
      }
      char chunk[4096];
      const ssize_t n = ::recv(connection.fd, chunk, sizeof chunk, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        close_connection(connection);
        continue;
      }
      if (connection.state == Connection::State::kDraining) continue;
      connection.in.append(chunk, static_cast<std::size_t>(n));
      std::memset(chunk, 0, sizeof chunk);
      const std::size_t head_end = connection.in.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        if (connection.in.size() > kMaxRequestHeadBytes) {
          answer_with(connection, 400, listener_page("Request too large", "This address only takes the sign-in answer."), true);
        }
        continue;
      }
      if (head_end + 4 > kMaxRequestHeadBytes) {
        answer_with(connection, 400, listener_page("Request too large", "This address only takes the sign-in answer."), true);
        continue;
      }
      std::string_view method;
      std::string_view target;
      if (!parse_request_line(std::string_view(connection.in).substr(0, head_end), method, target)) {
        answer_with(connection, 400, listener_page("Bad request", "This address only takes the sign-in answer."), true);
        continue;
      }
      const bool head = method == "HEAD";
      ListenerAnswer answer = judge(method, target);
      connection.finishes = answer.done;
      answer_with(connection, answer.status, answer.html, !head);
    }
    std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });

    if ((polled[0].revents & POLLIN) != 0) {
      for (;;) {
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        const int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (!peer_is_loopback(peer)) {
          ::close(fd);
          continue;
        }
        if (connections.size() >= kMaxConnections) {
          // The oldest connection is the likeliest to be a stalled one.
          close_connection(connections.front());
          connections.erase(connections.begin());
        }
        Connection connection;
        connection.fd = fd;
        connection.timeout_at = std::chrono::steady_clock::now() + kConnectionTimeout;
        connection.in.reserve(kMaxRequestHeadBytes + sizeof(char[4096]));
        connections.push_back(std::move(connection));
      }
    }
  }
}

}  // namespace devicelogin::http
