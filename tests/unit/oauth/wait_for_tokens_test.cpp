// oauth::wait_for_tokens, the driver of the device-flow state machine: what it sends, when, and
// how each answer steers the next poll (RFC 8628 §3.4-3.5), over a scripted client and a fake clock.
#include "oauth/wait_for_tokens.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.hpp"

namespace devicelogin::oauth {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;

constexpr long long kStart = 1'800'000'000;

Profile test_profile() {
  Profile profile;
  profile.name = "work";
  profile.client_id = "cli";
  profile.endpoints = {"https://id.example.com/device", "https://id.example.com/token", "", "", ""};
  profile.client_auth = ClientAuth::kNone;
  return profile;
}

DeviceAuthorization authorization(long long expires_in = 600, long long interval = 5) {
  DeviceAuthorization issued;
  issued.device_code = Secret("DEVCODE-1");
  issued.user_code = "ABCD-EFGH";
  issued.verification_uri = "https://id.example.com/activate";
  issued.expires_in = expires_in;
  issued.interval = interval;
  return issued;
}

// Seconds after kStart at which each request was sent.
std::vector<long long> sent_at(const FakeHttpClient& http) {
  std::vector<long long> times;
  for (const auto& request : http.requests) times.push_back(to_unix(request.at) - kStart);
  return times;
}

TEST(WaitForTokens, SlowDownNetworkFailureAndPendingSteerThePollsUntilTokens) {
  FakeClock clock(kStart);
  FakeHttpClient http(&clock);
  http.reply(400, R"({"error":"slow_down","interval":12})");  // at 5: interval 5+5 -> 12 (the server's)
  http.fail_transport();                                       // at 17: back off one interval
  http.reply(400, R"({"error":"authorization_pending"})");     // at 29
  http.reply(200, R"({"access_token":"AT-1","token_type":"Bearer","expires_in":3600})");  // at 41
  const Profile profile = test_profile();
  OAuthClient client(profile, http);
  std::vector<long long> seconds_left;
  auto reply = wait_for_tokens(client, authorization(), from_unix(kStart), clock,
                               [&](long long left) { seconds_left.push_back(left); });
  ASSERT_TRUE(reply.has_value()) << reply.error().message;
  EXPECT_EQ(reply->kind, TokenReply::Kind::kTokens);
  EXPECT_EQ(reply->tokens.access_token.reveal(), "AT-1");
  EXPECT_EQ(sent_at(http), (std::vector<long long>{5, 17, 29, 41}));
  EXPECT_EQ(seconds_left, (std::vector<long long>{600, 595, 583, 571}));
  for (const auto& request : http.requests) {
    EXPECT_EQ(request.body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=DEVCODE-1&client_id=cli");
  }
}

TEST(WaitForTokens, ADenialEndsThePollingWithItsCode) {
  FakeClock clock(kStart);
  FakeHttpClient http(&clock);
  http.reply(400, R"({"error":"access_denied"})");
  const Profile profile = test_profile();
  OAuthClient client(profile, http);
  auto reply = wait_for_tokens(client, authorization(), from_unix(kStart), clock, {});
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code, ErrorCode::kAccessDenied);
  EXPECT_EQ(http.requests.size(), 1u);
}

// A clock whose wait is interrupted (as SystemClock's is by request_stop()).
class InterruptedClock final : public Clock {
 public:
  [[nodiscard]] SystemTime now() const override { return from_unix(kStart); }
  bool sleep_until(SystemTime) override { return false; }
};

TEST(WaitForTokens, AnInterruptedWaitIsCancelledBeforeAnyPoll) {
  InterruptedClock clock;
  FakeHttpClient http;
  const Profile profile = test_profile();
  OAuthClient client(profile, http);
  auto reply = wait_for_tokens(client, authorization(), from_unix(kStart), clock, {});
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code, ErrorCode::kCancelled);
  EXPECT_TRUE(http.requests.empty());
}

}  // namespace
}  // namespace devicelogin::oauth
