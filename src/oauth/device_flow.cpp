#include "oauth/device_flow.hpp"

#include <algorithm>

namespace devicelogin::oauth {

DeviceFlow::DeviceFlow(SystemTime issued_at, long long expires_in, long long interval)
    : deadline_(issued_at + Seconds(expires_in)), interval_(std::max<long long>(interval, 1)) {
  // RFC 8628 §3.5: "the client SHOULD wait ... interval" before its first poll.
  action_ = schedule(issued_at + Seconds(interval_));
}

FlowAction DeviceFlow::schedule(SystemTime at) {
  // The local deadline ends polling even if the server keeps answering pending (RFC 8628 §3.5:
  // the device code is not valid after expires_in). A poll that could only start after the
  // deadline is pointless.
  if (at >= deadline_) {
    return failed(ErrorCode::kExpiredToken, "the device code expired before the login was approved",
                  "expired_token");
  }
  FlowAction action;
  action.kind = FlowAction::Kind::kWaitThenPoll;
  action.poll_at = at;
  action_ = action;
  return action_;
}

FlowAction DeviceFlow::schedule_pending(SystemTime now, SystemTime at) {
  // An approval given in the last interval before the deadline would never be collected when the
  // next regular poll falls at or past it (expires_in 6, interval 2 gave up after
  // the poll at 4 s). One last poll goes out just before the deadline instead, while the code is
  // still valid on the server's clock too (issue time is the local receipt time, which is after
  // the server's, hence the margin). It may come sooner than the interval; a slow_down answer then
  // ends the flow as the deadline would have (RFC 8628 §3.5 asks for the interval between polls,
  // and the code is dead after expires_in either way).
  const SystemTime last = deadline_ - Seconds(kLastPollBeforeDeadlineSeconds);
  if (at >= deadline_ && !last_poll_scheduled_ && last >= now + Seconds(1)) {
    last_poll_scheduled_ = true;
    return schedule(last);
  }
  return schedule(at);
}

FlowAction DeviceFlow::failed(ErrorCode code, std::string message, std::string oauth_error) {
  FlowAction action;
  action.kind = FlowAction::Kind::kFailed;
  action.error = Error{code, std::move(message), std::move(oauth_error), 0};
  action_ = action;
  return action_;
}

FlowAction DeviceFlow::on_outcome(const PollOutcome& outcome, SystemTime now) {
  if (action_.kind != FlowAction::Kind::kWaitThenPoll) return action_;  // already finished
  ++polls_;
  if (outcome.kind != PollOutcome::Kind::kTransient) consecutive_transient_ = 0;
  switch (outcome.kind) {
    case PollOutcome::Kind::kSuccess: {
      FlowAction done;
      done.kind = FlowAction::Kind::kDone;
      action_ = done;
      return action_;
    }
    case PollOutcome::Kind::kPending:
      // RFC 8628 §3.5: authorization_pending: keep polling at the current interval.
      return schedule_pending(now, now + Seconds(interval_));
    case PollOutcome::Kind::kSlowDown:
      // RFC 8628 §3.5: slow_down: the interval MUST be increased by 5 s for this and all
      // subsequent requests. A larger interval in the response wins.
      interval_ += 5;
      // A larger interval in the response wins, up to an hour; it never lowers the interval the
      // slow_downs built (found by fuzz/device_flow_fuzzer.cpp: past an hour, a server interval cut
      // it back).
      if (outcome.server_interval && *outcome.server_interval > interval_) {
        interval_ = std::max(interval_, std::min<long long>(*outcome.server_interval, 3600));
      }
      return schedule(now + Seconds(interval_));
    case PollOutcome::Kind::kDenied:
      return failed(ErrorCode::kAccessDenied, "the login was denied", "access_denied");
    case PollOutcome::Kind::kExpired:
      return failed(ErrorCode::kExpiredToken, "the device code expired before the login was approved",
                    "expired_token");
    case PollOutcome::Kind::kTransient: {
      // RFC 8628 §3.5: on connection timeouts clients SHOULD back off exponentially. Never sooner
      // than the interval, honour Retry-After, never past the deadline (schedule() checks).
      ++consecutive_transient_;
      long long backoff = interval_;
      for (int i = 1; i < consecutive_transient_ && backoff < kMaxBackoffSeconds; ++i) backoff *= 2;
      backoff = std::min(backoff, std::max(kMaxBackoffSeconds, interval_));
      if (outcome.retry_after) backoff = std::max(backoff, *outcome.retry_after);
      FlowAction next = schedule(now + Seconds(backoff));
      if (next.kind == FlowAction::Kind::kFailed && !outcome.error.message.empty()) {
        // The deadline was reached because the server kept failing: report the failure (exit 6),
        // not an expiry the user could have prevented.
        return failed(outcome.error.code,
                      "the device code expired while the server kept failing: " + outcome.error.message);
      }
      return next;
    }
    case PollOutcome::Kind::kFatal: {
      Error error = outcome.error;
      if (error.message.empty()) error.message = "the token endpoint refused the device code";
      action_.kind = FlowAction::Kind::kFailed;
      action_.error = std::move(error);
      return action_;
    }
  }
  return action_;
}

PollOutcome::Kind classify_poll_error(const std::string& oauth_error) {
  if (oauth_error == "authorization_pending") return PollOutcome::Kind::kPending;
  if (oauth_error == "slow_down") return PollOutcome::Kind::kSlowDown;
  // Entra answers authorization_declined when the user refuses.
  if (oauth_error == "access_denied" || oauth_error == "authorization_declined") return PollOutcome::Kind::kDenied;
  if (oauth_error == "expired_token") return PollOutcome::Kind::kExpired;
  // Transient server-side conditions expressed as OAuth errors (RFC 6749 §4.1.2.1).
  if (oauth_error == "temporarily_unavailable" || oauth_error == "server_error") return PollOutcome::Kind::kTransient;
  return PollOutcome::Kind::kFatal;
}

}  // namespace devicelogin::oauth
