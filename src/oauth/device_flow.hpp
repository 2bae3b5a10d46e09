#pragma once
// The RFC 8628 polling rules as a pure state machine: it is told what happened and what time it
// is, and says what to do next. No I/O, no clock: tests drive it without sleeping.
#include <optional>
#include <string>

#include "devicelogin/clock.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin::oauth {

// One thing the token endpoint (or the transport) said in answer to a poll.
struct PollOutcome {
  enum class Kind {
    kPending,      // authorization_pending
    kSlowDown,     // slow_down
    kDenied,       // access_denied (or Entra's authorization_declined)
    kExpired,      // expired_token
    kTransient,    // 5xx, 429, connection failure, timeout
    kFatal,        // any other OAuth error or malformed answer: stop
    kSuccess,      // tokens issued
  };
  Kind kind = Kind::kPending;
  std::optional<long long> server_interval;  // slow_down may carry a new interval
  std::optional<long long> retry_after;      // 429/503 Retry-After seconds
  Error error;                               // kFatal (and the last kTransient, for messages)
};

// What the driver must do next.
struct FlowAction {
  enum class Kind { kWaitThenPoll, kDone, kFailed };
  Kind kind = Kind::kWaitThenPoll;
  SystemTime poll_at{};  // kWaitThenPoll: do not send the poll before this instant
  Error error;           // kFailed
};

// Tracks one device code from its authorization response to tokens or failure.
class DeviceFlow {
 public:
  // `issued_at` is when the device authorization response arrived; expires_in and interval are
  // the response's values (interval already defaulted to 5 s when absent).
  DeviceFlow(SystemTime issued_at, long long expires_in, long long interval);

  // The next action. RFC 8628 §3.5: the first poll comes one interval after the response.
  [[nodiscard]] FlowAction next() const { return action_; }
  // Feeds the result of the poll sent at `now`, and returns the next action.
  FlowAction on_outcome(const PollOutcome& outcome, SystemTime now);

  [[nodiscard]] long long interval() const { return interval_; }
  [[nodiscard]] SystemTime deadline() const { return deadline_; }
  [[nodiscard]] int polls() const { return polls_; }

  // Longest wait after transient failures (the backoff doubles up to this).
  static constexpr long long kMaxBackoffSeconds = 60;
  // How long before the deadline the last poll goes out when the next regular one would be too late.
  static constexpr long long kLastPollBeforeDeadlineSeconds = 1;

 private:
  FlowAction schedule(SystemTime at);
  // schedule(at), or one last poll just before the deadline when `at` is past it (once).
  FlowAction schedule_pending(SystemTime now, SystemTime at);
  FlowAction failed(ErrorCode code, std::string message, std::string oauth_error = {});

  SystemTime deadline_;
  long long interval_;
  int consecutive_transient_ = 0;
  int polls_ = 0;
  bool last_poll_scheduled_ = false;
  FlowAction action_;
};

// Maps an OAuth error string of the device_code grant to the outcome kind.
[[nodiscard]] PollOutcome::Kind classify_poll_error(const std::string& oauth_error);

}  // namespace devicelogin::oauth
