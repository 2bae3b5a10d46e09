// The dev server's connection loop (devserver/connection.hpp) over raw sockets: byte budgets for
// request heads and bodies, pipelining, keep-alive, and the drop fault.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "devserver/server.hpp"
#include "test_server.hpp"

namespace devicelogin::devserver {
namespace {

using std::chrono::steady_clock;

using testing::start;

// A plain TCP connection to the server, to send what no HTTP client library would.
class Raw {
 public:
  explicit Raw(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }

  [[nodiscard]] bool connected() const { return connected_; }

  // Sends all of `data`; false once the server has closed or reset the connection.
  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // One whole answer (head, then Content-Length bytes of body), waiting up to 10 s; what follows
  // it stays buffered for the next call. Empty when the connection closes or time runs out first.
  std::string read_response() {
    auto deadline = steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      std::size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::size_t length = 0;
        std::string head = pending_.substr(0, head_end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos) {
          length = std::stoul(head.substr(at + 17));
        }
        if (pending_.size() >= head_end + 4 + length) {
          std::string answer = pending_.substr(0, head_end + 4 + length);
          pending_.erase(0, answer.size());
          return answer;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
      pollfd entry{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&entry, 1, static_cast<int>(left.count())) <= 0) return {};
      char buffer[4096];
      ssize_t received = ::recv(fd_, buffer, sizeof buffer, 0);
      if (received <= 0) return {};
      pending_.append(buffer, static_cast<std::size_t>(received));
    }
  }

  // Everything the server sends until it closes the connection or `quiet` passes without a byte
  // (at most 10 s in all).
  std::string read_until_closed_or_quiet(std::chrono::milliseconds quiet, bool* closed = nullptr) {
    std::string out = std::move(pending_);
    pending_.clear();
    auto deadline = steady_clock::now() + std::chrono::seconds(10);
    if (closed != nullptr) *closed = false;
    while (steady_clock::now() < deadline) {
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, static_cast<int>(quiet.count())) <= 0) break;
      char buffer[4096];
      ssize_t received = ::recv(fd_, buffer, sizeof buffer, 0);
      if (received <= 0) {
        if (closed != nullptr) *closed = true;
        break;
      }
      out.append(buffer, static_cast<std::size_t>(received));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string pending_;
};

int count_of(std::string_view text, std::string_view needle) {
  int count = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

std::string status_line(std::string_view answer) {
  return std::string(answer.substr(0, answer.find("\r\n")));
}

// The answer's status is one the server is healthy enough to give: a fresh connection is served.
void expect_still_serving(const Server& server) {
  Raw raw(server.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send_all("GET /jwks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(status_line(raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000))), "HTTP/1.1 200 OK");
}

TEST(DevServerConnection, EndlessHeaderLinesAreCutAt431AndTheConnectionClosed) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send_all("GET /jwks HTTP/1.1\r\nHost: x\r\n"));
  // 64 MiB of short header lines if the server kept reading; it stops after 16 KiB.
  std::string lines;
  for (int i = 0; i < 1000; ++i) lines += "X-Filler: " + std::string(50, 'a') + "\r\n";
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) refused = !raw.send_all(lines);
  EXPECT_TRUE(refused) << "the server read 64 MiB of header lines";
  bool closed = false;
  std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
  EXPECT_EQ(status_line(answer), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(answer.find("request header section too large"), std::string::npos);
  EXPECT_TRUE(closed);
  expect_still_serving(*server);
}

TEST(DevServerConnection, AnEndlessRequestLineIsCutAt431) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  bool refused = !raw.send_all("GET /");
  std::string chunk(64 * 1024, 'a');
  for (int i = 0; i < 1000 && !refused; ++i) refused = !raw.send_all(chunk);
  EXPECT_TRUE(refused) << "the server read 64 MiB of request line";
  bool closed = false;
  std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
  EXPECT_EQ(status_line(answer), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_NE(answer.find("\"error\":\"invalid_request\""), std::string::npos);
  EXPECT_TRUE(closed);
  expect_still_serving(*server);
}

TEST(DevServerConnection, AHeadJustUnderTheLimitIsServed) {
  ServerOptions options;
  options.max_header_bytes = 4096;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  std::string head = "GET /jwks HTTP/1.1\r\nHost: x\r\n";
  const std::string end = "\r\n";
  std::string filler = "X-Filler: ";
  // Request line, Host, one filler line and the blank line: exactly 4096 bytes.
  filler += std::string(4096 - head.size() - end.size() - filler.size() - 2, 'a') + "\r\n";
  ASSERT_EQ(head.size() + filler.size() + end.size(), 4096u);
  {
    Raw raw(server->port());
    ASSERT_TRUE(raw.send_all(head + filler + end));
    EXPECT_EQ(status_line(raw.read_response()), "HTTP/1.1 200 OK");
  }
  {
    Raw raw(server->port());
    ASSERT_TRUE(raw.send_all(head + "X" + filler + end));  // one byte over
    EXPECT_EQ(status_line(raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000))),
              "HTTP/1.1 431 Request Header Fields Too Large");
  }
}

TEST(DevServerConnection, AnEndlessChunkedBodyIsCutAt413) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.send_all("POST /token HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"));
  std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) refused = !raw.send_all(chunk);  // 64 MiB
  EXPECT_TRUE(refused) << "the server read a 64 MiB chunked body";
  bool closed = false;
  std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
  EXPECT_EQ(status_line(answer), "HTTP/1.1 413 Payload Too Large");
  EXPECT_NE(answer.find("request body too large"), std::string::npos);
  EXPECT_TRUE(closed);
  expect_still_serving(*server);
}

// A client that trickles its request, each byte well within the 5 s read timeout, is cut off
// once the request has taken longer than max_request_ms: in the request line and in the headers.
TEST(DevServerConnection, ATrickledRequestIsCutAt408) {
  ServerOptions options;
  options.max_request_ms = 300;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  for (std::string_view start : {"GET /jwks", "GET /jwks HTTP/1.1\r\nHost: x\r\nX-Slow: "}) {
    Raw raw(server->port());
    ASSERT_TRUE(raw.send_all(start));
    auto began = steady_clock::now();
    bool refused = false;
    for (int i = 0; i < 40 && !refused; ++i) {  // up to 4 s
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      refused = !raw.send_all("a");
      if (steady_clock::now() - began > std::chrono::milliseconds(1500)) break;
    }
    bool closed = false;
    std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
    EXPECT_EQ(status_line(answer), "HTTP/1.1 408 Request Timeout") << start;
    EXPECT_NE(answer.find("request not received in time"), std::string::npos) << start;
    EXPECT_TRUE(closed) << start;
    EXPECT_LT(steady_clock::now() - began, std::chrono::seconds(5)) << start;
  }
  expect_still_serving(*server);
}

// A body under the limit, read in large pieces straight into httplib's buffer, leaves the
// connection usable for the next request.
TEST(DevServerConnection, ALargeBodyUnderTheLimitIsReadAndTheConnectionKept) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  std::string body(60 * 1024, 'a');
  ASSERT_TRUE(raw.send_all("POST /userinfo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body));
  std::string first = raw.read_response();
  EXPECT_EQ(status_line(first), "HTTP/1.1 401 Unauthorized");  // no access token: read, then refused
  ASSERT_TRUE(raw.send_all("GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(status_line(raw.read_response()), "HTTP/1.1 200 OK");
}

// cpp-httplib 0.11 checks the body limit against Content-Length only; a chunked body over it
// must still be refused, by its decoded size.
TEST(DevServerConnection, AChunkedBodyOverTheLimitIs413) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  std::string request = "POST /userinfo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) request += "2800\r\n" + std::string(0x2800, 'a') + "\r\n";  // 100 KiB
  request += "0\r\n\r\n";
  ASSERT_TRUE(raw.send_all(request));
  bool closed = false;
  std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
  EXPECT_EQ(status_line(answer), "HTTP/1.1 413 Payload Too Large");
  EXPECT_TRUE(closed);
}

TEST(DevServerConnection, ExpectContinueIsAnswered) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  std::string form = "client_id=devicelogin-demo&scope=openid";
  ASSERT_TRUE(raw.send_all("POST /device_authorization HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                           std::to_string(form.size()) + "\r\n\r\n"));
  EXPECT_EQ(status_line(raw.read_response()), "HTTP/1.1 100 Continue");
  ASSERT_TRUE(raw.send_all(form));
  std::string answer = raw.read_response();
  EXPECT_EQ(status_line(answer), "HTTP/1.1 200 OK");
  EXPECT_NE(answer.find("\"user_code\""), std::string::npos);
}

// Too many header fields is answered before the body is read; the body must not be taken for
// the next request.
TEST(DevServerConnection, TooManyHeaderFieldsClosesTheConnection) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  std::string smuggled = "GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string head = "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n";
  for (int i = 0; i < 70; ++i) head += "X-Filler-" + std::to_string(i) + ": 1\r\n";
  ASSERT_TRUE(raw.send_all(head + "Content-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled));
  bool closed = false;
  std::string answers = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
  EXPECT_EQ(status_line(answers), "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(count_of(answers, "HTTP/1.1 "), 1) << "the unread body was served as a request";
  EXPECT_TRUE(closed);
}

TEST(DevServerConnection, PipelinedRequestsAreAllAnswered) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  std::string form = "client_id=devicelogin-demo&scope=openid";
  std::string post = "POST /device_authorization HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                     std::to_string(form.size()) + "\r\n\r\n" + form;
  // Three requests in one write: they arrive in one segment and one read.
  ASSERT_TRUE(raw.send_all("GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n" + post +
                           "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string jwks = raw.read_response();
  std::string code = raw.read_response();
  std::string discovery = raw.read_response();
  EXPECT_EQ(status_line(jwks), "HTTP/1.1 200 OK");
  EXPECT_NE(jwks.find("\"keys\""), std::string::npos);
  EXPECT_EQ(status_line(code), "HTTP/1.1 200 OK");
  EXPECT_NE(code.find("\"user_code\""), std::string::npos);
  EXPECT_EQ(status_line(discovery), "HTTP/1.1 200 OK");
  EXPECT_NE(discovery.find("\"device_authorization_endpoint\""), std::string::npos);
}

TEST(DevServerConnection, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.connected());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(raw.send_all("GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n")) << i;
    ASSERT_EQ(status_line(raw.read_response()), "HTTP/1.1 200 OK") << i;
  }
}

TEST(DevServerConnection, AnIdleKeepAliveConnectionIsClosed) {
  auto server = start();
  ASSERT_TRUE(server);
  Raw raw(server->port());
  ASSERT_TRUE(raw.send_all("GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n"));
  bool closed = false;
  auto began = steady_clock::now();
  std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(4000), &closed);
  EXPECT_EQ(status_line(answer), "HTTP/1.1 200 OK");
  EXPECT_TRUE(closed) << "an idle connection stays open";
  EXPECT_LT(steady_clock::now() - began, std::chrono::milliseconds(3500));
}

TEST(DevServerConnection, TheDropFaultClosesTheConnectionUnanswered) {
  ServerOptions options;
  options.drop_rate = 1.0;
  auto server = start(std::move(options));
  ASSERT_TRUE(server);
  Raw raw(server->port());
  std::string form = "client_id=devicelogin-demo";
  ASSERT_TRUE(raw.send_all("POST /device_authorization HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                           std::to_string(form.size()) + "\r\n\r\n" + form));
  bool closed = false;
  std::string answer = raw.read_until_closed_or_quiet(std::chrono::milliseconds(3000), &closed);
  EXPECT_EQ(answer, "");
  EXPECT_TRUE(closed);
}

TEST(DevServerConnection, LimitsOutsideTheirRangeAreRefusedAtStart) {
  ServerOptions tiny;
  tiny.max_header_bytes = 100;
  auto refused = Server::start(tiny);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("header limit"), std::string::npos);
  ServerOptions huge;
  huge.max_body_bytes = std::size_t{1} << 40;
  EXPECT_FALSE(Server::start(huge));
  ServerOptions hasty;
  hasty.max_request_ms = 10;
  EXPECT_FALSE(Server::start(hasty));
}

}  // namespace
}  // namespace devicelogin::devserver
