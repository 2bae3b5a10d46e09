// The devserver's rules with injected time: no HTTP, no sleeping.
#include <gtest/gtest.h>

#include "state.hpp"

namespace devicelogin::devserver {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = PollOutcome::Kind;

const TimePoint kStart = TimePoint{} + seconds(1'700'000'000);

DeviceGrant grant(const std::string& user_code, TimePoint now, long long interval = 5) {
  DeviceGrant g;
  g.user_code = user_code;
  g.client_id = "cli";
  g.scope = "openid";
  g.created = now;
  g.expires = now + seconds(600);
  g.interval = interval;
  return g;
}

TEST(DevServerState, SlowDownGrowsTheIntervalByFiveSeconds) {
  State state{StateSettings{}};
  ASSERT_EQ(state.add_device_grant("k", grant("BCDFGHJK", kStart), kStart), State::AddResult::kAdded);
  EXPECT_EQ(state.poll("k", "cli", kStart).kind, Kind::kPending);
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(5)).kind, Kind::kPending);
  // 4 s later is too fast for interval 5 -> slow_down, interval becomes 10.
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(9)).kind, Kind::kSlowDown);
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(14)).kind, Kind::kSlowDown);  // 5 s < 10 s
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(29)).kind, Kind::kPending);   // 15 s >= 15 s
  // Jitter within the tolerance is forgiven.
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(44) - milliseconds(50)).kind, Kind::kPending);
}

TEST(DevServerState, WrongClientAndUnknownCodesAreInvalidGrant) {
  State state{StateSettings{}};
  ASSERT_EQ(state.add_device_grant("k", grant("BCDFGHJK", kStart), kStart), State::AddResult::kAdded);
  EXPECT_EQ(state.poll("k", "other", kStart).kind, Kind::kInvalidGrant);
  EXPECT_EQ(state.poll("nope", "cli", kStart).kind, Kind::kInvalidGrant);
  EXPECT_EQ(state.add_device_grant("k2", grant("BCDFGHJK", kStart), kStart), State::AddResult::kUserCodeTaken);
}

TEST(DevServerState, ApprovalRedeemsOnceAndExpiryWins) {
  State state{StateSettings{}};
  ASSERT_EQ(state.add_device_grant("k", grant("BCDFGHJK", kStart), kStart), State::AddResult::kAdded);
  ASSERT_TRUE(state.pending_grant("BCDFGHJK", kStart));
  EXPECT_TRUE(state.decide("BCDFGHJK", "alice", true, kStart + seconds(1)));
  EXPECT_FALSE(state.decide("BCDFGHJK", "bob", false, kStart + seconds(2))) << "decided once";
  PollOutcome approved = state.poll("k", "cli", kStart + seconds(3));
  EXPECT_EQ(approved.kind, Kind::kApproved);
  EXPECT_EQ(approved.username, "alice");
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(10)).kind, Kind::kInvalidGrant);

  ASSERT_EQ(state.add_device_grant("e", grant("CCCCCCCC", kStart), kStart), State::AddResult::kAdded);
  EXPECT_TRUE(state.decide("CCCCCCCC", "alice", true, kStart));
  EXPECT_EQ(state.poll("e", "cli", kStart + seconds(600)).kind, Kind::kExpired);
  EXPECT_FALSE(state.pending_grant("CCCCCCCC", kStart + seconds(600)));
}

TEST(DevServerState, UserCodeStatusTellsExpiredFromUsed) {
  State state{StateSettings{}};
  ASSERT_EQ(state.add_device_grant("k", grant("BCDFGHJK", kStart), kStart), State::AddResult::kAdded);
  ASSERT_EQ(state.add_device_grant("e", grant("CCCCCCCC", kStart), kStart), State::AddResult::kAdded);
  EXPECT_EQ(state.user_code_status("BCDFGHJK", kStart), UserCodeStatus::kPending);
  EXPECT_EQ(state.user_code_status("DDDDDDDD", kStart), UserCodeStatus::kUnknown);
  ASSERT_TRUE(state.decide("BCDFGHJK", "alice", false, kStart));
  EXPECT_EQ(state.user_code_status("BCDFGHJK", kStart), UserCodeStatus::kUsed);
  EXPECT_EQ(state.user_code_status("CCCCCCCC", kStart + seconds(600)), UserCodeStatus::kExpired);
}

TEST(DevServerState, AutoApproveUsesTheFirstUserAfterTheDelay) {
  StateSettings settings;
  settings.auto_approve_after = milliseconds(2000);
  settings.auto_approve_user = "alice";
  State state{settings};
  ASSERT_EQ(state.add_device_grant("k", grant("BCDFGHJK", kStart, 0), kStart), State::AddResult::kAdded);
  EXPECT_EQ(state.poll("k", "cli", kStart + seconds(1)).kind, Kind::kPending);
  PollOutcome outcome = state.poll("k", "cli", kStart + seconds(2));
  EXPECT_EQ(outcome.kind, Kind::kApproved);
  EXPECT_EQ(outcome.username, "alice");
}

TEST(DevServerState, SweepReclaimsAndBoundsHold) {
  StateSettings settings;
  settings.max_codes = 2;
  State state{settings};
  ASSERT_EQ(state.add_device_grant("a", grant("BBBBBBBB", kStart), kStart), State::AddResult::kAdded);
  ASSERT_EQ(state.add_device_grant("b", grant("CCCCCCCC", kStart), kStart), State::AddResult::kAdded);
  EXPECT_EQ(state.add_device_grant("c", grant("DDDDDDDD", kStart), kStart), State::AddResult::kFull);
  // Once the first two expire, a new code pushes them out even before the sweeper runs.
  TimePoint later = kStart + seconds(601);
  EXPECT_EQ(state.add_device_grant("c", grant("DDDDDDDD", later), later), State::AddResult::kAdded);
  EXPECT_EQ(state.device_grant_count(), 1u);
  state.sweep(later + seconds(3600));
  EXPECT_EQ(state.device_grant_count(), 0u);

  std::uint64_t id = state.create_grant("cli", "alice", "openid", kStart);
  state.add_token("access", TokenKind::kAccess, id, "jti", kStart, kStart + seconds(60));
  state.add_token("refresh", TokenKind::kRefresh, id, "", kStart, kStart + seconds(120));
  EXPECT_EQ(state.token_count(), 2u);
  state.sweep(kStart + seconds(61));
  EXPECT_EQ(state.token_count(), 1u);
  EXPECT_FALSE(state.lookup("access", kStart + seconds(61)));
  EXPECT_TRUE(state.lookup("refresh", kStart + seconds(61)));
  state.sweep(kStart + seconds(121));
  EXPECT_EQ(state.token_count(), 0u);
}

TEST(DevServerState, RefreshReuseRevokesTheGrant) {
  State state{StateSettings{}};
  std::uint64_t id = state.create_grant("cli", "alice", "openid offline_access", kStart);
  state.add_token("r1", TokenKind::kRefresh, id, "", kStart, kStart + seconds(600));
  RefreshOutcome first = state.refresh("r1", "cli", "", kStart);
  ASSERT_EQ(first.kind, RefreshOutcome::Kind::kOk);
  EXPECT_EQ(first.grant.scope, "openid offline_access");
  state.add_token("r2", TokenKind::kRefresh, id, "", kStart, kStart + seconds(600));
  state.add_token("a2", TokenKind::kAccess, id, "j", kStart, kStart + seconds(600));
  EXPECT_EQ(state.refresh("r2", "other", "", kStart).kind, RefreshOutcome::Kind::kInvalidGrant);
  EXPECT_EQ(state.refresh("r1", "cli", "", kStart).kind, RefreshOutcome::Kind::kReuseDetected);
  EXPECT_EQ(state.refresh("r2", "cli", "", kStart).kind, RefreshOutcome::Kind::kInvalidGrant);
  EXPECT_FALSE(state.lookup("a2", kStart));
}

TEST(DevServerState, FailuresAreCountedPerWindow) {
  State state{StateSettings{}};
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(state.rate_limited("ip", kStart));
    state.record_failure("ip", kStart + seconds(i));
  }
  EXPECT_TRUE(state.rate_limited("ip", kStart + seconds(10)));
  EXPECT_FALSE(state.rate_limited("other", kStart + seconds(10)));
  EXPECT_FALSE(state.rate_limited("ip", kStart + seconds(61)));
}

TEST(DevServerState, ScopeHelpers) {
  EXPECT_EQ(split_scope("  openid  profile "), (std::vector<std::string>{"openid", "profile"}));
  EXPECT_TRUE(scope_subset("openid", "openid profile"));
  EXPECT_FALSE(scope_subset("openid admin", "openid profile"));
  EXPECT_TRUE(scope_has("openid profile", "profile"));
  EXPECT_FALSE(scope_has("openid profile", "prof"));
}

}  // namespace
}  // namespace devicelogin::devserver
