// CurlHttpClient against a real local HTTP server (cpp-httplib) on 127.0.0.1 with an ephemeral port.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <vector>

#include "devicelogin/clock.hpp"
#include "devicelogin/http_client.hpp"
#include "http/curl_http_client_for_test.hpp"

namespace devicelogin {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMiB = 1 << 20;

// What the server saw of the last request.
struct Seen {
  std::string method;
  std::string path;
  std::string body;
  httplib::Headers headers;
};

class LocalServer {
 public:
  LocalServer() {
    // Recorded before the handler runs (a logger would run after the response is sent, racing
    // with the test reading what was seen).
    server_.set_pre_routing_handler([this](const httplib::Request& request, httplib::Response&) {
      std::lock_guard lock(mutex_);
      ++requests_;
      last_ = Seen{request.method, request.path, request.body, request.headers};
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.Post("/token", [this](const httplib::Request& request, httplib::Response& response) {
      {
        std::lock_guard lock(mutex_);
        last_.body = request.body;  // read after pre-routing, so recorded here
      }
      response.set_header("Set-Cookie", "session=COOKIE-CANARY-1; HttpOnly");
      response.set_header("X-Request-Id", "abc");
      response.set_content(
          "{\"access_token\":\"AT-CANARY-1\",\"token_type\":\"Bearer\",\"refresh_token\":\"RT-CANARY-2\"}",
          "application/json");
    });
    server_.Get("/get", [](const httplib::Request&, httplib::Response& response) {
      response.set_content("plain", "text/plain");
    });
    server_.Get("/redirect", [](const httplib::Request&, httplib::Response& response) {
      response.set_redirect("/target", 302);
    });
    server_.Get("/target", [this](const httplib::Request&, httplib::Response& response) {
      ++target_hits_;
      response.set_content("target", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& response) {
      response.set_content(std::string(2 * kMiB, 'x'), "application/octet-stream");
    });
    server_.Get("/big-chunked", [](const httplib::Request&, httplib::Response& response) {
      // No Content-Length: only the write callback's cap can stop this one.
      response.set_chunked_content_provider("application/octet-stream",
                                            [sent = std::size_t{0}](std::size_t, httplib::DataSink& sink) mutable {
                                              std::string chunk(64 * 1024, 'y');
                                              if (sent >= 2 * kMiB || !sink.write(chunk.data(), chunk.size())) {
                                                sink.done();
                                                return true;
                                              }
                                              sent += chunk.size();
                                              return true;
                                            });
    });
    server_.Get(R"(/bytes/(\d+))", [](const httplib::Request& request, httplib::Response& response) {
      response.set_content(std::string(std::stoul(request.matches[1]), 'z'), "application/octet-stream");
    });
    server_.Get("/split-secret", [](const httplib::Request&, httplib::Response& response) {
      // The secret arrives in separate chunks, so a per-chunk redactor would miss it.
      response.set_chunked_content_provider("application/json", [step = 0](std::size_t, httplib::DataSink& sink) mutable {
        const char* parts[] = {"{\"access_tok", "en\":\"SPLIT-CAN", "ARY-3\"}"};
        if (step == 3) {
          sink.done();
          return true;
        }
        sink.write(parts[step], std::strlen(parts[step]));
        ++step;
        std::this_thread::sleep_for(20ms);
        return true;
      });
    });
    server_.Get("/slow", [this](const httplib::Request&, httplib::Response& response) {
      std::unique_lock lock(mutex_);
      released_.wait_for(lock, 5s, [this] { return release_; });
      response.set_content("late", "text/plain");
    });
    server_.Get(R"(/status/(\d+))", [](const httplib::Request& request, httplib::Response& response) {
      response.status = std::stoi(request.matches[1]);
      response.set_content("{\"error\":\"status_" + std::string(request.matches[1]) + "\"}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }

  ~LocalServer() { stop(); }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  void stop() {
    {
      std::lock_guard lock(mutex_);
      release_ = true;
    }
    released_.notify_all();
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  [[nodiscard]] std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  [[nodiscard]] Seen last() {
    std::lock_guard lock(mutex_);
    return last_;
  }
  [[nodiscard]] int target_hits() const { return target_hits_.load(); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool release_ = false;
  int requests_ = 0;
  Seen last_;
  std::atomic<int> target_hits_{0};
};

HttpRequest post(const std::string& url, std::string body, HttpHeaders headers = {}) {
  HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.body = Secret(std::move(body));
  request.headers = std::move(headers);
  return request;
}

HttpRequest get(const std::string& url) {
  HttpRequest request;
  request.method = "GET";
  request.url = url;
  return request;
}

class CurlHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The tests talk to 127.0.0.1; keep a developer's proxy settings out of the picture.
    for (const char* name : {"http_proxy", "https_proxy", "all_proxy", "HTTPS_PROXY", "ALL_PROXY", "no_proxy", "NO_PROXY",
                             "SSL_CERT_FILE"}) {
      ::unsetenv(name);
    }
  }
  LocalServer server_;
};

TEST_F(CurlHttpClientTest, PostSendsExactFormBodyAndDefaultHeaders) {
  auto client = make_curl_http_client({});
  const std::string body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc%2B1&client_id=cli";
  auto response = client->send(post(server_.url("/token"), body));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_NE(response->body.reveal().find("\"access_token\""), std::string::npos);
  EXPECT_EQ(response->header("Content-Type"), "application/json");
  EXPECT_EQ(response->header("x-request-id"), "abc");
  for (const auto& [name, value] : response->headers) {
    EXPECT_EQ(name, [&] {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return lower;
    }());
  }

  Seen seen = server_.last();
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/token");
  EXPECT_EQ(seen.body, body);
  EXPECT_EQ(seen.headers.count("Accept"), 1u);
  EXPECT_EQ(seen.headers.find("Accept")->second, "application/json");
  EXPECT_EQ(seen.headers.find("Content-Type")->second, "application/x-www-form-urlencoded");
  EXPECT_TRUE(seen.headers.find("User-Agent")->second.starts_with("devicelogin/"));
  EXPECT_EQ(seen.headers.count("Expect"), 0u);
}

TEST_F(CurlHttpClientTest, CallerHeadersReplaceDefaults) {
  auto client = make_curl_http_client({});
  auto response = client->send(post(server_.url("/token"), "{}",
                                    {{"Accept", "text/plain"}, {"Content-Type", "application/json"},
                                     {"User-Agent", "tool/2"}}));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  Seen seen = server_.last();
  EXPECT_EQ(seen.headers.count("Accept"), 1u);
  EXPECT_EQ(seen.headers.find("Accept")->second, "text/plain");
  EXPECT_EQ(seen.headers.find("Content-Type")->second, "application/json");
  EXPECT_EQ(seen.headers.find("User-Agent")->second, "tool/2");
  EXPECT_EQ(seen.body, "{}");
}

TEST_F(CurlHttpClientTest, GetSendsNoBody) {
  auto client = make_curl_http_client({});
  auto response = client->send(get(server_.url("/get")));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body.reveal(), "plain");
  Seen seen = server_.last();
  EXPECT_EQ(seen.method, "GET");
  EXPECT_TRUE(seen.body.empty());
  EXPECT_EQ(seen.headers.count("Content-Length"), 0u);
}

TEST_F(CurlHttpClientTest, RedirectIsReturnedNotFollowed) {
  auto client = make_curl_http_client({});
  auto response = client->send(get(server_.url("/redirect")));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(response->header("location"), "/target");
  EXPECT_EQ(server_.target_hits(), 0);
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(CurlHttpClientTest, ErrorStatusesAreResponsesWithTheirBody) {
  auto client = make_curl_http_client({});
  for (int status : {400, 401, 404, 429, 500, 503}) {
    SCOPED_TRACE(status);
    auto response = client->send(get(server_.url("/status/" + std::to_string(status))));
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_EQ(response->status, status);
    EXPECT_EQ(response->body.reveal(), "{\"error\":\"status_" + std::to_string(status) + "\"}");
  }
}

TEST_F(CurlHttpClientTest, ResponseOverTheCapFails) {
  auto client = make_curl_http_client({});
  for (const char* path : {"/big", "/big-chunked"}) {
    SCOPED_TRACE(path);
    auto response = client->send(get(server_.url(path)));
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, ErrorCode::kServer);
    EXPECT_EQ(response.error().message,
              "response from 127.0.0.1:" + std::to_string(server_.port()) + " exceeds 1 MiB");
  }
}

TEST_F(CurlHttpClientTest, ResponseExactlyAtTheCapIsAccepted) {
  HttpOptions options;
  options.max_response_bytes = 1000;
  auto client = make_curl_http_client(std::move(options));
  auto at_cap = client->send(get(server_.url("/bytes/1000")));
  ASSERT_TRUE(at_cap.has_value()) << at_cap.error().message;
  EXPECT_EQ(at_cap->body.size(), 1000u);
  auto over = client->send(get(server_.url("/bytes/1001")));
  ASSERT_FALSE(over.has_value());
  EXPECT_NE(over.error().message.find("exceeds 1000 bytes"), std::string::npos) << over.error().message;
}

TEST_F(CurlHttpClientTest, SlowServerTimesOutQuickly) {
  HttpOptions options;
  options.total_timeout_ms = 300;
  auto client = make_curl_http_client(std::move(options));
  auto start = std::chrono::steady_clock::now();
  auto response = client->send(get(server_.url("/slow")));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork);
  EXPECT_TRUE(response.error().message.starts_with("cannot reach 127.0.0.1:")) << response.error().message;
  EXPECT_LT(elapsed, 2s);
}

TEST_F(CurlHttpClientTest, ConnectionRefusedIsANetworkError) {
  std::string dead_url;
  {
    LocalServer dead;
    dead_url = dead.url("/token?device_code=QUERY-CANARY");
  }
  auto client = make_curl_http_client({});
  auto response = client->send(post(dead_url, "device_code=BODY-CANARY"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork);
  EXPECT_TRUE(response.error().message.starts_with("cannot reach 127.0.0.1:")) << response.error().message;
  EXPECT_EQ(response.error().message.find("CANARY"), std::string::npos) << response.error().message;
}

TEST_F(CurlHttpClientTest, PolicyIsCheckedBeforeAnythingIsSent) {
  auto client = make_curl_http_client({});
  const std::string port = std::to_string(server_.port());
  for (const std::string& url : {"http://localhost.evil.invalid:" + port + "/token",
                                 "https://user:pw@127.0.0.1:" + port + "/token", "ftp://127.0.0.1:" + port + "/",
                                 std::string("not a url")}) {
    SCOPED_TRACE(url);
    auto response = client->send(post(url, "device_code=x"));
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, ErrorCode::kConfig);
  }
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(CurlHttpClientTest, HeaderInjectionIsRefused) {
  auto client = make_curl_http_client({});
  for (const auto& header : HttpHeaders{{"X-A", "v\r\nInjected: 1"}, {"X-A", "v\nInjected: 1"},
                                        {"Bad Name", "v"}, {"", "v"}, {"X:Y", "v"}}) {
    auto response = client->send(post(server_.url("/token"), "a=b", {header}));
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, ErrorCode::kInternal);
  }
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(CurlHttpClientTest, GetWithABodyIsRefused) {
  auto client = make_curl_http_client({});
  HttpRequest request = get(server_.url("/get"));
  request.body = Secret(std::string_view("x=1"));
  EXPECT_FALSE(client->send(request).has_value());
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(CurlHttpClientTest, TraceRedactsEverySecret) {
  std::vector<std::string> lines;
  HttpOptions options;
  options.trace = [&](std::string_view line) { lines.emplace_back(line); };
  auto client = make_curl_http_client(std::move(options));
  auto response = client->send(post(server_.url("/token?code=QUERY-CANARY-4&state=ok"),
                                    "grant_type=refresh_token&device_code=DC-CANARY-5&refresh_token=RT-CANARY-6&client_id=cli",
                                    {{"Authorization", "Bearer AUTH-CANARY-7"}, {"Cookie", "sid=COOKIE-CANARY-8"}}));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  auto plain = client->send(get(server_.url("/get")));
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  auto split = client->send(get(server_.url("/split-secret")));
  ASSERT_TRUE(split.has_value()) << split.error().message;
  EXPECT_EQ(split->body.reveal(), "{\"access_token\":\"SPLIT-CANARY-3\"}");

  std::string trace;
  for (const auto& line : lines) {
    trace += line + "\n";
    for (char c : line) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << line;
  }
  EXPECT_EQ(trace.find("CANARY"), std::string::npos) << trace;
  EXPECT_NE(trace.find("[REDACTED]"), std::string::npos) << trace;
  EXPECT_NE(trace.find("> POST /token?code=[REDACTED]&state=ok HTTP/1.1"), std::string::npos) << trace;
  EXPECT_NE(trace.find("> Authorization: [REDACTED]"), std::string::npos) << trace;
  EXPECT_NE(trace.find("> grant_type=refresh_token&device_code=[REDACTED]&refresh_token=[REDACTED]&client_id=cli"),
            std::string::npos)
      << trace;
  EXPECT_NE(trace.find("< HTTP/1.1 200 OK"), std::string::npos) << trace;
  EXPECT_NE(trace.find("< Set-Cookie: [REDACTED]"), std::string::npos) << trace;
  EXPECT_NE(trace.find("\"access_token\":\"[REDACTED]\""), std::string::npos) << trace;
  EXPECT_NE(trace.find("* "), std::string::npos) << trace;
  // The credential request had a connection of its own, closed after it (so libcurl cannot re-send it);
  // plain GETs (discovery, JWKS) share one.
  EXPECT_NE(trace.find("Closing connection 0"), std::string::npos) << trace;
  EXPECT_NE(trace.find("Re-using existing connection #1"), std::string::npos) << trace;
}

TEST_F(CurlHttpClientTest, LoopbackRequestsNeverUseAProxy) {
  std::string dead_proxy;
  {
    LocalServer dead;
    dead_proxy = dead.url("");
  }
  ::setenv("http_proxy", dead_proxy.c_str(), 1);
  ::setenv("all_proxy", dead_proxy.c_str(), 1);
  auto client = make_curl_http_client({});
  auto response = client->send(get(server_.url("/get")));
  ::unsetenv("http_proxy");
  ::unsetenv("all_proxy");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

TEST_F(CurlHttpClientTest, UnusableCaFileIsAConfigurationError) {
  HttpOptions options;
  options.ca_file = "/nonexistent/devicelogin-test-ca.pem";
  auto client = make_curl_http_client(std::move(options));
  auto response = client->send(get("https://127.0.0.1:" + std::to_string(server_.port()) + "/get"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kConfig) << response.error().message;
  EXPECT_NE(response.error().message.find("/nonexistent/devicelogin-test-ca.pem"), std::string::npos);
}

TEST_F(CurlHttpClientTest, SslCertFileEnvironmentIsHonoured) {
  ::setenv("SSL_CERT_FILE", "/nonexistent/env-ca.pem", 1);
  auto client = make_curl_http_client({});
  auto response = client->send(get("https://127.0.0.1:" + std::to_string(server_.port()) + "/get"));
  ::unsetenv("SSL_CERT_FILE");
  ASSERT_FALSE(response.has_value());
  EXPECT_NE(response.error().message.find("/nonexistent/env-ca.pem"), std::string::npos) << response.error().message;
}

TEST_F(CurlHttpClientTest, TlsToAPlainServerIsANetworkError) {
  auto client = make_curl_http_client({});
  auto response = client->send(get("https://127.0.0.1:" + std::to_string(server_.port()) + "/get"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork) << response.error().message;
}


// A remote-looking name that never reaches DNS: libcurl is told it is 127.0.0.1 (CURLOPT_RESOLVE),
// so the URL policy and the proxy rules treat it as remote while every byte stays on loopback.
constexpr const char* kRemoteName = "auth.example.invalid";

std::unique_ptr<HttpClient> client_resolving_to_loopback(int port) {
  return http::make_curl_http_client_for_test({}, {std::string(kRemoteName) + ":" + std::to_string(port) + ":127.0.0.1"});
}

// A TCP listener on 127.0.0.1 that accepts and closes connections, counting them: the target of a
// direct https connection (it speaks no TLS, so the handshake fails after the connection counts).
class ConnectionCounter {
 public:
  ConnectionCounter() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int client = ::accept(fd_, nullptr, nullptr);
        if (client < 0) return;  // shut down
        ++connections_;
        ::close(client);
      }
    });
  }
  ~ConnectionCounter() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes the blocked accept()
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  ConnectionCounter(const ConnectionCounter&) = delete;
  ConnectionCounter& operator=(const ConnectionCounter&) = delete;
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int connections() const { return connections_.load(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_{0};
};

TEST_F(CurlHttpClientTest, HttpsRequestsUseTheProxyFromTheEnvironment) {
  ::setenv("https_proxy", server_.url("").c_str(), 1);
  ConnectionCounter direct;
  ASSERT_NE(direct.port(), 0);
  auto client = client_resolving_to_loopback(direct.port());
  auto response = client->send(get(std::string("https://") + kRemoteName + ":" + std::to_string(direct.port()) + "/token"));
  ::unsetenv("https_proxy");
  // The local server is no proxy, so the tunnel fails; what matters is that it was asked.
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork);
  EXPECT_EQ(server_.requests(), 1);
  EXPECT_EQ(server_.last().method, "CONNECT");
  EXPECT_EQ(direct.connections(), 0);
}

TEST_F(CurlHttpClientTest, NoProxyIsHonoured) {
  ::setenv("https_proxy", server_.url("").c_str(), 1);
  ::setenv("no_proxy", "example.invalid", 1);
  ConnectionCounter direct;
  ASSERT_NE(direct.port(), 0);
  auto client = client_resolving_to_loopback(direct.port());
  auto response = client->send(get(std::string("https://") + kRemoteName + ":" + std::to_string(direct.port()) + "/token"));
  ::unsetenv("https_proxy");
  ::unsetenv("no_proxy");
  ASSERT_FALSE(response.has_value());  // the direct peer speaks no TLS
  EXPECT_EQ(response.error().code, ErrorCode::kNetwork);
  EXPECT_EQ(server_.requests(), 0) << "the proxy was used despite no_proxy";
  EXPECT_EQ(direct.connections(), 1) << "no direct connection was made";
}

// A server that answers GETs without credentials (keep-alive) and, for every other request, reads
// it whole, counts it, and closes the connection without an answer: a server dying mid-request.
// Each connection has its own thread, so an idle kept-alive connection blocks nothing.
class HangUpServer {
 public:
  HangUpServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "HangUpServer cannot listen";
      return;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~HangUpServer() {
    ::shutdown(listener_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listener_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
  }
  HangUpServer(const HangUpServer&) = delete;
  HangUpServer& operator=(const HangUpServer&) = delete;

  [[nodiscard]] std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] int hung_up() const { return hung_up_.load(); }
  [[nodiscard]] int connections() const { return connections_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard lock(mutex_);
      open_.push_back(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char chunk[4096];
    for (;;) {
      std::size_t head_end;
      while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return finish(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      std::string head = buffer.substr(0, head_end);
      std::string lower = head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::size_t body_length = 0;
      if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
        body_length = std::stoul(lower.substr(at + 17));
      }
      while (buffer.size() < head_end + 4 + body_length) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) return finish(fd);
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      buffer.erase(0, head_end + 4 + body_length);
      const bool plain_get = head.starts_with("GET ") && lower.find("\r\nauthorization:") == std::string::npos;
      if (!plain_get) {
        ++hung_up_;  // read whole, never answered
        return finish(fd);
      }
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
      if (::write(fd, answer.data(), answer.size()) != static_cast<ssize_t>(answer.size())) return finish(fd);
    }
  }

  void finish(int fd) {
    std::lock_guard lock(mutex_);
    std::erase(open_, fd);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }

  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> threads_;
  std::atomic<int> hung_up_{0};
  std::atomic<int> connections_{0};
};

// libcurl re-sends a request by itself when a reused connection dies before an answer.
// A credential request (here after a GET that left a connection alive to be reused) is sent once.
TEST_F(CurlHttpClientTest, CredentialRequestIsNeverSentTwiceWhenTheServerHangsUp) {
  HangUpServer server;
  HttpRequest with_bearer = get(server.url("/userinfo"));
  with_bearer.headers.emplace_back("Authorization", "Bearer AT-CANARY");
  const std::vector<std::pair<std::string, HttpRequest>> cases = {
      {"refresh", post(server.url("/token"), "grant_type=refresh_token&refresh_token=RT-CANARY&client_id=c")},
      {"poll", post(server.url("/token"), "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=DC")},
      {"revocation", post(server.url("/revoke"), "token=RT-CANARY&client_id=c")},
      {"bearer GET", with_bearer},
  };
  auto client = make_curl_http_client({});
  int expected = 0;
  for (const auto& [what, request] : cases) {
    auto warm = client->send(get(server.url("/.well-known/openid-configuration")));
    ASSERT_TRUE(warm.has_value()) << what << ": " << warm.error().message;
    ASSERT_EQ(warm->status, 200);
    auto response = client->send(request);
    ASSERT_FALSE(response.has_value()) << what;
    EXPECT_EQ(response.error().code, ErrorCode::kNetwork) << what;
    ++expected;
    EXPECT_EQ(server.hung_up(), expected) << what << " reached the server more than once";
  }
}

// request_stop() cannot be undone in a process, so this runs in a child process.
using CurlHttpClientDeathTest = CurlHttpClientTest;

TEST_F(CurlHttpClientDeathTest, StopRequestCancelsARequestInFlight) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto client = make_curl_http_client({});
        std::thread stopper([] {
          std::this_thread::sleep_for(100ms);
          request_stop();
        });
        auto start = std::chrono::steady_clock::now();
        auto response = client->send(get(server_.url("/slow")));
        auto elapsed = std::chrono::steady_clock::now() - start;
        stopper.join();
        bool cancelled = !response.has_value() && response.error().code == ErrorCode::kCancelled;
        ::_exit(cancelled && elapsed < 3s ? 42 : 1);
      },
      ::testing::ExitedWithCode(42), "");
}

}  // namespace
}  // namespace devicelogin
