// Whole HTTP requests to a running dev server: the request head limits of its connection loop,
// the form and JSON bodies of every endpoint, and the approval page's forms. One in-process server
// on 127.0.0.1 and an ephemeral port serves the whole run; each input is written to a fresh
// connection, the write side is shut, and the answer is read to the end. The server must answer
// or close within its deadlines and keep serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "devserver/server.hpp"
#include "fuzz_input.hpp"

namespace {

std::unique_ptr<devicelogin::devserver::Server> server;

[[noreturn]] void die(const char* what, int error) {
  std::fprintf(stderr, "devserver_request: %s: %s\n", what, std::strerror(error));
  std::abort();
}

// A connection to the server. The machine's own limits (no ephemeral port free while earlier
// connections sit in TIME_WAIT, a full file table) are waited out, up to ten seconds; a refused
// connection means the server stopped listening, which is the bug this target looks for.
int connect_to_server() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int attempt = 0;; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int error = fd < 0 ? errno : 0;
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return fd;
    if (fd >= 0) {
      error = errno;
      ::close(fd);
    }
    const bool machine_limit = error == EADDRNOTAVAIL || error == EAGAIN || error == EINTR || error == EMFILE ||
                               error == ENFILE || error == ENOBUFS;
    if (!machine_limit) die("connecting to the dev server", error);
    if (attempt >= 1000) die("connecting to the dev server (10 s of retries)", error);
    ::usleep(10'000);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  devicelogin::devserver::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.interval = 0;
  options.auto_approve_delay = 0.0;
  options.max_request_ms = 500;
  options.threads = 4;
  auto started = devicelogin::devserver::Server::start(std::move(options));
  if (!started) std::abort();
  server = std::move(*started);
  std::atexit([] { server.reset(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int fd = connect_to_server();
  for (std::size_t sent = 0; sent < size;) {
    auto n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may cut a request it refuses before reading it all
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  // Read to the end: the server answers and closes once it sees the end of the input. Ten seconds
  // of silence is a hang (its own request deadline is 0.5 s here).
  char buffer[16 * 1024];
  for (;;) {
    pollfd ready{fd, POLLIN, 0};
    int polled = ::poll(&ready, 1, 10'000);
    if (polled == 0) {
      std::fprintf(stderr, "devserver_request: no answer and no close within 10 s\n");
      std::abort();
    }
    if (polled < 0) continue;
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
  }
  ::close(fd);
  return 0;
}
