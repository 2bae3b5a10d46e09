#include "connection.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace devicelogin::devserver {

// Time here is std::chrono::steady_clock, not the server's Clock: these are I/O deadlines (how
// long a socket may take to deliver a request, the linger before a close) that bound real waits
// on real sockets. Protocol time (expiry, intervals, sessions, tokens) is the Clock's, in the
// handlers.

namespace {

constexpr std::size_t kReadBufferBytes = 4096;

// A request cut inside its request line never reaches httplib's response path (its line reader
// just fails), so the connection loop answers it itself.
std::string cut_answer(Overflow cut) {
  const CutAnswer answer = cut_answer_for(cut);
  std::string body = R"({"error":"invalid_request","error_description":")" + std::string(answer.description) + "\"}";
  return "HTTP/1.1 " + std::to_string(answer.status) + " " + std::string(answer.reason) +
         "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Address {
  std::string ip;
  int port = -1;
};

Address address_of(int sock, bool peer) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  auto* raw = reinterpret_cast<sockaddr*>(&storage);
  if ((peer ? getpeername(sock, raw, &length) : getsockname(sock, raw, &length)) != 0) return {};
  std::array<char, NI_MAXHOST> host{};
  std::array<char, NI_MAXSERV> service{};
  if (getnameinfo(raw, length, host.data(), host.size(), service.data(), service.size(),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return {};
  }
  return {host.data(), static_cast<int>(std::strtol(service.data(), nullptr, 10))};  // NI_NUMERICSERV: digits
}

void set_timeout(int sock, int option, time_t seconds, time_t microseconds) {
  timeval value{seconds, static_cast<suseconds_t>(microseconds)};
  setsockopt(sock, SOL_SOCKET, option, &value, sizeof value);
}

// After answering a request it stopped reading, the server must not close at once: closing a
// socket with unread input sends a reset, which can destroy the answer before the client reads it
// (RFC 9112 §9.6). So it ends its side, then reads and discards for a bounded time and amount.
void linger_before_close(int sock) {
  ::shutdown(sock, SHUT_WR);
  constexpr auto kLinger = std::chrono::seconds(2);
  constexpr std::size_t kMaxDiscarded = 4 * 1024 * 1024;
  auto deadline = std::chrono::steady_clock::now() + kLinger;
  std::array<char, 16 * 1024> sink{};
  std::size_t discarded = 0;
  while (discarded < kMaxDiscarded) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd entry{sock, POLLIN, 0};
    int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t received = ::recv(sock, sink.data(), sink.size(), MSG_DONTWAIT);
    if (received == 0) break;
    if (received < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      break;
    }
    discarded += static_cast<std::size_t>(received);
  }
}

// One connection's socket, read through a buffer that outlives each request, with the byte
// budgets described in connection.hpp. httplib reads a request head one byte at a time (its line
// reader), so counting the head byte by byte costs a compare per byte and nothing more.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, std::size_t max_head, std::size_t max_body, int read_timeout_ms,
                   std::chrono::milliseconds request_time)
      : sock_(sock),
        max_head_(max_head),
        max_body_(max_body),
        read_timeout_ms_(read_timeout_ms),
        request_time_(request_time) {}

  // Resets the budgets; called before httplib reads each request.
  void begin_request() {
    began_ = std::chrono::steady_clock::now();
    deadline_ = began_ + request_time_;
    close_after_answer_ = false;
    in_head_ = true;
    head_bytes_ = 0;
    body_bytes_ = 0;
    line_index_ = 0;
    line_length_ = 0;
    line_first_ = 0;
    written_ = 0;
  }

  [[nodiscard]] Overflow overflow() const { return overflow_; }
  void close_after_answer() { close_after_answer_ = true; }
  [[nodiscard]] bool closing_after_answer() const { return close_after_answer_; }
  [[nodiscard]] std::size_t written_this_request() const { return written_; }
  void shut_down() const { ::shutdown(sock_, SHUT_RDWR); }

  // Waits up to timeout_ms for the first byte of another request: true when one is buffered or
  // arrives, false on timeout, end of stream or error.
  bool wait_for_request(int timeout_ms) {
    if (begin_ < end_) return true;
    ssize_t received = fill(false);
    if (received > 0) return true;
    if (received == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd entry{sock_, POLLIN, 0};
      int ready = ::poll(&entry, 1, static_cast<int>(std::max<long long>(left.count(), 0)));
      if (ready < 0 && errno == EINTR) continue;
      return ready > 0;
    }
  }

  bool is_readable() const override {
    if (begin_ < end_) return true;
    pollfd entry{sock_, POLLIN, 0};
    return ::poll(&entry, 1, read_timeout_ms_) > 0;
  }

  bool is_writable() const override { return !write_failed_; }

  ssize_t read(char* ptr, size_t size) override {
    if (overflow_ != Overflow::kNone) return -1;
    if (size == 0) return 0;
    if (begin_ == end_) {
      if (!in_head_ && size >= kReadBufferBytes) {
        // A large body read goes straight to the caller's buffer, asking for at most one byte
        // past the budget (body_bytes_ <= max_body_ here: past it, overflow_ is set).
        const std::size_t room = max_body_ - body_bytes_;
        ssize_t received = receive(ptr, size <= room ? size : room + 1);
        if (received > 0 && !count_body(static_cast<std::size_t>(received))) return -1;
        return received;
      }
      ssize_t received = fill(true);
      if (received <= 0) return received;
    }
    std::size_t available = std::min(size, end_ - begin_);
    if (in_head_) {
      available = count_head(available);
      if (available == 0) return -1;
    } else if (!count_body(available)) {
      return -1;
    }
    std::memcpy(ptr, buffer_.data() + begin_, available);
    begin_ += available;
    return static_cast<ssize_t>(available);
  }

  // Writes fail once the request has taken twice its time: a client that pipelines many
  // requests and then reads the answers slowly (each send needs only some progress within the
  // socket's write timeout) cannot hold the thread for long either.
  ssize_t write(const char* ptr, size_t size) override {
    if (write_failed_) return -1;
    if (std::chrono::steady_clock::now() - began_ > 2 * request_time_) {
      write_failed_ = true;
      return -1;
    }
    ssize_t sent = 0;
    do {
      sent = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      write_failed_ = true;
      return -1;
    }
    written_ += static_cast<std::size_t>(sent);
    return sent;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (!peer_) peer_ = address_of(sock_, true);
    ip = peer_->ip;
    port = peer_->port;
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (!local_) local_ = address_of(sock_, false);
    ip = local_->ip;
    port = local_->port;
  }

  socket_t socket() const override { return sock_; }

 private:
  // A blocking read for the request: refused once the request has taken longer than its time,
  // so that a client trickling bytes (each within the socket's read timeout) cannot hold a
  // worker thread for long.
  ssize_t receive(char* into, std::size_t size) {
    if (std::chrono::steady_clock::now() > deadline_) {
      overflow_ = Overflow::kTime;
      return -1;
    }
    ssize_t received = 0;
    do {
      received = ::recv(sock_, into, size, 0);
    } while (received < 0 && errno == EINTR);
    return received;
  }

  // Refills the empty buffer, without waiting (between requests) or as a read of the request;
  // recv's result (errno set when negative).
  ssize_t fill(bool wait) {
    ssize_t received = 0;
    if (wait) {
      received = receive(buffer_.data(), buffer_.size());
    } else {
      do {
        received = ::recv(sock_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
      } while (received < 0 && errno == EINTR);
    }
    begin_ = 0;
    end_ = received > 0 ? static_cast<std::size_t>(received) : 0;
    return received;
  }

  // Counts up to `available` buffered head bytes, stopping after the line break that ends the
  // header section (a line holding only "\r", after the request line, as httplib's reader splits
  // lines). Returns how many bytes may be handed over; 0 when the head budget is spent.
  std::size_t count_head(std::size_t available) {
    for (std::size_t i = 0; i < available; ++i) {
      if (++head_bytes_ > max_head_) {
        if (i > 0) return i;  // hand over what fits; the next read fails
        overflow_ = Overflow::kHead;
        return 0;
      }
      char c = buffer_[begin_ + i];
      if (c != '\n') {
        if (line_length_++ == 0) line_first_ = c;
        continue;
      }
      if (line_index_ > 0 && line_length_ == 1 && line_first_ == '\r') {
        in_head_ = false;
        return i + 1;
      }
      ++line_index_;
      line_length_ = 0;
    }
    return available;
  }

  bool count_body(std::size_t bytes) {
    body_bytes_ += bytes;
    if (body_bytes_ <= max_body_) return true;
    overflow_ = Overflow::kBody;
    return false;
  }

  int sock_;
  std::size_t max_head_;
  std::size_t max_body_;
  int read_timeout_ms_;
  std::chrono::milliseconds request_time_;
  std::chrono::steady_clock::time_point began_{};
  std::chrono::steady_clock::time_point deadline_{};
  bool close_after_answer_ = false;
  std::array<char, kReadBufferBytes> buffer_{};
  std::size_t begin_ = 0;
  std::size_t end_ = 0;

  bool in_head_ = true;
  std::size_t head_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  std::size_t line_index_ = 0;
  std::size_t line_length_ = 0;
  char line_first_ = 0;
  std::size_t written_ = 0;
  bool write_failed_ = false;
  Overflow overflow_ = Overflow::kNone;

  mutable std::optional<Address> peer_;
  mutable std::optional<Address> local_;
};

// The stream the current server thread is reading; handlers run on the same thread.
thread_local ConnectionStream* current_stream = nullptr;

}  // namespace

CutAnswer cut_answer_for(Overflow cut) {
  switch (cut) {
    case Overflow::kTime: return {408, "Request Timeout", "request not received in time"};
    case Overflow::kBody: return {413, "Payload Too Large", "request body too large"};
    case Overflow::kHead:
    case Overflow::kNone: break;
  }
  return {431, "Request Header Fields Too Large", "request header section too large"};
}

BoundedHttpServer::BoundedHttpServer(std::size_t max_head_bytes, std::size_t max_body_wire_bytes,
                                     std::chrono::milliseconds request_time)
    : max_head_bytes_(max_head_bytes), max_body_wire_bytes_(max_body_wire_bytes), request_time_(request_time) {}

Overflow BoundedHttpServer::overflow() {
  return current_stream == nullptr ? Overflow::kNone : current_stream->overflow();
}

void BoundedHttpServer::close_after_answer(httplib::Response& res) {
  res.set_header("Connection", "close");
  if (current_stream != nullptr) current_stream->close_after_answer();
}

void BoundedHttpServer::drop_current_connection() {
  if (current_stream != nullptr) current_stream->shut_down();
}

bool BoundedHttpServer::process_and_close_socket(socket_t sock) {
  set_timeout(sock, SO_RCVTIMEO, read_timeout_sec_, read_timeout_usec_);
  set_timeout(sock, SO_SNDTIMEO, write_timeout_sec_, write_timeout_usec_);
  const int read_timeout_ms = static_cast<int>(read_timeout_sec_ * 1000 + read_timeout_usec_ / 1000);
  const int keep_alive_ms = static_cast<int>(keep_alive_timeout_sec_ * 1000);
  ConnectionStream stream(sock, max_head_bytes_, max_body_wire_bytes_, read_timeout_ms, request_time_);
  struct Current {
    explicit Current(ConnectionStream* s) { current_stream = s; }
    Current(const Current&) = delete;
    Current& operator=(const Current&) = delete;
    ~Current() { current_stream = nullptr; }
  } current(&stream);

  bool ok = false;
  std::size_t remaining = keep_alive_max_count_;
  while (svr_sock_ != INVALID_SOCKET && remaining > 0 && stream.wait_for_request(keep_alive_ms)) {
    stream.begin_request();
    bool connection_closed = false;
    ok = process_request(stream, remaining == 1, connection_closed, nullptr);
    if (stream.overflow() != Overflow::kNone) {
      if (stream.written_this_request() == 0) {
        std::string answer = cut_answer(stream.overflow());
        std::string_view rest = answer;
        for (ssize_t sent = 0; !rest.empty() && (sent = stream.write(rest.data(), rest.size())) > 0;) {
          rest.remove_prefix(static_cast<std::size_t>(sent));
        }
      }
      break;
    }
    if (!ok || connection_closed || stream.closing_after_answer() || !stream.is_writable()) break;
    --remaining;
  }

  // Input may be left unread (a cut request, or an answer given before the body was read).
  if (stream.overflow() != Overflow::kNone || stream.closing_after_answer()) linger_before_close(sock);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace devicelogin::devserver
