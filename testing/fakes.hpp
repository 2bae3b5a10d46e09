#pragma once
// FakeHttpClient (scripted, records requests) and FakeClock (manual time, sleeping advances it).
#include <deque>
#include <string>
#include <vector>

#include "devicelogin/clock.hpp"
#include "devicelogin/http_client.hpp"

namespace devicelogin::testing {

// A recorded request: body revealed, since tests assert on exact bytes.
struct RecordedRequest {
  std::string method;
  std::string url;
  HttpHeaders headers;
  std::string body;
  SystemTime at{};
  [[nodiscard]] std::string header(std::string_view name) const {
    HttpResponse view;
    view.headers = headers;
    return view.header(name);
  }
};

// Answers requests from a script, in order; records each request with the fake time it was sent.
class FakeHttpClient final : public HttpClient {
 public:
  explicit FakeHttpClient(const Clock* clock = nullptr) : clock_(clock) {}

  void reply(int status, std::string body, HttpHeaders headers = {{"content-type", "application/json"}}) {
    HttpResponse response;
    response.status = status;
    response.body = Secret(std::move(body));
    response.headers = std::move(headers);
    script_.push_back(Result<HttpResponse>(std::move(response)));
  }
  void fail_transport(std::string message = "cannot reach 127.0.0.1: Connection refused") {
    script_.push_back(std::unexpected(Error{ErrorCode::kNetwork, std::move(message), "", 0}));
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back(RecordedRequest{request.method, request.url, request.headers, std::string(request.body.reveal()),
                                       clock_ != nullptr ? clock_->now() : SystemTime{}});
    if (script_.empty()) return std::unexpected(Error{ErrorCode::kInternal, "FakeHttpClient: script exhausted", "", 0});
    auto next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

  [[nodiscard]] std::size_t remaining() const { return script_.size(); }
  std::vector<RecordedRequest> requests;

 private:
  const Clock* clock_;
  std::deque<Result<HttpResponse>> script_;
};

// Time stands still until someone sleeps: sleeping jumps straight to the deadline.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(long long unix_seconds = 1'800'000'000) : now_(from_unix(unix_seconds)) {}
  [[nodiscard]] SystemTime now() const override { return now_; }
  bool sleep_until(SystemTime deadline) override {
    if (deadline > now_) now_ = deadline;
    sleeps.push_back(deadline);
    return true;
  }
  void advance(Seconds by) { now_ += by; }
  std::vector<SystemTime> sleeps;

 private:
  SystemTime now_;
};

}  // namespace devicelogin::testing
