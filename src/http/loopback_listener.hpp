#pragma once
// The loopback redirect listener of a native app's browser sign-in (RFC 8252 §7.3): an HTTP/1.1
// server on 127.0.0.1 (or [::1] where there is no IPv4 loopback) on a port the kernel picks, that
// answers requests until one is judged to be the awaited one. Knows nothing of OAuth: a judge
// decides what each request means. Internal to the library.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "devicelogin/result.hpp"

namespace devicelogin::http {

// The listener's answer to one request.
struct ListenerAnswer {
  int status = 400;
  std::string html;   // the page shown in the browser (a complete HTML document)
  bool done = false;  // this was the awaited request: answer it, then stop listening
};

// Judges one request by its method and request target ("/path?query"). The target may hold a
// credential: the judge must not keep or log it (the listener wipes its buffers).
using ListenerJudge = std::function<ListenerAnswer(std::string_view method, std::string_view target)>;

// A minimal HTML page with a title and one paragraph, both HTML-escaped.
[[nodiscard]] std::string listener_page(std::string_view title, std::string_view text);

class LoopbackListener {
 public:
  // Limits that keep a slow or hostile local client from starving the awaited request.
  static constexpr std::size_t kMaxRequestHeadBytes = 16 * 1024;       // request line and headers
  static constexpr std::size_t kMaxConnections = 16;                   // open at once; the oldest is dropped
  static constexpr std::chrono::milliseconds kConnectionTimeout{10'000};  // to send a whole request head

  // Binds 127.0.0.1:0, or [::1]:0 when IPv4 loopback is unavailable, and listens. kNetwork when
  // neither can be bound.
  [[nodiscard]] static Result<LoopbackListener> open();

  LoopbackListener(LoopbackListener&& other) noexcept;
  LoopbackListener& operator=(LoopbackListener&& other) noexcept;
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  ~LoopbackListener();

  // "http://127.0.0.1:PORT<path>" (or "http://[::1]:PORT<path>").
  [[nodiscard]] std::string url(std::string_view path) const;
  [[nodiscard]] int port() const { return port_; }

  // Answers requests, several connections at once, until the judge says done (after that answer
  // is sent, the listening socket is closed), `deadline` passes (kExpiredToken) or a stop is
  // requested (request_stop(): kCancelled). A request that is not a complete, well-formed GET or
  // HEAD head within kMaxRequestHeadBytes and kConnectionTimeout is answered 400 (or dropped) without
  // reaching the judge. Connections from non-loopback addresses are closed unanswered. `cancelled`,
  // when given, is asked between waits too (kCancelled when it says so).
  [[nodiscard]] Result<void> serve(const ListenerJudge& judge, std::chrono::steady_clock::time_point deadline,
                                   const std::function<bool()>& cancelled = {});

 private:
  LoopbackListener(int fd, int port, bool ipv6) : fd_(fd), port_(port), ipv6_(ipv6) {}
  int fd_ = -1;
  int port_ = 0;
  bool ipv6_ = false;
};

}  // namespace devicelogin::http
