// The RFC 8628 polling rules, driven without sleeping: each case feeds outcomes at given times
// and checks when the next poll is scheduled, or how the flow ends.
#include <gtest/gtest.h>

#include "oauth/device_flow.hpp"

namespace devicelogin::oauth {
namespace {

using Kind = PollOutcome::Kind;

SystemTime at(long long seconds) { return from_unix(1'000'000 + seconds); }
long long rel(SystemTime t) { return to_unix(t) - 1'000'000; }

PollOutcome outcome(Kind kind, std::optional<long long> server_interval = {}, std::optional<long long> retry_after = {}) {
  PollOutcome out;
  out.kind = kind;
  out.server_interval = server_interval;
  out.retry_after = retry_after;
  if (kind == Kind::kTransient) out.error = Error{ErrorCode::kNetwork, "cannot reach server", "", 0};
  if (kind == Kind::kFatal) out.error = Error{ErrorCode::kProtocol, "the server answered invalid_client", "invalid_client", 400};
  return out;
}

struct Step {
  Kind kind;
  long long answered_at;  // seconds after issue
  std::optional<long long> server_interval = {};
  std::optional<long long> retry_after = {};
};

struct Case {
  const char* name;
  long long expires_in;
  long long interval;
  std::vector<Step> steps;
  // Expected: poll times after each step (for waits) or the final kind and error code.
  std::vector<long long> expected_poll_at;  // first entry: the first poll
  FlowAction::Kind final_kind;
  ErrorCode final_error = ErrorCode::kInternal;
};

class DeviceFlowTable : public ::testing::TestWithParam<Case> {};

TEST_P(DeviceFlowTable, FollowsTheRules) {
  const Case& c = GetParam();
  DeviceFlow flow(at(0), c.expires_in, c.interval);
  std::vector<long long> polls;
  if (flow.next().kind == FlowAction::Kind::kWaitThenPoll) polls.push_back(rel(flow.next().poll_at));
  for (const Step& step : c.steps) {
    ASSERT_EQ(flow.next().kind, FlowAction::Kind::kWaitThenPoll) << c.name;
    FlowAction action = flow.on_outcome(outcome(step.kind, step.server_interval, step.retry_after), at(step.answered_at));
    if (action.kind == FlowAction::Kind::kWaitThenPoll) polls.push_back(rel(action.poll_at));
  }
  EXPECT_EQ(polls, c.expected_poll_at) << c.name;
  EXPECT_EQ(flow.next().kind, c.final_kind) << c.name;
  if (c.final_kind == FlowAction::Kind::kFailed) {
    EXPECT_EQ(flow.next().error.code, c.final_error) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8628, DeviceFlowTable,
    ::testing::Values(
        // §3.5: the first poll waits one interval; pending keeps the interval.
        Case{"pending_keeps_interval", 600, 5, {{Kind::kPending, 5}, {Kind::kPending, 10}}, {5, 10, 15},
             FlowAction::Kind::kWaitThenPoll},
        // §3.2: a server interval of 0 or absent was defaulted to 5 by the parser; the flow never
        // polls more often than once a second even if told 0.
        Case{"zero_interval_clamped", 600, 0, {}, {1}, FlowAction::Kind::kWaitThenPoll},
        // §3.5: slow_down adds 5 s to this and every later poll.
        Case{"slow_down_adds_five", 600, 5, {{Kind::kSlowDown, 5}, {Kind::kPending, 15}, {Kind::kSlowDown, 25}},
             {5, 15, 25, 40}, FlowAction::Kind::kWaitThenPoll},
        // A larger interval carried by slow_down wins.
        Case{"slow_down_server_interval", 600, 5, {{Kind::kSlowDown, 5, 30}}, {5, 35}, FlowAction::Kind::kWaitThenPoll},
        // A smaller one does not undo the +5.
        Case{"slow_down_smaller_server_interval", 600, 5, {{Kind::kSlowDown, 5, 2}}, {5, 15},
             FlowAction::Kind::kWaitThenPoll},
        // Past an hour of slow_downs, a larger server interval (capped at an hour) never lowers the
        // interval: 3600 -> slow_down 3605 -> slow_down with interval 7200 -> 3610, not 3600
        // (found by fuzz/device_flow_fuzzer.cpp).
        Case{"slow_down_past_an_hour_never_lowers", 86400, 3600, {{Kind::kSlowDown, 3600}, {Kind::kSlowDown, 7205, 7200}},
             {3600, 7205, 10815}, FlowAction::Kind::kWaitThenPoll},
        Case{"success_done", 600, 5, {{Kind::kSuccess, 5}}, {5}, FlowAction::Kind::kDone},
        Case{"denied_stops", 600, 5, {{Kind::kDenied, 5}}, {5}, FlowAction::Kind::kFailed, ErrorCode::kAccessDenied},
        Case{"expired_stops", 600, 5, {{Kind::kExpired, 5}}, {5}, FlowAction::Kind::kFailed, ErrorCode::kExpiredToken},
        Case{"other_error_stops", 600, 5, {{Kind::kFatal, 5}}, {5}, FlowAction::Kind::kFailed, ErrorCode::kProtocol},
        // The local deadline ends polling even when the server keeps answering pending; when
        // the next regular poll would be too late, one last poll goes out 1 s before the deadline
        // (an approval in the last interval was never collected).
        Case{"deadline_while_pending", 12, 5, {{Kind::kPending, 5}, {Kind::kPending, 10}, {Kind::kPending, 11}},
             {5, 10, 11}, FlowAction::Kind::kFailed, ErrorCode::kExpiredToken},
        Case{"last_interval_polled_once_more", 6, 2, {{Kind::kPending, 2}, {Kind::kPending, 4}, {Kind::kSuccess, 5}},
             {2, 4, 5}, FlowAction::Kind::kDone},
        // Only once: a slow_down (or anything) after the last poll ends at the deadline.
        Case{"last_poll_only_once", 6, 2, {{Kind::kPending, 2}, {Kind::kPending, 4}, {Kind::kSlowDown, 5}},
             {2, 4, 5}, FlowAction::Kind::kFailed, ErrorCode::kExpiredToken},
        // No last poll when the deadline is less than the margin away.
        Case{"no_last_poll_at_the_deadline", 6, 5, {{Kind::kPending, 5}}, {5}, FlowAction::Kind::kFailed,
             ErrorCode::kExpiredToken},
        // A code that expires before the first poll could be sent fails at once.
        Case{"expires_before_first_poll", 3, 5, {}, {}, FlowAction::Kind::kFailed, ErrorCode::kExpiredToken},
        // Transient failures back off exponentially from the interval: 5, 10, 20, 40, 60 (cap).
        Case{"transient_backoff",
             600,
             5,
             {{Kind::kTransient, 5}, {Kind::kTransient, 10}, {Kind::kTransient, 20}, {Kind::kTransient, 40},
              {Kind::kTransient, 80}, {Kind::kTransient, 140}},
             {5, 10, 20, 40, 80, 140, 200},
             FlowAction::Kind::kWaitThenPoll},
        // A good answer resets the backoff.
        Case{"backoff_resets", 600, 5, {{Kind::kTransient, 5}, {Kind::kTransient, 10}, {Kind::kPending, 20}, {Kind::kTransient, 25}},
             {5, 10, 20, 25, 30}, FlowAction::Kind::kWaitThenPoll},
        // Retry-After longer than the backoff is honoured; shorter never beats the interval.
        Case{"retry_after_honoured", 600, 5, {{Kind::kTransient, 5, {}, 42}}, {5, 47}, FlowAction::Kind::kWaitThenPoll},
        Case{"retry_after_short", 600, 5, {{Kind::kTransient, 5, {}, 1}}, {5, 10}, FlowAction::Kind::kWaitThenPoll},
        // Backoff never goes past the deadline: the failure reports the server problem (exit 6).
        Case{"transient_until_deadline", 30, 5, {{Kind::kTransient, 5}, {Kind::kTransient, 10}, {Kind::kTransient, 20}},
             {5, 10, 20}, FlowAction::Kind::kFailed, ErrorCode::kNetwork}),
    [](const ::testing::TestParamInfo<Case>& param_info) { return std::string(param_info.param.name); });

TEST(DeviceFlow, IgnoresOutcomesAfterTheEnd) {
  DeviceFlow flow(at(0), 600, 5);
  flow.on_outcome(outcome(Kind::kDenied), at(5));
  FlowAction after = flow.on_outcome(outcome(Kind::kSuccess), at(10));
  EXPECT_EQ(after.kind, FlowAction::Kind::kFailed);
  EXPECT_EQ(after.error.code, ErrorCode::kAccessDenied);
}

TEST(DeviceFlow, ClassifiesErrors) {
  EXPECT_EQ(classify_poll_error("authorization_pending"), Kind::kPending);
  EXPECT_EQ(classify_poll_error("slow_down"), Kind::kSlowDown);
  EXPECT_EQ(classify_poll_error("access_denied"), Kind::kDenied);
  EXPECT_EQ(classify_poll_error("authorization_declined"), Kind::kDenied);  // Entra
  EXPECT_EQ(classify_poll_error("expired_token"), Kind::kExpired);
  EXPECT_EQ(classify_poll_error("temporarily_unavailable"), Kind::kTransient);
  for (const char* fatal : {"invalid_grant", "invalid_client", "unauthorized_client", "device_flow_disabled",
                            "incorrect_device_code", "bad_verification_code", ""}) {
    EXPECT_EQ(classify_poll_error(fatal), Kind::kFatal) << fatal;
  }
}

}  // namespace
}  // namespace devicelogin::oauth
