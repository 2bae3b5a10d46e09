// What the machine policy means for logins, hand-outs and session limits (src/session/policy_rules).
#include <gtest/gtest.h>

#include "session/policy_rules.hpp"

namespace devicelogin::session {
namespace {

Policy policy_at(std::string path = "/etc/devicelogin/policy.json") {
  Policy policy;
  policy.path = std::move(path);
  policy.present = true;
  return policy;
}

Profile work_profile() {
  Profile profile;
  profile.name = "work";
  profile.issuer = "https://idp.example.com";
  profile.client_id = "cli";
  profile.scope = "openid offline_access";
  profile.store = "kernel-keyring";
  profile.endpoints.revocation = "https://idp.example.com/revoke";
  return profile;
}

TEST(PolicyRules, NoPolicyAllowsEverything) {
  Policy none;
  LoginSettings settings;
  settings.issuer = "https://anywhere.example";
  settings.store = "file";
  settings.dpop = false;
  EXPECT_TRUE(check_login_settings(none, settings));
  EXPECT_TRUE(check_login_profile(none, work_profile()));
  EXPECT_TRUE(check_hand_out(none, work_profile()));
}

TEST(PolicyRules, IssuerClientAndScopes) {
  Policy policy = policy_at();
  policy.issuers = std::vector<PolicyIssuer>{{"https://idp.example.com/", {"cli"}, {"openid", "offline_access"}}};
  LoginSettings settings;
  settings.issuer = "https://other.example.com";
  auto refused = check_login_settings(policy, settings);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConfig);
  EXPECT_NE(refused.error().message.find("issuer https://other.example.com is not allowed"), std::string::npos);
  settings.issuer = "https://idp.example.com";  // the trailing '/' is no difference
  EXPECT_TRUE(check_login_settings(policy, settings));
  settings.endpoints.token = "https://evil.example.net/token";
  EXPECT_FALSE(check_login_settings(policy, settings));  // endpoints off the issuer's origin
  // Every endpoint given by hand, the browser flow's sign-in page and the ID token's keys too.
  for (std::string Endpoints::*field : {&Endpoints::authorization, &Endpoints::jwks, &Endpoints::device_authorization,
                                        &Endpoints::revocation, &Endpoints::userinfo}) {
    LoginSettings elsewhere;
    elsewhere.issuer = "https://idp.example.com";
    elsewhere.endpoints.*field = "https://evil.example.net/x";
    EXPECT_FALSE(check_login_settings(policy, elsewhere));
    elsewhere.endpoints.*field = "https://idp.example.com/x";
    EXPECT_TRUE(check_login_settings(policy, elsewhere));
    // A preset's issuer with endpoints given by hand: they would replace the preset's.
    LoginSettings preset;
    preset.provider = "microsoft";
    preset.endpoints.*field = "https://evil.example.net/x";
    auto refused_preset = check_login_settings(policy, preset);
    ASSERT_FALSE(refused_preset);
    EXPECT_NE(refused_preset.error().message.find("need the issuer named too"), std::string::npos);
  }

  Profile profile = work_profile();
  EXPECT_TRUE(check_login_profile(policy, profile));
  profile.scope = "openid email";
  auto scope = check_login_profile(policy, profile);
  ASSERT_FALSE(scope);
  EXPECT_NE(scope.error().message.find("scope \"email\" is not allowed"), std::string::npos);
  profile = work_profile();
  profile.client_id = "other";
  EXPECT_FALSE(check_login_profile(policy, profile));
  EXPECT_FALSE(check_hand_out(policy, profile));
}

TEST(PolicyRules, StoresDpopRevocationAndApiOrigins) {
  Policy policy = policy_at();
  policy.stores = std::vector<std::string>{"kernel-keyring"};
  policy.require_dpop = true;
  policy.require_revocation = true;
  policy.api_origins = std::vector<std::string>{"https://*.example.com"};
  Profile profile = work_profile();
  profile.dpop = true;
  profile.api_urls = {"https://api.example.com/v1"};
  EXPECT_TRUE(check_login_profile(policy, profile));

  Profile file = profile;
  file.store = "file";
  auto store = check_login_profile(policy, file);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().remedy, Remedy::kChooseStore);
  EXPECT_FALSE(check_hand_out(policy, file));

  Profile bearer = profile;
  bearer.dpop = false;
  EXPECT_FALSE(check_login_profile(policy, bearer));
  EXPECT_FALSE(check_hand_out(policy, bearer));
  LoginSettings no_dpop;
  no_dpop.dpop = false;
  EXPECT_FALSE(check_login_settings(policy, no_dpop));

  Profile no_revocation = profile;
  no_revocation.endpoints.revocation.clear();
  auto revocation = check_login_profile(policy, no_revocation);
  ASSERT_FALSE(revocation);
  EXPECT_NE(revocation.error().message.find("no revocation endpoint"), std::string::npos);

  Profile elsewhere = profile;
  elsewhere.api_urls = {"https://api.example.net"};
  EXPECT_FALSE(check_login_profile(policy, elsewhere));
  EXPECT_TRUE(check_api_origin(policy, "https://api.example.com/items"));
  EXPECT_FALSE(check_api_origin(policy, "https://api.example.com.evil.net/items"));
}

TEST(PolicyRules, SessionEndsByAgeFromTheLoginAndByIdlenessFromTheLastUse) {
  Policy policy = policy_at();
  policy.max_session_hours = 8;
  policy.idle_hours = 0.5;
  TokenSet tokens;
  tokens.obtained_at = 50'000;  // a refresh: the session still counts from the login
  tokens.signed_in_at = 10'000;
  const SessionLimits limits = session_limits(policy, tokens, 20'000);
  EXPECT_EQ(limits.ends_at, 10'000 + 8 * 3600);
  EXPECT_EQ(limits.idle_limit_s, 1800);
  EXPECT_EQ(limits.idle_ends_at, 20'000 + 1800);
  EXPECT_EQ(session_ended(policy, limits, 21'799), "");
  EXPECT_NE(session_ended(policy, limits, 21'800).find("not used for 0.5 h"), std::string::npos);
  // A use recorded before this login (an earlier session's) does not shorten it.
  EXPECT_EQ(session_limits(policy, tokens, 5'000).idle_ends_at, 10'000 + 1800);
  Policy age_only = policy;
  age_only.idle_hours.reset();
  const SessionLimits age = session_limits(age_only, tokens, std::nullopt);
  EXPECT_EQ(session_ended(age_only, age, 10'000 + 8 * 3600 - 1), "");
  EXPECT_NE(session_ended(age_only, age, 10'000 + 8 * 3600).find("limits a session to 8 h"), std::string::npos);
  // A set stored before the login time was recorded counts from when it was obtained.
  TokenSet old;
  old.obtained_at = 12'345;
  EXPECT_EQ(signed_in_at(old), 12'345);
}

}  // namespace
}  // namespace devicelogin::session
